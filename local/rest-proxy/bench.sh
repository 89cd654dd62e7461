#!/usr/bin/env bash
# Proxy throughput vs redis-benchmark, one run: token-bucket EVALSHA (lua/token_bucket.lua) on the same
# private Redis at the same concurrency. Usage: local/rest-proxy/bench.sh [concurrency=50] [seconds=10] [batch=1]
# batch > 1 posts that many EVALSHAs per request to /pipeline (decisions/s = requests/s x batch).
set -euo pipefail
cd "$(dirname "$0")/../.."
C=${1:-50}
SECS=${2:-10}
BATCH=${3:-1}
REDIS_PORT=${REDIS_PORT:-6510}
PROXY_PORT=${PROXY_PORT:-8610}
TOKEN=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --logfile "" >/dev/null &
pids+=($!)
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.1; done
# Stock Redis 7.0 refuses the script's `#!lua flags=…` line (the proxy strips it, lua/shebang.ts): load it without.
SHA=$(redis-cli -p "$REDIS_PORT" script load "$(sed '1{/^#!lua/d}' lua/token_bucket.lua)")
ARGS=(1 bucket:bench 1 1000000000 1000000 1000)

node --import tsx local/rest-proxy/cli.ts --port "$PROXY_PORT" --redis "redis://127.0.0.1:$REDIS_PORT" --token "$TOKEN" &
pids+=($!)
until curl -sf "http://127.0.0.1:$PROXY_PORT/healthz" >/dev/null; do sleep 0.1; done

N=$((C * 3000))
echo "== redis-benchmark -c $C -n $N evalsha <sha> ${ARGS[*]}"
redis-benchmark -p "$REDIS_PORT" -c "$C" -n "$N" evalsha "$SHA" "${ARGS[@]}" | grep -A3 "throughput summary"

echo "== warm-up, then wrk -t1 -c $C -d ${SECS}s through the proxy (batch $BATCH)"
export TOKEN SHA BATCH
wrk -t1 -c "$C" -d 2s -s local/rest-proxy/wrk-evalsha.lua "http://127.0.0.1:$PROXY_PORT" >/dev/null
wrk -t1 -c "$C" -d "${SECS}s" --latency -s local/rest-proxy/wrk-evalsha.lua "http://127.0.0.1:$PROXY_PORT" |
  grep -E "Latency|50%|75%|90%|99%|Requests/sec|Non-2xx|Socket errors"
echo
