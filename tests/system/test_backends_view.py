"""GET /api/v1/overwatch/backends finds the node that serves something else (issue 9, item 4).

The HA guide's troubleshooting compares `jq '.backends | length'` across the overwatches, which
shows the same count while one node serves from stale data. Two overwatches here hear three
agents (one backend each); the third agent reaches the second node through a UdpRelay that is
then cut (the guide's Test 2 partition, for one agent only). The route must show on that node
the backend's state (`effective_status` "stale", `answered` false, its `source_id` and the age
of the last report), and the per-domain `answers[].digest` and the node's `answers_digest` must
differ between the two nodes while the counts agree; the troubleshooting jq line of
docs/ha-setup.md names the odd node. After the heal the digests agree again.
"""
import subprocess

import pytest

from harness import (ALL_PORTS, WEB, Agent, Backend, Overwatch, UdpRelay, default_config,
                     wait_until)

BACKENDS = {"agent-1": "127.0.0.31", "agent-2": "127.0.0.32", "agent-3": "127.0.0.33"}
STATIC = [("127.0.0.20", "us-east", "api"), ("127.0.0.21", "eu-west", "api")]


def node_config(node_id):
    def config(ow):
        c = default_config(ow.ports, ow.data_dir, servers=STATIC)
        c["overwatch"]["identity"]["node_id"] = node_id
        c["overwatch"]["stale"] = {"threshold": "2s", "remove_after": "5m"}
        return c
    return config


def backends_json(node, query=""):
    r = node.get("/api/v1/overwatch/backends" + query)
    assert r.status_code == 200, r.text
    return r.json()


def by_address(body):
    return {b["address"]: b for b in body["backends"]}


def webapp_digest(body):
    return next(a["digest"] for a in body["answers"] if a["domain"] == WEB)


@pytest.fixture
def two_nodes(tmp_path):
    nodes = [Overwatch(tmp_path / name, node_config(name), ports=ALL_PORTS)
             for name in ("overwatch-a", "overwatch-b")]
    procs = []
    relay = None
    try:
        for n in nodes:
            n.start()
        relay = UdpRelay(nodes[1].ports["gossip"])
        for agent_id, addr in BACKENDS.items():
            backend = Backend(addr).start()
            procs.append(backend)
            to_b = relay.port if agent_id == "agent-3" else nodes[1].ports["gossip"]
            procs.append(Agent(tmp_path, agent_id, [(addr, backend.port)],
                               [nodes[0].ports["gossip"], to_b]).start())
        for n in nodes:
            wait_until(lambda: n.a_records(WEB) == set(BACKENDS.values()), 10,
                       what=f"{n.name} to serve the three agents' backends")
        yield nodes, relay
    finally:
        for p in procs:
            p.stop()
        for n in nodes:
            n.stop()
        if relay:
            relay.close()


def test_backends_route_shows_staleness_and_answer_digest(two_nodes):
    (a, b), relay = two_nodes
    body_a, body_b = backends_json(a), backends_json(b)
    for node, body in ((a, body_a), (b, body_b)):
        assert body["node_id"] == node.name and body["generated_at"]
        assert body["count"] == len(body["backends"]) == 5  # the existing fields stay
        for agent_id, addr in BACKENDS.items():
            be = by_address(body)[addr]
            assert be["effective_status"] == "healthy" and be["source"] == "agent", be
            assert be["source_id"] == agent_id and be["agent_id"] == agent_id, be
            assert be["answered"] is True and be["last_update"] is not None, be
            assert 0 <= be["last_update_age_seconds"] <= 2, be
        static = by_address(body)["127.0.0.20"]
        assert static["source_id"] == "config" and static["answered"] is True, static
        web = next(x for x in body["answers"] if x["domain"] == WEB)
        assert web["service"] == "webapp" and web["healthy"] == 3 and web["candidates"] == 3
        assert len(web["digest"]) == 64 and len(body["answers_digest"]) == 64
    assert body_a["answers_digest"] == body_b["answers_digest"]
    assert body_a["answers"] == body_b["answers"]

    relay.cut()  # Test 2 for agent-3 on overwatch-b only
    wait_until(lambda: by_address(backends_json(b))["127.0.0.33"]["effective_status"] == "stale",
               8, what="agent-3's backend to go stale on overwatch-b")
    body_a, body_b = backends_json(a), backends_json(b)
    assert len(body_a["backends"]) == len(body_b["backends"])  # the guide's length check: equal
    stale = by_address(body_b)["127.0.0.33"]
    assert stale["source_id"] == "agent-3" and stale["answered"] is False, stale
    assert stale["last_update_age_seconds"] >= 2, stale
    fresh = by_address(body_a)["127.0.0.33"]
    assert fresh["effective_status"] == "healthy" and fresh["answered"] is True, fresh
    assert fresh["last_update_age_seconds"] <= 2, fresh
    assert webapp_digest(body_a) != webapp_digest(body_b)
    assert body_a["answers_digest"] != body_b["answers_digest"]
    api_digests = [next(x["digest"] for x in body["answers"] if x["service"] == "api")
                   for body in (body_a, body_b)]
    assert api_digests[0] == api_digests[1]  # only the webapp domain differs

    # docs/ha-setup.md troubleshooting: the jq line run on every node
    lines = {}
    for n in (a, b):
        out = subprocess.run(
            f"curl -s {n.api_url}/api/v1/overwatch/backends | jq -r "
            "'[.node_id, .answers_digest, ([.backends[] | select(.effective_status != "
            "\"healthy\") | .address] | join(\",\"))] | @tsv'",
            shell=True, capture_output=True, text=True, timeout=10, check=True).stdout
        node_id, digest, unhealthy = out.rstrip("\n").split("\t")
        lines[node_id] = (digest, unhealthy)
    assert lines["overwatch-a"] == (body_a["answers_digest"], "")
    assert lines["overwatch-b"] == (body_b["answers_digest"], "127.0.0.33")

    # the service filter applies to the answers list as well
    only_api = backends_json(b, "?service=api")
    assert {x["service"] for x in only_api["answers"]} == {"api"}
    assert only_api["answers_digest"] == body_b["answers_digest"]

    relay.heal()
    wait_until(lambda: backends_json(b)["answers_digest"] == backends_json(a)["answers_digest"],
               8, what="the digests to agree after the heal")
