"""Restarts lose nothing (issue 9, item 3): docs/operations.md, "Upgrade without losing queries"
and "Restart without losing queries".

- --takeover: a second gslb-overwatch of the same configuration (data_dir and ports) starts
  beside the running one, serves the DNS port with it (SO_REUSEPORT), then the old one drains
  its sockets and exits and the new one takes the gossip and API ports. A steady stream of UDP
  queries from several source ports (so the kernel spreads them over the old and the new
  sockets) loses none; so do queries that wait in the old process's sockets while it is frozen
  (SIGSTOP) during the takeover.
- Without --takeover the second start still fails ("already in use") and the first keeps
  serving.
- Socket activation (systemd's protocol emulated: LISTEN_FDS/LISTEN_PID, fds 3..): the
  overwatch serves the passed sockets, closes a passed socket that is not its listen address,
  and queries sent while no process runs (UDP datagrams and a TCP connection in the backlog)
  are answered by the next process.
- Stopping is quick (< 500 ms after SIGTERM), also with idle HTTP clients holding connections
  to the API and metrics listeners (they used to hold the stop for up to 2 s).
"""
import os
import select
import signal
import socket
import struct
import threading
import time

import dns.exception
import dns.message
import dns.rdatatype

from harness import ALL_PORTS, WEB, Overwatch, default_config, default_overwatch, wait_until

RATE = 200          # queries per second of the stream
CLIENTS = 8         # source sockets of the stream
STOP_BOUND = 0.5    # seconds from SIGTERM to exit


class QueryStream:
    """UDP queries for WEB at RATE/s, round-robin over CLIENTS source sockets, each with its own
    id; records which ids were answered (NOERROR with A records)."""

    def __init__(self, port, host="127.0.0.1"):
        self.target = (host, port)
        self.socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(CLIENTS)]
        self.sent, self.answered = set(), set()
        self.lock = threading.Lock()
        self.sending = True
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _send(self, qid):
        q = dns.message.make_query(WEB, "A")
        q.id = qid
        self.socks[qid % CLIENTS].sendto(q.to_wire(), self.target)
        with self.lock:
            self.sent.add(qid)

    def _receive(self, timeout):
        ready, _, _ = select.select(self.socks, [], [], max(timeout, 0))
        for s in ready:
            try:
                r = dns.message.from_wire(s.recv(4096))
            except (OSError, dns.exception.DNSException):
                continue  # ICMP "refused" surfaces here: the query stays unanswered
            if r.rcode() == 0 and any(rr.rdtype == dns.rdatatype.A for rr in r.answer):
                with self.lock:
                    self.answered.add(r.id)

    def _run(self):
        qid, next_send = 1, time.monotonic()
        while self.running:
            now = time.monotonic()
            if self.sending and now >= next_send:
                self._send(qid)
                qid, next_send = qid + 1, next_send + 1.0 / RATE
            self._receive(next_send - time.monotonic() if self.sending else 0.05)

    def answered_count(self):
        with self.lock:
            return len(self.answered)

    def stop(self, grace=3.0):
        """Stop sending, wait up to grace for the last answers; returns the unanswered ids."""
        self.sending = False
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with self.lock:
                if self.sent <= self.answered:
                    break
            time.sleep(0.02)
        self.running = False
        self.thread.join()
        for s in self.socks:
            s.close()
        with self.lock:
            return sorted(self.sent - self.answered), len(self.sent)


def successor(tmp_path, old, name="new"):
    """An Overwatch with old's configuration (same ports and data_dir) in its own directory."""
    new = Overwatch(tmp_path / name, lambda ow: default_config(ow.ports, old.data_dir),
                    ports=ALL_PORTS)
    new.ports = dict(old.ports)
    new.write_config()
    return new


def pid_file(ow):
    return ow.data_dir / "overwatch.pid"


# ---- --takeover ------------------------------------------------------------------------------

def test_takeover_loses_no_query(tmp_path):
    old = default_overwatch(tmp_path).start()
    old_pid = old.pid
    assert pid_file(old).read_text().strip() == str(old_pid)
    new = successor(tmp_path, old)
    stream = QueryStream(old.port).start()
    try:
        wait_until(lambda: stream.answered_count() >= RATE, 10, what="the stream flowing")
        mark = len(new.log())
        new.spawn(["--config", str(new.config_path), "--takeover"])
        new.wait_log("takeover: complete", start=mark, timeout=20)
        wait_until(lambda: not old.alive(), 10, what="the old overwatch exiting")
        assert old.stop() == 0, old.log()[-3000:]
        # another second of queries, answered by the new process alone
        done = stream.answered_count()
        wait_until(lambda: stream.answered_count() >= done + RATE, 10, what="the new one serving")
    finally:
        unanswered, sent = stream.stop()
    assert unanswered == [], f"{len(unanswered)} of {sent} queries lost across the takeover"
    assert sent >= 2 * RATE * 0.9
    old_log, new_log = old.log(), new.log()[mark:]
    assert "received SIGUSR2" in old_log and "dns: handed over" in old_log, old_log[-2000:]
    assert f"taking over from pid {old_pid}" in new_log, new_log
    assert "beside the overwatch it takes over from" in new_log, new_log
    assert "gossip: listening on" in new_log and "api: listening on" in new_log, new_log
    # the new one now owns the API, the gossip port and the pid file
    assert new.api_ready() and new.a_records(WEB)
    assert pid_file(old).read_text().strip() == str(new.pid)
    new.stop_clean()
    assert not pid_file(old).exists()


def test_takeover_answers_what_waits_in_the_old_sockets(tmp_path):
    """The old process is frozen (SIGSTOP) while the new one binds beside it and queries from
    many source ports arrive: about half wait in the old process's sockets. Once it runs again
    it hands over, and every query is answered."""
    old = default_overwatch(tmp_path).start()
    new = successor(tmp_path, old)
    clients = []
    try:
        os.kill(old.pid, signal.SIGSTOP)
        mark = len(new.log())
        new.spawn(["--config", str(new.config_path), "--takeover"])
        new.wait_log("hand over (SIGUSR2)", start=mark, timeout=20)
        for qid in range(400):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            q = dns.message.make_query(WEB, "A")
            q.id = qid
            s.sendto(q.to_wire(), ("127.0.0.1", old.port))
            clients.append((qid, s))
        os.kill(old.pid, signal.SIGCONT)
        wait_until(lambda: not old.alive(), 10, what="the old overwatch exiting")
        assert old.stop() == 0, old.log()[-3000:]
        for qid, s in clients:
            r = recv_answer(s)
            assert r.id == qid and r.rcode() == 0 and r.answer, r
        new.wait_log("takeover: complete", start=mark, timeout=20)
    finally:
        for _, s in clients:
            s.close()
        if old.alive():
            os.kill(old.pid, signal.SIGCONT)
    new.stop_clean()


def test_second_start_without_takeover_refuses(tmp_path):
    first = default_overwatch(tmp_path).start()
    second = successor(tmp_path, first, "second")
    try:
        second.spawn()
        wait_until(lambda: not second.alive(), 10, what="the second start failing")
        assert second.stop() == 1
        assert f"port {first.port} is already in use" in second.log(), second.log()
        assert first.a_records(WEB), "the first overwatch stopped answering"
        assert first.api_ready()
        assert pid_file(first).read_text().strip() == str(first.pid)
    finally:
        second.stop()
        first.stop_clean()


def test_takeover_without_a_running_overwatch_starts_as_usual(tmp_path):
    ow = default_overwatch(tmp_path)
    ow.ports = ow.pick_ports()
    ow.write_config()
    ow.spawn(["--config", str(ow.config_path), "--takeover"])
    try:
        ow.wait_ready()
        assert "no running gslb-overwatch" in ow.log()
        assert ow.a_records(WEB)
    finally:
        ow.stop_clean()


# ---- socket activation -----------------------------------------------------------------------

def activation_sockets(port, host="127.0.0.1"):
    """The UDP and TCP sockets systemd binds for opengslb-overwatch.socket."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((host, port))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((host, port))
    tcp.listen(64)
    return [udp, tcp]


def recv_answer(sock, timeout=5):
    sock.settimeout(timeout)
    return dns.message.from_wire(sock.recv(4096))


def recv_tcp_answer(sock, timeout=5):
    sock.settimeout(timeout)
    data = b""
    while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
        chunk = sock.recv(4096)
        assert chunk, "connection closed without an answer"
        data += chunk
    return dns.message.from_wire(data[2:])


def test_socket_activation_serves_passed_sockets_and_keeps_the_queue(tmp_path):
    ow = default_overwatch(tmp_path)
    ow.ports = ow.pick_ports()
    stray = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # not dns.listen_address
    stray.bind(("127.0.0.1", 0))
    ow.listen_sockets = activation_sockets(ow.port) + [stray]
    clients = []
    try:
        ow.start(keep_ports=True)
        log = ow.log()
        assert "3 socket(s) passed" in log, log
        assert "udp socket passed by systemd, tcp socket passed by systemd" in log, log
        assert "is not dns.listen_address" in log, log
        assert ow.a_records(WEB)
        assert ow.query(WEB, "A", tcp=True).answer
        assert ow.stop() == 0

        # No process runs: the queries wait in the passed sockets.
        ids = list(range(100, 120))
        for qid in ids:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            q = dns.message.make_query(WEB, "A")
            q.id = qid
            s.sendto(q.to_wire(), ("127.0.0.1", ow.port))
            clients.append((qid, s))
        tcp = socket.create_connection(("127.0.0.1", ow.port), timeout=5)  # in the backlog
        wire = dns.message.make_query(WEB, "A").to_wire()
        tcp.sendall(struct.pack("!H", len(wire)) + wire)

        mark = len(ow.log())
        ow.start(keep_ports=True)
        for qid, s in clients:
            r = recv_answer(s)
            assert r.id == qid and r.rcode() == 0 and r.answer, r
        assert recv_tcp_answer(tcp).answer
        tcp.close()
        assert "udp socket passed by systemd" in ow.log()[mark:]
    finally:
        ow.stop()
        for _, s in clients:
            s.close()
        for s in ow.listen_sockets:
            s.close()


# ---- stopping --------------------------------------------------------------------------------

def accepted_by(pid, client):
    """Whether process pid holds the server side of TCP connection client (its socket's inode
    in /proc/net/tcp, with our port as the remote port, among the process's fds)."""
    local_port = client.getsockname()[1]
    peer_port = client.getpeername()[1]
    inodes = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            lport, rport = (int(a.split(":")[1], 16) for a in fields[1:3])
            if lport == peer_port and rport == local_port:
                inodes.add(f"socket:[{fields[9]}]")
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                return True
        except OSError:
            pass
    return False


def timed_stop(ow):
    t0 = time.monotonic()
    os.kill(ow.pid, signal.SIGTERM)
    ow.proc.wait(timeout=10)
    elapsed = time.monotonic() - t0
    assert ow.stop() == 0, ow.log()[-3000:]
    return elapsed


def test_stop_is_quick_when_idle(tmp_path):
    ow = default_overwatch(tmp_path).start()
    elapsed = timed_stop(ow)
    assert elapsed < STOP_BOUND, f"stop took {elapsed:.3f} s"


def test_stop_is_quick_with_idle_http_clients(tmp_path):
    ow = default_overwatch(tmp_path).start()
    held = [socket.create_connection(("127.0.0.1", ow.ports[p])) for p in ("api", "metrics")]
    held.append(socket.create_connection(("127.0.0.1", ow.ports["api"])))
    held[-1].sendall(b"GET /api/v1/ready HTTP/1.1\r\n")  # a request that never ends
    try:
        wait_until(lambda: all(accepted_by(ow.pid, c) for c in held), 5,
                   what="the connections accepted")
        elapsed = timed_stop(ow)
    finally:
        for s in held:
            s.close()
    assert elapsed < STOP_BOUND, f"stop took {elapsed:.3f} s with idle HTTP clients"
