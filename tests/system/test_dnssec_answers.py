"""DNSSEC-signed answers of the real gslb-overwatch (docs/dnssec.md, "Online signing and
denial"), checked with two independent validators: BIND's `delv` with a trust anchor made
from the DNSKEY the server serves, and dnspython's dns.dnssec.validate (python3-cryptography).

Covered, for ECDSAP256SHA256 (13) and ED25519 (15): a GSLB A/AAAA answer, the apex SOA, NS
(with signed glue) and DNSKEY RRsets, NODATA and a nonexistent name (compact denial of
existence, RFC 9824: NOERROR + NSEC with NXNAME; NXDOMAIN with the CO flag); truncation of a
DO answer over UDP and the full answer over TCP; answers that change with health (API
override) and still validate; a key change through key sync between two nodes, after which
no cached signature of the old key is served; queries without DO are unchanged; the
signature cache and its counters in /metrics.

Every process is started on loopback ports picked per test and stopped by PID.
"""
import os
import subprocess

import dns.dnssec
import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from harness import Overwatch, wait_until

ZONE = "gslb.test"
WEB = "webapp." + ZONE
BIG = "big." + ZONE
BIG_N = 70  # 70 A records fit in 1232 bytes unsigned, not with their RRSIG
TOKEN = "dnssec-answers-token-" + os.urandom(4).hex()
NXNAME = 128
CO = 0x4000  # EDNS "Compact Answers OK" (RFC 9824 5.1)

REGIONS = {
    "east": [("10.0.0.1", "webapp"), ("10.0.0.2", "webapp"), ("10.0.1.1", "v4")]
    + [(f"10.1.0.{i + 1}", "big") for i in range(BIG_N)],
    "west": [("10.0.0.3", "webapp"), ("2001:db8::1", "webapp")],
}
DOMAINS = [("webapp", "round-robin"), ("big", "round-robin"), ("v4", "failover")]


class Node:
    """A gslb-overwatch with DNSSEC on, its API (plain HTTP, loopback) and metrics."""

    def __init__(self, base, name, algorithm):
        self.name = name
        self.algorithm = algorithm
        self.enabled = True
        self.peers = []
        self.ow = Overwatch(base / name, self.config, ports=("dns", "api", "metrics"))

    def config(self, ow):
        return {
            "mode": "overwatch",
            "overwatch": {
                "identity": {"node_id": self.name},
                "dnssec": {"enabled": self.enabled, "algorithm": self.algorithm,
                           "key_sync": {"peers": self.peers, "poll_interval": "1h",
                                        "timeout": "2s", "allow_plaintext_export": True,
                                        "token": "cluster-" + TOKEN}},
                "data_dir": str(ow.data_dir),
            },
            "storage": {"map_size": "64MiB"},
            "dns": {
                "listen_address": f"127.0.0.1:{ow.port}",
                "workers": 2,
                "edns_payload": 1232,
                "default_ttl": 30,
                "zones": [{"name": ZONE, "ns": [f"ns1.{ZONE}", "ns.elsewhere.example"],
                           "ns_addresses": {f"ns1.{ZONE}": ["192.0.2.53", "2001:db8::53"]}}],
            },
            "api": {"address": f"127.0.0.1:{ow.ports['api']}", "token": TOKEN},
            "metrics": {"address": f"127.0.0.1:{ow.ports['metrics']}"},
            "regions": [{"name": region, "servers": [{"address": a, "port": 80, "service": s}
                                                     for a, s in servers]}
                        for region, servers in REGIONS.items()],
            "domains": [{"name": f"{svc}.{ZONE}", "routing_algorithm": algo,
                         "regions": ["east", "west"]} for svc, algo in DOMAINS],
        }

    @property
    def ports(self):
        return self.ow.ports

    def start(self):
        self.ow.start()
        return self

    def stop(self):
        self.ow.stop()

    @property
    def url(self):
        return self.ow.api_url

    def api(self, method, path, body=None):
        r = self.ow.request(method, path, token=TOKEN, body=body)
        assert r.status_code == 200, (method, path, r.status_code, r.text)
        return r.json()

    def reload(self):
        self.ow.write_config()
        self.ow.sighup("reload: applied", timeout=5)

    def events(self):
        samples = self.ow.metrics()["opengslb_dns_events_total"]["samples"]
        return {dict(labels)["event"]: value for labels, value in samples.items()}

    # ---- DNS --------------------------------------------------------------------
    def query(self, name, rdtype, do=True, tcp=False, payload=1232, ednsflags=0):
        q = dns.message.make_query(name, rdtype, use_edns=0, payload=payload, want_dnssec=do,
                                   ednsflags=ednsflags)
        return self.ow.send(q, tcp=tcp, timeout=3)

    def dnskeys(self):
        r = self.query(ZONE, "DNSKEY")
        return r.find_rrset(r.answer, dns.name.from_text(ZONE), dns.rdataclass.IN,
                            dns.rdatatype.DNSKEY)


@pytest.fixture(scope="module", params=["ECDSAP256SHA256", "ED25519"])
def node(request, tmp_path_factory):
    n = Node(tmp_path_factory.mktemp(request.param.lower()), "dnssec-1", request.param)
    try:
        yield n.start()
    finally:
        n.stop()


# ---- validators -----------------------------------------------------------------------------

def validate(response, keys):
    """dnspython: every RRset of every section has an RRSIG that verifies with the zone's
    DNSKEY RRset. Returns the (name, type) of the RRsets validated."""
    done = []
    zone = dns.name.from_text(ZONE)
    for section in (response.answer, response.authority, response.additional):
        for rrset in section:
            if rrset.rdtype in (dns.rdatatype.RRSIG, dns.rdatatype.OPT):
                continue
            sigs = [s for s in section if s.rdtype == dns.rdatatype.RRSIG
                    and s.covers == rrset.rdtype and s.name == rrset.name]
            assert sigs, f"no RRSIG over {rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}"
            dns.dnssec.validate(rrset, sigs[0], {zone: keys})
            done.append((rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype)))
    return done


def anchor_file(node, path):
    """delv trust anchor for the zone: its served DNSKEY (static-key)."""
    lines = []
    for key in node.dnskeys():
        text = key.to_text().split()
        lines.append(f'  {ZONE}. static-key {text[0]} {text[1]} {text[2]} "{"".join(text[3:])}";')
    path.write_text("trust-anchors {\n" + "\n".join(lines) + "\n};\n")
    return path


def delv(node, anchors, name, rdtype, extra=()):
    res = subprocess.run(["delv", "@127.0.0.1", "-p", str(node.ports["dns"]), "-a", str(anchors),
                          f"+root={ZONE}", *extra, name, rdtype],
                         capture_output=True, text=True, timeout=20)
    return res.stdout + res.stderr


def rrset_of(section, rdtype):
    return [r for r in section if r.rdtype == rdtype]


def nsec_of(section):
    (nsec,) = rrset_of(section, dns.rdatatype.NSEC)
    return nsec


def nsec_types(nsec):
    return {t for window, bits in nsec[0].windows
            for i, b in enumerate(bits) for j in range(8) if b & (0x80 >> j)
            for t in [window * 256 + i * 8 + j]}


# ---- positive answers -------------------------------------------------------------------------

def test_a_answer_validates(node, tmp_path):
    keys = node.dnskeys()
    r = node.query(WEB, "A")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert not r.flags & dns.flags.AD and r.ednsflags & dns.flags.DO
    (a,) = rrset_of(r.answer, dns.rdatatype.A)
    assert {rr.address for rr in a} == {"10.0.0.1", "10.0.0.2", "10.0.0.3"}
    (sig,) = rrset_of(r.answer, dns.rdatatype.RRSIG)
    alg = {"ECDSAP256SHA256": 13, "ED25519": 15}[node.algorithm]
    assert sig[0].algorithm == alg and sig[0].labels == 3 and sig[0].original_ttl == a.ttl
    assert sig[0].signer == dns.name.from_text(ZONE)
    assert sig[0].expiration - sig[0].inception == 7 * 86400 and sig[0].inception % 3600 == 0
    assert validate(r, keys) == [(WEB + ".", "A")]
    r = node.query(WEB, "AAAA", tcp=True)
    assert validate(r, keys) == [(WEB + ".", "AAAA")]
    anchors = anchor_file(node, tmp_path / "anchors.conf")
    out = delv(node, anchors, WEB, "A")
    assert "; fully validated" in out, out
    assert "10.0.0.3" in out
    out = delv(node, anchors, WEB, "AAAA")
    assert "; fully validated" in out and "2001:db8::1" in out, out


def test_apex_rrsets_and_glue_validate(node, tmp_path):
    keys = node.dnskeys()
    r = node.query(ZONE, "DNSKEY")
    assert validate(r, keys) == [(ZONE + ".", "DNSKEY")]
    r = node.query(ZONE, "SOA")
    assert validate(r, keys) == [(ZONE + ".", "SOA")]
    r = node.query(ZONE, "NS")
    assert validate(r, keys) == [(ZONE + ".", "NS"), ("ns1." + ZONE + ".", "A"),
                                 ("ns1." + ZONE + ".", "AAAA")]
    anchors = anchor_file(node, tmp_path / "anchors.conf")
    for rdtype in ("DNSKEY", "SOA", "NS"):
        out = delv(node, anchors, ZONE, rdtype)
        assert "; fully validated" in out, (rdtype, out)


# ---- denial ------------------------------------------------------------------------------------

def test_nodata_validates(node, tmp_path):
    keys = node.dnskeys()
    r = node.query("v4." + ZONE, "AAAA")  # a domain with IPv4 backends only
    assert r.rcode() == dns.rcode.NOERROR and not r.answer
    nsec = nsec_of(r.authority)
    assert nsec[0].next.to_text() == "\\000.v4." + ZONE + "."
    types = nsec_types(nsec)
    assert dns.rdatatype.A in types and dns.rdatatype.AAAA not in types and NXNAME not in types
    soa = rrset_of(r.authority, dns.rdatatype.SOA)[0]
    assert soa.ttl == nsec.ttl == 60  # min(SOA TTL, minimum) (RFC 9077)
    assert set(validate(r, keys)) == {("v4." + ZONE + ".", "NSEC"), (ZONE + ".", "SOA")}
    out = delv(node, anchor_file(node, tmp_path / "a.conf"), "v4." + ZONE, "AAAA")
    assert "negative response, fully validated" in out, out


def test_nonexistent_name_validates_compact_denial(node, tmp_path):
    keys = node.dnskeys()
    name = "no-such-host." + ZONE
    r = node.query(name, "A")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer  # RFC 9824 3.1
    nsec = nsec_of(r.authority)
    assert nsec[0].next.to_text() == "\\000." + name + "."
    assert nsec_types(nsec) == {dns.rdatatype.RRSIG, dns.rdatatype.NSEC, NXNAME}
    assert set(validate(r, keys)) == {(name + ".", "NSEC"), (ZONE + ".", "SOA")}
    out = delv(node, anchor_file(node, tmp_path / "a.conf"), name, "A")
    assert "negative response, fully validated" in out, out
    # CO: the client accepts NXDOMAIN with compact answers (RFC 9824 5)
    r = node.query("a.b." + name, "AAAA", ednsflags=CO)
    assert r.rcode() == dns.rcode.NXDOMAIN and r.ednsflags & CO
    assert NXNAME in nsec_types(nsec_of(r.authority))
    validate(r, keys)
    # without DO: the classic NXDOMAIN, no DNSSEC records
    r = node.query(name, "A", do=False)
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert [s.rdtype for s in r.authority] == [dns.rdatatype.SOA]


# ---- sizes ----------------------------------------------------------------------------------------

def test_truncation_over_udp_then_tcp_validates(node, tmp_path):
    r = node.query(BIG, "A", do=False)
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == BIG_N
    r = node.query(BIG, "A")
    assert r.flags & dns.flags.TC and not r.answer and not r.authority  # no partial RRset
    r = node.query(BIG, "A", tcp=True)
    assert not r.flags & dns.flags.TC
    assert len(rrset_of(r.answer, dns.rdatatype.A)[0]) == BIG_N
    assert validate(r, node.dnskeys()) == [(BIG + ".", "A")]
    out = delv(node, anchor_file(node, tmp_path / "a.conf"), BIG, "A")  # UDP, TC, then TCP
    assert "; fully validated" in out and out.count("\tIN\tA\t") == BIG_N, out


# ---- without DO ------------------------------------------------------------------------------------

def test_without_do_nothing_changes(node):
    for name, rdtype in ((WEB, "A"), (ZONE, "NS"), (ZONE, "DNSKEY"), ("v4." + ZONE, "AAAA")):
        r = node.query(name, rdtype, do=False)
        assert not r.ednsflags & dns.flags.DO
        for section in (r.answer, r.authority, r.additional):
            assert not rrset_of(section, dns.rdatatype.RRSIG)
            assert not rrset_of(section, dns.rdatatype.NSEC)


# ---- health and the signature cache ------------------------------------------------------------------

def web_a(node):
    r = node.query(WEB, "A")
    return r, sorted(rr.address for rr in rrset_of(r.answer, dns.rdatatype.A)[0])


def test_answers_change_with_health_and_validate(node):
    keys = node.dnskeys()
    node.api("PUT", "/api/v1/overrides/webapp/10.0.0.1", {"state": "down", "reason": "test"})
    try:
        wait_until(lambda: web_a(node)[1] == ["10.0.0.2", "10.0.0.3"], 5, what="10.0.0.1 out")
        validate(web_a(node)[0], keys)
    finally:
        node.api("DELETE", "/api/v1/overrides/webapp/10.0.0.1")
    wait_until(lambda: web_a(node)[1] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"], 5,
               what="10.0.0.1 back")
    validate(web_a(node)[0], keys)


def test_repeated_answers_come_from_the_signature_cache(node):
    for _ in range(4):  # every worker has signed the set (SO_REUSEPORT spreads queries)
        node.query(WEB, "A")
    before = node.events()
    for _ in range(20):
        node.query(WEB, "A")
    after = node.events()
    # at most one signature per worker (two if the hour, hence the window, turns meanwhile)
    assert after["dnssec_signatures"] - before["dnssec_signatures"] <= 4
    assert after["dnssec_cache_hits"] - before["dnssec_cache_hits"] >= 18
    assert after["dnssec_answers"] - before["dnssec_answers"] == 20


# ---- dnssec.enabled by reload -------------------------------------------------------------------

def has_rrsig(r):
    return any(s.rdtype == dns.rdatatype.RRSIG for s in r.answer + r.authority)


def test_reload_disables_and_enables_signing(tmp_path):
    """overwatch.dnssec.enabled: false (reload) retires the key: DO answers are unsigned
    at once; true again makes the same key active and DO answers validate again."""
    n = Node(tmp_path, "toggle", "ECDSAP256SHA256").start()
    try:
        keys = n.dnskeys()
        validate(n.query(WEB, "A"), keys)
        n.enabled = False
        n.reload()
        wait_until(lambda: not has_rrsig(n.query(WEB, "A")), 5, what="unsigned answers")
        r = n.query("nope." + ZONE, "A")
        assert r.rcode() == dns.rcode.NXDOMAIN and not has_rrsig(r)
        assert not n.query(ZONE, "DNSKEY").answer
        n.enabled = True
        n.reload()
        wait_until(lambda: has_rrsig(n.query(WEB, "A")), 5, what="signed answers")
        assert [dns.dnssec.key_id(k) for k in n.dnskeys()] == [dns.dnssec.key_id(k) for k in keys]
        validate(n.query(WEB, "A"), keys)
        validate(n.query("nope." + ZONE, "A"), keys)
    finally:
        n.stop()


# ---- key change ---------------------------------------------------------------------------------------

def soa_key_tag(node):
    r = node.query(ZONE, "SOA")
    (sig,) = rrset_of(r.answer, dns.rdatatype.RRSIG)
    return sig[0].key_tag, r


def test_key_change_serves_no_stale_signature(tmp_path):
    """Two nodes that generated their own keys sync and converge on the older key: the node
    whose key lost signs with the winner at once (its cached signatures are dropped), and the
    answers validate with the DNSKEY RRset it now serves."""
    a = Node(tmp_path, "node-a", "ECDSAP256SHA256")
    b = Node(tmp_path, "node-b", "ECDSAP256SHA256")
    started = []
    try:
        for n in (a, b):
            n.start()
            started.append(n)
        before = {}
        for n in (a, b):
            before[n.name] = soa_key_tag(n)[0]
            soa_key_tag(n)  # now cached on at least one worker
            node_a_web = n.query(WEB, "A")
            validate(node_a_web, n.dnskeys())
        assert before["node-a"] != before["node-b"]
        a.peers, b.peers = [b.url], [a.url]
        for n in (a, b):
            n.reload()
        # A sync reports 502 while the peer still signs with another key (docs/dnssec.md):
        # ask both until both report success, as the poller's retries would.
        def synced():
            codes = [n.ow.request("POST", "/api/v1/dnssec/sync", token=TOKEN).status_code
                     for n in (a, b)]
            return codes == [200, 200]

        wait_until(synced, timeout=15, interval=0.2, what="both nodes in sync")
        winner = {n.name: [k["key_tag"] for k in n.api("GET", "/api/v1/dnssec/status")["keys"]]
                  for n in (a, b)}
        assert winner["node-a"] == winner["node-b"] and len(winner["node-a"]) == 1
        tag = winner["node-a"][0]
        changed = a if before["node-a"] != tag else b
        for n in (a, b):
            keys = n.dnskeys()
            assert [dns.dnssec.key_id(k) for k in keys] == [tag]
            for _ in range(4):  # every worker
                got, r = soa_key_tag(n)
                assert got == tag
                validate(r, keys)
            r = n.query(WEB, "A")
            validate(r, keys)
        out = delv(changed, anchor_file(changed, tmp_path / "new.conf"), WEB, "A")
        assert "; fully validated" in out, out
    finally:
        for n in started:
            n.stop()
