#!/usr/bin/env bash
# demo.sh - the README's "run" command: install what is needed, build, and run the main job:
# gslb-overwatch with its embedded demo configuration on loopback (DNS on 127.0.0.1:$PORT,
# gossip PORT+1, API PORT+2, metrics PORT+3), a demo HTTP backend, and a gslb-agentd that
# health-checks that backend and gossips its health to the overwatch.
# Runs in the foreground until Ctrl-C / SIGTERM, then stops everything it started.
#   PORT=15353 DATA_DIR=run/demo/data scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-15353}
RUN_DIR=${RUN_DIR:-$PWD/run/demo}
DATA_DIR=${DATA_DIR:-$RUN_DIR/data}
BACKEND_PORT=${BACKEND_PORT:-18081}

scripts/setup.sh --demo
BUILD_TYPE=Release scripts/build.sh build -DGSLB_BUILD_TESTS=OFF -DGSLB_WERROR=OFF
mkdir -p "$RUN_DIR" "$DATA_DIR"

pids=()
cleanup() {
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# A demo backend: a static HTTP server on loopback, health-checked by the agent.
mkdir -p "$RUN_DIR/www" && echo ok >"$RUN_DIR/www/health"
python3 -m http.server "$BACKEND_PORT" --bind 127.0.0.1 --directory "$RUN_DIR/www" \
    >"$RUN_DIR/backend.log" 2>&1 &
pids+=($!)

build/server/gslb-overwatch --demo --data-dir "$DATA_DIR" --port "$PORT" &
pids+=($!)
for _ in $(seq 100); do
    dig +short +time=1 +tries=1 @127.0.0.1 -p "$PORT" gslb.example.com SOA >/dev/null 2>&1 && break
    sleep 0.1
done

# The demo agent: same (public, demo-only) gossip key and token as the embedded config.
cat >"$RUN_DIR/agent.yaml" <<YAML
agent:
  identity:
    agent_id: demo-agent-1
    region: us-east
    token_name: webapp
    service_token: demo-webapp-token
  backends:
    - service: webapp
      address: 127.0.0.1
      port: $BACKEND_PORT
      weight: 100
      health_check:
        type: http
        path: /health
        interval: 2s
        timeout: 1s
  gossip:
    encryption_key: "$(printf %s opengslb-demo-only-gossip-key-32 | base64 -w0)"
    overwatch_nodes:
      - 127.0.0.1:$((PORT + 1))
YAML
build/agentd/gslb-agentd --config "$RUN_DIR/agent.yaml" &
pids+=($!)

cat <<MSG

OpenGSLB demo is running (Ctrl-C stops it). Query it:

    dig @127.0.0.1 -p $PORT webapp.gslb.example.com A

API:      curl http://127.0.0.1:$((PORT + 2))/api/v1/overwatch/backends
Metrics:  curl http://127.0.0.1:$((PORT + 3))/metrics
Store:    build/storage/dump/gslb-dump --data-dir $DATA_DIR
The agent reports 127.0.0.1:$BACKEND_PORT (webapp) healthy while the demo backend runs.

MSG
wait "${pids[1]}"
