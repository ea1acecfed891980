"""DNS serving of the real gslb-overwatch on loopback (127.0.0.1, ::1, wildcard),
queried with dig, kdig, dnspython and raw sockets.

Covers docs/rfc-compliance.md: positive answers per policy, NODATA/NXDOMAIN with
the SOA, REFUSED/NOTIMP/FORMERR, ANY (RFC 8482), EDNS (payload, DO, BADVERS,
unknown options), case preservation, truncation and TCP retry, TCP pipelining,
idle timeout and connection limit, malformed packets, the weighted distribution
(binomial bound), failover order, round-robin rotation, the command line,
start-up errors and graceful stop / warm restart.
"""
import math
import os
import random
import re
import signal
import socket
import struct
import subprocess
import time

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from harness import (OVERWATCH, Agent, Backend, Overwatch, free_port, hostport, port_free,
                     to_yaml, wait_until)

ZONE = "gslb.test"
WEB = "webapp." + ZONE
BIG = "big." + ZONE
SOA_NEG_TTL = 60  # min(SOA ttl 3600, minimum 60): the configuration defaults

BIG_N = 60

REGIONS = {
    "east": [("10.0.0.1", "webapp", None), ("10.0.0.2", "webapp", None),
             ("10.3.0.1", "fo", None),
             ("10.8.0.1", "w", 1), ("10.8.0.2", "w", 3), ("10.8.0.3", "w", 0),
             ("10.9.0.1", "ttl", None), ("10.10.0.1", "geo", None), ("10.10.0.2", "geo", None)]
    + [(f"10.1.0.{i + 1}", "big", None) for i in range(BIG_N)]
    + [(f"10.2.0.{i + 1}", "capped", None) for i in range(50)],
    "west": [("10.0.0.3", "webapp", None), ("2001:db8::1", "webapp", None),
             ("10.3.0.2", "fo", None), ("2001:db8::3", "fo", None)],
}
DOMAINS = [
    {"name": "webapp", "routing_algorithm": "round-robin", "regions": ["east", "west"]},
    {"name": "big", "routing_algorithm": "round-robin", "regions": ["east"]},
    {"name": "capped", "routing_algorithm": "round-robin", "regions": ["east"],
     "max_records": 5},
    {"name": "w", "routing_algorithm": "weighted", "regions": ["east"]},
    {"name": "fo", "routing_algorithm": "failover", "regions": ["east", "west"]},
    {"name": "ttl", "routing_algorithm": "round-robin", "regions": ["east"], "ttl": 123},
    {"name": "geo", "routing_algorithm": "geolocation", "regions": ["east"]},
]
DNS_EXTRA = {"workers": 2, "tcp_idle_timeout": "1s", "tcp_max_clients": 4,
             "edns_payload": 1232, "default_ttl": 30}


def make_config(listen_host, port, data_dir, regions, domains, dns_extra=None,
                overwatch_extra=None):
    """One overwatch serving ZONE, DNS only (API and metrics off).

    regions: {name: [(address, service, weight-or-None), ...]} in order.
    domains: [{"name": label, "routing_algorithm": ..., "regions": [...], other keys}].
    dns_extra: extra keys of the dns section, e.g. {"workers": 2}.
    overwatch_extra: extra keys of the overwatch section.
    """
    def server(addr, service, weight):
        s = {"address": addr, "port": 80}
        if weight is not None:
            s["weight"] = weight
        s["service"] = service
        return s
    return {
        "mode": "overwatch",
        "overwatch": {"identity": {"node_id": "dns-test"}, "data_dir": str(data_dir),
                      **(overwatch_extra or {})},
        "dns": {
            "listen_address": hostport(listen_host, port),
            **(dns_extra or {}),
            "zones": [{"name": ZONE, "ns": [f"ns1.{ZONE}", "ns.elsewhere.example"],
                       "ns_addresses": {f"ns1.{ZONE}": ["192.0.2.53", "2001:db8::53"]}}],
        },
        "api": {"enabled": False},
        "metrics": {"enabled": False},
        "regions": [{"name": name, "servers": [server(*s) for s in servers]}
                    for name, servers in regions.items()],
        "domains": [dict(d, name=f"{d['name']}.{ZONE}") for d in domains],
    }


def config_for(host):
    """The test configuration listening on host, as a config function of an Overwatch."""
    return lambda ow: make_config(host, ow.port, ow.data_dir, REGIONS, DOMAINS, DNS_EXTRA)


def config_text(host, port, data_dir):
    return to_yaml(make_config(host, port, data_dir, REGIONS, DOMAINS, DNS_EXTRA))


def start_server(base, host):
    ow = Overwatch(base, config_for(host), host=host if host not in ("0.0.0.0", "::")
                   else "127.0.0.1")
    ow.start()
    return ow


@pytest.fixture(scope="module")
def ow(tmp_path_factory):
    o = start_server(tmp_path_factory.mktemp("v4"), "127.0.0.1")
    try:
        yield o
    finally:
        o.stop()


@pytest.fixture(scope="module")
def ow6(tmp_path_factory):
    o = start_server(tmp_path_factory.mktemp("v6"), "::1")
    try:
        yield o
    finally:
        o.stop()


def addrs(r):
    """Addresses of the A/AAAA records (a DO answer also carries RRSIGs)."""
    return [rr.address for rrset in r.answer
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA) for rr in rrset]


def assert_negative(r, rcode):
    assert r.rcode() == rcode
    assert r.flags & dns.flags.AA
    assert not r.answer
    assert len(r.authority) == 1
    soa = r.authority[0]
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa.name.to_text().lower() == ZONE + "."
    assert soa.ttl == SOA_NEG_TTL


def run(cmd, timeout=10):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


# ---- answers ---------------------------------------------------------------------------

def test_dig_a_answer(ow):
    out = run(["dig", "@127.0.0.1", "-p", str(ow.port), WEB, "A", "+short"]).stdout.split()
    assert sorted(out) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]


def test_kdig_tcp_and_aaaa(ow):
    res = run(["kdig", "@127.0.0.1", "-p", str(ow.port), "+tcp", WEB, "AAAA", "+short"])
    assert res.stdout.split() == ["2001:db8::1"]


def test_ipv6_listener(ow6):
    r = ow6.query(WEB, "A")
    assert sorted(addrs(r)) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    r = ow6.query(WEB, "AAAA", tcp=True)
    assert addrs(r) == ["2001:db8::1"]


def test_flags_and_case_preserved(ow):
    q = dns.message.make_query("WeBaPp.GsLb.TeSt", "A")
    q.flags |= dns.flags.RD | dns.flags.CD
    r = ow.send(q)
    assert r.question[0].name.to_text() == "WeBaPp.GsLb.TeSt."  # byte-exact echo
    assert r.flags & dns.flags.AA
    assert r.flags & dns.flags.RD
    assert r.flags & dns.flags.CD
    assert not r.flags & dns.flags.RA
    assert len(addrs(r)) == 3


def test_ttl_per_domain_and_default(ow):
    assert ow.query("ttl." + ZONE, "A").answer[0].ttl == 123
    assert ow.query(WEB, "A").answer[0].ttl == 30  # dns.default_ttl


def test_apex_soa_ns_and_glue(ow):
    r = ow.query(ZONE, "SOA")
    assert r.answer[0].rdtype == dns.rdatatype.SOA
    assert r.answer[0][0].mname.to_text() == "ns1." + ZONE + "."
    r = ow.query(ZONE, "NS")
    targets = sorted(rr.target.to_text() for rr in r.answer[0])
    assert targets == ["ns.elsewhere.example.", "ns1." + ZONE + "."]
    glue = {(rrset.name.to_text(), rrset.rdtype): [rr.address for rr in rrset]
            for rrset in r.additional}
    assert glue == {("ns1." + ZONE + ".", dns.rdatatype.A): ["192.0.2.53"],
                    ("ns1." + ZONE + ".", dns.rdatatype.AAAA): ["2001:db8::53"]}
    assert addrs(ow.query("ns1." + ZONE, "A")) == ["192.0.2.53"]
    assert addrs(ow.query("ns1." + ZONE, "AAAA")) == ["2001:db8::53"]


def test_max_records(ow):
    assert len(addrs(ow.query("capped." + ZONE, "A"))) == 5


def test_round_robin_every_backend_first(ow):
    firsts = set()
    for _ in range(40):
        r = ow.query(WEB, "A")
        assert sorted(addrs(r)) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
        firsts.add(addrs(r)[0])
        if len(firsts) == 3:
            break
    assert firsts == {"10.0.0.1", "10.0.0.2", "10.0.0.3"}


def test_geolocation_falls_back_to_round_robin(ow):
    firsts = set()
    for _ in range(20):
        got = addrs(ow.query("geo." + ZONE, "A"))
        assert sorted(got) == ["10.10.0.1", "10.10.0.2"]
        firsts.add(got[0])
    assert firsts == {"10.10.0.1", "10.10.0.2"}


def test_weighted_distribution(ow):
    """Weights 1:3 (and 0): over N queries the count of 10.8.0.2 is Binomial(N, 3/4);
    5 standard deviations bound it (false failure rate < 1e-6); weight 0 never appears."""
    n = 2000
    counts = {}
    for _ in range(n):
        got = addrs(ow.query("w." + ZONE, "A"))
        assert len(got) == 1
        counts[got[0]] = counts.get(got[0], 0) + 1
    assert "10.8.0.3" not in counts
    p = 3 / 4
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    heavy = counts.get("10.8.0.2", 0)
    assert abs(heavy - mean) < 5 * sd, counts
    assert counts.get("10.8.0.1", 0) + heavy == n


def test_failover_order(ow):
    """East is first in the domain's region list: only east answers while it has a
    backend of the family; for AAAA east has none, so west (next in order) answers."""
    for _ in range(10):
        assert addrs(ow.query("fo." + ZONE, "A")) == ["10.3.0.1"]
    assert addrs(ow.query("fo." + ZONE, "AAAA")) == ["2001:db8::3"]


# ---- negative answers and RCODEs ---------------------------------------------------------

def test_nodata(ow):
    assert_negative(ow.query(WEB, "TXT"), dns.rcode.NOERROR)
    assert_negative(ow.query("ttl." + ZONE, "AAAA"), dns.rcode.NOERROR)  # no v6 backends
    assert_negative(ow.query(WEB, "SOA"), dns.rcode.NOERROR)


def test_nxdomain(ow):
    assert_negative(ow.query("nope." + ZONE, "A"), dns.rcode.NXDOMAIN)
    assert_negative(ow.query("a.b." + WEB, "AAAA"), dns.rcode.NXDOMAIN)


def test_refused_outside_zones_and_other_classes(ow):
    for name in ("example.com", "test", "xgslb.test"):
        r = ow.query(name, "A")
        assert r.rcode() == dns.rcode.REFUSED
        assert not r.flags & dns.flags.AA
    r = ow.query("version.bind", "TXT", rdclass=dns.rdataclass.CH)
    assert r.rcode() == dns.rcode.REFUSED
    r = ow.query(WEB, "A", rdclass=dns.rdataclass.CH)
    assert r.rcode() == dns.rcode.REFUSED


def test_axfr_ixfr_refused(ow):
    for t in ("AXFR", "IXFR"):
        r = ow.query(ZONE, t, tcp=True)
        assert r.rcode() == dns.rcode.REFUSED
    res = run(["dig", "@127.0.0.1", "-p", str(ow.port), ZONE, "AXFR"])
    assert "Transfer failed" in res.stdout


def test_notimp_for_other_opcodes(ow):
    q = dns.message.make_query(ZONE, "SOA")
    q.set_opcode(dns.opcode.NOTIFY)
    r = ow.send(q)
    assert r.rcode() == dns.rcode.NOTIMP
    assert r.opcode() == dns.opcode.NOTIFY


def test_any_minimal(ow):
    r = ow.query(WEB, "ANY")
    assert [rrset.rdtype for rrset in r.answer] == [dns.rdatatype.A]
    r = ow.query("ns1." + ZONE, "ANY")
    assert [rrset.rdtype for rrset in r.answer] == [dns.rdatatype.A]
    r = ow.query(ZONE, "ANY")
    assert [rrset.rdtype for rrset in r.answer] == [dns.rdatatype.SOA]


# ---- EDNS ---------------------------------------------------------------------------------

def test_edns_payload_do_and_unknown_options(ow):
    q = dns.message.make_query(WEB, "A", use_edns=0, payload=4096, want_dnssec=True,
                               options=[dns.edns.GenericOption(65001, b"\x01\x02"),
                                        dns.edns.GenericOption(10, b"12345678")])
    r = ow.send(q)
    assert r.edns == 0
    assert r.payload == 1232
    assert r.ednsflags & dns.flags.DO
    assert len(addrs(r)) == 3
    r = ow.query(WEB, "A", use_edns=0, payload=1400)
    assert r.edns == 0 and not r.ednsflags & dns.flags.DO
    r = ow.query(WEB, "A", use_edns=False)
    assert r.edns == -1  # no OPT in the answer without one in the query


def test_edns_badvers(ow):
    q = dns.message.make_query(WEB, "A")
    q.use_edns(1)
    assert q.edns == 1
    r = ow.send(q)
    assert r.rcode() == dns.rcode.BADVERS
    assert r.edns == 0
    assert not r.answer


def test_edns_formerr_two_opts(ow):
    q = dns.message.make_query(WEB, "A", use_edns=0).to_wire()
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    wire = bytearray(q + opt)
    wire[10:12] = struct.pack("!H", 2)
    r = raw_udp(ow, bytes(wire))
    assert r is not None and (r[3] & 0xF) == dns.rcode.FORMERR


# ---- sizes: truncation and TCP ------------------------------------------------------------------

def test_truncation_and_tcp_retry(ow):
    r = ow.query(BIG, "A", use_edns=False)
    assert r.flags & dns.flags.TC
    assert not r.answer  # no partial RRset
    r = ow.query(BIG, "A", use_edns=0, payload=4096)  # 60 x 16 bytes fit in 1232
    assert not r.flags & dns.flags.TC and len(addrs(r)) == BIG_N
    r = ow.query(BIG, "A", tcp=True)
    assert not r.flags & dns.flags.TC and len(addrs(r)) == BIG_N
    res = run(["dig", "@127.0.0.1", "-p", str(ow.port), BIG, "A", "+noedns"])
    assert "Truncated, retrying in TCP mode" in res.stdout
    assert f"ANSWER: {BIG_N}," in res.stdout
    # a client payload below 512 counts as 512
    r = ow.query(BIG, "A", use_edns=0, payload=100)
    assert r.flags & dns.flags.TC and not r.answer


def tcp_frames(sock, count, timeout=3.0):
    sock.settimeout(timeout)
    buf, out = b"", []
    while len(out) < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
            n = struct.unpack("!H", buf[:2])[0]
            out.append(dns.message.from_wire(buf[2:2 + n]))
            buf = buf[2 + n:]
    return out


def test_tcp_pipelining(ow):
    names = [WEB, BIG, "nope." + ZONE, ZONE] * 3
    queries = []
    for i, name in enumerate(names):
        q = dns.message.make_query(name, "A")
        q.id = 1000 + i
        queries.append(q)
    wire = b"".join(struct.pack("!H", len(w)) + w for w in (q.to_wire() for q in queries))
    with socket.create_connection(("127.0.0.1", ow.port), timeout=3) as s:
        s.sendall(wire)  # every query in one write
        answers = tcp_frames(s, len(queries))
    assert [a.id for a in answers] == [q.id for q in queries]  # in order
    assert len(addrs(answers[1])) == BIG_N
    assert answers[2].rcode() == dns.rcode.NXDOMAIN


def test_tcp_idle_timeout_and_half_open_client(ow):
    """A client that sends half a length prefix and stops is closed after
    dns.tcp_idle_timeout (1s); the worker keeps serving meanwhile."""
    with socket.create_connection(("127.0.0.1", ow.port), timeout=5) as s:
        s.sendall(b"\x00")
        start = time.monotonic()
        for _ in range(20):
            assert len(addrs(ow.query(WEB, "A"))) == 3
            assert len(addrs(ow.query(WEB, "A", tcp=True))) == 3
        s.settimeout(5)
        try:
            data = s.recv(10)
        except ConnectionResetError:
            data = b""
        assert data == b""
        assert 0.8 < time.monotonic() - start < 4.5


def test_tcp_connection_limit(ow):
    """4 connections per worker, 2 workers: never more than 8 served at once; the
    rest are closed at once (one source: tcp_max_clients_per_source is capped at 4);
    after closing, new connections are served again."""
    socks = []
    try:
        for _ in range(24):
            socks.append(socket.create_connection(("127.0.0.1", ow.port), timeout=3))
        q = dns.message.make_query(WEB, "A").to_wire()
        served = 0
        for s in socks:
            try:
                s.sendall(struct.pack("!H", len(q)) + q)
                served += len(tcp_frames(s, 1, timeout=1.0))
            except (ConnectionResetError, BrokenPipeError, socket.timeout):
                pass
        assert 1 <= served <= 8
    finally:
        for s in socks:
            s.close()
    wait_until(lambda: try_tcp(ow), 5, what="a TCP answer after closing")


def try_tcp(ow):
    try:
        return len(addrs(ow.query(WEB, "A", tcp=True, timeout=0.5))) == 3
    except Exception:
        return False


# ---- malformed input ----------------------------------------------------------------------------

def raw_udp(ow, data, timeout=0.5):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, ("127.0.0.1", ow.port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def test_malformed_packets_formerr_or_dropped(ow):
    good = dns.message.make_query(WEB, "A").to_wire()
    dropped = [
        b"", b"\x12", good[:11],                     # runts
        good[:2] + b"\x81\x00" + good[4:],           # QR=1: a response
    ]
    formerr = [
        good[:4] + b"\x00\x00" + good[6:],           # QDCOUNT 0
        good[:4] + b"\x00\x02" + good[6:],           # QDCOUNT 2, one question
        good[:12] + b"\x41" + good[13:],             # bad label type
        good[:12] + b"\x01a\xc0\x0c\x00\x01\x00\x01",  # pointer in the question
        good + b"\x00\x00\x00",                      # trailing garbage
        good[:-3],                                   # cut question
    ]
    for data in dropped:
        assert raw_udp(ow, data, timeout=0.2) is None
    for data in formerr:
        r = raw_udp(ow, data)
        assert r is not None and r[:2] == data[:2] and (r[3] & 0xF) == dns.rcode.FORMERR, data
    # random garbage in one burst: every reply is a well-formed header for its query
    rng = random.Random(7)
    garbage = {}
    while len(garbage) < 200:
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(12, 80)))
        garbage.setdefault(data[:2], data)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for data in garbage.values():
            s.sendto(data, ("127.0.0.1", ow.port))
        s.settimeout(0.5)
        try:
            while True:
                r = s.recv(65535)
                assert len(r) >= 12 and r[:2] in garbage and r[2] & 0x80
        except socket.timeout:
            pass
    # garbage over TCP closes that connection only
    with socket.create_connection(("127.0.0.1", ow.port), timeout=3) as s:
        s.sendall(b"\x00\x00garbage")
        s.settimeout(3)
        try:
            assert s.recv(10) == b""
        except ConnectionResetError:
            pass
    assert len(addrs(ow.query(WEB, "A"))) == 3
    assert len(addrs(ow.query(WEB, "A", tcp=True))) == 3


def test_udp_burst_then_single_queries_answered_at_once(ow):
    """A burst puts the workers in adaptive batching (UDP socket out of their
    blocking epoll set); afterwards every lone query must still be answered."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
    try:
        sent = set()
        for i in range(400):
            q = dns.message.make_query(WEB, "A")
            q.id = i
            socks[i % len(socks)].sendto(q.to_wire(), ("127.0.0.1", ow.port))
            sent.add((i % len(socks), i))
        got = set()
        deadline = time.monotonic() + 10
        for k, s in enumerate(socks):
            s.settimeout(2)
            while len([x for x in got if x[0] == k]) < 50 and time.monotonic() < deadline:
                r = dns.message.from_wire(s.recv(65535))
                assert len(addrs(r)) == 3
                got.add((k, r.id))
        assert got == sent
    finally:
        for s in socks:
            s.close()
    for _ in range(20):  # fresh source ports: spread over every worker
        assert raw_udp(ow, dns.message.make_query(WEB, "A").to_wire(), timeout=2) is not None


# ---- wildcard listener: dual stack, reply source ---------------------------------------------------

def test_wildcard_dual_stack_replies_from_queried_address(tmp_path):
    ow = Overwatch(tmp_path / "any", config_for("::"), host="::1")
    ow.start()
    try:
        # dnspython rejects a reply from another address than the one queried
        for host in ("127.0.0.1", "127.0.0.2", "::1"):
            r = ow.query(WEB, "A", host=host)
            assert len(addrs(r)) == 3
            r = ow.query(WEB, "A", host=host, tcp=True)
            assert len(addrs(r)) == 3
    finally:
        assert ow.stop() == 0


# ---- process: command line, errors, stop and restart ---------------------------------------------------

def test_version_help_and_check_config(tmp_path):
    res = run([OVERWATCH, "--version"])
    assert res.returncode == 0 and re.match(r"gslb-overwatch \d+\.\d+\.\d+", res.stdout)
    res = run([OVERWATCH, "--help"])
    assert res.returncode == 0 and "--check-config" in res.stdout
    good = tmp_path / "good.yaml"
    good.write_text(config_text("127.0.0.1", 5353, tmp_path / "d"))
    res = run([OVERWATCH, "--check-config", str(good)])
    assert res.returncode == 0 and res.stdout.strip() == "config OK"
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("workers: 2", "workers: two"))
    res = run([OVERWATCH, "--check-config", str(bad)])
    assert res.returncode == 1
    assert re.search(r"bad\.yaml:\d+:\d+: dns\.workers", res.stderr), res.stderr


def test_bad_config_exits_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("mode: overwatch\ndns:\n  listen_address: nonsense\n")
    res = run([OVERWATCH, "--config", str(bad)])
    assert res.returncode == 1
    assert "bad.yaml:3:" in res.stderr


def test_port_in_use_exits_1(tmp_path):
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    try:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(config_text("127.0.0.1", port, tmp_path / "d"))
        res = run([OVERWATCH, "--config", str(cfg)])
        assert res.returncode == 1
        assert "already in use" in res.stderr
    finally:
        holder.close()


def test_unopenable_store_exits_1(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config_text("127.0.0.1", free_port(), blocker / "data"))
    res = run([OVERWATCH, "--config", str(cfg)])
    assert res.returncode == 1
    assert "store" in res.stderr


def test_graceful_stop_and_warm_restart(tmp_path):
    ow = Overwatch(tmp_path / "warm", config_for("127.0.0.1"))
    ow.start()
    try:
        before = sorted(addrs(ow.query(WEB, "A")))
        assert ow.stop(signal.SIGTERM) == 0
        assert "stopped" in ow.log()
        assert os.path.exists(os.path.join(ow.data_dir, "data.mdb"))
        # the new process answers from the persisted store as soon as it listens
        ow.spawn()
        start = time.monotonic()
        first = wait_until(lambda: try_query(ow), 10, what="first answer after restart")
        assert sorted(addrs(first)) == before
        assert time.monotonic() - start < 5
        assert ow.stop(signal.SIGINT) == 0
    finally:
        ow.stop(signal.SIGKILL)


def try_query(ow):
    try:
        r = ow.query(WEB, "A", timeout=0.2)
        return r if r.answer else None
    except Exception:
        return None


def test_demo_prints_working_dig_command(tmp_path):
    port = free_port()
    for _ in range(5):
        if all(port_free("127.0.0.1", port + i) for i in range(4)):
            break
        port = free_port()
    ow = Overwatch(tmp_path / "demo")
    ow.ports = {"dns": port}
    ow.spawn(["--demo", "--data-dir", str(tmp_path / "demo-data"), "--port", str(port)])
    try:
        line = wait_until(lambda: find_dig_line(ow.log()), 10, what="the demo's dig line")
        assert line == f"dig @127.0.0.1 -p {port} webapp.gslb.example.com A"
        res = run(line.split() + ["+short"])
        assert res.returncode == 0 and res.stdout.split()
    finally:
        assert ow.stop() == 0


def find_dig_line(log):
    m = re.search(r"^\s*(dig @127\.0\.0\.1 -p \d+ webapp\.gslb\.example\.com A)\s*$", log, re.M)
    return m.group(1) if m else None


# ---- failover driven by real agents (gslb-agentd probes, gossip to the overwatch) -----------

GOSSIP_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # test key (32 bytes)
FO_TOKEN = "fo-test-token"


def test_failover_order_and_return_with_agents(tmp_path):
    """Region east (first in the list) is served while its backend is healthy;
    when the agent reports it down, west is served; when it is back, east again."""
    regions = {"east": [("192.0.2.200", "pad", None)], "west": []}
    domains = [{"name": "fo", "routing_algorithm": "failover", "regions": ["east", "west"]},
               {"name": "pad", "routing_algorithm": "round-robin", "regions": ["east"]}]

    def config(ow):
        extra = {"agent_tokens": {"fo": FO_TOKEN},
                 "gossip": {"bind_address": f"127.0.0.1:{ow.ports['gossip']}",
                            "encryption_key": GOSSIP_KEY}}
        return make_config("127.0.0.1", ow.port, ow.data_dir, regions, domains, {"workers": 1},
                           overwatch_extra=extra)
    ow = Overwatch(tmp_path / "ow", config, ports=("dns", "gossip"))
    things = []
    try:
        ow.start()
        things.append(ow)
        east = Backend("127.0.0.41").start()
        things.append(east)
        west = Backend("127.0.0.42").start()
        things.append(west)
        for agent_id, region, backend in (("agent-east", "east", east),
                                          ("agent-west", "west", west)):
            things.append(Agent(tmp_path, agent_id, [(backend.address, backend.port)],
                                [ow.ports["gossip"]], key=GOSSIP_KEY, token=FO_TOKEN,
                                token_name="fo", service="fo", region=region,
                                heartbeat="300ms").start())

        def answer():
            try:
                return addrs(ow.query("fo." + ZONE, "A", timeout=0.5))
            except Exception:
                return None

        wait_until(lambda: answer() == ["127.0.0.41"], 10, what="east served first")
        east.stop()
        wait_until(lambda: answer() == ["127.0.0.42"], 10, what="failover to west")
        east.start()
        wait_until(lambda: answer() == ["127.0.0.41"], 10, what="return to east")
    finally:
        for t in reversed(things):
            t.stop()
