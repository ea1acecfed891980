"""/metrics of a real gslb-overwatch (docs/metrics.md), parsed by a strict Prometheus text
(0.0.4) parser: required families and types, the query counter equals the queries sent
(by qtype and rcode), backend states, process metrics, the parser itself rejecting bad
text, and 404/405 on the metrics listener.
"""
import time

import dns.rcode
import pytest
import requests

from harness import (API_TOKEN, DEFAULT_SERVERS, WEB, ZONE, default_config, default_overwatch,
                     json_of, parse_prometheus, sample, wait_until)

REQUIRED = {
    "opengslb_dns_queries_total": "counter",
    "opengslb_dns_responses_truncated_total": "counter",
    "opengslb_overwatch_agents_registered": "gauge",
    "opengslb_overwatch_backends": "gauge",
    "opengslb_gossip_messages_total": "counter",
    "opengslb_dnssec_sync_success": "gauge",
    "opengslb_dnssec_last_sync_timestamp": "gauge",
    "opengslb_build_info": "gauge",
    "opengslb_config_reloads_total": "counter",
    "process_start_time_seconds": "gauge",
    "process_resident_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "opengslb_dns_events_total": "counter",
    "opengslb_gossip_backends_ignored_total": "counter",
    "opengslb_validation_disagreements_total": "counter",
    "opengslb_sweeper_backends_marked_stale_total": "counter",
}


@pytest.fixture
def ow(tmp_path):
    o = default_overwatch(tmp_path)
    o.start()
    yield o
    o.stop_clean()


def rcode_name(r):
    return dns.rcode.to_text(r.rcode())


def scrape(ow):
    return parse_prometheus(ow.metrics_text())


def query_counts(families):
    return {dict(k)["qtype"] + "/" + dict(k)["rcode"]: v
            for k, v in families["opengslb_dns_queries_total"]["samples"].items()}


def test_required_families_and_values(ow):
    fams = scrape(ow)
    for name, typ in REQUIRED.items():
        assert name in fams, name
        assert fams[name]["type"] == typ, (name, fams[name]["type"])
        assert fams[name]["help"], name
    info = fams["opengslb_build_info"]["samples"]
    assert len(info) == 1
    labels, value = dict(next(iter(info))), next(iter(info.values()))
    assert value == 1 and labels["node_id"] == "api-test" and labels["version"].count(".") == 2
    states = {dict(k)["state"]: v for k, v in fams["opengslb_overwatch_backends"]["samples"].items()}
    assert states["healthy"] == len(DEFAULT_SERVERS)
    assert sum(states.values()) == len(DEFAULT_SERVERS)
    assert sample(fams, "opengslb_overwatch_agents_registered") == 0
    assert sample(fams, "opengslb_dnssec_sync_success") == 0
    assert sample(fams, "opengslb_dnssec_last_sync_timestamp") == 0
    gossip = fams["opengslb_gossip_messages_total"]["samples"]
    assert sample(fams, "opengslb_gossip_messages_total", result="accepted") == 0
    assert all(len(k) == 1 for k in gossip)  # only the bounded "result" label
    ignored = fams["opengslb_gossip_backends_ignored_total"]["samples"]
    assert {dict(k)["reason"] for k in ignored} == {"unknown_service", "unauthorized"}
    assert sample(fams, "opengslb_validation_disagreements_total") == 0
    started = sample(fams, "process_start_time_seconds")
    assert time.time() - 120 < started <= time.time() + 1
    assert sample(fams, "process_resident_memory_bytes") > 1 << 20
    assert 3 <= sample(fams, "process_open_fds") < 10000
    assert sample(fams, "opengslb_dns_workers") == 2


def test_query_counter_matches_queries_sent(ow):
    before = query_counts(scrape(ow))
    assert sum(before.values()) == 0
    sent = {}
    plan = [(WEB, "A")] * 7 + [(WEB, "AAAA")] * 4 + [(ZONE, "SOA")] * 2 + \
           [("nope." + ZONE, "A")] * 3 + [("other.example.", "A")] * 2
    for name, rdtype in plan:
        r = ow.query(name, rdtype)
        key = f"{rdtype}/{rcode_name(r)}"
        sent[key] = sent.get(key, 0) + 1
    assert sent["A/NXDOMAIN"] == 3 and len(sent) >= 4  # several label pairs

    def counted():
        got = query_counts(scrape(ow))
        return got if got == sent else None
    wait_until(counted, timeout=5, what=f"counters {sent}")
    fams = scrape(ow)
    assert sum(fams["opengslb_dns_queries_total"]["samples"].values()) == len(plan)
    assert sample(fams, "opengslb_dns_events_total", event="udp_queries") == len(plan)
    assert sample(fams, "opengslb_dns_events_total", event="tcp_queries") == 0
    stats = json_of(ow.get("/api/v1/overwatch/stats"), 200)
    assert stats["dns"]["queries_total"] == len(plan)
    assert stats["more"]["opengslb_dns_events_total"]["udp_queries"] == len(plan)


def test_backend_states_follow_overrides(ow):
    r = ow.request("PUT", "/api/v1/overrides/webapp/127.0.0.10", token=API_TOKEN,
                   body={"state": "down"})
    json_of(r, 200)
    fams = scrape(ow)
    assert sample(fams, "opengslb_overwatch_backends", state="override_down") == 1
    assert sample(fams, "opengslb_overwatch_backends", state="healthy") == len(DEFAULT_SERVERS) - 1
    assert sample(fams, "opengslb_overrides_active") == 1
    assert sample(fams, "opengslb_api_requests_total", code="2xx") >= 1


def test_metrics_listener_errors(ow):
    base = f"http://127.0.0.1:{ow.ports['metrics']}"
    assert requests.get(base + "/other", timeout=5).status_code == 404
    r = requests.post(base + "/metrics", timeout=5)
    assert r.status_code == 405 and r.headers["Allow"] == "GET"


def test_metrics_disabled(tmp_path):
    def cfg(ow):
        c = default_config(ow.ports, ow.data_dir)
        c["metrics"]["enabled"] = False
        return c
    o = default_overwatch(tmp_path, cfg)
    o.start()
    try:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{o.ports['metrics']}/metrics", timeout=2)
        assert "metrics: listening" not in o.log()
    finally:
        o.stop_clean()


@pytest.mark.parametrize("text", [
    "m 1",                                            # no final newline
    "# TYPE m counter\nm -1\n",                       # negative counter
    "# TYPE m gauge\nm{a=\"x} 1\n",                   # unterminated label value
    "# TYPE m gauge\nm{a=\"\\t\"} 1\n",               # bad escape
    "# TYPE m gauge\nm{a=\"1\",a=\"2\"} 1\n",         # duplicate label
    "# TYPE m gauge\nm 1\nm 2\n",                     # duplicate series
    "# TYPE m gauge\n# TYPE m gauge\nm 1\n",          # TYPE twice
    "# TYPE m gauge\nn 1\n",                          # sample outside its family
    "# TYPE m gauge\nm one\n",                        # not a number
    "# TYPE m gauge\n\nm 1\n",                        # empty line
    "# TYPE m nonsense\nm 1\n",                       # unknown type
    "m 1\n",                                          # no TYPE
])
def test_strict_parser_rejects_bad_text(text):
    with pytest.raises((AssertionError, ValueError)):
        parse_prometheus(text)


def test_strict_parser_accepts_good_text():
    fams = parse_prometheus('# HELP m h\n# TYPE m counter\nm{a="x\\"y\\\\z\\n"} 3\nm 1e3\n'
                            '# TYPE g gauge\ng NaN\ng{b="+"} +Inf 1700000000000\n')
    assert sample(fams, "m", a='x"y\\z\n') == 3 and sample(fams, "m") == 1000
    assert sample(fams, "g", b="+") == float("inf")
