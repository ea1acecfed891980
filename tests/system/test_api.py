"""The HTTP API of a real gslb-overwatch on loopback (docs/api.md).

Covers: every route's status and JSON fields (live, ready, version, backends with filters,
agents, stats, overrides, domains, audit-logs, reload), JSON errors 400/401/403/404/405/413,
api.allowed_networks (10.0.0.0/8 refuses 127.0.0.1 at accept, on every route), the key_sync
peers admitted besides allowed_networks (by source address, recomputed on SIGHUP), the bearer token,
an override that changes DNS answers at once, is audited, and survives a restart (IPv4 and
IPv6), and HTTPS with a certificate made by `openssl req` (the CivetWeb TLS shim: the
server answers and does not crash).
"""
import http.client
import socket
import ssl
import subprocess

import pytest
import requests

from harness import (API_TOKEN, DEFAULT_SERVERS, WEB, ZONE, StartError, assert_error,
                     default_config, default_overwatch, json_of, wait_until)

BACKEND_FIELDS = {"service", "address", "port", "weight", "region", "agent_id",
                  "effective_status", "agent_healthy", "agent_last_seen", "validation_healthy",
                  "override"}


@pytest.fixture
def ow(tmp_path):
    o = default_overwatch(tmp_path)
    o.start()
    yield o
    o.stop_clean()


def test_live_ready_version(ow):
    assert json_of(ow.get("/api/v1/live"), 200) == {"status": "alive"}
    # static backends only, no agent: ready (it has backend state to serve)
    assert json_of(ow.get("/api/v1/ready"), 200) == {
        "status": "ready", "gossip_deaf": False, "agent_data_since_start": False,
        "agents_known": 0, "agents_silent": 0, "backends": len(DEFAULT_SERVERS)}
    v = json_of(ow.get("/api/v1/version"), 200)
    assert v["name"] == "gslb-overwatch" and v["api_version"] == "v1"
    assert v["node_id"] == "api-test" and v["region"] == "us-east"
    assert v["version"].count(".") == 2


def test_backends_fields_and_filters(ow):
    body = json_of(ow.get("/api/v1/overwatch/backends"), 200)
    backends = body["backends"]
    assert len(backends) == len(DEFAULT_SERVERS)
    for b in backends:
        assert BACKEND_FIELDS <= set(b), b
        assert b["effective_status"] == "healthy" and b["override"] is None
        assert b["agent_id"] == "" and b["agent_last_seen"] is None  # config backends
    got = {(b["address"], b["region"], b["service"]) for b in backends}
    assert got == set(DEFAULT_SERVERS)
    by_service = json_of(ow.get("/api/v1/overwatch/backends?service=webapp"), 200)
    assert len(by_service["backends"]) == 5
    by_fqdn = json_of(ow.get("/api/v1/overwatch/backends?service=" + WEB), 200)
    assert by_fqdn["backends"] == by_service["backends"]
    eu = json_of(ow.get("/api/v1/overwatch/backends?region=eu-west&service=api"), 200)
    assert [b["address"] for b in eu["backends"]] == ["127.0.0.21"]
    none = json_of(ow.get("/api/v1/overwatch/backends?status=override_down"), 200)
    assert none["backends"] == []
    assert_error(ow.get("/api/v1/overwatch/backends?status=sick"), 400, "status")


def test_agents_stats_domains(ow):
    agents = json_of(ow.get("/api/v1/overwatch/agents"), 200)
    assert agents == {"agents": [], "count": 0}
    ow.query(WEB, "A")
    stats = json_of(ow.get("/api/v1/overwatch/stats"), 200)
    assert stats["node_id"] == "api-test"
    assert stats["dns"]["workers"] == 2
    assert stats["dns"]["queries_total"] >= 1
    assert stats["store"]["backends"]["total"] == len(DEFAULT_SERVERS)
    assert stats["store"]["domains"] == 2 and stats["store"]["zones"] == 1
    assert stats["uptime_seconds"] >= 0

    domains = json_of(ow.get("/api/v1/domains"), 200)["domains"]
    assert {d["name"] for d in domains} == {WEB, "api." + ZONE}
    web = next(d for d in domains if d["name"] == WEB)
    assert web["routing_algorithm"] == "round-robin" and web["service"] == "webapp"
    assert web["backends_total"] == 5 and web["backends_healthy"] == 5
    one = json_of(ow.get("/api/v1/domains/" + WEB.upper()), 200)
    assert one["name"] == WEB and len(one["backends"]) == 5
    assert set(one["regions"]) == {"us-east", "eu-west"}
    assert_error(ow.get("/api/v1/domains/nope." + ZONE), 404, "unknown domain")


def test_errors_are_json(ow):
    assert_error(ow.get("/api/v1/nothing"), 404, "no such route")
    assert_error(ow.get("/"), 404)
    r = ow.request("DELETE", "/api/v1/overwatch/backends")
    assert r.headers["Allow"] == "GET"
    assert_error(r, 405)
    r = ow.request("POST", "/api/v1/overrides/webapp/127.0.0.10", token=API_TOKEN, body={})
    assert r.headers["Allow"] == "PUT, DELETE"
    assert_error(r, 405)
    assert_error(ow.get("/api/v1/audit-logs?limit=abc"), 400, "limit")


def test_token_required_for_mutations(ow):
    path = "/api/v1/overrides/webapp/127.0.0.10"
    r = ow.request("PUT", path, body={"state": "down"})
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(r, 401, "missing bearer token")
    assert_error(ow.request("PUT", path, token="nope", body={"state": "down"}), 401, "invalid")
    assert_error(ow.request("PUT", path, token=API_TOKEN + "x", body={"state": "down"}), 401)
    assert_error(ow.request("DELETE", path), 401)
    assert_error(ow.request("POST", "/api/v1/reload"), 401)
    assert json_of(ow.get("/api/v1/overrides"), 200)["overrides"] == []


def test_no_token_configured_refuses_mutations(tmp_path):
    o = default_overwatch(tmp_path, lambda ow: default_config(ow.ports, ow.data_dir,
                                                              api_token=None))
    o.start()
    try:
        assert "mutating routes are refused" in o.log()
        assert_error(o.request("PUT", "/api/v1/overrides/webapp/127.0.0.10", token="x",
                               body={"state": "down"}), 403, "no API token")
        json_of(o.get("/api/v1/overwatch/backends"), 200)  # reads still work
    finally:
        o.stop_clean()


def test_allowed_networks_refuse_other_clients(tmp_path):
    o = default_overwatch(tmp_path, lambda ow: default_config(
        ow.ports, ow.data_dir, allowed_networks=["10.0.0.0/8"]))
    o.start(wait=False)
    try:
        o.wait_log("api: listening on")
        # refused when the connection is accepted: no worker, no reply (docs/api.md)
        for method, path in [("GET", "/api/v1/live"), ("GET", "/api/v1/ready"),
                             ("GET", "/api/v1/overwatch/backends"), ("GET", "/nothing"),
                             ("DELETE", "/api/v1/overrides/webapp/127.0.0.10")]:
            with pytest.raises(requests.ConnectionError):
                o.request(method, path, token=API_TOKEN, timeout=5)
        # metrics are not covered by allowed_networks (docs/metrics.md)
        assert "opengslb_build_info" in o.metrics_text()
    finally:
        o.stop_clean()


def status_from(o, source, path="/api/v1/version"):
    """HTTP status of a GET sent from the loopback source address `source`; None when the
    connection is closed without a reply (refused at accept: not an admitted address)."""
    conn = http.client.HTTPConnection("127.0.0.1", o.ports["api"], timeout=5,
                                      source_address=(source, 0))
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (http.client.RemoteDisconnected, ConnectionResetError):
        return None
    finally:
        conn.close()


def peer_config(peer_host):
    def config(ow):
        c = default_config(ow.ports, ow.data_dir, allowed_networks=["127.0.0.1/32"])
        peers = [f"http://{peer_host}:{ow.ports['api']}", "https://no-such-peer.invalid:9090"]
        c["overwatch"]["dnssec"]["key_sync"] = {"peers": peers, "token": "cluster-" + API_TOKEN}
        return c
    return config


def test_key_sync_peers_are_admitted_and_follow_reload(tmp_path):
    o = default_overwatch(tmp_path, peer_config("127.0.0.3"))
    o.start()
    try:
        assert "admitting key_sync peer http://127.0.0.3" in o.log()
        # a name that does not resolve is a warning naming the peer, not a start failure
        assert "no-such-peer.invalid" in o.log()
        assert status_from(o, "127.0.0.3") == 200
        assert status_from(o, "127.0.0.2") is None  # refused at accept
        assert status_from(o, "127.0.0.1") == 200  # allowed_networks still applies
        # the peer admits the API only; the export still needs the token
        assert status_from(o, "127.0.0.3", "/api/v1/dnssec/keys/export") == 401

        o.write_config(peer_config("127.0.0.2")(o))
        mark = o.sighup("reload: applied")
        assert "admitting key_sync peer http://127.0.0.2" in o.log()[mark:]
        assert status_from(o, "127.0.0.2") == 200
        assert status_from(o, "127.0.0.3") is None
    finally:
        o.stop_clean()


def test_body_limit_413(ow):
    path = "/api/v1/overrides/webapp/127.0.0.10"
    big = '{"state":"down","reason":"' + "x" * (70 * 1024) + '"}'
    assert_error(ow.request("PUT", path, token=API_TOKEN, data=big), 413, "larger than")
    too_long = '{"state":"down","reason":"' + "x" * 200 + '"}'
    assert_error(ow.request("PUT", path, token=API_TOKEN, data=too_long), 400, "reason")
    assert_error(ow.request("PUT", path, token=API_TOKEN, data="{not json"), 400, "invalid JSON")
    assert ow.alive()


def test_override_changes_dns_and_survives_restart(ow):
    rcode, before = ow.addresses(WEB, "A")
    assert before == {"127.0.0.10", "127.0.0.11", "127.0.0.12"}
    r = ow.request("PUT", "/api/v1/overrides/webapp/127.0.0.10", token=API_TOKEN,
                   body={"state": "down", "reason": "kernel patch", "source": "ops"})
    ov = json_of(r, 200)
    assert ov["state"] == "down" and ov["domain"] == WEB and ov["address"] == "127.0.0.10"
    # the answer changes at once: no polling
    assert ow.addresses(WEB, "A")[1] == {"127.0.0.11", "127.0.0.12"}
    r = ow.request("PUT", "/api/v1/overrides/webapp/2001:db8::12", token=API_TOKEN,
                   body={"healthy": False})
    assert json_of(r, 200)["address"] == "2001:db8::12"
    assert ow.addresses(WEB, "AAAA")[1] == {"2001:db8::10"}

    backends = json_of(ow.get("/api/v1/overwatch/backends?status=override_down"), 200)
    assert {b["address"] for b in backends["backends"]} == {"127.0.0.10", "2001:db8::12"}
    b10 = next(b for b in backends["backends"] if b["address"] == "127.0.0.10")
    assert b10["override"]["reason"] == "kernel patch" and b10["override"]["source"] == "ops"

    ow.restart()
    assert ow.addresses(WEB, "A")[1] == {"127.0.0.11", "127.0.0.12"}
    assert ow.addresses(WEB, "AAAA")[1] == {"2001:db8::10"}
    overrides = json_of(ow.get("/api/v1/overrides"), 200)["overrides"]
    assert {(o["address"], o["state"]) for o in overrides} == {("127.0.0.10", "down"),
                                                               ("2001:db8::12", "down")}

    json_of(ow.request("DELETE", "/api/v1/overrides/webapp/127.0.0.10", token=API_TOKEN), 200)
    assert ow.addresses(WEB, "A")[1] == before
    assert_error(ow.request("DELETE", "/api/v1/overrides/webapp/127.0.0.10", token=API_TOKEN),
                 404, "no override")
    logs = json_of(ow.get("/api/v1/audit-logs"), 200)["audit_logs"]
    assert [entry["action"] for entry in logs] == ["override.delete", "override.put",
                                                   "override.put"]
    assert logs[2]["target"] == WEB + "/127.0.0.10" and logs[2]["actor"] == "api@127.0.0.1"
    assert "kernel patch" in logs[2]["detail"]


def test_override_unknown_targets(ow):
    tok = API_TOKEN
    assert_error(ow.request("PUT", "/api/v1/overrides/nosuch/127.0.0.10", token=tok,
                            body={"state": "up"}), 404, "unknown service")
    assert_error(ow.request("PUT", "/api/v1/overrides/webapp/10.9.9.9", token=tok,
                            body={"state": "up"}), 404, "no backend")
    assert_error(ow.request("PUT", "/api/v1/overrides/webapp/not-an-ip", token=tok,
                            body={"state": "up"}), 400, "IP address")


# ---- TLS -------------------------------------------------------------------------------------
def make_cert(tmp_path):
    cert, key = tmp_path / "api.crt", tmp_path / "api.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=30)
    return cert, key


def test_https_with_generated_certificate(tmp_path):
    cert, key = make_cert(tmp_path)
    tls = {"tls_cert": str(cert), "tls_key": str(key)}
    o = default_overwatch(tmp_path, lambda ow: default_config(ow.ports, ow.data_dir,
                                                              api_extra=tls), tls_ca=str(cert))
    o.start()
    try:
        assert "listening on https://" in o.log()
        # python's ssl, verifying the certificate
        for _ in range(3):
            v = json_of(o.get("/api/v1/version"), 200)
            assert v["node_id"] == "api-test"
        ov = o.request("PUT", "/api/v1/overrides/webapp/127.0.0.11", token=API_TOKEN,
                       body={"state": "drain"})
        assert json_of(ov, 200)["state"] == "drain"
        # curl over TLS
        r = subprocess.run(["curl", "-sS", "--cacert", str(cert),
                            o.api_url + "/api/v1/ready"],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 0 and '"ready"' in r.stdout, r.stderr
        # garbage instead of a ClientHello, and a handshake cut short, are survived
        for junk in (b"\x16\x03\x01\x00\x05hello", b"GET / HTTP/1.0\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", o.ports["api"]), timeout=5) as s:
                s.sendall(junk)
                s.settimeout(5)
                try:
                    s.recv(100)
                except OSError:
                    pass
        with socket.create_connection(("127.0.0.1", o.ports["api"]), timeout=5) as s:
            ctx = ssl.create_default_context(cafile=str(cert))
            with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                t.sendall(b"GET /api/v1/live HTTP/1.1\r\nHost: x\r\n")  # never finished
        # plain HTTP to the TLS port gets no answer, and the server survives it
        with pytest.raises(requests.RequestException):
            requests.get(f"http://127.0.0.1:{o.ports['api']}/api/v1/live", timeout=3)
        assert json_of(o.get("/api/v1/live"), 200)["status"] == "alive"
        assert o.alive(), o.log()
    finally:
        assert o.stop() == 0, o.log()


def test_https_with_a_mismatched_key_refuses_to_start(tmp_path):
    cert, _ = make_cert(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, wrong_key = make_cert(other)
    tls = {"tls_cert": str(cert), "tls_key": str(wrong_key)}
    o = default_overwatch(tmp_path, lambda ow: default_config(ow.ports, ow.data_dir,
                                                              api_extra=tls), tls_ca=str(cert))
    with pytest.raises(StartError) as e:
        o.start()
    assert "exited with 1" in str(e.value), str(e.value)  # an exit, not a signal
    assert "tls" in o.log().lower()


def test_ipv6_api_address_starts_or_refuses_cleanly(tmp_path):
    """Debian's CivetWeb is built without IPv6: an IPv6 api.address must give a clear start
    error (exit 1), never a half-started server; a build with IPv6 must simply serve."""
    def cfg(ow):
        c = default_config(ow.ports, ow.data_dir)
        c["api"]["address"] = f"[::1]:{ow.ports['api']}"
        return c
    o = default_overwatch(tmp_path, cfg)
    o.start(wait=False)
    try:
        outcome = wait_until(lambda: ("refused" if "no IPv6 support" in o.log() else
                                    "listening" if "api: listening" in o.log() else None),
                           what="start outcome")
        if outcome == "refused":
            assert o.proc.wait(timeout=10) == 1
            assert "this CivetWeb build has no IPv6 support" in o.log()
        else:
            r = requests.get(f"http://[::1]:{o.ports['api']}/api/v1/live", timeout=5)
            assert r.status_code == 200
            o.stop_clean()
    finally:
        o.stop()


def test_api_port_in_use_is_a_clear_start_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        o = default_overwatch(tmp_path, lambda ow: default_config(dict(ow.ports, api=port),
                                                                  ow.data_dir))
        o.start(wait=False)
        try:
            assert o.proc.wait(timeout=15) == 1
            assert f"api: cannot listen on 127.0.0.1:{port}: Address already in use" in o.log()
        finally:
            o.stop()
