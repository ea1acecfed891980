"""Real processes on loopback for the gossip system tests: overwatches, agents,
HTTP backends (http_backend.py) and a UDP relay that can cut one overwatch off.

Every process is started with a log file in the test's tmp_path and stopped by
PID (kill + wait) in the fixtures' finalizers.
"""
import base64
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import dns.flags
import dns.message
import dns.query
import dns.rdatatype

from gslbtest import stop_process

BIN_DIR = os.environ.get("GSLB_BIN_DIR", "")
OVERWATCH = os.path.join(BIN_DIR, "server", "gslb-overwatch")
AGENTD = os.path.join(BIN_DIR, "agentd", "gslb-agentd")
LOAD = os.path.join(BIN_DIR, "tests", "gslb-gossip-load")
HERE = os.path.dirname(os.path.abspath(__file__))

KEY_B64 = base64.b64encode(bytes(range(32))).decode()
TOKEN_NAME = "webapp"
TOKEN = "test-webapp-token"
ZONE = "gslb.example.com"
WEB = "webapp." + ZONE
STATIC = "127.0.0.99"  # a config backend: keeps the healthy set non-empty


def wait_until(fn, timeout, interval=0.05, what="condition"):
    """Poll fn() until it returns a truthy value; return (value, seconds)."""
    start = time.monotonic()
    while True:
        value = fn()
        elapsed = time.monotonic() - start
        if value:
            return value, elapsed
        if elapsed > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port(host="127.0.0.1"):
    """A port free for both UDP and TCP right now."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((host, 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


class Proc:
    def __init__(self, argv, log_path, env=None):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def alive(self):
        return self.p.poll() is None

    def send(self, sig):
        if self.alive():
            self.p.send_signal(sig)

    def stop(self, sig=signal.SIGKILL, timeout=10):
        rc = stop_process(self.p, sig, timeout)
        self.log.close()
        return rc

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


OVERWATCH_YAML = """\
mode: overwatch
overwatch:
  identity: {{node_id: {name}, region: us-east}}
  agent_tokens:
    {token_name}: "{token}"
    api: test-api-token
  gossip:
    bind_address: "127.0.0.1:{gossip_port}"
    encryption_key: "{key}"
    max_clock_skew: 5s
  dnssec: {{enabled: false}}
  stale: {{threshold: {stale}, remove_after: {remove_after}}}
  validation: {{enabled: {validation}, check_interval: 500ms, check_timeout: 300ms}}
  data_dir: "{data_dir}"
storage: {{map_size: 64MiB}}
dns:
  listen_address: "127.0.0.1:{dns_port}"
  workers: 1
  zones:
    - name: {zone}
      ns: [ns1.{zone}]
      ns_addresses: {{ns1.{zone}: [127.0.0.1]}}
api: {{enabled: false}}
metrics: {{address: "127.0.0.1:{metrics_port}"}}
logging: {{level: debug}}
regions:
  - name: us-east
    servers:
      - {{address: {static}, service: webapp}}
domains:
  - name: {web}
    regions: [us-east]
"""


class Overwatch:
    def __init__(self, tmp_path, name, stale="2s", remove_after="60s", validation=False):
        self.dir = tmp_path / name
        self.dir.mkdir()
        self.name = name
        self.stale, self.remove_after, self.validation = stale, remove_after, validation
        self.proc = None

    def start(self):
        for attempt in range(5):
            self.gossip_port = free_port()
            self.dns_port = free_port()
            self.metrics_port = free_port()
            cfg = OVERWATCH_YAML.format(
                name=self.name, token_name=TOKEN_NAME, token=TOKEN, key=KEY_B64,
                gossip_port=self.gossip_port, dns_port=self.dns_port,
                metrics_port=self.metrics_port, stale=self.stale,
                remove_after=self.remove_after,
                validation="true" if self.validation else "false",
                data_dir=self.dir / "data", zone=ZONE, web=WEB, static=STATIC)
            path = self.dir / "overwatch.yaml"
            path.write_text(cfg)
            self.proc = Proc([OVERWATCH, "--config", str(path)],
                             self.dir / f"overwatch-{attempt}.log")
            try:
                wait_until(lambda: not self.proc.alive() or self.metrics_text() is not None,
                           10, what=f"{self.name} to start")
            except AssertionError:
                pass
            if self.proc.alive() and self.a_records(WEB) is not None:
                return self
            self.proc.stop()  # a port was taken meanwhile: try other ports
        raise AssertionError(f"{self.name} did not start:\n{self.proc.text()}")

    def stop(self, sig=signal.SIGTERM):
        if self.proc:
            return self.proc.stop(sig)
        return None

    def a_records(self, name):
        """Addresses in the A answer, or None when the server does not answer."""
        q = dns.message.make_query(name, "A")
        try:
            r = dns.query.udp(q, "127.0.0.1", port=self.dns_port, timeout=1)
        except Exception:  # noqa: BLE001 (timeout or socket error: no answer)
            return None
        if r.flags & dns.flags.TC:
            r = dns.query.tcp(q, "127.0.0.1", port=self.dns_port, timeout=2)
        return {rd.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A
                for rd in rrset}

    def metrics_text(self):
        try:
            url = f"http://127.0.0.1:{self.metrics_port}/metrics"
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.read().decode()
        except OSError:
            return None

    def metric(self, name, **labels):
        """Value of one sample (0 when absent)."""
        text = self.metrics_text() or ""
        want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
                       if labels else "")
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            if key == want:
                return float(value)
        return 0.0

    def gossip(self, result):
        return self.metric("opengslb_gossip_messages_total", result=result)


AGENT_YAML = """\
agent:
  identity:
    agent_id: {agent_id}
    region: us-east
    service_token: "{token}"
    token_name: {token_name}
  backends:
{backends}
  gossip:
    encryption_key: "{key}"
    overwatch_nodes:
{nodes}
  heartbeat: {{interval: {heartbeat}}}
logging: {{level: debug}}
"""

BACKEND_YAML = """\
    - service: {service}
      address: "{address}"
      port: {port}
      health_check:
        type: {type}{path}
        interval: 300ms
        timeout: 250ms
        failure_threshold: 1
        success_threshold: 1
"""


class Agent:
    def __init__(self, tmp_path, agent_id, backends, nodes, heartbeat="500ms", check="http"):
        self.dir = tmp_path / agent_id
        self.dir.mkdir()
        path = "\n        path: /health" if check != "tcp" else ""
        items = "".join(BACKEND_YAML.format(service="webapp", address=a, port=p, type=check,
                                            path=path) for a, p in backends)
        node_lines = "".join(f"      - 127.0.0.1:{port}\n" for port in nodes)
        self.path = self.dir / "agent.yaml"
        self.path.write_text(AGENT_YAML.format(
            agent_id=agent_id, token=TOKEN, token_name=TOKEN_NAME, backends=items,
            key=KEY_B64, nodes=node_lines, heartbeat=heartbeat))
        self.proc = None

    def start(self):
        self.proc = Proc([AGENTD, "--config", str(self.path)], self.dir / "agent.log")
        return self

    def stop(self, sig=signal.SIGTERM):
        return self.proc.stop(sig) if self.proc else None


class Backend:
    """http_backend.py on address:port (restartable on the same port)."""

    def __init__(self, tmp_path, address, port=None):
        self.address, self.port = address, port or free_port(address)
        self.log = tmp_path / f"backend-{address}-{self.port}.log"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "http_backend.py"),
                                      self.address, str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout.readline().strip() == b"ready"
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class UdpRelay:
    """Forwards datagrams from a local port to target_port (an overwatch's gossip
    port) and keeps a copy of each; cut() drops everything (a partition)."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
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


def run_load(*args, timeout=30):
    return subprocess.run([LOAD, *args], capture_output=True, text=True, timeout=timeout)
