#!/usr/bin/env bash
# gossip-flood-bench.sh - what a garbage flood on the gossip port costs DNS
# (docs/gossip-protocol.md, "Rate limits").
#
# Starts one gslb-overwatch on loopback (CPU 0, default gossip settings: the
# per-source rate limit on). dnsperf and a UDP flooder (one source address,
# datagrams with a valid header and random bytes, i.e. decrypt_failed unless
# rate-limited) run on CPU 1. Rounds alternate: the flooder aims at a UDP sink
# (baseline: same client work, nobody receiving) or at the gossip port. Every run
# is bounded by SECONDS_PER_RUN. Prints the QPS per round, the CPU the overwatch
# used in each round (all threads, % of one core), the medians, the drop, and the
# overwatch's gossip counters. On a shared machine the QPS is noisy; the overwatch's
# CPU under flood minus baseline is what receiving the flood costs it.
#
# Usage: scripts/gossip-flood-bench.sh [BUILD_DIR]
# Environment: SECONDS_PER_RUN (10), ROUNDS (3), DNSPERF_CLIENTS (4).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
SECS=${SECONDS_PER_RUN:-10}
ROUNDS=${ROUNDS:-3}
CLIENTS=${DNSPERF_CLIENTS:-4}
overwatch=$build/server/gslb-overwatch
[ -x "$overwatch" ] || { echo "gossip-flood-bench: $overwatch not built" >&2; exit 1; }
command -v dnsperf >/dev/null || { echo "gossip-flood-bench: dnsperf is not installed" >&2; exit 1; }

work=$(mktemp -d /tmp/gossip-flood.XXXXXX)
pid=""
sink_pid=""
cleanup() {
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port() { echo $((20000 + RANDOM % 30000)); }
dns_port=$(port); gossip_port=$(port); metrics_port=$(port)
key=$(head -c 32 /dev/urandom | base64)
cat >"$work/overwatch.yaml" <<EOF
mode: overwatch
overwatch:
  identity: {node_id: flood}
  agent_tokens: {webapp: webapp-token}
  gossip: {bind_address: "127.0.0.1:$gossip_port", encryption_key: "$key"}
  dnssec: {enabled: false}
  data_dir: "$work/data"
storage: {map_size: 64MiB}
dns:
  listen_address: "127.0.0.1:$dns_port"
  workers: 1
  zones: [gslb.example.com]
api: {enabled: false}
metrics: {address: "127.0.0.1:$metrics_port"}
logging: {level: warn}
regions:
  - name: us-east
    servers:
      - {address: 10.9.0.1, service: static}
      - {address: 10.9.0.2, service: static}
domains:
  - {name: static.gslb.example.com, regions: [us-east]}
EOF
printf 'static.gslb.example.com A\n' >"$work/queries.txt"

taskset -c 0 "$overwatch" --config "$work/overwatch.yaml" 2>"$work/overwatch.log" &
pid=$!
for _ in $(seq 50); do
  dig +short -p "$dns_port" @127.0.0.1 static.gslb.example.com A 2>/dev/null | grep -q 10.9 && break
  sleep 0.1
done

# A UDP sink: the flooder's baseline target.
python3 -c 'import socket,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0))
print(s.getsockname()[1], flush=True); time.sleep(3600)' >"$work/sink.port" &
sink_pid=$!
for _ in $(seq 50); do [ -s "$work/sink.port" ] && break; sleep 0.1; done
sink=$(cat "$work/sink.port")

flood() {  # flood PORT SECONDS: garbage datagrams from 127.0.0.1 as fast as one core allows
  taskset -c 1 python3 -c 'import os,socket,sys,time
port,secs=int(sys.argv[1]),float(sys.argv[2])
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
msgs=[b"OG\x01\x00"+os.urandom(200) for _ in range(64)]
end=time.monotonic()+secs; n=0
while time.monotonic()<end:
    for m in msgs:
        try: s.sendto(m,("127.0.0.1",port))
        except OSError: pass
    n+=len(msgs)
print(f"flooder sent {n} datagrams in {secs:.0f} s ({n/secs:.0f}/s)")' "$1" "$2"
}
ticks() { cat /proc/"$pid"/task/*/stat | awk '{s += $14 + $15} END {print s}'; }
hz=$(getconf CLK_TCK)
qps() { sed -n 's/.*Queries per second: *\([0-9.]*\).*/\1/p' "$1"; }
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
round() {  # round NAME TARGET_PORT
  local t0
  t0=$(ticks)
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$dns_port" -d "$work/queries.txt" -c "$CLIENTS" \
    -l "$SECS" >"$work/dnsperf-$1.txt" 2>&1 &
  local perf=$!
  flood "$2" "$SECS" >"$work/flood-$1.txt"
  wait "$perf"
  echo "$(( ($(ticks) - t0) * 100 / hz / SECS ))" >"$work/cpu-$1.txt"
  qps "$work/dnsperf-$1.txt"
}

echo "== $ROUNDS rounds of $SECS s: dnsperf + flooder -> sink (baseline), then -> gossip port"
: >"$work/base.txt"; : >"$work/flood.txt"
for r in $(seq "$ROUNDS"); do
  round "base$r" "$sink" >>"$work/base.txt"
  round "flood$r" "$gossip_port" >>"$work/flood.txt"
  echo "round $r: QPS baseline $(sed -n "${r}p" "$work/base.txt") (overwatch CPU $(cat "$work/cpu-base$r.txt") %)," \
       "under flood $(sed -n "${r}p" "$work/flood.txt") (overwatch CPU $(cat "$work/cpu-flood$r.txt") %);" \
       "$(cat "$work/flood-flood$r.txt")"
done
base=$(median <"$work/base.txt"); under=$(median <"$work/flood.txt")
echo "median QPS: baseline $base, under flood $under"
awk -v b="$base" -v u="$under" 'BEGIN {printf "DNS QPS drop under flood: %.1f %%\n", (b - u) * 100 / b}'
curl -s "http://127.0.0.1:$metrics_port/metrics" | grep '^opengslb_gossip_messages_total' |
  grep -v ' 0$' || true
