"""The one harness of the system tests (tests/system/test_*.py): real binaries on loopback.

- Overwatch: one gslb-overwatch. Its configuration is a dict (written as YAML) or YAML text,
  made by a function of the Overwatch at every start, after its ports were picked (free_port,
  per test, on its loopback address; a start that finds a port taken meanwhile retries on new
  ports). start() waits until it is ready (API /api/v1/ready, or a DNS answer, or /metrics);
  stop() signals it by PID, reaps it and fails on a sanitizer report in its log. Helpers for
  DNS (query, a_records), the API (request, get) and metrics (metrics, metric), SIGHUP reload.
- Agent (gslb-agentd with a generated configuration), Backend (http_backend.py), UdpRelay (a
  gossip path that can be cut): the agent/gossip side.
- free_port, port_free, wait_until, stop_process; a_set and stub_resolver (DNS); json_of and
  assert_error (API); parse_prometheus and sample (metrics); to_yaml and default_config.

Every child started here is registered: conftest.py stops (SIGKILL, by PID) what a test or a
module left running, and appends the logs of its processes to the report of a failed test.

Environment (set by ctest, tests/CMakeLists.txt): GSLB_BIN_DIR (build dir), GSLB_FIXTURES,
GSLB_SOURCE_DIR.
"""
import base64
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import dns.resolver
import requests

BIN_DIR = os.environ.get("GSLB_BIN_DIR", "")
OVERWATCH = os.path.join(BIN_DIR, "server", "gslb-overwatch")
AGENTD = os.path.join(BIN_DIR, "agentd", "gslb-agentd")
DUMP = os.path.join(BIN_DIR, "storage", "dump", "gslb-dump")
TESTFILL = os.path.join(BIN_DIR, "tests", "gslb-testfill")
GOSSIP_LOAD = os.path.join(BIN_DIR, "tests", "gslb-gossip-load")
HERE = os.path.dirname(os.path.abspath(__file__))

SANITIZER_REPORTS = ("Sanitizer", "runtime error:", "Segmentation")

# ---- the default test configuration (default_config) and its secrets ----------------------
ZONE = "gslb.example.com"
WEB = "webapp." + ZONE
API_TOKEN = "test-api-token"
GOSSIP_KEY = base64.b64encode(bytes(range(32))).decode()
AGENT_TOKEN_NAME = "webapp"
AGENT_TOKEN = "test-webapp-token"
# Backends of the default configuration (address, region, service).
DEFAULT_SERVERS = [
    ("127.0.0.10", "us-east", "webapp"),
    ("127.0.0.11", "us-east", "webapp"),
    ("2001:db8::10", "us-east", "webapp"),
    ("127.0.0.12", "eu-west", "webapp"),
    ("2001:db8::12", "eu-west", "webapp"),
    ("127.0.0.20", "us-east", "api"),
    ("127.0.0.21", "eu-west", "api"),
]
DEFAULT_DOMAINS = [("webapp", "round-robin"), ("api", "weighted")]


# ---- ports, waiting, processes ---------------------------------------------------------------

def hostport(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def port_free(host, port):
    """Whether port can be bound on host for both TCP and UDP right now."""
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(_family(host), kind) as s:
                s.bind((host, port))
        return True
    except OSError:
        return False


def free_port(*hosts):
    """A port free for TCP and UDP on every one of hosts (default 127.0.0.1) right now.
    Another process may take it before it is used: Overwatch.start retries on new ports."""
    hosts = hosts or ("127.0.0.1",)
    for _ in range(100):
        with socket.socket(_family(hosts[0]), socket.SOCK_STREAM) as s:
            s.bind((hosts[0], 0))
            port = s.getsockname()[1]
        if all(port_free(h, port) for h in hosts):
            return port
    raise RuntimeError(f"no port free on {hosts}")


def wait_until(predicate, timeout=10, interval=0.02, what="condition"):
    """Poll predicate() until it returns a truthy value and return that value; raise
    AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} "
                                 f"(last: {value!r})")
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


# Every child started by the harness, in start order: (Popen, log path or None, title).
_CHILDREN = []


def _register(proc, log_path, title):
    _CHILDREN.append((proc, log_path, title))


def children_mark():
    """A mark for stop_children_since() and failure_logs()."""
    return len(_CHILDREN)


def stop_children_since(mark):
    """SIGKILL (by PID) and reap every child started after mark that still runs."""
    for proc, _, _ in _CHILDREN[mark:]:
        if proc.poll() is None:
            stop_process(proc, signal.SIGKILL)


def failure_logs(mark, tail=4000):
    """(title, last part of the log) of the children started after mark or still running."""
    seen = set()
    for i, (proc, path, title) in enumerate(_CHILDREN):
        if path is None or path in seen or (i < mark and proc.poll() is not None):
            continue
        seen.add(path)
        text = read_log(path)
        yield title, (("...\n" + text[-tail:]) if len(text) > tail else text) or "(empty)"


def read_log(path):
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class StartError(Exception):
    pass


class Daemon:
    """A child program whose stdout and stderr are appended to log_path; stopped by PID."""

    def __init__(self, directory, name, log_name):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = self.dir / log_name
        self.proc = None

    def spawn(self, argv, env=None, pass_fds=()):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         pass_fds=pass_fds)
        _register(self.proc, self.log_path, f"{self.name}: {self.log_path}")
        return self.proc

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Signal by PID and reap; returns the exit status (None when not running). Raises
        AssertionError when a sanitizer build reported an error into the log."""
        if self.proc is None:
            return None
        rc, self.proc = stop_process(self.proc, sig, timeout), None
        text = self.log()
        bad = [r for r in SANITIZER_REPORTS if r in text]
        if bad:
            raise AssertionError(f"{bad[0]} in {self.log_path}:\n{text[-3000:]}")
        return rc

    def log(self):
        return read_log(self.log_path)

    def wait_log(self, needle, start=0, timeout=10):
        """Wait until needle is in the log after offset start (a len(log()) taken before)."""
        try:
            wait_until(lambda: needle in self.log()[start:], timeout, interval=0.05,
                       what=f"{needle!r} in the log of {self.name}")
        except AssertionError:
            raise AssertionError(f"log lacks {needle!r}:\n{self.log()[-3000:]}") from None


# ---- gslb-overwatch --------------------------------------------------------------------------

# systemd's socket activation, emulated: the sockets become fds 3, 4, ... of the program,
# LISTEN_FDS counts them and LISTEN_PID is the program's own pid (sd_listen_fds(3)).
_ACTIVATE = """import os, sys
n = int(sys.argv[1]); fds = [int(x) for x in sys.argv[2:2 + n]]
high = [os.dup2(fd, 100 + i) for i, fd in enumerate(fds)]
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i)
for fd in set(fds + high) - set(range(3, 3 + n)):
    os.close(fd)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS=str(n))
os.execv(sys.argv[2 + n], sys.argv[2 + n:])
"""


def socket_activation_argv(fds, argv):
    """argv run with the sockets fds passed as systemd passes them (pass fds to Popen too)."""
    return [sys.executable, "-c", _ACTIVATE, str(len(fds)), *map(str, fds), *argv]


class Overwatch(Daemon):
    """One gslb-overwatch with its configuration, store (data_dir) and log in directory base.

    config(ow) returns the configuration (dict or YAML text) from ow.ports, ow.data_dir,
    ow.host...; it is called at every start, after the ports were picked.
    ports: names of the ports to pick ("dns", "api", "metrics", "gossip"), each free on host
    (or on every address of port_hosts[name]). ready: what start() waits for, any of "api"
    (GET /api/v1/ready is 200), "dns" (any DNS answer), "metrics" (GET /metrics is 200);
    default "api" when there is an API port, else "dns". env: extra environment variables.
    tls_ca: the API speaks HTTPS, verified with this CA file.
    listen_sockets: sockets (socket objects) passed to every start as systemd's socket
    activation passes them (socket_activation_argv); the test owns and closes them.
    """

    def __init__(self, base, config=None, *, name=None, host="127.0.0.1", ports=("dns",),
                 port_hosts=None, ready=None, env=None, tls_ca=None):
        base = Path(base)
        super().__init__(base, name or base.name, "overwatch.log")
        self.config = config
        self.data_dir = self.dir / "data"
        self.config_path = self.dir / "overwatch.yaml"
        self.host = host
        self.port_names = tuple(ports)
        self.port_hosts = dict(port_hosts or {})
        self.ports = None
        self.ready = tuple(ready or (("api",) if "api" in self.port_names else ("dns",)))
        # Bound name lookups (key_sync peers that do not resolve) on hosts whose DNS server is
        # unreachable: one 1 s try instead of glibc's 5 s x 2.
        self.env = dict(os.environ, RES_OPTIONS="timeout:1 attempts:1")
        self.env.update(env or {})
        self.tls_ca = tls_ca
        self.start_mark = 0
        self.listen_sockets = []

    # ---- configuration -------------------------------------------------------------------
    @property
    def port(self):
        """The DNS port."""
        return self.ports["dns"]

    def pick_ports(self):
        return {n: free_port(*self.port_hosts.get(n, (self.host,))) for n in self.port_names}

    def render_config(self):
        """The configuration text of the current ports (subclasses may override)."""
        return to_yaml(self.config(self))

    def write_config(self, config=None):
        """Write config (dict or text), or the rendered configuration, to config_path."""
        if config is None:
            text = self.render_config()
        else:
            text = config if isinstance(config, str) else to_yaml(config)
        self.config_path.write_text(text)

    # ---- life cycle ----------------------------------------------------------------------
    def start(self, keep_ports=False, wait=True, timeout=15):
        """Pick ports (unless keep_ports), write the configuration, start the process and
        (wait) wait until it is ready. Raises StartError."""
        for _ in range(1 if keep_ports else 5):
            if not keep_ports or self.ports is None:
                self.ports = self.pick_ports()
            self.write_config()
            try:
                self.spawn()
                if wait:
                    self.wait_ready(timeout)
                return self
            except StartError as e:
                if keep_ports or "in use" not in str(e):
                    raise
        raise StartError(f"{self.name}: no free ports after retries")

    def spawn(self, args=None):
        """Start the process (args: instead of --config <config_path>) without waiting."""
        self.start_mark = len(self.log())
        args = args if args is not None else ["--config", str(self.config_path)]
        argv, fds = [OVERWATCH] + args, tuple(s.fileno() for s in self.listen_sockets)
        if fds:
            argv = socket_activation_argv(fds, argv)
        return super().spawn(argv, env=self.env, pass_fds=fds)

    def wait_ready(self, timeout=15):
        probes = {"api": self.api_ready, "dns": self.answers_dns, "metrics": self.metrics_up}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                rc, self.proc = self.proc.returncode, None
                raise StartError(f"{self.name} exited with {rc}: {self.log()[self.start_mark:]}")
            if all(probes[p]() for p in self.ready):
                return
            time.sleep(0.02)
        self.stop(signal.SIGKILL)
        raise StartError(f"{self.name} not ready in time: {self.log()[self.start_mark:]}")

    def stop_clean(self):
        """SIGTERM; the process must exit 0 (and, by stop(), without a sanitizer report)."""
        if self.proc is None:
            return
        rc = self.stop()
        assert rc == 0, f"{self.name}: exit status {rc}:\n{self.log()[-3000:]}"

    def restart(self):
        """SIGTERM (must exit 0), then start again on the same ports."""
        rc = self.stop()
        assert rc == 0, f"{self.name}: exit status {rc}:\n{self.log()[-3000:]}"
        return self.start(keep_ports=True)

    def sighup(self, expect="reload: applied", timeout=10):
        """SIGHUP (a reload) and wait for expect in the log; returns the log offset before."""
        mark = len(self.log())
        self.proc.send_signal(signal.SIGHUP)
        self.wait_log(expect, start=mark, timeout=timeout)
        return mark

    # ---- readiness -----------------------------------------------------------------------
    def api_ready(self):
        try:
            return self.get("/api/v1/ready", timeout=0.5).status_code == 200
        except requests.RequestException:
            return False

    def answers_dns(self):
        try:
            self.query(".", "SOA", timeout=0.2)
            return True
        except (dns.exception.DNSException, OSError):
            return False

    def metrics_up(self):
        try:
            return requests.get(self.metrics_url, timeout=0.5).status_code == 200
        except requests.RequestException:
            return False

    # ---- DNS -----------------------------------------------------------------------------
    def query(self, name, rdtype="A", tcp=False, timeout=2.0, host=None, **make_kw):
        """One query (dns.message.make_query(name, rdtype, **make_kw)) to host (default
        ow.host) on the DNS port; returns the response Message."""
        q = dns.message.make_query(name, rdtype, **make_kw)
        return self.send(q, tcp=tcp, timeout=timeout, host=host)

    def send(self, q, tcp=False, timeout=2.0, host=None):
        where = host or self.host
        if tcp:
            return dns.query.tcp(q, where, port=self.port, timeout=timeout)
        return dns.query.udp(q, where, port=self.port, timeout=timeout)

    def addresses(self, name, rdtype="A"):
        """(RCODE, set of the answer's record texts)."""
        r = self.query(name, rdtype)
        return r.rcode(), {rr.to_text() for rrset in r.answer for rr in rrset}

    def a_records(self, name, timeout=1.0):
        """The A addresses answered for name (over TCP after TC), or None when the server
        does not answer. Any answer must be NOERROR."""
        q = dns.message.make_query(name, "A")
        try:
            r = self.send(q, timeout=timeout)
            if r.flags & dns.flags.TC:
                r = self.send(q, tcp=True, timeout=timeout + 1)
        except (dns.exception.DNSException, OSError):
            return None
        assert r.rcode() == 0, r
        return a_set(r)

    # ---- HTTP API ------------------------------------------------------------------------
    @property
    def api_url(self):
        return f"{'https' if self.tls_ca else 'http'}://{hostport(self.host, self.ports['api'])}"

    def request(self, method, path, token=None, body=None, data=None, timeout=10):
        """An API request; body is sent as JSON, token as bearer token."""
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        return requests.request(method, self.api_url + path, headers=headers, data=data,
                                timeout=timeout, verify=self.tls_ca or True)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    # ---- metrics -------------------------------------------------------------------------
    @property
    def metrics_url(self):
        return f"http://{hostport(self.host, self.ports['metrics'])}/metrics"

    def metrics_text(self):
        r = requests.get(self.metrics_url, timeout=10)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.text

    def metrics(self):
        """The scrape, parsed strictly (parse_prometheus)."""
        return parse_prometheus(self.metrics_text())

    def metric(self, name, **labels):
        """The value of one series, None when absent."""
        return sample(self.metrics(), name, **labels)


ALL_PORTS = ("dns", "gossip", "api", "metrics")


def default_overwatch(base, config=None, **kw):
    """An Overwatch in base/ow with every port; config(ow) defaults to default_config."""
    return Overwatch(Path(base) / "ow",
                     config or (lambda ow: default_config(ow.ports, ow.data_dir)),
                     ports=ALL_PORTS, **kw)


# ---- agents, backends, gossip -----------------------------------------------------------------

def agent_config(agent_id, backends, overwatches, key=GOSSIP_KEY, token=AGENT_TOKEN,
                 token_name=AGENT_TOKEN_NAME, service="webapp", region="us-east",
                 heartbeat="500ms", check="http"):
    """gslb-agentd configuration: backends [(address, port)] of service, probed every 300 ms
    (check "http": GET /health; "tcp": connect), gossip to overwatches [(host, port)]."""
    def health_check():
        hc = {"type": check}
        if check != "tcp":
            hc["path"] = "/health"
        hc.update(interval="300ms", timeout="250ms", failure_threshold=1, success_threshold=1)
        return hc
    return {
        "agent": {
            "identity": {"agent_id": agent_id, "region": region, "service_token": token,
                         "token_name": token_name},
            "backends": [{"service": service, "address": a, "port": p,
                          "health_check": health_check()} for a, p in backends],
            "gossip": {"encryption_key": key,
                       "overwatch_nodes": [hostport(h, p) for h, p in overwatches]},
            "heartbeat": {"interval": heartbeat},
        },
        "logging": {"level": "debug"},
    }


class Agent(Daemon):
    """One gslb-agentd in base/agent_id; overwatches: gossip ports on 127.0.0.1 or
    (host, port) pairs; the other keywords go to agent_config()."""

    def __init__(self, base, agent_id, backends, overwatches, env=None, **kw):
        super().__init__(Path(base) / agent_id, agent_id, "agent.log")
        nodes = [o if isinstance(o, tuple) else ("127.0.0.1", o) for o in overwatches]
        self.config_path = self.dir / "agent.yaml"
        self.config_path.write_text(to_yaml(agent_config(agent_id, backends, nodes, **kw)))
        self.env = env

    def start(self):
        self.spawn([AGENTD, "--config", str(self.config_path)], env=self.env)
        return self


class Backend:
    """http_backend.py on address:port (GET /health is 200); restartable on the same port."""

    def __init__(self, address, port=None):
        self.address, self.port = address, port or free_port(address)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "http_backend.py"),
                                      self.address, str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        _register(self.proc, None, f"backend {self.address}:{self.port}")
        assert self.proc.stdout.readline().strip() == b"ready"
        return self

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc, signal.SIGKILL)
            self.proc.stdout.close()
            self.proc = None


class UdpRelay:
    """Forwards datagrams from a local port to (target_host, target_port), an overwatch's
    gossip port, and keeps a copy of each; cut() drops everything (a partition)."""

    def __init__(self, target_port, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.seen = []
        self.forwarding = True
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            self.seen.append(data)
            if self.forwarding:
                self.out.sendto(data, self.target)

    def cut(self):
        self.forwarding = False

    def heal(self):
        self.forwarding = True

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()
        self.out.close()


# ---- DNS helpers -----------------------------------------------------------------------------

def a_set(answer):
    """The addresses of a dnspython resolver Answer or of a response Message."""
    rrsets = answer.response.answer if hasattr(answer, "response") else answer.answer
    return {rr.address for rrset in rrsets if rrset.rdtype == dns.rdatatype.A for rr in rrset}


def stub_resolver(servers, timeout=0.5, lifetime=3.0):
    """A dnspython stub resolver over servers = [(host, port), ...], tried in that order,
    like a resolv.conf listing several nameservers ("options timeout:T"). Hosts must be
    distinct (dnspython keys the per-nameserver port by address). No cache."""
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [host for host, _ in servers]
    r.nameserver_ports = {host: port for host, port in servers}
    r.timeout = timeout
    r.lifetime = lifetime
    r.rotate = False
    r.cache = None
    return r


# ---- API helpers -----------------------------------------------------------------------------

def json_of(r, status):
    """The JSON body of response r, which must have this status and a JSON content type."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"] == "application/json", r.headers
    return r.json()


def assert_error(r, status, needle=None):
    """r is a JSON error {"error", "code"} with this status (and needle in the message)."""
    body = json_of(r, status)
    assert set(body) >= {"error", "code"}, body
    assert body["code"] == status and isinstance(body["error"], str) and body["error"]
    if needle:
        assert needle in body["error"], body
    return body


# ---- Prometheus text format 0.0.4, strictly ----------------------------------------------
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
_SAMPLE = re.compile(rf"^({_NAME})(\{{(.*)\}})? (\S+)( -?\d+)?$")
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def _parse_labels(text, line):
    labels = {}
    i = 0
    while i < len(text):
        m = re.match(rf"({_LABEL})=\"", text[i:])
        assert m, f"bad label at {text[i:]!r} in {line!r}"
        name = m.group(1)
        i += m.end()
        value = []
        while True:
            assert i < len(text), f"unterminated label value in {line!r}"
            c = text[i]
            if c == "\\":
                esc = text[i + 1:i + 2]
                assert esc in ("\\", '"', "n"), f"bad escape in {line!r}"
                value.append({"\\": "\\", '"': '"', "n": "\n"}[esc])
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                assert c != "\n"
                value.append(c)
                i += 1
        assert name not in labels, f"duplicate label {name} in {line!r}"
        labels[name] = "".join(value)
        if i < len(text):
            assert text[i] == ",", f"expected ',' in {line!r}"
            i += 1
            assert i < len(text), f"trailing ',' in {line!r}"
    return labels


def parse_prometheus(text):
    """{family: {"type", "help", "samples": {frozenset(labels.items()): value}}}.
    Raises AssertionError on anything the 0.0.4 text format does not allow."""
    assert text.endswith("\n"), "exposition must end with a newline"
    families = {}
    current = None
    for line in text[:-1].split("\n"):
        assert line, "empty line"
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert re.fullmatch(_NAME, name), line
            fam = families.setdefault(name, {"type": None, "help": None, "samples": {}})
            assert fam["help"] is None and not fam["samples"], f"HELP after use: {line}"
            fam["help"] = help_text
            current = name
        elif line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert typ in _TYPES, line
            fam = families.setdefault(name, {"type": None, "help": None, "samples": {}})
            assert fam["type"] is None and not fam["samples"], f"TYPE twice/late: {line}"
            fam["type"] = typ
            current = name
        elif line.startswith("#"):
            continue
        else:
            m = _SAMPLE.match(line)
            assert m, f"bad sample line {line!r}"
            name, _, labels, value = m.group(1), m.group(2), m.group(3), m.group(4)
            assert name == current, f"sample {name} outside its family block ({current})"
            labels = _parse_labels(labels, line) if labels else {}
            v = float(value)  # accepts +Inf, -Inf, NaN
            key = frozenset(labels.items())
            fam = families[name]
            assert key not in fam["samples"], f"duplicate series {line!r}"
            if fam["type"] == "counter":
                assert v >= 0 and not math.isnan(v), f"negative counter {line!r}"
            fam["samples"][key] = v
    for name, fam in families.items():
        assert fam["type"] is not None, f"{name} has no TYPE"
    return families


def sample(families, name, **labels):
    """The value of one series of a parse_prometheus() result, None when absent."""
    return families[name]["samples"].get(frozenset(labels.items()))


# ---- configuration ---------------------------------------------------------------------------
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    v = str(v)
    return v if _PLAIN.match(v) and v.lower() not in _YAML_WORDS else json.dumps(v)


def _yaml_lines(obj, indent):
    pad = " " * indent
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                yield f"{pad}{k}:"
                yield from _yaml_lines(v, indent + 2)
            elif isinstance(v, (list, tuple)) and any(isinstance(i, dict) for i in v):
                yield f"{pad}{k}:"
                yield from _yaml_lines(v, indent + 2)
            else:
                yield f"{pad}{k}: {_flow(v)}"
    else:  # a list of mappings
        for item in obj:
            lines = list(_yaml_lines(item, indent + 2))
            yield pad + "- " + lines[0][indent + 2:]
            yield from lines[1:]


def _flow(v):
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_flow(x) for x in v) + "]"
    return _scalar(v)


def to_yaml(config):
    """YAML text of a configuration dict (text is returned as is): block mappings, lists of
    mappings as block sequences, other lists in flow style, strings quoted unless plain."""
    if isinstance(config, str):
        return config
    return "\n".join(_yaml_lines(config, 0)) + "\n"


def default_config(ports, data_dir, servers=None, domains=None, api_extra=None,
                   api_token=API_TOKEN, allowed_networks=None, log_format="text"):
    """The default test overwatch (a dict): node api-test in us-east, zone ZONE, DNS (2
    workers), gossip, API and metrics on 127.0.0.1 at ports {"dns", "gossip", "api",
    "metrics"}. servers: (address, region, service) tuples (default DEFAULT_SERVERS);
    domains: (service, routing algorithm) pairs over every region (DEFAULT_DOMAINS)."""
    servers = DEFAULT_SERVERS if servers is None else servers
    domains = DEFAULT_DOMAINS if domains is None else domains
    regions = {}
    for addr, region, service in servers:
        regions.setdefault(region, []).append({"address": addr, "port": 80, "service": service})
    api = {"address": f"127.0.0.1:{ports['api']}"}
    if api_token is not None:
        api["token"] = api_token
    if allowed_networks is not None:
        api["allowed_networks"] = list(allowed_networks)
    api.update(api_extra or {})
    return {
        "mode": "overwatch",
        "overwatch": {
            "identity": {"node_id": "api-test", "region": "us-east"},
            "agent_tokens": {AGENT_TOKEN_NAME: AGENT_TOKEN},
            "gossip": {"bind_address": f"127.0.0.1:{ports['gossip']}",
                       "encryption_key": GOSSIP_KEY},
            "dnssec": {"enabled": False},
            "data_dir": str(data_dir),
        },
        "storage": {"map_size": "64MiB"},
        "dns": {
            "listen_address": f"127.0.0.1:{ports['dns']}",
            "workers": 2,
            "zones": [{"name": ZONE, "ns": [f"ns1.{ZONE}"],
                       "ns_addresses": {f"ns1.{ZONE}": ["127.0.0.1"]}}],
        },
        "api": api,
        "metrics": {"address": f"127.0.0.1:{ports['metrics']}"},
        "logging": {"level": "debug", "format": log_format},
        "regions": [{"name": name, "servers": s} for name, s in regions.items()],
        "domains": [{"name": f"{svc}.{ZONE}", "routing_algorithm": algo,
                     "regions": list(regions)} for svc, algo in domains],
    }
