"""The operator HA guide (docs/ha-setup.md) on three real overwatches and one agent.

Three gslb-overwatch processes on 127.0.0.1, 127.0.0.2 and 127.0.0.3 (ports picked per
test), configured like the guide's Steps 2-3 (same agent tokens and gossip key through
${WEBAPP_TOKEN}, ${API_TOKEN}, ${GOSSIP_KEY}, plus the cluster secret ${CLUSTER_TOKEN} as
overwatch.dnssec.key_sync.token, which config check requires with peers; overwatch-2 lists
overwatch-1 as key-sync peer, overwatch-3 lists both), one gslb-agentd gossiping to all three (Step 5) with a
loopback HTTP backend, and clients that list all three name servers (Step 6).

Covers:
- Step 4: peers added to overwatch-1 + SIGHUP (systemctl reload): no failed query during
  the reload, the new configuration is in force;
- Test 1 (node failure): the stopped node does not answer, a stub resolver listing all
  three still gets the agent's backend; after a restart /api/v1/ready is 200 and it answers;
- Test 2 (gossip partition to one node): only that node goes stale, DNS keeps working;
- Test 3 (rolling restart): every restarted node is ready and answers its first query
  from its persisted store (the agent is silenced first, so nothing else could tell it);
- complete cluster failure: any single node started alone serves the last known state;
- the deaf-node rule (short timers, two agents): Test 2 past stale.remove_after (the cut
  node keeps the last known state, says so in /api/v1/ready and opengslb_gossip_deaf, and
  takes the fresh state after healing), complete cluster failure past remove_after (the
  node started alone serves its stored backends at once), an agent that really leaves is
  still removed, a new node with no data is not ready, a name with no backend state is
  SERVFAIL;
- "Inconsistent DNS responses": /api/v1/overwatch/backends `.backends | length`, the
  answers and SOA/NS are the same on all nodes;
- monitoring: the metric names of the guide's PromQL exist and count per node;
- DNSSEC key sync (Step 7): the same key tags in /api/v1/dnssec/status on every node, a
  manual POST /api/v1/dnssec/sync without a token, the sync metrics, and the same DNSKEY
  RRset from every node. The peers here are plain http:// on loopback, so the nodes set
  key_sync.allow_plaintext_export (lab only; tests/system/test_dnssec_sync.py covers TLS).

Every process is stopped by PID in fixture finalizers.
"""
import base64
import json
import os
import signal
import subprocess
import threading
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest
import requests

from harness import (OVERWATCH, Agent, Backend, Overwatch, UdpRelay, a_set, sample,
                     stub_resolver, wait_until)

ZONE = "gslb.example.com"
WEB = "webapp." + ZONE
BACKEND_ADDR = "127.0.0.10"  # the agent's HTTP backend: the only address webapp can answer
# Further agents' backends (tests with several agents: webapp-agent-2 reports 127.0.0.11, ...)
BACKEND_ADDRS = ["127.0.0.10", "127.0.0.11", "127.0.0.12"]
# A GSLB name no agent reports and no server backs: no backend state at all (SERVFAIL)
EMPTY = "nobackends." + ZONE
SOA_SERIAL = 2025011501
# (node_id, region, loopback address) of the guide's three overwatches
NODES = [("overwatch-us-east-1", "us-east", "127.0.0.1"),
         ("overwatch-us-west-1", "us-west", "127.0.0.2"),
         ("overwatch-eu-west-1", "eu-west", "127.0.0.3")]
HEARTBEAT = "300ms"


# ---- one overwatch ---------------------------------------------------------------------

OVERWATCH_YAML = """\
# overwatch.yaml of {node_id} (shaped like the HA guide, Steps 2-4)
mode: overwatch
overwatch:
  identity:
    node_id: {node_id}
    region: {region}
  agent_tokens:
    webapp: "${{WEBAPP_TOKEN}}"
    api: "${{API_TOKEN}}"
  gossip:
    bind_address: "{host}:{gossip}"
    encryption_key: "${{GOSSIP_KEY}}"
  dnssec:
    enabled: true
    key_sync:
      peers: {peers}
      poll_interval: 1h
      allow_plaintext_export: true  # the peers are http:// on loopback (lab only)
      token: "${{CLUSTER_TOKEN}}"  # the cluster secret config check asks for with peers
  stale:
    threshold: {stale}
    remove_after: {remove_after}
  data_dir: "{data_dir}"
storage:
  map_size: 64MiB
dns:
  listen_address: "{host}:{dns}"
  workers: 1
  zones:
    - name: {zone}
      soa: {{serial: {serial}}}
      ns: [ns1.{zone}, ns2.{zone}, ns3.{zone}]
      ns_addresses:
        ns1.{zone}: [127.0.0.1]
        ns2.{zone}: [127.0.0.2]
        ns3.{zone}: [127.0.0.3]
api:
  address: "{host}:{api}"
metrics:
  address: "{host}:{metrics}"
logging:
  level: debug
regions:
  - name: us-east
  - name: us-west
  - name: eu-west
domains:
  - name: {web}
    routing_algorithm: round-robin
    regions: [us-east, us-west, eu-west]
    all_unhealthy: nodata
  - name: {empty}
    regions: [us-east, us-west, eu-west]
    all_unhealthy: nodata
"""


class Node(Overwatch):
    """One gslb-overwatch on its own loopback address; restartable on the same ports."""

    def __init__(self, base, index, env, stale, remove_after="5m"):
        node_id, self.region, host = NODES[index]
        super().__init__(base / node_id, name=node_id, host=host,
                         ports=("dns", "gossip", "api", "metrics"), env=env)
        self.node_id = node_id
        self.index = index
        self.stale = stale
        self.remove_after = remove_after
        self.peers = []

    # ---- configuration ---------------------------------------------------------------
    def render_config(self):
        return self.config_text()

    def config_text(self):
        return OVERWATCH_YAML.format(
            node_id=self.node_id, region=self.region, host=self.host, stale=self.stale,
            remove_after=self.remove_after, peers=json.dumps(self.peers),
            data_dir=self.data_dir, zone=ZONE, web=WEB, empty=EMPTY, serial=SOA_SERIAL,
            **self.ports)

    # ---- HTTP ------------------------------------------------------------------------
    def get(self, path, timeout=2):
        return super().get(path, timeout=timeout)

    def ready_status(self):
        try:
            return self.get("/api/v1/ready", timeout=0.5).status_code
        except requests.RequestException:
            return None

    def ready_json(self, status):
        """GET /api/v1/ready, which must answer status; its JSON body."""
        r = self.get("/api/v1/ready")
        assert r.status_code == status, (self.node_id, r.status_code, r.text)
        return r.json()

    def backends(self):
        r = self.get("/api/v1/overwatch/backends")
        assert r.status_code == 200, r.text
        return r.json()["backends"]

    def agent_backend(self):
        return next((b for b in self.backends() if b["address"] == BACKEND_ADDR), None)

    # ---- DNS -------------------------------------------------------------------------
    def a_records(self, name=WEB, timeout=1.0):
        """The A addresses this node answers, or None when it does not answer."""
        return super().a_records(name, timeout=timeout)

    def serves(self, addresses, name=WEB):
        """Whether this node answers exactly addresses (NOERROR) now."""
        try:
            r = self.query(name, "A", timeout=1.0)
        except (dns.exception.DNSException, OSError):
            return False
        return r.rcode() == dns.rcode.NOERROR and a_set(r) == addresses


# ---- the cluster -----------------------------------------------------------------------

class Cluster:
    """Three overwatches deployed in the guide's order (Steps 2-3), optionally Step 4,
    an HTTP backend and one agent gossiping to all three (Step 5), or several agents."""

    def __init__(self, base, stale="30s", remove_after="5m", heartbeat=HEARTBEAT):
        self.base = base
        self.heartbeat = heartbeat
        self.env = dict(os.environ, WEBAPP_TOKEN="webapp-" + os.urandom(8).hex(),
                        API_TOKEN="api-" + os.urandom(8).hex(),
                        CLUSTER_TOKEN="cluster-" + os.urandom(8).hex(),
                        GOSSIP_KEY=base64.b64encode(os.urandom(32)).decode())
        self.nodes = [Node(base, i, self.env, stale, remove_after) for i in range(3)]
        self.backend = None  # the first agent's backend
        self.agent = None  # the first agent
        self.backends = []
        self.agents = []
        self.relay = None

    def deploy(self):
        """Steps 2 and 3: overwatch-1 with no peers, then 2 and 3 listing the earlier ones.
        A new node that no agent has reported to yet serves nothing and is not ready
        (/api/v1/ready 503, "no backend data"): wait for its DNS and metrics instead."""
        for i, node in enumerate(self.nodes):
            node.peers = [n.api_url for n in self.nodes[:i]]
            node.ready = ("dns", "metrics")
            try:
                node.start()
            finally:
                node.ready = ("api",)
        return self

    def step4(self):
        """Step 4: overwatch-1 gets the other two as peers; `systemctl reload` = SIGHUP."""
        ow1 = self.nodes[0]
        ow1.peers = [n.api_url for n in self.nodes[1:]]
        ow1.write_config()
        return ow1.sighup("reload: applied", timeout=5)

    def start_agent(self, relay_to=None, count=1):
        """count agents, each with its own backend (BACKEND_ADDRS); relay_to: index of a
        node reached through a UdpRelay (one relay for every agent's gossip)."""
        targets = []
        for i, n in enumerate(self.nodes):
            if i == relay_to:
                self.relay = UdpRelay(n.ports["gossip"], n.host)
                targets.append(("127.0.0.1", self.relay.port))
            else:
                targets.append((n.host, n.ports["gossip"]))
        for k in range(count):
            backend = Backend(BACKEND_ADDRS[k]).start()
            # HA guide, Step 5: gossip to ALL overwatch nodes, secrets from the environment
            agent = Agent(self.base, f"webapp-agent-{k + 1}", [(backend.address, backend.port)],
                          targets, env=self.env, token="${WEBAPP_TOKEN}",
                          key="${GOSSIP_KEY}", heartbeat=self.heartbeat).start()
            self.backends.append(backend)
            self.agents.append(agent)
        self.backend, self.agent = self.backends[0], self.agents[0]
        for n in self.nodes:  # SERVFAIL until a node has heard an agent (no backend state)
            wait_until(lambda: n.serves(self.addresses()), 10,
                       what=f"{n.node_id} to serve the agents' backends")
        return self

    def addresses(self):
        """The backends' addresses (what webapp answers while all are healthy)."""
        return {b.address for b in self.backends}

    def resolver(self, order=(0, 1, 2), timeout=0.3, lifetime=3.0):
        return stub_resolver([(self.nodes[i].host, self.nodes[i].ports["dns"]) for i in order],
                             timeout=timeout, lifetime=lifetime)

    def stop_all(self):
        for a in self.agents:
            a.stop(signal.SIGKILL)
        for n in self.nodes:
            n.stop()
        if self.relay:
            self.relay.close()
        for b in self.backends:
            b.stop()


@pytest.fixture
def deployed(tmp_path):
    """After Step 3 (overwatch-1 still without peers), no agent."""
    c = Cluster(tmp_path)
    try:
        yield c.deploy()
    finally:
        c.stop_all()


@pytest.fixture
def cluster(tmp_path):
    """The guide's end state: Steps 2-5 done, the agent reported to all three."""
    c = Cluster(tmp_path)
    try:
        c.deploy()
        c.step4()
        yield c.start_agent()
    finally:
        c.stop_all()


@pytest.fixture(scope="module")
def steady(tmp_path_factory):
    """A read-only cluster shared by the checks that do not stop anything."""
    c = Cluster(tmp_path_factory.mktemp("steady"))
    try:
        c.deploy()
        c.step4()
        yield c.start_agent()
    finally:
        c.stop_all()


class QueryLoop:
    """Queries one node (or a stub resolver over all) in a thread; records every failure."""

    def __init__(self, fn):
        self.fn, self.sent, self.failed, self.running = fn, 0, [], True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                got = self.fn()
                if got != {BACKEND_ADDR}:
                    self.failed.append(got)
            except Exception as e:  # noqa: BLE001 (every failure is what we count)
                self.failed.append(repr(e))
            self.sent += 1

    def wait_sent(self, n, timeout=10):
        target = self.sent + n
        wait_until(lambda: self.sent >= target, timeout, what=f"{n} more queries")

    def stop(self):
        self.running = False
        self.thread.join()


def assert_silent_since_start(node):
    """Nothing was accepted over gossip since this process started: whatever it answers
    comes from its persisted store."""
    assert node.metric("opengslb_gossip_messages_total", result="accepted") == 0


# ---- Step 4: reload with peers ---------------------------------------------------------

def test_step4_reload_adds_peers_without_dropping_queries(deployed):
    c = deployed
    ow1 = c.nodes[0]
    c.start_agent()
    assert "DNSSEC peer" not in ow1.log()  # no reload yet
    loop = QueryLoop(lambda: a_set(ow1.query(WEB)))
    try:
        loop.wait_sent(20)
        mark = c.step4()
        loop.wait_sent(20)
    finally:
        loop.stop()
    assert loop.failed == [], loop.failed[:5]
    assert ow1.proc.poll() is None
    after = ow1.log()[mark:]
    assert "1 zone(s), 2 domain(s), 3 region(s), 2 DNSSEC peer(s)" in after, after
    assert "requires restart" not in after, after
    fams = ow1.metrics()
    assert sample(fams, "opengslb_config_reloads_total", result="success") == 1
    assert sample(fams, "opengslb_config_reloads_total", result="failure") == 0
    assert sample(fams, "opengslb_config_last_reload_timestamp") >= time.time() - 60
    stats = ow1.get("/api/v1/overwatch/stats").json()
    assert stats["reloads"]["ok"] == 1 and stats["reloads"]["failed"] == 0
    # the agent's state survived the reload
    assert ow1.a_records() == {BACKEND_ADDR}
    assert ow1.metric("opengslb_overwatch_agents_registered") == 1


def test_step4_bad_reload_keeps_serving_the_old_config(deployed):
    """A typo in the Step 4 edit: reload rejected, old config kept, DNS unaffected."""
    ow1 = deployed.nodes[0]
    ow1.config_path.write_text(ow1.config_text().replace("key_sync:", "key_synk:"))
    mark = ow1.sighup("reload: rejected", timeout=5)
    assert "key_synk" in ow1.log()[mark:]
    assert ow1.proc.poll() is None and ow1.get("/api/v1/live").status_code == 200
    # still not ready for the reason it had before (no agent yet), not for the bad file
    assert ow1.ready_json(503)["reason"].startswith("no backend data")
    assert ow1.query(ZONE, "SOA").rcode() == 0
    assert ow1.metric("opengslb_config_reloads_total", result="failure") == 1


# ---- Test 1: node failure --------------------------------------------------------------

def test_node_failure_clients_retry_and_node_rejoins(cluster):
    c = cluster
    ow1 = c.nodes[0]
    assert ow1.stop() == 0, ow1.log()
    # dig @overwatch-1 webapp...  -> fails
    with pytest.raises(dns.exception.Timeout):
        ow1.query(WEB, timeout=0.5)
    # dig webapp... (resolv.conf lists all three, overwatch-1 first) -> works
    answer = c.resolver().resolve(WEB, "A")
    assert a_set(answer) == {BACKEND_ADDR}
    assert answer.nameserver != ow1.host, "the stopped node cannot have answered"
    for n in c.nodes[1:]:
        assert n.a_records() == {BACKEND_ADDR}

    ow1.start(keep_ports=True)  # systemctl start; start() waited for /api/v1/ready == 200
    assert ow1.ready_json(200)["status"] == "ready"
    assert ow1.a_records() == {BACKEND_ADDR}
    # the agent (still running) reaches the node again
    wait_until(lambda: ow1.metric("opengslb_gossip_messages_total", result="accepted") > 0, 5,
               what="gossip to the restarted node")
    assert ow1.metric("opengslb_overwatch_agents_registered") == 1
    answer = c.resolver().resolve(WEB, "A")
    assert answer.nameserver == ow1.host and a_set(answer) == {BACKEND_ADDR}


def test_two_nodes_down_single_node_serves(cluster):
    """The guide's table: 2 nodes down -> 100% (single node serves); 3 down -> 0%."""
    c = cluster
    for n in c.nodes[:2]:
        assert n.stop() == 0
    assert a_set(c.resolver(lifetime=3).resolve(WEB, "A")) == {BACKEND_ADDR}
    assert c.nodes[2].stop() == 0
    with pytest.raises((dns.resolver.LifetimeTimeout, dns.resolver.NoNameservers)):
        c.resolver(timeout=0.2, lifetime=1.0).resolve(WEB, "A")


# ---- Test 2: gossip partition ----------------------------------------------------------

def test_partition_only_the_blocked_node_goes_stale(tmp_path):
    c = Cluster(tmp_path, stale="2s")
    try:
        c.deploy()
        c.step4()
        c.start_agent(relay_to=2)
        blocked = c.nodes[2]
        c.relay.cut()  # iptables -A INPUT -p udp --dport 7946 -j DROP on overwatch-3
        wait_until(lambda: blocked.a_records() == set(), 6, what="blocked node to go stale")
        assert blocked.metric("opengslb_overwatch_agents_stale") == 1
        assert blocked.metric("opengslb_overwatch_agents_registered") == 0
        assert blocked.agent_backend()["effective_status"] == "stale"
        # DNS still works, agents still register to the other overwatches
        for n in c.nodes[:2]:
            accepted = n.metric("opengslb_gossip_messages_total", result="accepted")
            wait_until(lambda: n.metric("opengslb_gossip_messages_total",
                                        result="accepted") > accepted, 3,
                       what=f"{n.node_id} still hearing the agent")
            assert n.metric("opengslb_overwatch_agents_stale") == 0
            assert n.metric("opengslb_overwatch_agents_registered") == 1
            assert n.a_records() == {BACKEND_ADDR}
        assert a_set(c.resolver().resolve(WEB, "A")) == {BACKEND_ADDR}
        c.relay.heal()  # iptables -D ...
        wait_until(lambda: blocked.a_records() == {BACKEND_ADDR}, 5,
                   what="healed node serving again")
        assert blocked.metric("opengslb_overwatch_agents_stale") == 0
        assert blocked.metric("opengslb_overwatch_agents_registered") == 1
    finally:
        c.stop_all()


# ---- Test 2 past remove_after: the deaf-node rule (docs/ha-setup.md) ---------------------
# Short timers: stale.threshold 2 s, remove_after 4 s, heartbeats every 200 ms (well under
# a third of the threshold, as docs/agent.md asks: a loaded test machine must not delay a
# live agent by half a threshold); two agents, so a node can tell "one agent went away"
# (the other still reports) from "this node went deaf" (both silent together).

SHORT = {"stale": "2s", "remove_after": "4s", "heartbeat": "200ms"}
PAST_REMOVE_AFTER = 5.0  # seconds: longer than remove_after


def assert_deaf(node, agents=2):
    """The node says loudly that it hears no agent: /ready 503 with the reason, the metric."""
    j = node.ready_json(503)
    assert j["status"] == "not_ready" and j["reason"].startswith("gossip deaf"), j
    assert j["gossip_deaf"] is True and j["agents_silent"] == agents, j
    fams = node.metrics()
    assert sample(fams, "opengslb_gossip_deaf") == 1
    assert sample(fams, "opengslb_up") == 0  # as /api/v1/ready
    assert sample(fams, "opengslb_sweeper_agents_removed_total") == 0
    assert sample(fams, "opengslb_sweeper_backends_marked_stale_total") == 0


def test_partition_past_remove_after_keeps_the_last_known_state(tmp_path):
    c = Cluster(tmp_path, **SHORT)
    try:
        c.deploy()
        c.start_agent(relay_to=2, count=2)
        both = c.addresses()
        blocked, others = c.nodes[2], c.nodes[:2]
        mark = len(blocked.log())
        c.relay.cut()  # iptables -A INPUT -p udp --dport 7946 -j DROP on overwatch-3
        cut_at = time.monotonic()
        blocked.wait_log("gossip deaf:", start=mark, timeout=6)
        # meanwhile the second backend dies: the nodes that hear the agents drop it
        c.backends[1].stop()
        for n in others:
            wait_until(lambda: n.a_records() == {BACKEND_ADDR}, 5,
                       what=f"{n.node_id} to drop the dead backend")
        time.sleep(max(0.0, PAST_REMOVE_AFTER - (time.monotonic() - cut_at)))
        # the cut-off node still answers with what it last knew, NOERROR, and says why
        assert blocked.a_records() == both
        assert len(blocked.backends()) == 2
        assert_deaf(blocked)
        assert blocked.log()[mark:].count("gossip deaf:") == 1  # one line on entering
        for n in others:
            assert n.ready_json(200)["gossip_deaf"] is False
            assert n.metric("opengslb_gossip_deaf") == 0
        assert a_set(c.resolver().resolve(WEB, "A")) == {BACKEND_ADDR}
        c.relay.heal()  # iptables -D ...
        wait_until(lambda: blocked.ready_status() == 200, 5, what="healed node ready")
        blocked.wait_log("gossip resumed", start=mark)
        assert blocked.metric("opengslb_gossip_deaf") == 0
        assert blocked.metric("opengslb_gossip_deaf_episodes_total") == 1
        wait_until(lambda: blocked.a_records() == {BACKEND_ADDR}, 5,
                   what="healed node serving the fresh state")
    finally:
        c.stop_all()


def test_complete_cluster_failure_past_remove_after(tmp_path):
    c = Cluster(tmp_path, **SHORT)
    try:
        c.deploy()
        c.start_agent(count=2)
        both = c.addresses()
        for a in c.agents:  # no agent reports while the cluster is down or after
            a.stop(signal.SIGKILL)
        for n in c.nodes:
            assert n.stop() == 0, n.log()
        time.sleep(PAST_REMOVE_AFTER)  # the outage outlasts remove_after
        first = c.nodes[1].start(keep_ports=True)  # waits for /api/v1/ready == 200
        assert first.a_records(timeout=0.5) == both  # DNS resumes at once, stored state
        assert_silent_since_start(first)
        j = first.ready_json(200)
        assert j["agent_data_since_start"] is False and j["backends"] == 2, j
        # still nobody reports after stale.threshold: the node counts itself deaf and
        # keeps the stored state instead of dropping it
        wait_until(lambda: first.metric("opengslb_gossip_deaf") == 1, 6, what="deaf")
        assert first.a_records() == both
        assert_deaf(first)
    finally:
        c.stop_all()


def test_an_agent_that_really_leaves_is_still_removed(tmp_path):
    c = Cluster(tmp_path, **SHORT)
    try:
        c.deploy()
        c.start_agent(count=2)
        gone = BACKEND_ADDRS[1]
        c.agents[1].stop(signal.SIGKILL)  # the other agent keeps reporting
        for n in c.nodes:
            wait_until(lambda: n.a_records() == {BACKEND_ADDR}, 6, what="stale agent")
        for n in c.nodes:
            wait_until(lambda: gone not in {b["address"] for b in n.backends()}, 8,
                       what=f"{n.node_id} to remove the silent agent's backend")
            fams = n.metrics()
            assert sample(fams, "opengslb_sweeper_agents_removed_total") == 1
            assert sample(fams, "opengslb_gossip_deaf") == 0
            assert sample(fams, "opengslb_gossip_deaf_episodes_total") == 0
            assert n.ready_json(200)["agents_known"] == 1
            assert n.a_records() == {BACKEND_ADDR}
    finally:
        c.stop_all()


def test_new_node_without_data_is_not_ready(deployed):
    """Nothing stored, no agent yet: not ready, and GSLB names are SERVFAIL, not NODATA."""
    for n in deployed.nodes:
        j = n.ready_json(503)
        assert j["reason"].startswith("no backend data"), j
        assert j["backends"] == 0 and j["gossip_deaf"] is False, j
        assert n.metric("opengslb_up") == 0
        assert n.query(WEB, "A").rcode() == dns.rcode.SERVFAIL
    deployed.start_agent()
    for n in deployed.nodes:
        wait_until(lambda: n.ready_status() == 200, 5, what=f"{n.node_id} ready")


def test_name_without_backend_state_is_servfail(steady):
    for n in steady.nodes:
        for rdtype in ("A", "AAAA"):
            r = n.query(EMPTY, rdtype)
            assert r.rcode() == dns.rcode.SERVFAIL and not r.answer, (n.node_id, r)
        r = n.query(WEB, "AAAA")  # only the family has no backend: NODATA as before
        assert r.rcode() == dns.rcode.NOERROR and not r.answer, r
        assert n.query(EMPTY, "TXT").rcode() == dns.rcode.NOERROR


# ---- Test 3: rolling restart -----------------------------------------------------------

def test_rolling_restart_is_warm_and_never_fails_a_client(cluster):
    c = cluster
    # Silence the agent without a goodbye: from now on only the stores know its backend.
    assert c.agent.stop(signal.SIGKILL) == -signal.SIGKILL
    loop = QueryLoop(lambda: a_set(c.resolver(timeout=0.3, lifetime=3).resolve(WEB, "A")))
    try:
        for node in c.nodes:
            node.restart()  # returns once /api/v1/ready is 200
            first = node.a_records(timeout=0.5)
            assert first == {BACKEND_ADDR}, f"{node.node_id} cold after restart: {first}"
            assert node.get("/api/v1/ready").status_code == 200
            b = node.agent_backend()
            assert b["agent_id"] == "webapp-agent-1" and b["effective_status"] == "healthy", b
            assert b["agent_last_seen"] is not None
            assert_silent_since_start(node)
            loop.wait_sent(3)
    finally:
        loop.stop()
    assert loop.failed == [], loop.failed[:5]
    assert loop.sent > 0


# ---- Complete cluster failure ----------------------------------------------------------

@pytest.mark.parametrize("survivor", [0, 2])
def test_complete_cluster_failure_any_single_node_resumes(cluster, survivor):
    c = cluster
    c.agent.stop(signal.SIGKILL)
    for n in c.nodes:
        assert n.stop() == 0, n.log()
    with pytest.raises((dns.resolver.LifetimeTimeout, dns.resolver.NoNameservers)):
        c.resolver(timeout=0.2, lifetime=1.0).resolve(WEB, "A")

    first = c.nodes[survivor].start(keep_ports=True)
    assert first.a_records(timeout=0.5) == {BACKEND_ADDR}  # DNS resumes immediately
    assert_silent_since_start(first)
    assert a_set(c.resolver().resolve(WEB, "A")) == {BACKEND_ADDR}

    for n in c.nodes:  # start the remaining nodes
        if n is not first:
            n.start(keep_ports=True)
    for n in c.nodes:
        assert n.a_records() == {BACKEND_ADDR}, n.node_id
        assert n.get("/api/v1/ready").status_code == 200
    assert len({len(n.backends()) for n in c.nodes}) == 1


# ---- Troubleshooting: inconsistent DNS responses ---------------------------------------

def test_backend_lists_and_answers_agree(steady):
    nodes = steady.nodes
    lengths = [len(n.backends()) for n in nodes]  # jq '.backends | length'
    assert lengths == [1, 1, 1], lengths
    for n in nodes:
        b = n.agent_backend()
        assert b["agent_id"] == "webapp-agent-1" and b["effective_status"] == "healthy", b
        assert b["region"] == "us-east" and b["port"] == steady.backend.port, b
    for rdtype in ("A", "NS", "SOA"):
        answers = [sorted(rr.to_text() for rrset in n.query(WEB if rdtype == "A" else ZONE,
                                                               rdtype).answer for rr in rrset)
                   for n in nodes]
        assert answers[0] and answers.count(answers[0]) == 3, (rdtype, answers)


# ---- Monitoring HA health --------------------------------------------------------------

GUIDE_METRICS = {"opengslb_dns_queries_total": "counter",
                 "opengslb_dnssec_sync_success": "gauge",
                 "opengslb_overwatch_agents_registered": "gauge",
                 "opengslb_dnssec_last_sync_timestamp": "gauge"}


def queries_total(node):
    return sum(node.metrics()["opengslb_dns_queries_total"]["samples"].values())


def test_guide_metrics_exist_and_count_per_node(steady):
    for n in steady.nodes:
        fams = n.metrics()
        for name, typ in GUIDE_METRICS.items():
            assert name in fams and fams[name]["type"] == typ, (n.node_id, name)
        assert sample(fams, "opengslb_overwatch_agents_registered") == 1, n.node_id
        assert sample(fams, "opengslb_overwatch_agents_stale") == 0, n.node_id
    # sum by (instance) (rate(opengslb_dns_queries_total[5m])): each node counts its own
    before = [queries_total(n) for n in steady.nodes]
    for i, n in enumerate(steady.nodes):
        for _ in range(i + 2):
            assert n.a_records() == {BACKEND_ADDR}
    wait_until(lambda: [queries_total(n) - b for n, b in zip(steady.nodes, before)] == [2, 3, 4],
               5, what="per-node query counters")


def test_metrics_grep_up_shows_the_node_is_up(steady):
    # guide: `curl http://overwatch-1:9091/metrics | grep up` -> opengslb_up 1 on a serving node
    for n in steady.nodes:
        up = [line for line in n.metrics_text().splitlines() if line.startswith("opengslb_up ")]
        assert up == ["opengslb_up 1"], up


def test_ready_and_live_on_every_node(steady):
    for n in steady.nodes:
        j = n.ready_json(200)
        assert j == {"status": "ready", "gossip_deaf": False, "agent_data_since_start": True,
                     "agents_known": 1, "agents_silent": 0, "backends": 1}, j
        assert n.get("/api/v1/live").status_code == 200


# ---- DNSSEC key sync (Step 7) ------------------------------------------------------------

def dnssec_json(node, method, path):
    r = requests.request(method, node.api_url + path, timeout=5)
    assert r.status_code == 200, (node.node_id, r.status_code, r.text)
    return r.json()


def test_step7_key_tags_match_on_all_nodes(steady):
    tags = [sorted(k["key_tag"] for k in dnssec_json(n, "GET", "/api/v1/dnssec/status")["keys"])
            for n in steady.nodes]
    assert tags[0] and tags.count(tags[0]) == 3, tags


def test_dnssec_sync_status_and_manual_sync(steady):
    for n, peers in zip(steady.nodes, (2, 1, 2)):  # overwatch-1 got 2 peers in Step 4
        dnssec_json(n, "POST", "/api/v1/dnssec/sync")  # exactly as the guide: no token
        sync = dnssec_json(n, "GET", "/api/v1/dnssec/status")["sync"]
        assert sync["enabled"] is True and sync["peer_count"] == peers, sync
        assert sync["last_sync_error"] is None and sync["last_sync"] and sync["next_sync"], sync
        fams = n.metrics()
        assert sample(fams, "opengslb_dnssec_sync_success") == 1
        assert sample(fams, "opengslb_dnssec_last_sync_timestamp") >= time.time() - 60


def test_all_nodes_serve_the_same_dnskey_set(steady):
    sets = []
    for n in steady.nodes:
        q = dns.message.make_query(ZONE, "DNSKEY", want_dnssec=True)
        r = dns.query.udp(q, n.host, port=n.ports["dns"], timeout=2)
        keys = sorted(rr.to_text() for rrset in r.answer if rrset.rdtype == dns.rdatatype.DNSKEY
                      for rr in rrset)
        sets.append(keys)
    assert sets[0] and sets.count(sets[0]) == 3, sets


# ---- the guide's own files ---------------------------------------------------------------

def with_cluster_token(text):
    """The one line config check asks for: key_sync.token under key_sync."""
    return text.replace("  key_sync:\n", '  key_sync:\n      token: "${CLUSTER_TOKEN}"\n')


def test_guide_overwatch_files_pass_check_config(tmp_path):
    """Steps 2-4 (tests/fixtures/seed/) with the same secrets on every node: verbatim, a
    file with key_sync peers fails with a message naming the cluster secret to add; with
    that line added every file passes."""
    seed = os.path.join(os.environ["GSLB_FIXTURES"], "seed")
    env = Cluster(tmp_path).env
    for name in ("overwatch-1.yaml", "overwatch-2.yaml", "overwatch-3.yaml",
                 "overwatch-1-peers.yaml"):
        path = os.path.join(seed, name)
        r = subprocess.run([OVERWATCH, "--check-config", path], env=env,
                           capture_output=True, text=True, timeout=10)
        if name == "overwatch-1.yaml":  # peers: [] - no cluster secret needed
            assert r.returncode == 0, (name, r.stdout, r.stderr)
        else:
            assert r.returncode == 1, (name, r.stdout, r.stderr)
            assert f"{path}:" in r.stderr and ": overwatch.dnssec.key_sync.peers: key sync " \
                "peers need a cluster secret: add overwatch.dnssec.key_sync.token" in r.stderr, \
                r.stderr
        fixed = tmp_path / name
        with open(path) as f:
            fixed.write_text(with_cluster_token(f.read()))
        r = subprocess.run([OVERWATCH, "--check-config", str(fixed)], env=env,
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, (name, r.stdout, r.stderr)
    r = subprocess.run([OVERWATCH, "--check-config", os.path.join(seed, "overwatch-2.yaml")],
                       env=dict(env, GOSSIP_KEY=""), capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "overwatch.gossip.encryption_key" in r.stdout + r.stderr
