"""crash_loop.py - crash safety of gslb-overwatch's store, measured (scripts/crash-loop.sh).

One real gslb-overwatch on loopback (its own ports and temp data dir, the gossip encryption key
and an API token of tests/system/harness.py). For each of N iterations:

  1. start it (the same ports and data dir each time) and time the first DNS answer of the
     webapp domain from the spawn;
  2. check that every write the API acknowledged (2xx) before the last kill is there: each
     override key (service, address) shows the state and reason of its last acknowledged PUT,
     or is absent after an acknowledged DELETE; the one write per key that was in flight when
     the process died (sent, no reply) may or may not have landed;
  3. drive API writes (PUT and DELETE /api/v1/overrides/webapp/<address>, WRITERS threads, each
     owning its own addresses, so the order per key is known) and gossip (gslb-gossip-load:
     simulated agents' sealed heartbeats) concurrently;
  4. kill -9 the overwatch at a random moment of the load;
  5. open the environment with gslb-dump (every table; must exit 0).

An environment gslb-dump or the overwatch refuses counts as corrupted (it is moved aside and the
loop goes on with a new store). Prints the counts and exits 1 when anything was corrupted or
lost. Importable: run_crash_loop() returns the figures (tests/system/test_crash_loop.py).

Environment: GSLB_BIN_DIR (the build dir), as for the system tests.
"""
import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import dns.exception
import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from harness import (AGENT_TOKEN, AGENT_TOKEN_NAME, API_TOKEN, DUMP, GOSSIP_KEY,  # noqa: E402
                     GOSSIP_LOAD, SANITIZER_REPORTS, ZONE, ALL_PORTS, Overwatch, StartError,
                     default_config, stop_process)

# Backends of the webapp service that the writers put overrides on (one owner thread each).
ADDRESSES = [f"127.0.1.{i}" for i in range(1, 49)]
STATES = ("down", "drain", "up")
# The name whose first answer is timed: a domain the load does not grow (the gossip agents'
# backends join webapp, whose answer then no longer fits a UDP reply).
PROBE_NAME = "api." + ZONE


def crash_config(ow):
    servers = [(a, "us-east" if i % 2 else "eu-west", "webapp") for i, a in enumerate(ADDRESSES)]
    servers.append(("127.0.0.20", "us-east", "api"))
    c = default_config(ow.ports, ow.data_dir, servers=servers)
    c["logging"]["level"] = "info"
    return c


class KeyState:
    """What one override key must look like after a restart: the result of its last
    acknowledged write (None = absent, else (state, reason)) or, if a write was in flight at
    the kill, possibly that one's."""

    def __init__(self):
        self.acked = None
        self.inflight = []  # results of writes sent without a reply (at most one per run)


class Writers:
    """WRITERS threads doing PUT/DELETE overrides until stopped; counts acknowledged writes."""

    def __init__(self, ow, keys, iteration, threads, rng):
        self.ow, self.keys, self.iteration = ow, keys, iteration
        self.stop_flag = threading.Event()
        self.acked = 0
        self.errors = []  # unexpected replies (not 2xx, not a connection error)
        self.lock = threading.Lock()
        addrs = list(keys)
        self.threads = [threading.Thread(target=self.run, args=(addrs[i::threads],
                                                                 random.Random(rng.random())),
                                         daemon=True) for i in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join()

    def run(self, addrs, rng):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {API_TOKEN}"
        url = self.ow.api_url + "/api/v1/overrides/webapp/"
        n = 0
        while not self.stop_flag.is_set():
            addr = rng.choice(addrs)
            key = self.keys[addr]
            n += 1
            if rng.random() < 0.3:
                method, result, body = "DELETE", None, None
            else:
                state = rng.choice(STATES)
                reason = f"crash-loop i={self.iteration} t={threading.get_ident() % 10000} n={n}"
                method, result, body = "PUT", (state, reason), {"state": state,
                                                                 "reason": reason,
                                                                 "source": "crash-loop"}
            key.inflight.append(result)
            try:
                r = session.request(method, url + addr, json=body, timeout=5)
            except requests.RequestException:
                return  # the server died: this write stays in flight
            key.inflight.pop()
            if 200 <= r.status_code < 300:
                key.acked = result
                with self.lock:
                    self.acked += 1
            elif not (method == "DELETE" and r.status_code == 404 and key.acked is None):
                with self.lock:
                    self.errors.append(f"{method} {addr}: {r.status_code} {r.text[:200]}")
                return


def observed_overrides(ow):
    r = ow.get("/api/v1/overrides", timeout=10)
    r.raise_for_status()
    got = {}
    for o in r.json()["overrides"]:
        if o["service"] == "webapp":
            got[o["address"]] = (o["state"], o.get("reason", ""))
    return got


def check_writes(ow, keys):
    """Compare the overrides in GET with the model; returns the lost acknowledged writes (a
    list of messages) and resets the model to what is there now."""
    got = observed_overrides(ow)
    lost = []
    for addr, key in keys.items():
        seen = got.get(addr)
        allowed = [key.acked] + key.inflight
        if seen not in allowed:
            lost.append(f"{addr}: have {seen}, acknowledged {key.acked}, "
                        f"in flight {key.inflight}")
        key.acked, key.inflight = seen, []
    return lost


def first_answer_seconds(ow, t0, timeout=20):
    """Seconds from t0 to the first DNS answer (NOERROR with records) for PROBE_NAME; None if
    none came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ow.proc is None or ow.proc.poll() is not None:
            return None
        try:
            r = ow.query(PROBE_NAME, "A", timeout=0.05)
            if r.rcode() == 0 and r.answer:
                return time.monotonic() - t0
        except (dns.exception.DNSException, OSError):
            pass
        time.sleep(0.002)
    return None


def dump_ok(data_dir):
    """gslb-dump over every table; (ok, output tail)."""
    r = subprocess.run([DUMP, "--data-dir", str(data_dir)], capture_output=True, text=True,
                       timeout=60)
    return r.returncode == 0, f"exit {r.returncode}: {r.stderr[-500:]}"


def start_gossip(ow, log):
    return subprocess.Popen([GOSSIP_LOAD, "--target", f"127.0.0.1:{ow.ports['gossip']}",
                             "--key", GOSSIP_KEY, "--token-name", AGENT_TOKEN_NAME,
                             "--token", AGENT_TOKEN, "--agents", "20", "--backends", "4",
                             "--rate", "400", "--duration", "60", "--agent-prefix", "crash"],
                            stdout=log, stderr=subprocess.STDOUT)


def start_timed(ow, first):
    """Start the overwatch (ports picked at the first start, kept after) and return the
    seconds to its first DNS answer; it is then also ready on the API."""
    t0 = time.monotonic()
    if first:
        ow.start(wait=False)
    else:
        ow.write_config()
        ow.spawn()
    took = first_answer_seconds(ow, t0)
    ow.wait_ready(30)
    if took is None:
        raise StartError(f"no DNS answer: {ow.log()[ow.start_mark:][-2000:]}")
    return took


def run_crash_loop(iterations, base, seed=None, writers=4, min_kill=0.1, max_kill=1.5,
                   out=sys.stdout):
    rng = random.Random(seed)
    base = Path(base)
    ow = Overwatch(base / "ow", crash_config, ports=ALL_PORTS)
    keys = {a: KeyState() for a in ADDRESSES}
    # errors: unexpected API replies and sanitizer reports (an ASan build's log)
    stats = {"iterations": 0, "corrupted": 0, "acked": 0, "lost": 0, "errors": 0,
             "first_answer": [], "problems": []}
    gossip_log = open(base / "gossip-load.log", "ab")

    def note(msg):
        stats["problems"].append(msg)
        print(f"crash-loop: {msg}", file=out, flush=True)

    def start_and_check(first):
        try:
            stats["first_answer"].append(start_timed(ow, first))
        except StartError as e:
            stats["corrupted"] += 1
            note(f"iteration {stats['iterations']}: the overwatch did not start on the kept "
                 f"store: {str(e)[-1500:]}")
            move_aside()
            for k in keys.values():
                k.acked, k.inflight = None, []
            stats["first_answer"].append(start_timed(ow, first))
            return
        lost = check_writes(ow, keys)
        stats["lost"] += len(lost)
        for m in lost:
            note(f"iteration {stats['iterations']}: lost acknowledged write: {m}")

    def move_aside():
        if ow.proc is not None:
            ow.stop(signal.SIGKILL)
        bad = base / f"corrupted-{stats['iterations']}"
        shutil.move(str(ow.data_dir), str(bad))
        note(f"damaged environment kept in {bad}")

    try:
        start_and_check(first=True)
        for i in range(1, iterations + 1):
            stats["iterations"] = i
            gossip = start_gossip(ow, gossip_log)
            w = Writers(ow, keys, i, writers, rng)
            w.start()
            time.sleep(rng.uniform(min_kill, max_kill))
            os.kill(ow.proc.pid, signal.SIGKILL)
            ow.proc.wait()
            ow.proc = None
            run_log = ow.log()[ow.start_mark:]
            bad = [r for r in SANITIZER_REPORTS if r in run_log]
            if bad:
                stats["errors"] += 1
                note(f"iteration {i}: {bad[0]} in the log before the kill: {run_log[-2000:]}")
            w.stop()
            stop_process(gossip, signal.SIGKILL)
            stats["acked"] += w.acked
            stats["errors"] += len(w.errors)
            for e in w.errors[:5]:
                note(f"iteration {i}: unexpected API reply: {e}")
            ok, why = dump_ok(ow.data_dir)
            if not ok:
                stats["corrupted"] += 1
                note(f"iteration {i}: gslb-dump refuses the store: {why}")
                move_aside()
                for k in keys.values():
                    k.acked, k.inflight = None, []
            start_and_check(first=False)
        ow.stop_clean()
    finally:
        if ow.proc is not None:
            ow.stop(signal.SIGKILL)
        gossip_log.close()
    return stats


def summary_lines(stats):
    fa = sorted(stats["first_answer"]) or [float("nan")]
    return [
        f"iterations: {stats['iterations']}",
        f"corrupted environments: {stats['corrupted']}",
        f"acknowledged writes: {stats['acked']}",
        f"lost acknowledged writes: {stats['lost']}",
        f"unexpected API replies or sanitizer reports: {stats['errors']}",
        f"time to first DNS answer: median {statistics.median(fa) * 1000:.0f} ms, "
        f"max {fa[-1] * 1000:.0f} ms (over {len(stats['first_answer'])} starts)",
    ]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("iterations", type=int, nargs="?", default=100)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--keep", action="store_true", help="keep the temp directory")
    a = p.parse_args()
    if not os.path.exists(DUMP):
        sys.exit(f"crash-loop: no {DUMP}: set GSLB_BIN_DIR to the build dir")
    base = Path(tempfile.mkdtemp(prefix="gslb-crash-loop-"))
    ok = False
    try:
        stats = run_crash_loop(a.iterations, base, seed=a.seed, writers=a.writers)
        print("=== crash loop ===")
        print("\n".join(summary_lines(stats)))
        ok = stats["corrupted"] == 0 and stats["lost"] == 0 and stats["errors"] == 0
        print(f"crash-loop verdict: {'PASS' if ok else 'FAIL'}")
    finally:
        if a.keep or not ok:
            print(f"crash-loop: files in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
