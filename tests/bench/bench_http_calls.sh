#!/usr/bin/env bash
# HTTP tools/call throughput of `credbroker serve` at 1, 16 and 64 concurrent clients
# (tests/tools/http_load: raw HTTP/1.1 keep-alive clients, one MCP session each, calling
# connections_list for BENCH_HTTP_S seconds). With BENCH_BEFORE_BIN=<an older credbroker
# binary> the same load runs against it in the same run (A B A B) and is the peer column
# ("before"); without it the peer column is empty.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
export BUILD
LOAD="$BUILD/tools/http_load"
S=${BENCH_HTTP_S:-5}
{ [ -x "$LOAD" ] && [ -x "$BUILD/credbroker" ]; } || { echo "bench_http_calls: build first" >&2; exit 1; }
# shellcheck source=tests/lib/common.sh
source tests/lib/common.sh
new_store benchhttp >/dev/null
export CREDBROKER_POLICIES="$TMP/policies" CREDBROKER_CONFIG="$TMP/credbroker.json"
mkdir -p "$CREDBROKER_POLICIES"
echo '{}' >"$CREDBROKER_CONFIG"
echo '{"clients":{"bench":{"tools":["connections_list"],"connections":["*"]}}}' >"$CREDBROKER_POLICIES/p.json"
KEY=$("$BUILD/credbroker" -q apikey create bench --policy bench)
DB_A=$CREDBROKER_DB
if [ -n "${BENCH_BEFORE_BIN:-}" ]; then # its own store: an older binary may not open a newer schema
  DB_B="$TMP/before.db"
  CREDBROKER_DB=$DB_B "$BENCH_BEFORE_BIN" init -q
  KEY_B=$(CREDBROKER_DB=$DB_B "$BENCH_BEFORE_BIN" -q apikey create bench --policy bench)
fi

run_one() { # run_one BINARY DB KEY CLIENTS: prints the http_load JSON line
  local port pid out
  port=$(free_port)
  CREDBROKER_DB=$2 "$1" serve --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  pid=$!
  wait_port "$port" 10 || { kill "$pid" 2>/dev/null; echo '{}'; return; }
  out=$("$LOAD" "$port" "$3" "$4" "$S" connections_list '{}')
  kill "$pid"; wait "$pid" 2>/dev/null
  echo "$out"
}
for c in 1 16 64; do
  b1='{}'; b2='{}'
  a1=$(run_one "$BUILD/credbroker" "$DB_A" "$KEY" "$c")
  [ -n "${BENCH_BEFORE_BIN:-}" ] && b1=$(run_one "$BENCH_BEFORE_BIN" "$DB_B" "$KEY_B" "$c")
  a2=$(run_one "$BUILD/credbroker" "$DB_A" "$KEY" "$c")
  [ -n "${BENCH_BEFORE_BIN:-}" ] && b2=$(run_one "$BENCH_BEFORE_BIN" "$DB_B" "$KEY_B" "$c")
  python3 - "$c" "$a1" "$a2" "$b1" "$b2" <<'PY'
import json, sys
c = sys.argv[1]
a = [json.loads(x) for x in sys.argv[2:4]]
b = [json.loads(x) for x in sys.argv[4:6] if x != '{}']
def best(rs):
    rs = [r for r in rs if r.get('calls')]
    return max(rs, key=lambda r: r['calls_per_s']) if rs else None
A, B = best(a), best(b)
fa = '%.0f calls/s (p99 %.1f ms)' % (A['calls_per_s'], A['p99_ms']) if A else 'failed'
fb = '%.0f calls/s (p99 %.1f ms) (before)' % (B['calls_per_s'], B['p99_ms']) if B else ''
ratio = '%.2f' % (A['calls_per_s'] / B['calls_per_s']) if A and B else ''
print('| HTTP tools/call connections_list, %s client%s, calls/s | %s | %s | %s |' % (c, '' if c == '1' else 's', fa, fb, ratio))
PY
done
