"""Shared helpers for system tests of gslb-overwatch: free ports, configuration
files, starting the real binary and waiting until it answers DNS, stopping it
by PID, and DNS queries with dnspython.

Environment (set by ctest): GSLB_BIN_DIR (build dir), GSLB_SOURCE_DIR.
Every process started here is stopped by PID in Overwatch.stop(); tests use
fixtures with try/finally (or yield) so a failing test still stops it.
"""
import os
import signal
import socket
import subprocess
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rdatatype

BIN_DIR = os.environ.get("GSLB_BIN_DIR", "")
OVERWATCH = os.path.join(BIN_DIR, "server", "gslb-overwatch")


# ---- ports ---------------------------------------------------------------------

def free_port(host="127.0.0.1"):
    """A port that is free for both UDP and TCP on host right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(100):
        u = socket.socket(family, socket.SOCK_DGRAM)
        t = socket.socket(family, socket.SOCK_STREAM)
        try:
            u.bind((host, 0))
            port = u.getsockname()[1]
            t.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port found")


def hostport(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---- configuration ----------------------------------------------------------------

def server_line(addr, service, port=80, weight=None):
    w = f", weight: {weight}" if weight is not None else ""
    return f'      - {{address: "{addr}", port: {port}{w}, service: {service}}}'


def make_config(listen_host, port, data_dir, zone, regions, domains, dns_extra=None,
                ns_addresses=("192.0.2.53", "2001:db8::53"), overwatch_extra=()):
    """YAML text for one overwatch.

    regions: {name: [(address, service, weight-or-None), ...]} in order.
    domains: [{"name": label, "routing_algorithm": ..., "regions": [...], other keys}].
    dns_extra: extra keys of the dns section, e.g. {"workers": 2}.
    overwatch_extra: extra lines of the overwatch section (indented by 2).
    """
    lines = [
        "mode: overwatch",
        "overwatch:",
        "  identity:",
        "    node_id: dns-test",
        f'  data_dir: "{data_dir}"',
    ] + list(overwatch_extra) + [
        "dns:",
        f'  listen_address: "{hostport(listen_host, port)}"',
    ]
    for k, v in (dns_extra or {}).items():
        lines.append(f"  {k}: {v}")
    addrs = ", ".join(f'"{a}"' for a in ns_addresses)
    lines += [
        "  zones:",
        f"    - name: {zone}",
        f"      ns: [ns1.{zone}, ns.elsewhere.example]",
        "      ns_addresses:",
        f"        ns1.{zone}: [{addrs}]",
        "api:",
        "  enabled: false",
        "metrics:",
        "  enabled: false",
        "regions:",
    ]
    for name, servers in regions.items():
        lines.append(f"  - name: {name}")
        lines.append("    servers:" + ("" if servers else " []"))
        for addr, service, weight in servers:
            lines.append(server_line(addr, service, weight=weight))
    lines.append("domains:")
    for d in domains:
        lines.append(f"  - name: {d['name']}.{zone}")
        for k, v in d.items():
            if k == "name":
                continue
            if isinstance(v, (list, tuple)):
                v = "[" + ", ".join(v) + "]"
            lines.append(f"    {k}: {v}")
    return "\n".join(lines) + "\n"


# ---- the server process -----------------------------------------------------------

class StartError(Exception):
    pass


class Overwatch:
    """One gslb-overwatch process on host:port, with its config, store and log
    in directory `base`. config_fn(port, data_dir) returns the YAML text."""

    def __init__(self, base, config_fn, host="127.0.0.1", probe_name=None):
        self.dir = base
        os.makedirs(base, exist_ok=True)
        self.data_dir = os.path.join(base, "data")
        self.config_path = os.path.join(base, "overwatch.yaml")
        self.log_path = os.path.join(base, "overwatch.log")
        self.config_fn = config_fn
        self.host = host
        self.probe_name = probe_name
        self.proc = None
        self.port = None
        self.pid = None

    def start(self, keep_port=False, timeout=10):
        attempts = 1 if keep_port else 5
        for _ in range(attempts):
            if not keep_port or self.port is None:
                self.port = free_port(self.host)
            with open(self.config_path, "w") as f:
                f.write(self.config_fn(self.port, self.data_dir))
            try:
                self.spawn()
                self.wait_ready(timeout)
                return self
            except StartError as e:
                if "already in use" not in str(e):
                    raise
        raise StartError("no free port after retries")

    def spawn(self, args=None):
        log = open(self.log_path, "ab")
        cmd = [OVERWATCH] + (args if args is not None else ["--config", self.config_path])
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        log.close()

    def wait_ready(self, timeout=10):
        """Poll with SOA queries until the server answers (any RCODE)."""
        deadline = time.monotonic() + timeout
        name = self.probe_name or "."
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise StartError(f"exited with {rc}: {self.log()}")
            try:
                self.query(name, "SOA", timeout=0.2)
                return
            except (dns.exception.Timeout, OSError):
                time.sleep(0.02)
        self.stop(sig=signal.SIGKILL)
        raise StartError("not answering in time: " + self.log())

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Signal the process by PID and wait; returns its exit status. Raises when
        a sanitizer build reported an error into the log."""
        if self.proc is None:
            return None
        rc = stop_process(self.proc, sig, timeout)
        self.proc = None
        text = self.log()
        if "Sanitizer" in text or "runtime error:" in text:
            raise AssertionError("sanitizer report in " + self.log_path + ":\n" + text[-3000:])
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # ---- DNS ------------------------------------------------------------------------
    def query(self, name, rdtype="A", tcp=False, timeout=2.0, host=None, **make_kw):
        q = dns.message.make_query(name, rdtype, **make_kw)
        return self.send(q, tcp=tcp, timeout=timeout, host=host)

    def send(self, q, tcp=False, timeout=2.0, host=None):
        where = host or self.host
        if tcp:
            return dns.query.tcp(q, where, port=self.port, timeout=timeout)
        return dns.query.udp(q, where, port=self.port, timeout=timeout)

    def addresses(self, name, rdtype="A", **kw):
        r = self.query(name, rdtype, **kw)
        return [rr.address for rrset in r.answer for rr in rrset]


def wait_until(fn, timeout, interval=0.02, what="condition"):
    """Poll fn() until truthy; returns its value or raises AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)



def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Signal a child by PID, wait for it (SIGKILL after timeout) and reap it.
    Returns its exit status (negative: killed by that signal)."""
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode

def rcode(r):
    """RCODE including the extended bits (BADVERS = 16)."""
    return r.rcode()


def has_flag(r, flag):
    return bool(r.flags & flag)


__all__ = ["free_port", "hostport", "make_config", "Overwatch", "StartError", "wait_until",
           "rcode", "has_flag", "OVERWATCH", "dns"]


# ---- several name servers, as a client sees them (HA tests) -------------------------

def stub_resolver(servers, timeout=0.5, lifetime=3.0):
    """A dnspython stub resolver over servers = [(host, port), ...], tried in that order,
    like a resolv.conf listing several nameservers ("options timeout:T"). Hosts must be
    distinct (dnspython keys the per-nameserver port by address). No cache."""
    import dns.resolver
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [host for host, _ in servers]
    r.nameserver_ports = {host: port for host, port in servers}
    r.timeout = timeout
    r.lifetime = lifetime
    r.rotate = False
    r.cache = None
    return r


def a_set(answer):
    """The addresses of a dnspython resolver Answer or of a response Message."""
    rrsets = answer.response.answer if hasattr(answer, "response") else answer.answer
    return {rr.address for rrset in rrsets if rrset.rdtype == dns.rdatatype.A for rr in rrset}
