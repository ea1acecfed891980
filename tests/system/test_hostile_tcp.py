"""Hostile TCP clients (issue 16, item 6: DNS-over-TCP and gossip-TCP slowloris).

Covers: connections trickling one byte every 0.5 s from many sources fill every DNS TCP slot,
yet a real TCP query is answered at once (the quietest connection makes room, RFC 7766 6.2.3)
and the tricklers are closed by the per-query deadline although their bytes keep coming; one
source opening more than dns.tcp_max_clients_per_source connections gets the extra ones closed
at once while another source (127.0.0.2) is answered; connections trickling into the gossip TCP
port do not keep a real agent's large report (over TCP) from being applied. Each drop is
counted in /metrics by reason.
"""
import socket
import struct
import threading
import time

import dns.message
import dns.query
import pytest

from harness import WEB, Agent, default_config, default_overwatch, wait_until

TRICKLE_S = 0.5  # one byte per connection this often


class Tricklers:
    """n TCP connections to (host, port), from source addresses 127.0.<net>.1, .2, ... (or all
    from `source`), each sending the first byte of `prefix` at once and then one more byte every
    TRICKLE_S, never completing a message. A connection the server closes stays closed;
    closed_at[i] is when sending to it first failed (or it read EOF)."""

    def __init__(self, port, n, prefix, net=1, source=None, host="127.0.0.1"):
        self.socks, self.opened_at, self.closed_at = [], [], [None] * n
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((source or f"127.0.{net}.{i + 1}", 0))
            s.connect((host, port))
            s.setblocking(False)
            self.socks.append(s)
            self.opened_at.append(time.monotonic())
        self.payload = prefix + b"\x00" * 4096
        self.sent = [0] * n
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _closed(self, i, s):
        try:
            return s.recv(1) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _run(self):
        while self.running:
            for i, s in enumerate(self.socks):
                if self.closed_at[i] is not None:
                    continue
                try:
                    if self._closed(i, s):
                        raise ConnectionResetError
                    s.send(self.payload[self.sent[i]:self.sent[i] + 1])
                    self.sent[i] += 1
                except OSError:
                    self.closed_at[i] = time.monotonic()
            time.sleep(TRICKLE_S)

    def open_count(self):
        return sum(1 for c in self.closed_at if c is None)

    def close(self):
        self.running = False
        self.thread.join()
        for s in self.socks:
            s.close()


def dns_overwatch(tmp_path, **dns_settings):
    """The default test overwatch with one DNS worker and these dns settings."""
    def config(ow):
        c = default_config(ow.ports, ow.data_dir)
        c["dns"].update(workers=1, **dns_settings)
        return c
    return default_overwatch(tmp_path, config)


def dns_event(ow, event):
    return ow.metric("opengslb_dns_events_total", event=event) or 0.0


def tcp_query(ow, source="127.0.0.1", timeout=1.0):
    """The A addresses of WEB over TCP from source, and the seconds it took."""
    start = time.monotonic()
    r = dns.query.tcp(dns.message.make_query(WEB, "A"), "127.0.0.1", port=ow.port,
                      timeout=timeout, source=source)
    return {rr.address for rrset in r.answer for rr in rrset}, time.monotonic() - start


@pytest.fixture
def cleanup():
    things = []
    yield things
    for t in reversed(things):
        if isinstance(t, Tricklers):
            t.close()
        elif isinstance(t, Agent):
            t.stop()
        else:
            t.stop_clean()  # exit 0, no sanitizer report


def test_tricklers_cannot_hold_the_dns_tcp_slots(tmp_path, cleanup):
    """Only settings that existed before: 16 slots, a 5 s idle timeout. 24 tricklers from 24
    sources (a 16384-byte length, then a byte every 0.5 s) take every slot; real queries are
    still answered well within a second, and no trickler outlives the 2 s query deadline by
    much, though its bytes never stop."""
    ow = dns_overwatch(tmp_path, tcp_max_clients=16, tcp_idle_timeout="5s")
    cleanup.append(ow.start())
    expected = tcp_query(ow)[0]
    assert expected
    tricklers = Tricklers(ow.port, 24, b"\x40\x00")
    cleanup.append(tricklers)
    wait_until(lambda: sum(dns_event(ow, e) for e in ("tcp_accepted", "tcp_rejected"))
               >= 1 + 24, 5, what="the tricklers' connections seen")
    worst = 0.0
    for _ in range(5):
        answer, took = tcp_query(ow)
        assert answer == expected
        worst = max(worst, took)
        time.sleep(TRICKLE_S)  # keep querying while the tricklers keep trickling
    assert worst < 0.5, worst
    wait_until(lambda: tricklers.open_count() == 0, 6, what="every trickler closed")
    lifetimes = [c - o for o, c in zip(tricklers.opened_at, tricklers.closed_at)]
    assert max(lifetimes) < 2 + 2 * TRICKLE_S + 1, lifetimes  # not the 5 s idle timeout
    assert dns_event(ow, "tcp_evicted") >= 1
    assert dns_event(ow, "tcp_message_timeouts") >= 1
    assert dns_event(ow, "tcp_timeouts") == 0


def test_query_deadline_counts_from_the_first_byte(tmp_path, cleanup):
    """dns.tcp_message_timeout 1s, idle 5s: a client trickling a byte every 0.5 s is closed
    about 1 s after its first byte; one that completes its query within the deadline is
    answered and then kept until it is idle."""
    ow = dns_overwatch(tmp_path, tcp_idle_timeout="5s", tcp_message_timeout="1s")
    cleanup.append(ow.start())
    slow = Tricklers(ow.port, 1, b"\x00\x40", source="127.0.0.1")
    cleanup.append(slow)
    wait_until(lambda: slow.open_count() == 0, 4, what="the trickler closed")
    lifetime = slow.closed_at[0] - slow.opened_at[0]
    assert 0.8 < lifetime < 1 + 2 * TRICKLE_S + 0.6, lifetime
    assert dns_event(ow, "tcp_message_timeouts") == 1
    # A query sent in two halves 0.3 s apart is within the deadline: answered.
    q = dns.message.make_query(WEB, "A").to_wire()
    frame = struct.pack("!H", len(q)) + q
    with socket.create_connection(("127.0.0.1", ow.port), timeout=3) as s:
        s.sendall(frame[:5])
        time.sleep(0.3)
        s.sendall(frame[5:])
        length = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))[0]
        answer = dns.message.from_wire(s.recv(length, socket.MSG_WAITALL))
        assert answer.id == dns.message.from_wire(q).id
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            s.recv(1)  # still open: idle, not past any deadline
    assert dns_event(ow, "tcp_message_timeouts") == 1


def idle_or_closed(sock):
    """'closed' when the server closed sock, 'open' when it is still waiting."""
    sock.settimeout(0.3)
    try:
        return "closed" if sock.recv(1) == b"" else "data"
    except socket.timeout:
        return "open"
    except OSError:
        return "closed"


def test_one_source_cannot_take_every_slot(tmp_path, cleanup):
    """tcp_max_clients 16, tcp_max_clients_per_source 4: of 10 connections from 127.0.0.1
    the first 4 stay open and 6 are closed at once; 127.0.0.2 is still answered, and
    127.0.0.1 is again once it closed its connections."""
    ow = dns_overwatch(tmp_path, tcp_max_clients=16, tcp_max_clients_per_source=4)
    cleanup.append(ow.start())
    socks = []
    try:
        for _ in range(10):
            socks.append(socket.create_connection(("127.0.0.1", ow.port), timeout=3))
        wait_until(lambda: dns_event(ow, "tcp_accepted") + dns_event(ow, "tcp_source_limit")
                   >= 10, 5, what="10 connections seen")
        states = [idle_or_closed(s) for s in socks]
        assert states == ["open"] * 4 + ["closed"] * 6, states
        assert dns_event(ow, "tcp_source_limit") == 6
        answer, took = tcp_query(ow, source="127.0.0.2")
        assert answer and took < 0.5
        with pytest.raises((ConnectionError, EOFError, OSError)):
            tcp_query(ow, source="127.0.0.1")  # its 4 are taken
        assert dns_event(ow, "tcp_source_limit") == 7
    finally:
        for s in socks:
            s.close()
    wait_until(lambda: dns_event(ow, "tcp_accepted") >= 5 and try_query(ow), 5,
               what="127.0.0.1 answered again")


def try_query(ow):
    try:
        return bool(tcp_query(ow)[0])
    except Exception:
        return False


def test_gossip_tricklers_do_not_block_a_large_agent_report(tmp_path, cleanup):
    """70 connections from 70 sources trickle into the gossip TCP port (64 slots), each a
    byte every 0.5 s of a 64 KiB frame. An agent with 80 backends (a report too large for a
    datagram, so it goes over TCP) still gets every backend into DNS within 5 s."""
    ow = default_overwatch(tmp_path)
    cleanup.append(ow.start())
    tricklers = Tricklers(ow.ports["gossip"], 70, b"\x00\x01\x00\x00", net=2)
    cleanup.append(tricklers)
    port_listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    port_listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port_listener.bind(("0.0.0.0", 0))
    port_listener.listen(128)
    try:
        port = port_listener.getsockname()[1]
        wait_until(lambda: (ow.metric("opengslb_gossip_tcp_connections_total", result="accepted")
                            or 0) >= 64, 5, what="the gossip TCP slots taken")
        addrs = [f"127.0.1.{i}" for i in range(1, 81)]
        agent = Agent(tmp_path, "agent-big", [(a, port) for a in addrs],
                      [ow.ports["gossip"]], check="tcp")
        start = time.monotonic()
        cleanup.append(agent.start())
        wait_until(lambda: set(addrs) <= (ow.a_records(WEB) or set()), 5,
                   what="the agent's 80 backends in DNS")
        took = time.monotonic() - start
        assert took < 5, took
        closed = sum(ow.metric("opengslb_gossip_tcp_closed_total", reason=r) or 0
                     for r in ("evicted", "message_timeout"))
        assert closed >= 1
        assert (ow.metric("opengslb_gossip_tcp_closed_total", reason="idle_timeout") or 0) == 0
    finally:
        port_listener.close()
