"""SIGHUP (and POST /api/v1/reload) on a real gslb-overwatch (docs/operations.md, "Reload").

Covers: a good config takes effect (new domain answers, new API token, new allowed networks,
logging format) without a failed query during the reload; a bad config is rejected, logged
and the old one kept (SIGHUP and API, metrics count both); settings bound at start are
logged as "requires restart" and keep their running value; agent-reported health survives a
reload; overrides survive and domains dropped from the file disappear.
"""
import json
import signal
import threading

import pytest

from harness import (API_TOKEN, DEFAULT_DOMAINS, DEFAULT_SERVERS, WEB, ZONE, Agent, Backend,
                     assert_error, default_config, default_overwatch, json_of, parse_prometheus,
                     sample, wait_until)

SHOP = "shop." + ZONE
SHOP_SERVERS = DEFAULT_SERVERS + [("127.0.0.30", "us-east", "shop")]
SHOP_DOMAINS = DEFAULT_DOMAINS + [("shop", "failover")]


@pytest.fixture
def ow(tmp_path):
    o = default_overwatch(tmp_path)
    o.start()
    yield o
    o.stop_clean()


def rewrite(ow, **kw):
    ow.write_config(default_config(ow.ports, ow.data_dir, **kw))


def reload_counts(ow):
    fams = parse_prometheus(ow.metrics_text())
    return (sample(fams, "opengslb_config_reloads_total", result="success"),
            sample(fams, "opengslb_config_reloads_total", result="failure"))


class QueryLoop:
    """Queries the server continuously in a thread; counts failures (timeouts, SERVFAIL)."""

    def __init__(self, ow):
        self.ow, self.sent, self.failed, self.running = ow, 0, [], True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                r = self.ow.query(WEB, "A", timeout=1.0)
                if r.rcode() != 0 or not r.answer:
                    self.failed.append(r.rcode())
            except Exception as e:  # noqa: BLE001 (timeouts are what we count)
                self.failed.append(repr(e))
            self.sent += 1

    def stop(self):
        self.running = False
        self.thread.join()


def test_sighup_applies_a_good_config_without_dropping_queries(ow):
    assert ow.addresses(SHOP, "A")[0] == 3  # NXDOMAIN before
    loop = QueryLoop(ow)
    try:
        wait_until(lambda: loop.sent > 20, what="queries flowing")
        rewrite(ow, servers=SHOP_SERVERS, domains=SHOP_DOMAINS, api_token="rotated-token",
                allowed_networks=["127.0.0.1/32"], log_format="json")
        mark = ow.sighup("reload: applied")
        sent_at_reload = loop.sent
        wait_until(lambda: loop.sent > sent_at_reload + 20, what="queries after the reload")
    finally:
        loop.stop()
    assert loop.failed == [], loop.failed[:5]
    assert ow.addresses(SHOP, "A")[1] == {"127.0.0.30"}
    assert json_of(ow.get("/api/v1/domains/" + SHOP), 200)["routing_algorithm"] == "failover"
    # the token rotated at once
    path = "/api/v1/overrides/shop/127.0.0.30"
    assert_error(ow.request("PUT", path, token=API_TOKEN, body={"state": "down"}), 401)
    json_of(ow.request("PUT", path, token="rotated-token", body={"state": "drain"}), 200)
    # logging.format: json applies to the lines after the reload
    after = [line for line in ow.log()[mark:].splitlines() if line.startswith("{")]
    assert after and all("level" in json.loads(line) for line in after)
    assert reload_counts(ow) == (1, 0)


def test_bad_config_is_rejected_and_the_old_one_kept(ow):
    ow.write_config(ow.config_path.read_text() + "bogus_section: {x: 1}\n")
    ow.sighup("reload: rejected")
    assert "bogus_section" in ow.log()
    assert ow.alive()
    assert ow.addresses(WEB, "A")[1] == {"127.0.0.10", "127.0.0.11", "127.0.0.12"}
    json_of(ow.get("/api/v1/ready"), 200)

    # the same through the API: 400 with the loader's message
    body = assert_error(ow.request("POST", "/api/v1/reload", token=API_TOKEN), 400,
                        "previous configuration kept")
    assert "bogus_section" in body["error"]
    ow.write_config("mode: overwatch\ndns: [unterminated\n")
    assert_error(ow.request("POST", "/api/v1/reload", token=API_TOKEN), 400)
    assert reload_counts(ow) == (0, 3)

    rewrite(ow, servers=SHOP_SERVERS, domains=SHOP_DOMAINS)
    assert json_of(ow.request("POST", "/api/v1/reload", token=API_TOKEN), 200) == \
        {"status": "reloaded"}
    assert ow.addresses(SHOP, "A")[1] == {"127.0.0.30"}
    assert reload_counts(ow) == (1, 3)
    stats = json_of(ow.get("/api/v1/overwatch/stats"), 200)
    assert stats["reloads"]["ok"] == 1 and stats["reloads"]["failed"] == 3


def test_start_only_settings_need_a_restart(ow):
    old = dict(ow.ports)
    moved = dict(old, dns=old["dns"] + 1 if old["dns"] < 65535 else old["dns"] - 1,
                 api=old["api"] + 1 if old["api"] < 65535 else old["api"] - 1)
    ow.write_config(default_config(moved, ow.data_dir / "elsewhere", servers=SHOP_SERVERS,
                                   domains=SHOP_DOMAINS))
    mark = ow.sighup("reload: applied")
    log = ow.log()[mark:]
    assert "dns.listen_address/workers/edns/tcp settings changed: requires restart" in log
    assert "api.enabled/address/tls_cert/tls_key changed: requires restart" in log
    assert "overwatch.data_dir/user/storage.map_size changed: requires restart" in log
    # still on the old ports, and the rest of the file applied
    assert ow.addresses(SHOP, "A")[1] == {"127.0.0.30"}
    json_of(ow.get("/api/v1/ready"), 200)
    assert not (ow.data_dir / "elsewhere").exists()


def test_overrides_survive_and_dropped_domains_go(ow):
    json_of(ow.request("PUT", "/api/v1/overrides/webapp/127.0.0.10", token=API_TOKEN,
                       body={"state": "down"}), 200)
    rewrite(ow, domains=[("webapp", "round-robin")],
            servers=[s for s in DEFAULT_SERVERS if s[2] == "webapp"])
    ow.sighup("reload: applied")
    assert_error(ow.get("/api/v1/domains/api." + ZONE), 404)
    assert ow.addresses("api." + ZONE, "A")[0] == 3
    assert ow.addresses(WEB, "A")[1] == {"127.0.0.11", "127.0.0.12"}
    assert len(json_of(ow.get("/api/v1/overrides"), 200)["overrides"]) == 1


def test_agent_health_survives_a_reload(tmp_path, ow):
    backend = Backend("127.0.0.1").start()
    agent = Agent(tmp_path, "agent-1", [("127.0.0.1", backend.port)], [ow.ports["gossip"]],
                  heartbeat="300ms").start()
    try:
        def agent_backend():
            bs = json_of(ow.get("/api/v1/overwatch/backends?service=webapp"), 200)["backends"]
            return next((b for b in bs if b["agent_id"] == "agent-1" and b["agent_healthy"]),
                        None)
        wait_until(agent_backend, timeout=15, what="the agent's backend")
        assert "127.0.0.1" in ow.addresses(WEB, "A")[1]
        # silence the agent (no goodbye) so nothing can re-send its health after the reload
        agent.stop(signal.SIGKILL)
        rewrite(ow, servers=SHOP_SERVERS, domains=SHOP_DOMAINS)
        ow.sighup("reload: applied")
        b = agent_backend()
        assert b is not None and b["effective_status"] == "healthy", b
        assert b["agent_last_seen"] is not None
        assert "127.0.0.1" in ow.addresses(WEB, "A")[1]
        agents = json_of(ow.get("/api/v1/overwatch/agents"), 200)["agents"]
        assert [a["agent_id"] for a in agents] == ["agent-1"]
        fams = parse_prometheus(ow.metrics_text())
        assert sample(fams, "opengslb_overwatch_agents_registered") == 1
        assert sample(fams, "opengslb_gossip_messages_total", result="accepted") >= 1
    finally:
        agent.stop(signal.SIGKILL)
        backend.stop()

