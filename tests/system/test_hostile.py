"""Hostile input against a real gslb-overwatch: the API-side findings of issue 16 stay closed.

Covers: a deeply nested JSON body (item 1: used to overflow a CivetWeb worker's stack and kill
the process) is a 400 and DNS keeps answering; NUL and control bytes in the path or query
string (item 11: "%00" used to cut the path) are 400 and change nothing; a full disk (item 8,
on a 3 MiB tmpfs: root only) answers writes with 507, logs once, turns /ready to 503 and
opengslb_storage_full to 1, keeps DNS answering, survives a restart and recovers; the audit
table a token holder can grow is bounded by api.audit_retention (item 13) and follows a reload;
idle connections from outside allowed_networks are closed at accept and 60 header-trickling
connections from one allowed address leave /api/v1/live and /metrics answering (item 5).
Every test is bounded in time (short timeouts, no unbounded waits).
"""
import errno
import http.client
import socket
import subprocess
import threading
import time

import pytest
import requests

from harness import (ALL_PORTS, API_TOKEN, WEB, Overwatch, assert_error, default_config,
                     default_overwatch, json_of, wait_until)


@pytest.fixture(scope="module")
def ow(tmp_path_factory):
    o = default_overwatch(tmp_path_factory.mktemp("hostile"))
    o.start()
    try:
        yield o
    finally:
        o.stop()  # conftest may have stopped it first (module teardown order); tests check alive()


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


# ---- item 8: a full disk ----------------------------------------------------------------------

@pytest.fixture
def small_fs(tmp_path):
    """A 3 MiB tmpfs (root only; skipped otherwise), unmounted afterwards."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path):
    """Write a filler file until the device is full."""
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    try:
        with open(path, "ab") as f:  # the last partial block
            while True:
                f.write(b"\0" * 512)
                f.flush()
    except OSError:
        pass


def put_until_507(o, limit=400):
    """PUT overrides with long reasons until one fails; returns (response, count)."""
    for i in range(limit):
        addr = ("127.0.0.10", "127.0.0.11", "127.0.0.12")[i % 3]
        r = o.request("PUT", f"/api/v1/overrides/webapp/{addr}", token=API_TOKEN, timeout=5,
                      body={"state": ("up", "drain")[i % 2], "reason": f"{i:0120d}"})
        if r.status_code != 200:
            return r, i
    raise AssertionError(f"no write failed after {limit} PUTs on a full device")


def storage_full_config(o):
    c = default_config(o.ports, o.data_dir)
    c["storage"]["map_size"] = "64MiB"
    return c


def test_full_disk_is_507_ready_503_one_log_line_and_survives_restart(small_fs, tmp_path):
    o = Overwatch(tmp_path / "full", storage_full_config, ports=ALL_PORTS)
    o.data_dir = small_fs / "data"
    o.start()
    try:
        assert o.metric("opengslb_storage_full") == 0
        fill(small_fs / "filler")
        r, n = put_until_507(o)
        assert_error(r, 507, "no space left")
        # more failing writes: the log says it once (rate-limited), the API once per request
        mark = len(o.log())
        for _ in range(20):
            assert put_until_507(o, limit=3)[0].status_code == 507
        assert o.log()[mark:].count("no space left on device") == 0
        assert o.log().count("storage: no space left on device") == 1
        assert "I/O error" not in o.log()
        r = o.get("/api/v1/ready")
        assert r.status_code == 503 and "storage full" in r.json()["reason"], r.text
        assert o.metric("opengslb_storage_full") == 1
        assert o.metric("opengslb_storage_no_space_total") >= 21
        assert o.metric("opengslb_up") == 0
        assert o.a_records(WEB) is not None  # DNS serves the stored state
        json_of(o.get("/api/v1/overrides"), 200)  # reads work

        # a restart on the full disk keeps serving DNS from the store
        assert o.stop() == 0
        o.spawn()
        wait_until(o.answers_dns, timeout=15, what="DNS after a restart on a full disk")
        assert o.alive()
        assert "The store is FULL: serving DNS" in o.log()[o.start_mark:]
        assert o.a_records(WEB) is not None
        assert o.get("/api/v1/ready").status_code == 503

        # space again: the next write succeeds and readiness comes back
        (small_fs / "filler").unlink()
        json_of(o.request("PUT", "/api/v1/overrides/webapp/127.0.0.10", token=API_TOKEN,
                          body={"state": "up"}), 200)
        json_of(o.get("/api/v1/ready"), 200)
        assert o.metric("opengslb_storage_full") == 0
        assert "writes succeed again" in o.log()
    finally:
        o.stop_clean()


# ---- item 13: the audit table is bounded -------------------------------------------------------

def retention_config(max_entries):
    def config(o):
        return default_config(o.ports, o.data_dir, api_extra={
            "audit_retention": {"max_age": "30d", "max_entries": max_entries}})
    return config


def audit_details(o):
    body = json_of(o.get("/api/v1/audit-logs?limit=1000"), 200)
    return [e["detail"] for e in body["audit_logs"]]


def test_audit_retention_bounds_the_table_and_follows_reload(tmp_path):
    o = Overwatch(tmp_path / "audit", retention_config(5), ports=ALL_PORTS)
    o.start()
    try:
        for i in range(12):
            json_of(o.request("PUT", "/api/v1/overrides/webapp/127.0.0.10", token=API_TOKEN,
                              body={"state": "drain", "reason": f"r{i}"}), 200)
        details = audit_details(o)
        assert len(details) == 5, details
        assert "r11" in details[0] and "r7" in details[-1]  # the newest five, newest first
        o.config = retention_config(2)
        o.write_config()
        o.sighup()
        json_of(o.request("DELETE", "/api/v1/overrides/webapp/127.0.0.10", token=API_TOKEN), 200)
        assert len(audit_details(o)) == 2
    finally:
        o.stop_clean()


# ---- item 5: the API cannot be silenced from outside, nor by one client --------------------------

def acl_config(o):
    return default_config(o.ports, o.data_dir, allowed_networks=["127.0.0.1/32", "127.0.0.3/32"])


def open_from(source, port, n, first=b""):
    """n TCP connections from the loopback address source, each having sent first."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=2, source_address=(source, 0))
        if first:
            s.sendall(first)
        socks.append(s)
    return socks


def answers_fast(url, timeout=2.0):
    t0 = time.monotonic()
    r = requests.get(url, timeout=timeout)
    return r.status_code == 200 and time.monotonic() - t0 < timeout


@pytest.fixture
def acl_ow(tmp_path):
    o = Overwatch(tmp_path / "acl", acl_config, ports=ALL_PORTS)
    o.start()
    yield o
    o.stop_clean()


def test_disallowed_clients_are_closed_at_accept(acl_ow):
    o = acl_ow
    idle = open_from("127.0.0.2", o.ports["api"], 40)
    try:
        for s in idle[:5]:  # closed by the server without a reply
            s.settimeout(2)
            assert s.recv(100) == b""
        for _ in range(5):
            assert answers_fast(o.api_url + "/api/v1/live")
    finally:
        for s in idle:
            s.close()
    assert "127.0.0.2 is not allowed to connect" in o.log()


def test_one_slow_client_cannot_take_every_worker(acl_ow):
    """60 connections trickling their request head from one allowed address (and 60 more on
    the metrics listener) leave /api/v1/live and /metrics answering for everybody else."""
    o = acl_ow
    head = b"GET /api/v1/live HTTP/1.1\r\nHost: x\r\n"
    slow = open_from("127.0.0.3", o.ports["api"], 60, head)
    slow += open_from("127.0.0.3", o.ports["metrics"], 60, head)
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            for s in slow:
                try:
                    s.send(b"X")
                except OSError:
                    pass
            stop.wait(0.3)

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            assert answers_fast(o.api_url + "/api/v1/live")
            assert answers_fast(o.metrics_url)
            time.sleep(0.2)
    finally:
        stop.set()
        t.join(5)
        closed = 0
        for s in slow:
            s.settimeout(0.2)
            try:
                closed += s.recv(400) == b""
            except OSError:
                closed += 1  # reset
            s.close()
    # beyond the per-client limit (4 on the API, 2 on metrics) they were shut down at once
    assert closed >= 110, closed
    log = o.log()
    assert "api: 127.0.0.3 has" in log and "more than 4 per client" in log
    assert "metrics: 127.0.0.3 has" in log
