"""Hostile input against a real gslb-overwatch: the API-side findings of issue 16 stay closed.

Covers: a deeply nested JSON body (item 1: used to overflow a CivetWeb worker's stack and kill
the process) is a 400 and DNS keeps answering; NUL and control bytes in the path or query
string (item 11: "%00" used to cut the path) are 400 and change nothing.
Every test is bounded in time (short timeouts, no unbounded waits).
"""
import http.client

import pytest

from harness import API_TOKEN, WEB, assert_error, default_overwatch, json_of


@pytest.fixture(scope="module")
def ow(tmp_path_factory):
    o = default_overwatch(tmp_path_factory.mktemp("hostile"))
    o.start()
    yield o
    o.stop_clean()


def raw_request(o, method, target, body=None, token=API_TOKEN, timeout=5):
    """(status, body text) of a request sent exactly as given (no client-side re-encoding)."""
    conn = http.client.HTTPConnection("127.0.0.1", o.ports["api"], timeout=timeout)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.putrequest(method, target, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        data = body.encode() if isinstance(body, str) else body
        conn.putheader("Content-Length", str(len(data or b"")))
        conn.endheaders(data)
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


@pytest.mark.parametrize("depth", [33, 900, 60000])
def test_deep_json_body_is_refused_and_the_server_lives(ow, depth):
    path = "/api/v1/overrides/webapp/127.0.0.10"
    r = ow.request("PUT", path, token=API_TOKEN, data="[" * depth + "]" * min(depth, 1000))
    assert_error(r, 400, "nested deeper than 32 levels")
    r = ow.request("PUT", path, token=API_TOKEN,
                   data='{"state":"down","x":' + '{"a":' * min(depth, 10000))
    assert_error(r, 400, "nested deeper than 32 levels")
    assert ow.alive()
    assert ow.a_records(WEB) is not None
    json_of(ow.get("/api/v1/live"), 200)


def test_nul_in_path_does_not_cut_it(ow):
    status, text = raw_request(ow, "PUT", "/api/v1/overrides/webapp/127.0.0.12%00garbage",
                               body='{"state":"down"}')
    assert status == 400 and "control character (0x00)" in text, text
    assert json_of(ow.get("/api/v1/overrides"), 200)["overrides"] == []
    assert "127.0.0.12" in ow.a_records(WEB)
    status, text = raw_request(ow, "GET", "/api/v1/domains/%00")
    assert status == 400, text
    status, _ = raw_request(ow, "GET", "/api/v1/domains/" + WEB)
    assert status == 200


@pytest.mark.parametrize("target", [
    "/api/v1/domains/webapp%0d%0aX-Injected:%201",
    "/api/v1/domains/%7f",
    "/api/v1/domains/%zz",
    "/api/v1/domains/%2e%2e",
    "/api/v1/overwatch/backends?service=webapp%00x",
    "/api/v1/audit-logs?limit=5%0a",
])
def test_control_bytes_and_bad_escapes_are_400(ow, target):
    status, text = raw_request(ow, "GET", target)
    assert status == 400, text
    assert '"code":400' in text
