#!/usr/bin/env bash
# bench.sh - DNS throughput of gslb-overwatch against Knot DNS and NSD (a benchmark,
# not a test). Serves the same names from all three, 2 workers each, on 127.0.0.1,
# and runs dnsperf against each in the same run.
#
#   scripts/bench.sh [BUILD_DIR]        (default: build-bench, built RelWithDebInfo if missing)
#
# Modes:
#   10-backends    100 domains x 10 backends, every answer = the 10 A records.
#   1000-backends  100 domains x 1000 backends, ours capped by max_records: 10 (same answer
#                  size); Knot and NSD have no per-query selection, so they serve the same
#                  10 records per name as in the first mode.
#   do             the 10-backends data queried with the DO bit (dnsperf -D): ours signs
#                  online (ECDSAP256SHA256, per-worker signature cache) against Knot with
#                  mod-onlinesign (signs every answer); NSD has no online signing and is
#                  left out of this mode.
# Per server and mode: QPS (dnsperf, BENCH_SECONDS), QPS per server core (queries answered /
# server CPU seconds from /proc/<pid>/stat utime+stime of the server and its children),
# average and p99 latency (a second, shorter dnsperf -v run: per-query latencies), RSS
# (sum of VmRSS of the server's processes), and the ratios ours/Knot and ours/NSD.
# Environment: BENCH_SECONDS (10), BENCH_LAT_SECONDS (3), BENCH_CLIENTS (16: source ports, so
# SO_REUSEPORT spreads the load evenly over the 2 workers of every server),
# BENCH_OUTSTANDING (100), BENCH_MODES ("10 1000 do").
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${1:-build-bench}
SECONDS_RUN=${BENCH_SECONDS:-10}
LAT_SECONDS=${BENCH_LAT_SECONDS:-3}
CLIENTS=${BENCH_CLIENTS:-16}
OUTSTANDING=${BENCH_OUTSTANDING:-100}
MODES=${BENCH_MODES:-"10 1000 do"}
PY=/usr/bin/python3
HZ=$(getconf CLK_TCK)

for tool in dnsperf knotd nsd dig; do
    command -v "$tool" >/dev/null || { echo "bench.sh: $tool is missing (scripts/setup.sh)"; exit 1; }
done
if [ ! -x "$BUILD/server/gslb-overwatch" ]; then
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGSLB_BUILD_TESTS=OFF >/dev/null
    cmake --build "$BUILD" -j"$(nproc)" --target gslb-overwatch >/dev/null
fi
OW=$(realpath "$BUILD/server/gslb-overwatch")

TMP=$(mktemp -d /tmp/gslb-bench.XXXXXX)
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && stop_server
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
    "$PY" -c 'import socket
for _ in range(100):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
    p = u.getsockname()[1]; t = socket.socket()
    try:
        t.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        u.close(); t.close()'
}

# ---- data: configs, zone files, query file --------------------------------------------
generate() { # generate MODE_DIR BACKENDS PORT ONLINESIGN(0|1)
    "$PY" - "$1" "$2" "$3" "$4" <<'EOF'
import os, sys
d, backends, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
onlinesign = sys.argv[4] == "1"
zone, ndom, served = "bench.example", 100, 10
os.makedirs(d, exist_ok=True)
def addr(dom, i):
    n = dom * 1000 + i + 1
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
names = [f"d{i:03d}" for i in range(ndom)]
with open(f"{d}/queries.txt", "w") as f:
    for n in names:
        f.write(f"{n}.{zone} A\n")
# ours
y = ["mode: overwatch", "overwatch:", "  identity:", "    node_id: bench",
     f"  data_dir: {d}/ours-data", "dns:", f'  listen_address: "127.0.0.1:{port}"',
     "  workers: 2", "  default_ttl: 30", "  zones:", f"    - name: {zone}",
     f"      ns: [ns1.{zone}]", "      ns_addresses:", f"        ns1.{zone}: [192.0.2.53]",
     "api:", "  enabled: false", "metrics:", "  enabled: false", "logging:", "  level: warn",
     "regions:"]
# one region per domain, servers without `service` (they serve every domain of the region)
for di, n in enumerate(names):
    y += [f"  - name: r{di:03d}", "    servers:"]
    y += [f"    - {{address: {addr(di, i)}}}" for i in range(backends)]
y.append("domains:")
for di, n in enumerate(names):
    y += [f"  - name: {n}.{zone}", "    routing_algorithm: round-robin",
          f"    regions: [r{di:03d}]", f"    max_records: {served}"]
open(f"{d}/ours.yaml", "w").write("\n".join(y) + "\n")
# the zone file served by Knot and NSD: the same names, `served` records each
z = [f"$ORIGIN {zone}.", "$TTL 30", "@ SOA ns1 hostmaster 1 3600 600 86400 60", "@ NS ns1",
     "ns1 A 192.0.2.53"]
for di, n in enumerate(names):
    for i in range(served):
        z.append(f"{n} A {addr(di, i)}")
os.makedirs(f"{d}/knot/db", exist_ok=True)  # the KASP database of mod-onlinesign
os.makedirs(f"{d}/nsd", exist_ok=True)
for sub in ("knot", "nsd"):
    open(f"{d}/{sub}/{zone}.zone", "w").write("\n".join(z) + "\n")
open(f"{d}/knot.conf", "w").write(f"""server:
    rundir: "{d}/knot"
    pidfile: "{d}/knot/knotd-bench.pid"
    listen: 127.0.0.1@{port}
    udp-workers: 2
    tcp-workers: 1
    background-workers: 1
control:
    listen: "{d}/knot/knot.sock"
database:
    storage: "{d}/knot/db"
log:
  - target: stderr
    any: warning
zone:
  - domain: {zone}
    storage: "{d}/knot"
    file: "{zone}.zone"
""" + ("    module: mod-onlinesign\n" if onlinesign else ""))
open(f"{d}/nsd.conf", "w").write(f"""server:
    ip-address: 127.0.0.1@{port}
    server-count: 2
    reuseport: yes
    username: ""
    chroot: ""
    zonesdir: "{d}/nsd"
    database: ""
    zonelistfile: "{d}/nsd/zone.list"
    xfrdfile: "{d}/nsd/xfrd.state"
    xfrdir: "{d}/nsd"
    pidfile: "{d}/nsd/nsd-bench.pid"
    logfile: "{d}/nsd/nsd.log"
    verbosity: 0
    rrl-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: {zone}
    zonefile: "{zone}.zone"
""")
EOF
}

# ---- processes ---------------------------------------------------------------------------
start_server() { # start_server KIND DIR
    local kind=$1 dir=$2
    case $kind in
    ours) "$OW" --config "$dir/ours.yaml" >"$dir/ours.log" 2>&1 & ;;
    knot) knotd -c "$dir/knot.conf" >"$dir/knot.log" 2>&1 & ;;
    nsd) nsd -d -c "$dir/nsd.conf" >"$dir/nsd.out" 2>&1 & ;;
    esac
    SERVER_PID=$!
    local i
    for i in $(seq 1 300); do
        if dig @127.0.0.1 -p "$PORT" +short +time=1 +tries=1 d000.bench.example A 2>/dev/null |
            grep -q '^10\.'; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench.sh: $kind did not start; log:" >&2
    cat "$dir/$kind.log" "$dir/$kind.out" "$dir/nsd/nsd.log" >&2 2>/dev/null || true
    exit 1
}

stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# The server process and its descendants (NSD forks its workers).
tree_pids() {
    "$PY" - "$1" <<'EOF'
import os, sys
root = int(sys.argv[1]); kids = {}
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            ppid = int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(p))
out, todo = [], [root]
while todo:
    p = todo.pop(); out.append(p); todo += kids.get(p, [])
print(" ".join(map(str, out)))
EOF
}

cpu_ticks() { # utime + stime of the server tree
    local total=0 p t
    for p in $(tree_pids "$SERVER_PID"); do
        t=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)
        total=$((total + t))
    done
    echo "$total"
}

rss_kb() {
    local total=0 p r
    for p in $(tree_pids "$SERVER_PID"); do
        r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
        total=$((total + ${r:-0}))
    done
    echo "$total"
}

RESULTS="$TMP/results.txt"
: >"$RESULTS"

measure() { # measure MODE KIND DIR
    local mode=$1 kind=$2 dir=$3
    local -a dflag=()
    [ "$mode" = do ] && dflag=(-D)
    start_server "$kind" "$dir"
    dnsperf -s 127.0.0.1 -p "$PORT" -d "$dir/queries.txt" -l 1 -c "$CLIENTS" -q "$OUTSTANDING" \
        "${dflag[@]}" >/dev/null 2>&1 || true # warm-up
    local t0 c0 t1 c1 out
    t0=$(date +%s.%N)
    c0=$(cpu_ticks)
    out=$(dnsperf -s 127.0.0.1 -p "$PORT" -d "$dir/queries.txt" -l "$SECONDS_RUN" \
        -c "$CLIENTS" -q "$OUTSTANDING" "${dflag[@]}" 2>&1)
    c1=$(cpu_ticks)
    t1=$(date +%s.%N)
    local rss
    rss=$(rss_kb)
    local completed qps lost
    completed=$(echo "$out" | awk '/Queries completed:/ { print $3 }')
    lost=$(echo "$out" | awk '/Queries lost:/ { print $3 }')
    qps=$(echo "$out" | awk '/Queries per second:/ { print $4 }')
    # latency: per-query times from a verbose run
    dnsperf -s 127.0.0.1 -p "$PORT" -d "$dir/queries.txt" -l "$LAT_SECONDS" -c "$CLIENTS" \
        -q "$OUTSTANDING" "${dflag[@]}" -v 2>/dev/null | awk '$1 == ">" { print $NF }' | sort -g >"$TMP/lat"
    local lat
    lat=$(awk '{ a[NR] = $1; s += $1 } END {
            if (NR == 0) { print "nan nan"; exit }
            i = int(NR * 0.99); if (i < 1) i = 1
            printf "%.3f %.3f", s / NR * 1000, a[i] * 1000 }' "$TMP/lat")
    stop_server
    echo "$mode $kind $qps $completed $lost $((c1 - c0)) $t0 $t1 $rss $lat" >>"$RESULTS"
}

PORT=$(free_port)
echo "bench.sh: gslb-overwatch ($OW), knotd $(knotd --version | awk '{print $NF}'), nsd" \
    "$(nsd -v 2>&1 | awk 'NR==1 {print $3}'), dnsperf -c $CLIENTS -q $OUTSTANDING -l $SECONDS_RUN," \
    "$(nproc) CPUs, port $PORT"
for mode in $MODES; do
    dir="$TMP/m$mode"
    kinds="ours knot nsd"
    if [ "$mode" = do ]; then
        generate "$dir" 10 "$PORT" 1
        kinds="ours knot"
    else
        generate "$dir" "$mode" "$PORT" 0
    fi
    for kind in $kinds; do
        measure "$mode" "$kind" "$dir"
    done
done

"$PY" - "$RESULTS" "$HZ" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
hz = float(sys.argv[2])
names = {"ours": "gslb-overwatch", "knot": "knotd", "nsd": "nsd"}
table, per_core = [], {}
for mode, kind, qps, done, lost, ticks, t0, t1, rss, lat_avg, lat_p99 in rows:
    wall = float(t1) - float(t0)
    cpu = int(ticks) / hz
    cores = cpu / wall if wall > 0 else 0
    qpc = int(done) / cpu if cpu > 0 else 0
    per_core[(mode, kind)] = qpc
    label = "do-10-backends" if mode == "do" else f"{mode}-backends"
    table.append((label, names[kind], float(qps), cores, qpc, lat_avg, lat_p99,
                  int(rss) / 1024, int(lost)))
hdr = ("mode", "server", "QPS", "cores", "QPS/core", "avg ms", "p99 ms", "RSS MiB", "lost")
print(f"{hdr[0]:<15}{hdr[1]:<16}{hdr[2]:>10}{hdr[3]:>7}{hdr[4]:>11}{hdr[5]:>8}{hdr[6]:>8}"
      f"{hdr[7]:>9}{hdr[8]:>7}")
for m, s, q, c, qc, la, lp, r, lost in table:
    print(f"{m:<15}{s:<16}{q:>10.0f}{c:>7.2f}{qc:>11.0f}{la:>8}{lp:>8}{r:>9.1f}{lost:>7}")
print()
for mode in dict.fromkeys(r[0] for r in rows):
    ours = per_core.get((mode, "ours"), 0)
    k, n = per_core.get((mode, "knot"), 0), per_core.get((mode, "nsd"), 0)
    best = max(k, n)
    if mode == "do":
        print(f"do-10-backends (DNSSEC online signing): QPS/core ours/knot = "
              f"{ours / k if k else 0:.2f}")
        continue
    print(f"{mode}-backends: QPS/core ours/knot = {ours / k if k else 0:.2f}, "
          f"ours/nsd = {ours / n if n else 0:.2f}, ours/best = {ours / best if best else 0:.2f} "
          f"(target >= 1.2)")
EOF
