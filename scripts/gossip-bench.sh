#!/usr/bin/env bash
# gossip-bench.sh - gossip ingestion benchmark (docs/gossip-protocol.md, "Benchmark").
#
# Starts one gslb-overwatch on loopback (CPU 0). dnsperf and gslb-gossip-load run
# on CPU 1 (the machine has 2 cores), so the baseline runs the same generator
# against a UDP sink: the QPS drop is then what ingesting the gossip costs the
# overwatch, not the generator's share of the client CPU. Rounds alternate
# (baseline, loaded) and medians are compared. Then the generator runs alone with
# FLIPS health flips, timing each change until DNS answers with it. Prints:
# messages ingested per second, the DNS QPS drop, the change-to-answer p50/p99.
#
# Usage: scripts/gossip-bench.sh [BUILD_DIR]
# Environment: AGENTS (100), BACKENDS (10), RATE (20000), SECONDS_PER_RUN (10),
#              FLIPS (100), DNSPERF_CLIENTS (4), ROUNDS (3). Targets: >= 20000 msg/s ingested,
#              QPS drop < 10 %, change-to-answer p99 < 150 ms.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
AGENTS=${AGENTS:-100}
BACKENDS=${BACKENDS:-10}
RATE=${RATE:-20000}
SECS=${SECONDS_PER_RUN:-10}
FLIPS=${FLIPS:-100}
CLIENTS=${DNSPERF_CLIENTS:-4}
ROUNDS=${ROUNDS:-3}
overwatch=$build/server/gslb-overwatch
load=$build/tests/gslb-gossip-load
for bin in "$overwatch" "$load"; do
  [ -x "$bin" ] || { echo "gossip-bench: $bin not built" >&2; exit 1; }
done
command -v dnsperf >/dev/null || { echo "gossip-bench: dnsperf is not installed" >&2; exit 1; }

work=$(mktemp -d /tmp/gossip-bench.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port() { echo $((20000 + RANDOM % 30000)); }
dns_port=$(port); gossip_port=$(port); metrics_port=$(port)
key=$(head -c 32 /dev/urandom | base64)
cat >"$work/overwatch.yaml" <<EOF
mode: overwatch
overwatch:
  identity: {node_id: bench}
  agent_tokens: {bench: bench-token, flip: flip-token}
  gossip: {bind_address: "127.0.0.1:$gossip_port", encryption_key: "$key", source_rate: 0}
  dnssec: {enabled: false}
  stale: {threshold: 30s, remove_after: 5m}
  data_dir: "$work/data"
storage: {map_size: 1GiB}
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
  - {name: flip.gslb.example.com, regions: [us-east]}
  - {name: bench.gslb.example.com, regions: [us-east], max_records: 8}
EOF
printf 'static.gslb.example.com A\nflip.gslb.example.com A\n' >"$work/queries.txt"

# overwatch on CPU 0, load generators on CPU 1 (the machine has 2 cores)
taskset -c 0 "$overwatch" --config "$work/overwatch.yaml" 2>"$work/overwatch.log" &
pid=$!
for _ in $(seq 50); do
  dig +short -p "$dns_port" @127.0.0.1 static.gslb.example.com A 2>/dev/null | grep -q 10.9 && break
  sleep 0.1
done

qps() { sed -n 's/.*Queries per second: *\([0-9.]*\).*/\1/p' "$1"; }
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
thread_ticks() {  # CPU ticks used by all overwatch threads so far
  cat /proc/"$pid"/task/*/stat | awk '{s += $14 + $15} END {print s}'
}

# A UDP sink: the generator's baseline target (same client work, nobody ingesting).
python3 -c 'import socket,time,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0))
print(s.getsockname()[1], flush=True); time.sleep(86400)' >"$work/sink.port" &
sink_pid=$!
trap 'kill $sink_pid 2>/dev/null; cleanup' EXIT
for _ in $(seq 50); do [ -s "$work/sink.port" ] && break; sleep 0.1; done
sink=$(cat "$work/sink.port")

gen() {  # gen TARGET_PORT [extra args]: the load generator on CPU 1
  local target=$1; shift
  taskset -c 1 "$load" --target "127.0.0.1:$target" --key "$key" --token-name bench \
    --token bench-token --service bench --agents "$AGENTS" --backends "$BACKENDS" \
    --rate "$RATE" --duration "$SECS" "$@"
}
perf_round() {  # perf_round NAME TARGET_PORT: dnsperf while the generator sends to TARGET
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$dns_port" -d "$work/queries.txt" -c "$CLIENTS" \
    -l "$SECS" >"$work/dnsperf-$1.txt" 2>&1 &
  local perf=$!
  gen "$2" >"$work/gen-$1.txt"
  wait "$perf"
  qps "$work/dnsperf-$1.txt"
}

echo "== $ROUNDS rounds of $SECS s, alternating: dnsperf + generator -> sink (baseline) and"
echo "   dnsperf + generator -> overwatch ($AGENTS agents x $BACKENDS backends at $RATE msg/s)"
: >"$work/base.txt"; : >"$work/load.txt"
ticks0=$(thread_ticks)
for r in $(seq "$ROUNDS"); do
  perf_round "base$r" "$sink" >>"$work/base.txt"
  perf_round "load$r" "$gossip_port" >>"$work/load.txt"
  echo "round $r: QPS baseline $(sed -n "${r}p" "$work/base.txt"), under gossip $(sed -n "${r}p" "$work/load.txt")"
done
ticks1=$(thread_ticks)
base=$(median <"$work/base.txt"); under=$(median <"$work/load.txt")
echo "generator (last round): $(grep '^sent:' "$work/gen-load$ROUNDS.txt")"

echo "== ingestion rate and change-to-answer (generator + $FLIPS flips, no dnsperf)"
cmd=(gen "$gossip_port" --flip-dns "127.0.0.1:$dns_port" --flip-name flip.gslb.example.com
     --flip-token-name flip --flip-token flip-token --flips "$FLIPS"
     --metrics "http://127.0.0.1:$metrics_port/metrics")
echo "+ gslb-gossip-load --agents $AGENTS --backends $BACKENDS --rate $RATE --duration $SECS --flips $FLIPS ..."
"${cmd[@]}"
echo "DNS QPS (median of $ROUNDS): baseline $base, under gossip load $under"
awk -v a="$base" -v b="$under" 'BEGIN { if (a > 0) printf "DNS QPS drop: %.1f%%\n", (a - b) * 100 / a }'
hz=$(getconf CLK_TCK)
echo "overwatch CPU during the dnsperf rounds: $(( (ticks1 - ticks0) * 1000 / hz )) ms (all threads)"
grep -E "level=(error|warn)" "$work/overwatch.log" | grep -v "ns_addresses\|in-zone" | head -5 || true
