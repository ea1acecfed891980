#!/usr/bin/env bash
# restart-bench.sh - queries lost across a restart of gslb-overwatch, measured with dnsperf at a
# steady rate (a benchmark, not a test; the system test is tests/system/test_restart.py).
#
#   scripts/restart-bench.sh [BUILD_DIR]      (default: build; gslb-overwatch must be built)
#
# Three runs, each: one overwatch on 127.0.0.1 (2 DNS workers, a fresh store), dnsperf
# -Q RATE -l SECONDS against it, and after LEAD seconds:
#   takeover   `gslb-overwatch --takeover` of the same configuration beside the running one
#              (binary upgrade): SO_REUSEPORT, SIGUSR2, the old one drains and exits.
#   socket     socket activation emulated as systemd does it: this script binds the UDP and TCP
#              sockets, passes them as fds 3 and 4 (LISTEN_FDS=2, LISTEN_PID = the child), and
#              restarts the overwatch (SIGTERM, wait for the exit, start again on the same fds):
#              queries sent while no process runs wait in the socket's queue.
#   plain      SIGTERM, wait for the exit, start again binding its own sockets (what a
#              `systemctl restart` without the socket unit does).
# For each it prints dnsperf's "Queries sent/completed/lost" lines, the time from the signal to
# the old process's exit, and the gap in which no process served.
# Environment: BENCH_RATE (2000 q/s), BENCH_SECONDS (10), BENCH_LEAD (4 s before the restart),
# BENCH_MODES ("takeover socket plain").
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${1:-build}
export OVERWATCH="$BUILD/server/gslb-overwatch"
[ -x "$OVERWATCH" ] || { echo "no $OVERWATCH (build first)" >&2; exit 1; }
command -v dnsperf >/dev/null || { echo "dnsperf is not installed" >&2; exit 1; }
export BENCH_RATE=${BENCH_RATE:-2000} BENCH_SECONDS=${BENCH_SECONDS:-10}
export BENCH_LEAD=${BENCH_LEAD:-4} BENCH_MODES=${BENCH_MODES:-"takeover socket plain"}
WORK=$(mktemp -d /tmp/restart-bench.XXXXXX)
export WORK
trap '[ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"' EXIT

/usr/bin/python3 - <<'PY'
import os, signal, socket, subprocess, sys, time

OW, WORK = os.path.abspath(os.environ["OVERWATCH"]), os.environ["WORK"]
RATE, SECS, LEAD = (int(os.environ[k]) for k in ("BENCH_RATE", "BENCH_SECONDS", "BENCH_LEAD"))
ZONE = "gslb.example.com"


def free_port():
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(type=socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            pass


def write_config(d, port):
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "overwatch.yaml")
    with open(path, "w") as f:
        f.write(f"""mode: overwatch
overwatch:
  identity: {{node_id: bench, region: r1}}
  dnssec: {{enabled: false}}
  data_dir: {d}/data
storage: {{map_size: 64MiB}}
dns:
  listen_address: "127.0.0.1:{port}"
  workers: 2
  zones: [{{name: {ZONE}, ns: [ns1.{ZONE}], ns_addresses: {{ns1.{ZONE}: [127.0.0.1]}}}}]
api: {{enabled: false}}
metrics: {{enabled: false}}
logging: {{level: info}}
regions:
  - name: r1
    servers: [{{address: 127.0.0.10, port: 80, service: webapp}}]
domains:
  - {{name: webapp.{ZONE}, routing_algorithm: round-robin, regions: [r1]}}
""")
    return path


# Socket activation as systemd does it: the listening sockets become fds 3, 4, ... of the
# overwatch, LISTEN_FDS counts them and LISTEN_PID is the overwatch's own pid.
ACTIVATE = """import os, sys
n = int(sys.argv[1]); fds = [int(x) for x in sys.argv[2:2 + n]]
high = [os.dup2(fd, 100 + i) for i, fd in enumerate(fds)]
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i)
for fd in set(fds + high) - set(range(3, 3 + n)):
    os.close(fd)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS=str(n))
os.execv(sys.argv[2 + n], sys.argv[2 + n:])
"""


def spawn(cfg, log, extra=(), fds=()):
    argv = [OW, "--config", cfg, *extra]
    if fds:
        argv = [sys.executable, "-c", ACTIVATE, str(len(fds)), *map(str, fds), *argv]
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, pass_fds=fds)


def answers(port):
    q = bytes.fromhex("abcd01000001000000000000") + b"".join(
        bytes([len(p)]) + p.encode() for p in ("webapp." + ZONE).split(".")) + b"\0\0\1\0\1"
    with socket.socket(type=socket.SOCK_DGRAM) as s:
        s.settimeout(0.02)
        try:
            s.sendto(q, ("127.0.0.1", port))
            return s.recv(512)[:2] == q[:2]
        except OSError:
            return False


def wait_for(pred, timeout=15):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.005)
    raise SystemExit("timed out")


def activation_sockets(port):
    """The UDP and TCP sockets systemd would bind for the socket unit."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", port))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("127.0.0.1", port))
    t.listen(128)
    return [u, t]


def run(mode):
    d = os.path.join(WORK, mode)
    port = free_port()
    cfg = write_config(d, port)
    with open(os.path.join(d, "queries.txt"), "w") as f:
        f.write(f"webapp.{ZONE} A\n")
    log = open(os.path.join(d, "overwatch.log"), "ab")
    socks = activation_sockets(port) if mode == "socket" else []
    fds = tuple(x.fileno() for x in socks)
    old = spawn(cfg, log, fds=fds)
    wait_for(lambda: answers(port))
    perf = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d",
                             os.path.join(d, "queries.txt"), "-Q", str(RATE), "-l", str(SECS)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(LEAD)
    t0 = time.monotonic()
    if mode == "takeover":
        new = spawn(cfg, log, extra=["--takeover"])
        old.wait(timeout=30)
        t_exit = time.monotonic()
        gap = 0.0  # both serve until the old one has drained
    else:
        old.send_signal(signal.SIGTERM)
        old.wait(timeout=30)
        t_exit = time.monotonic()
        new = spawn(cfg, log, fds=fds)
        wait_for(lambda: answers(port))
        gap = time.monotonic() - t_exit
    out, _ = perf.communicate(timeout=SECS + 30)
    new.send_signal(signal.SIGTERM)
    new.wait(timeout=30)
    for x in socks:
        x.close()
    print(f"== {mode}: old process exited {1000 * (t_exit - t0):.0f} ms after the "
          f"{'takeover start' if mode == 'takeover' else 'SIGTERM'}; "
          f"no process serving for {1000 * gap:.0f} ms")
    for line in out.splitlines():
        if line.strip().startswith(("Queries sent", "Queries completed", "Queries lost")):
            print("  " + line.strip())
    if mode == "takeover":
        with open(os.path.join(d, "overwatch.log")) as f:
            for line in f:
                if "dns: handed over" in line:
                    print("  " + line.split(" ", 2)[2].strip())


for m in os.environ["BENCH_MODES"].split():
    run(m)
PY
