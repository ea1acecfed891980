"""soak.py - gslb-overwatch under everything at once for a while (scripts/soak.sh DURATION).

Started here, on loopback only, each stopped by PID at the end (also on SIGTERM/SIGINT):
- ow1, the overwatch measured: DNSSEC on, key sync with ow2 (a second overwatch, its peer);
- AGENTS real gslb-agentd processes (generated configs), each probing BACKENDS_PER_AGENT
  http_backend.py backends, gossiping to both overwatches;
- dnsperf at a fixed moderate rate (plain and DO queries) against ow1, or a Python query loop
  when dnsperf is not installed.
Every few seconds the soak also: sets or clears an override through the API (PUT/DELETE), stops
or starts a backend (flapping), and now and then restarts an agent, reloads ow1 (SIGHUP), runs a
key sync (POST /api/v1/dnssec/sync on ow1 and ow2) and, on purpose, reloads a broken config.

Every SAMPLE_EVERY seconds it samples ow1's RSS and open fds (/proc/PID) and the store's used
bytes (gslb-dump --json meta: used_bytes). At the end it prints the samples and the checks:
- after the warm-up (the first WARMUP, at most a sixth of the run), split the rest in thirds:
  RSS: max of the last third <= max of the first third * (1 + RSS_GROWTH) + RSS_SLACK;
  fds: max of the last third <= max of the first third + FD_SLACK;
  store: max of the last third <= max of the first third * (1 + STORE_GROWTH) + STORE_SLACK;
- no `level=error` line in ow1's log except PROVOKED_ERRORS (the broken reloads), which must
  appear exactly as often as provoked, and, before both nodes are in key sync, STARTUP_ERRORS
  (ow1's key sync rounds before ow2 runs);
- every periodic action did what it should (override 2xx, reload applied, key sync 200), DNS
  answered at every sample, dnsperf lost at most MAX_LOST of its queries, ow1 still runs and
  exits 0 on SIGTERM without a sanitizer report.
The last line is the verdict: `soak verdict: PASS|FAIL (...)`; exit status 1 on FAIL.

Environment: GSLB_BIN_DIR (the build dir), as for the system tests.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dns.exception

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from harness import (ALL_PORTS, API_TOKEN, DUMP, WEB, ZONE, Agent, Backend,  # noqa: E402
                     Overwatch, default_config, stop_process, wait_until)

SAMPLE_EVERY = 10.0
WARMUP = 60.0
RSS_GROWTH, RSS_SLACK = 0.10, 2 * 1024 * 1024
FD_SLACK = 8
STORE_GROWTH, STORE_SLACK = 0.25, 1024 * 1024
MAX_LOST = 0.01
AGENTS, BACKENDS_PER_AGENT = 3, 2
DNS_QPS, DNS_DO_QPS = 400, 100
# level=error lines the soak provokes on purpose (each counted against what it provoked).
PROVOKED_ERRORS = {"bad_reload": "reload: rejected, previous configuration kept"}
# level=error lines allowed while the cluster starts (before both nodes are in key sync):
# ow1 starts first, and its first key sync rounds cannot reach ow2 yet.
STARTUP_ERRORS = ("dnssec: key sync failed: ",)
# Period (seconds) of each periodic action.
EVERY = {"override": 2, "flap": 5, "sync": 30, "reload": 60, "bad_reload": 150,
         "agent_restart": 120}
OVERRIDE_ADDRESSES = ["127.0.0.10", "127.0.0.11", "127.0.0.12", "2001:db8::10"]


def parse_duration(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not m:
        raise ValueError(f"bad duration {text!r} (e.g. 30m, 600s, 1h)")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


class Soak:
    def __init__(self, base, duration, seed=None, out=sys.stdout):
        self.base, self.duration, self.out = Path(base), duration, out
        self.rng = random.Random(seed)
        self.samples = []  # (t, rss bytes, fds, used bytes)
        self.counts = {k: 0 for k in EVERY}
        self.failures = []  # what went wrong, one message each
        self.dns_misses = 0
        self.dnsperf = []  # (name, Popen, log path)
        self.backends, self.agents = [], []
        self.ow1 = self.ow2 = None
        self.completed = False
        self.log_mark = 0

    # ---- set-up --------------------------------------------------------------------------
    def ow_config(self, peer):
        def config(ow):
            c = default_config(ow.ports, ow.data_dir)
            c["logging"]["level"] = "info"
            c["overwatch"]["identity"]["node_id"] = ow.name
            c["overwatch"]["dnssec"] = {
                "enabled": True,
                "key_sync": {"peers": [f"http://127.0.0.1:{peer().ports['api']}"],
                             "poll_interval": "10m", "timeout": "5s",
                             "token": "soak-cluster-secret",
                             "allow_plaintext_export": True}}
            c["overwatch"]["stale"] = {"threshold": "5s", "remove_after": "30s"}
            return c
        return config

    def start_cluster(self):
        self.ow1 = Overwatch(self.base / "ow1", self.ow_config(lambda: self.ow2), ports=ALL_PORTS)
        self.ow2 = Overwatch(self.base / "ow2", self.ow_config(lambda: self.ow1), ports=ALL_PORTS)
        for ow in (self.ow1, self.ow2):
            ow.ports = ow.pick_ports()
        self.ow1.start(keep_ports=True)
        self.ow2.start(keep_ports=True)

        # A sync is 502 while the peer still signs with another key (docs/dnssec.md): the
        # nodes settle on one key first.
        def synced():
            return all(ow.request("POST", "/api/v1/dnssec/sync", timeout=30).status_code == 200
                       for ow in (self.ow1, self.ow2))
        wait_until(synced, timeout=30, interval=0.5, what="both overwatches in key sync")
        self.log_mark = len(self.ow1.log())
        for i in range(AGENTS):
            mine = []
            for j in range(BACKENDS_PER_AGENT):
                b = Backend(f"127.0.0.{40 + i * BACKENDS_PER_AGENT + j}").start()
                self.backends.append(b)
                mine.append((b.address, b.port))
            self.agents.append(Agent(self.base, f"soak-agent-{i}", mine,
                                     [self.ow1.ports["gossip"], self.ow2.ports["gossip"]],
                                     region="us-east" if i % 2 else "eu-west").start())

    def start_dns_load(self):
        if shutil.which("dnsperf") is None:
            self.say("dnsperf not installed: DNS load from a Python loop at each tick instead")
            return
        qfile = self.base / "queries.txt"
        qfile.write_text(f"{WEB} A\n{WEB} AAAA\napi.{ZONE} A\n{ZONE} SOA\n"
                         f"nx.{ZONE} A\n{ZONE} DNSKEY\n")
        seconds = str(int(self.duration) + 5)
        for name, qps, extra in (("dnsperf", DNS_QPS, []), ("dnsperf-do", DNS_DO_QPS, ["-D"])):
            log = self.base / f"{name}.log"
            with open(log, "wb") as f:
                p = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(self.ow1.port),
                                      "-d", str(qfile), "-Q", str(qps), "-l", seconds,
                                      "-c", "2", "-t", "2", *extra],
                                     stdout=f, stderr=subprocess.STDOUT)
            self.dnsperf.append((name, p, log))

    # ---- periodic actions ----------------------------------------------------------------
    def say(self, msg):
        print(f"soak: {msg}", file=self.out, flush=True)

    def fail(self, msg):
        self.failures.append(msg)
        self.say(f"FAIL: {msg}")

    def override(self):
        addr = self.rng.choice(OVERRIDE_ADDRESSES)
        path = f"/api/v1/overrides/webapp/{addr}"
        if self.rng.random() < 0.5:
            r = self.ow1.request("PUT", path, token=API_TOKEN,
                                 body={"state": self.rng.choice(["down", "drain", "up"]),
                                       "reason": "soak"})
            ok = r.status_code == 200
        else:
            r = self.ow1.request("DELETE", path, token=API_TOKEN)
            ok = r.status_code in (200, 404)
        if not ok:
            self.fail(f"{r.request.method} {path}: {r.status_code} {r.text[:200]}")

    def flap(self):
        b = self.rng.choice(self.backends)
        if b.proc is None:
            b.start()
        else:
            b.stop()

    def sync(self, ow=None):
        ow = ow or self.rng.choice([self.ow1, self.ow2])
        r = ow.request("POST", "/api/v1/dnssec/sync", timeout=30)
        if r.status_code != 200:
            self.fail(f"key sync on {ow.name}: {r.status_code} {r.text[:300]}")

    def reload(self):
        try:
            self.ow1.sighup("reload: applied", timeout=10)
        except AssertionError as e:
            self.fail(f"reload: {str(e)[:300]}")

    def bad_reload(self):
        self.ow1.config_path.write_text(self.ow1.render_config() + "no_such_key: 1\n")
        try:
            self.ow1.sighup(PROVOKED_ERRORS["bad_reload"], timeout=10)
        except AssertionError as e:
            self.fail(f"broken reload not rejected: {str(e)[:300]}")
        self.ow1.write_config()

    def agent_restart(self):
        a = self.rng.choice(self.agents)
        a.stop()
        a.start()

    def dns_probe(self):
        try:
            r = self.ow1.query(WEB, "A", timeout=1.0)
            if r.rcode() != 0:
                self.dns_misses += 1
        except (dns.exception.DNSException, OSError):
            self.dns_misses += 1

    # ---- sampling ------------------------------------------------------------------------
    def sample(self, t):
        pid = self.ow1.pid
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        r = subprocess.run([DUMP, "--json", "--data-dir", str(self.ow1.data_dir), "meta"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            self.fail(f"gslb-dump meta: exit {r.returncode}: {r.stderr[-300:]}")
            used = 0
        else:
            used = json.loads(r.stdout)["meta"]["used_bytes"]
        self.samples.append((t, rss, fds, used))
        self.say(f"t={t:6.0f}s rss={rss / 2**20:7.1f} MiB fds={fds:4d} "
                 f"store={used / 1024:8.0f} KiB")

    # ---- the run -------------------------------------------------------------------------
    def run(self):
        self.start_cluster()
        self.start_dns_load()
        actions = {"override": self.override, "flap": self.flap, "sync": self.sync,
                   "reload": self.reload, "bad_reload": self.bad_reload,
                   "agent_restart": self.agent_restart}
        t0 = time.monotonic()
        due = {k: t0 + v for k, v in EVERY.items()}
        next_sample = t0
        while True:
            now = time.monotonic()
            if now >= next_sample:
                if not self.ow1.alive():
                    self.fail(f"ow1 died: {self.ow1.log()[-2000:]}")
                    return
                self.sample(now - t0)
                self.dns_probe()
                next_sample += SAMPLE_EVERY
            if now - t0 >= self.duration:
                break
            for k, when in due.items():
                if now >= when:
                    actions[k]()
                    self.counts[k] += 1
                    due[k] = when + EVERY[k]
            if not self.dnsperf:
                self.dns_probe()
            time.sleep(0.1)
        self.completed = True

    def stop_all(self):
        for _, p, _ in self.dnsperf:
            stop_process(p, signal.SIGKILL)
        for a in self.agents:
            a.stop(signal.SIGKILL)
        for b in self.backends:
            b.stop()
        rc = None
        for ow in (self.ow2, self.ow1):
            if ow is None:
                continue
            try:
                rc = ow.stop()
            except AssertionError as e:  # a sanitizer report
                self.fail(str(e)[:2000])
        if self.ow1 is not None and rc not in (0, None):
            self.fail(f"ow1 exit status {rc} on SIGTERM")

    # ---- verdict -------------------------------------------------------------------------
    def dnsperf_lost(self):
        """(sent, lost) over the dnsperf runs (they ran for the whole soak)."""
        sent = lost = 0
        for name, p, log in self.dnsperf:
            text = log.read_text(errors="replace")
            m1 = re.search(r"Queries sent:\s+(\d+)", text)
            m2 = re.search(r"Queries lost:\s+(\d+)", text)
            if m1 and m2:
                sent, lost = sent + int(m1.group(1)), lost + int(m2.group(1))
        return sent, lost

    def wait_dnsperf(self):
        for name, p, log in self.dnsperf:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.fail(f"{name} did not finish")

    def checks(self):
        """[(name, ok, detail)]."""
        out = []
        warm = min(WARMUP, self.duration / 6)
        rest = [s for s in self.samples if s[0] >= warm]
        if len(rest) < 3:
            return [("samples", False, f"only {len(rest)} samples after the warm-up")]
        third = len(rest) // 3
        first, last = rest[:third], rest[-third:]

        def growth(i, factor, slack, unit, div):
            a, b = max(s[i] for s in first), max(s[i] for s in last)
            limit = a * (1 + factor) + slack
            return b <= limit, f"first third max {a / div:.1f}{unit}, last third max " \
                               f"{b / div:.1f}{unit}, limit {limit / div:.1f}{unit}"
        ok, d = growth(1, RSS_GROWTH, RSS_SLACK, " MiB", 2**20)
        out.append(("rss flat", ok, d))
        ok, d = growth(2, 0, FD_SLACK, "", 1)
        out.append(("fds flat", ok, d))
        ok, d = growth(3, STORE_GROWTH, STORE_SLACK, " KiB", 1024)
        out.append(("store bounded", ok, d))
        log = self.ow1.log()
        startup = [ln for ln in log[:self.log_mark].splitlines() if "level=error" in ln]
        lines = [ln for ln in log[self.log_mark:].splitlines() if "level=error" in ln]
        unexpected = [ln for ln in lines if not any(p in ln for p in PROVOKED_ERRORS.values())]
        unexpected += [ln for ln in startup if not any(p in ln for p in STARTUP_ERRORS)]
        provoked = {k: sum(p in ln for ln in lines) for k, p in PROVOKED_ERRORS.items()}
        ok = not unexpected and all(provoked[k] == self.counts[k] for k in PROVOKED_ERRORS)
        out.append(("no error lines", ok,
                    f"{len(unexpected)} unexpected, {len(startup)} at start-up (key sync "
                    f"before the peer ran), provoked "
                    + ", ".join(f"{k} {provoked[k]}/{self.counts[k]}" for k in provoked)
                    + ("".join(f"\n      {ln}" for ln in unexpected[:10]))))
        sent, lost = self.dnsperf_lost()
        if self.dnsperf:
            ok = sent > 0 and lost <= MAX_LOST * sent
            out.append(("dns load", ok, f"dnsperf sent {sent}, lost {lost}"))
        out.append(("dns answers", self.dns_misses == 0, f"{self.dns_misses} probes unanswered"))
        out.append(("actions", not self.failures,
                    ", ".join(f"{k} {v}" for k, v in self.counts.items())
                    + "".join(f"\n      {f[:300]}" for f in self.failures[:10])))
        return out

    def report(self):
        print("=== soak samples ===", file=self.out)
        print(f"{'t(s)':>7} {'rss(MiB)':>9} {'fds':>5} {'store(KiB)':>11}", file=self.out)
        for t, rss, fds, used in self.samples:
            print(f"{t:7.0f} {rss / 2**20:9.1f} {fds:5d} {used / 1024:11.0f}", file=self.out)
        print("=== soak checks ===", file=self.out)
        results = self.checks()
        for name, ok, detail in results:
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", file=self.out)
        passed = all(ok for _, ok, _ in results)
        rss = [s[1] for s in self.samples] or [0]
        fds = [s[2] for s in self.samples] or [0]
        used = [s[3] for s in self.samples] or [0]
        print(f"soak verdict: {'PASS' if passed else 'FAIL'} ({self.duration:.0f}s, "
              f"{len(self.samples)} samples, rss max {max(rss) / 2**20:.1f} MiB, fds max "
              f"{max(fds)}, store max {max(used) / 1024:.0f} KiB, "
              f"{sum(1 for _, ok, _ in results if not ok)} failed checks)", file=self.out,
              flush=True)
        return passed


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("duration", nargs="?", default="30m")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--keep", action="store_true", help="keep the temp directory")
    a = p.parse_args()
    if not os.path.exists(DUMP):
        sys.exit(f"soak: no {DUMP}: set GSLB_BIN_DIR to the build dir")

    def terminate(signum, _frame):
        raise SystemExit(f"soak: stopped by signal {signum}")
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    base = Path(tempfile.mkdtemp(prefix="gslb-soak-"))
    soak = Soak(base, parse_duration(a.duration), seed=a.seed)
    passed = False
    try:
        try:
            soak.run()
        finally:
            if soak.completed:
                soak.wait_dnsperf()
            soak.stop_all()
        passed = soak.report()
    finally:
        if a.keep or not passed:
            print(f"soak: files in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
