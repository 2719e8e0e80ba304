#!/usr/bin/env bash
# MCP query_readonly("SELECT 1") through the official SDK client: credbroker over stdio
# (`mcp`) and Streamable HTTP (`serve`, API key), next to @modelcontextprotocol/server-postgres
# 0.6.2 running its `query` tool on the same throwaway database in the same run (it takes the
# database URL as an argument: acceptable for this peer on a throwaway test database only).
# Throughput and p50/p99 latency of N sequential tools/call, and the servers' VmRSS/VmHWM.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
export BUILD
N=${MCP_BENCH_N:-1000}
CLI="$BUILD/tools/mcp_cli"
{ [ -x "$CLI" ] && [ -x "$BUILD/credbroker" ]; } || { echo "bench_mcp: build first" >&2; exit 1; }
PEER=tests/interop/node_modules/@modelcontextprotocol/server-postgres/dist/index.js
[ -f "$PEER" ] || { echo "bench_mcp: server-postgres not installed in tests/interop" >&2; exit 1; }
# shellcheck source=tests/lib/common.sh
source tests/lib/common.sh
# shellcheck source=tests/lib/pg.sh
source tests/lib/pg.sh
pg_start >/dev/null || { echo "bench_mcp: cannot start PostgreSQL" >&2; exit 1; }
new_store bench >/dev/null
export CREDBROKER_POLICIES="$TMP/policies" CREDBROKER_CONFIG="$TMP/credbroker.json"
mkdir -p "$CREDBROKER_POLICIES"
echo '{}' >"$CREDBROKER_CONFIG"
echo '{"clients":{"local":{"tools":["*"],"connections":["*"]},"bench":{"tools":["query_readonly"],"connections":["db"]}}}' \
  >"$CREDBROKER_POLICIES/p.json"
DBURL="postgresql://postgres:$PG_ADMIN_PW@127.0.0.1:$PGPORT/postgres?sslmode=disable"
printf '%s\n' "$DBURL" | "$BUILD/credbroker" -q conn add db
KEY=$("$CLI" -q apikey create bench --policy bench)
ARGS='{"connection":"db","sql":"SELECT 1"}'
run() { (cd tests/interop && node mcp_bench.mjs "$@"); }
ours_stdio=$(run stdio "$N" query_readonly "$ARGS" "$CB_ROOT/$CLI" mcp) || { echo "bench_mcp: stdio run failed" >&2; exit 1; }
PORT=$(free_port)
"$CLI" -q serve --listen "127.0.0.1:$PORT" 2>/dev/null &
SPID=$!
on_exit "kill $SPID"
wait_port "$PORT" 10 || { echo "bench_mcp: serve did not start" >&2; exit 1; }
ours_http=$(MCP_KEY=$KEY run http "$N" query_readonly "$ARGS" "http://127.0.0.1:$PORT/mcp" "$SPID") || { echo "bench_mcp: http run failed" >&2; exit 1; }
peer=$(run stdio "$N" query '{"sql":"SELECT 1"}' node "$CB_ROOT/$PEER" "$DBURL") || { echo "bench_mcp: peer run failed" >&2; exit 1; }
python3 - "$N" "$ours_stdio" "$ours_http" "$peer" <<'PY'
import json, sys
n = sys.argv[1]
s, h, p = (json.loads(x) for x in sys.argv[2:5])
peer = "@modelcontextprotocol/server-postgres 0.6.2, stdio"
def row(what, a, b, unit, fmt, higher_better):
    ratio = (a / b) if higher_better else (b / a)
    print(f"| {what} | {fmt.format(a)} {unit} | {fmt.format(b)} {unit} ({peer}) | {ratio:.2f}x {'faster' if ratio >= 1 else 'slower'} |")
for name, o in (("stdio", s), ("HTTP", h)):
    row(f"MCP query_readonly SELECT 1 x{n}, {name}: throughput", o["calls_per_s"], p["calls_per_s"], "calls/s", "{:.0f}", True)
    row(f"MCP query_readonly SELECT 1, {name}: p50 latency", o["p50_ms"], p["p50_ms"], "ms", "{:.3f}", False)
    row(f"MCP query_readonly SELECT 1, {name}: p99 latency", o["p99_ms"], p["p99_ms"], "ms", "{:.3f}", False)
for name, o in (("stdio", s), ("HTTP", h)):
    r = p["rss_kb"] / o["rss_kb"]
    print(f"| MCP server resident memory ({name}): VmRSS / VmHWM | {o['rss_kb']/1024:.1f} / {o['hwm_kb']/1024:.1f} MiB | "
          f"{p['rss_kb']/1024:.1f} / {p['hwm_kb']/1024:.1f} MiB ({peer}) | {r:.1f}x less |")
PY
