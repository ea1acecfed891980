"""Helpers for the API, metrics and reload system tests (test_api.py, test_metrics.py,
test_reload.py): a loopback gslb-overwatch on free ports with a generated configuration,
HTTP(S) calls, DNS queries and a strict Prometheus text parser.

Every process started here is stopped by PID (Overwatch.stop, used from fixtures).
"""
import json
import math
import os
import re
import signal
import socket
import subprocess
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import requests

from gslbtest import stop_process

BIN_DIR = os.environ.get("GSLB_BIN_DIR", "")
OVERWATCH = os.path.join(BIN_DIR, "server", "gslb-overwatch")
ZONE = "gslb.example.com"
WEB = "webapp." + ZONE
API_TOKEN = "test-api-token"

# Backends of the default test configuration (address, region, service).
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


def free_port():
    """A port free for TCP and UDP on 127.0.0.1 right now (callers retry on a race)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def yaml_list(items):
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def make_config(ports, data_dir, servers=None, domains=None, api_extra="", api_token=API_TOKEN,
                allowed_networks=None, log_format="text", extra_zones=()):
    """YAML text of a loopback overwatch. servers: (address, region, service) tuples."""
    servers = DEFAULT_SERVERS if servers is None else servers
    domains = DEFAULT_DOMAINS if domains is None else domains
    regions = {}
    for addr, region, service in servers:
        regions.setdefault(region, []).append(
            f"      - {{address: {json.dumps(addr)}, port: 80, service: {service}}}")
    region_yaml = "\n".join(f"  - name: {name}\n    servers:\n" + "\n".join(lines)
                            for name, lines in regions.items())
    region_names = yaml_list(list(regions))
    domain_yaml = "\n".join(
        f"  - name: {svc}.{ZONE}\n    routing_algorithm: {algo}\n    regions: {region_names}"
        for svc, algo in domains)
    api_lines = [f'  address: "127.0.0.1:{ports["api"]}"']
    if api_token is not None:
        api_lines.append(f"  token: {json.dumps(api_token)}")
    if allowed_networks is not None:
        api_lines.append(f"  allowed_networks: {yaml_list(allowed_networks)}")
    if api_extra:
        api_lines.append(api_extra.rstrip("\n"))
    zones = "\n".join(f"    - {z}" for z in extra_zones)
    return f"""mode: overwatch
overwatch:
  identity:
    node_id: api-test
    region: us-east
  agent_tokens:
    webapp: test-webapp-token
  gossip:
    bind_address: "127.0.0.1:{ports["gossip"]}"
    encryption_key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
  dnssec:
    enabled: false
  data_dir: {json.dumps(str(data_dir))}
storage:
  map_size: 64MiB
dns:
  listen_address: "127.0.0.1:{ports["dns"]}"
  workers: 2
  zones:
    - name: {ZONE}
      ns: [ns1.{ZONE}]
      ns_addresses:
        ns1.{ZONE}: [127.0.0.1]
{zones}
api:
{chr(10).join(api_lines)}
metrics:
  address: "127.0.0.1:{ports["metrics"]}"
logging:
  level: debug
  format: {log_format}
regions:
{region_yaml}
domains:
{domain_yaml}
"""


class StartError(Exception):
    pass


class Overwatch:
    """One gslb-overwatch process. config_fn(ports) returns the YAML text."""

    def __init__(self, tmp_path, config_fn, name="ow", tls_ca=None):
        self.dir = tmp_path / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.dir / "data"
        self.config_path = self.dir / "overwatch.yaml"
        self.log_path = self.dir / "overwatch.log"
        self.config_fn = config_fn
        self.tls_ca = tls_ca
        self.proc = None
        self.ports = None

    # ---- life cycle -------------------------------------------------------------
    def start(self, keep_ports=False, expect_ready=True):
        attempts = 1 if keep_ports else 5
        for _ in range(attempts):
            if not keep_ports or self.ports is None:
                self.ports = {k: free_port() for k in ("dns", "gossip", "api", "metrics")}
            self.write_config(self.config_fn(self.ports, self.data_dir))
            try:
                self._spawn(expect_ready)
                return self
            except StartError as e:
                if "in use" not in str(e) and "Address already" not in str(e):
                    raise
        raise StartError("could not find free ports")

    def write_config(self, text):
        self.config_path.write_text(text)

    def _spawn(self, expect_ready):
        log = open(self.log_path, "ab")
        # Bound name lookups (key_sync peers that do not resolve) on hosts whose DNS
        # server is unreachable: one 1 s try instead of glibc's 5 s x 2.
        env = dict(os.environ, RES_OPTIONS="timeout:1 attempts:1")
        self.proc = subprocess.Popen([OVERWATCH, "--config", str(self.config_path)],
                                     stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        if not expect_ready:
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StartError(f"exited with {self.proc.returncode}: {self.log()}")
            try:
                if self.get("/api/v1/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise StartError("not ready in time: " + self.log())

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is None:
            return None
        rc = stop_process(self.proc, sig, timeout)
        self.proc = None
        return rc

    def stop_clean(self):
        """SIGTERM; the process must exit 0 without sanitizer reports (ASan/UBSan/LSan)."""
        if self.proc is None:
            return
        rc = self.stop()
        log = self.log()
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "Segmentation"):
            assert bad not in log, log
        assert rc == 0, f"exit status {rc}:\n{log}"

    def restart(self):
        assert self.stop() == 0, self.log()
        return self.start(keep_ports=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, needle, timeout=10, start=0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log()[start:]:
                return
            time.sleep(0.05)
        raise AssertionError(f"log lacks {needle!r}:\n{self.log()}")

    # ---- HTTP ------------------------------------------------------------------------
    @property
    def api_url(self):
        scheme = "https" if self.tls_ca else "http"
        return f"{scheme}://127.0.0.1:{self.ports['api']}"

    def request(self, method, path, token=None, body=None, data=None, timeout=10):
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        return requests.request(method, self.api_url + path, headers=headers, data=data,
                                timeout=timeout, verify=self.tls_ca if self.tls_ca else True)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def metrics_text(self):
        r = requests.get(f"http://127.0.0.1:{self.ports['metrics']}/metrics", timeout=10)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.text

    # ---- DNS -----------------------------------------------------------------------------
    def query(self, name, rdtype="A", timeout=2.0, port=None):
        q = dns.message.make_query(name, rdtype)
        q.flags &= ~dns.flags.RD
        return dns.query.udp(q, "127.0.0.1", port=port or self.ports["dns"], timeout=timeout)

    def addresses(self, name, rdtype="A"):
        r = self.query(name, rdtype)
        out = set()
        for rrset in r.answer:
            for rr in rrset:
                out.add(rr.to_text())
        return r.rcode(), out


def json_of(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"] == "application/json", r.headers
    return r.json()


def assert_error(r, status, needle=None):
    body = json_of(r, status)
    assert set(body) >= {"error", "code"}, body
    assert body["code"] == status and isinstance(body["error"], str) and body["error"]
    if needle:
        assert needle in body["error"], body
    return body


def wait_for(fn, timeout=10, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


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
    return families[name]["samples"].get(frozenset(labels.items()))


def rcode_name(r):
    return dns.rcode.to_text(r.rcode())
