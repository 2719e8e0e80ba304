#!/usr/bin/env bash
# The store on PostgreSQL next to the store on SQLite, in the same run (issue 15): one
# store is made on SQLite and copied with `store migrate --to postgresql://...` into a
# schema of a throwaway PostgreSQL cluster, so both hold the same connection and API key.
# Against each: HTTP tools/call query_readonly("SELECT 1") at 1 and 16 clients
# (tests/tools/http_load, BENCH_STORE_S seconds; each call also writes its audit row to the
# store), connections_list at 16 clients (API key, policy and audit: the store's share
# without a target database), and `credbroker conn url` from the CLI (open, unlock, read a
# sealed row, append and commit an audit entry; a process per call). Runs A B A B, the
# better of two. The credbroker column is the PostgreSQL store, the peer the SQLite store;
# ratio = PostgreSQL / SQLite.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
export BUILD
LOAD="$BUILD/tools/http_load"
S=${BENCH_STORE_S:-5}
N_CLI=${BENCH_STORE_CLI_N:-100}
{ [ -x "$LOAD" ] && [ -x "$BUILD/credbroker" ]; } || { echo "bench_store_backends: build first" >&2; exit 1; }
# shellcheck source=tests/lib/common.sh
source tests/lib/common.sh
# shellcheck source=tests/lib/pg.sh
source tests/lib/pg.sh
pg_start >/dev/null || { echo "bench_store_backends: cannot start PostgreSQL" >&2; exit 1; }
new_store benchstore >/dev/null
LITE=$CREDBROKER_DB
export CREDBROKER_POLICIES="$TMP/policies" CREDBROKER_CONFIG="$TMP/credbroker.json"
mkdir -p "$CREDBROKER_POLICIES"
echo '{}' >"$CREDBROKER_CONFIG"
echo '{"clients":{"local":{"tools":["*"],"connections":["*"]},"bench":{"tools":["query_readonly","connections_list"],"connections":["db"]}}}' \
  >"$CREDBROKER_POLICIES/p.json"
printf 'postgresql://postgres:%s@127.0.0.1:%s/postgres?sslmode=disable\n' "$PG_ADMIN_PW" "$PGPORT" | "$CB" -q conn add db
KEY=$("$CB" -q apikey create bench --policy bench)
# the PostgreSQL store: a copy of the SQLite one, in its own schema (password from PGPASSWORD)
export PGPASSWORD=$PG_ADMIN_PW CREDBROKER_DB_SCHEMA=cb_bench
PGS="postgresql://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable"
pg_sql "CREATE SCHEMA cb_bench" >/dev/null
# without the PostgreSQL backend in this build the SQLite side is still measured
NOPG=""
if ! out=$("$CB" store migrate --to "$PGS" 2>&1); then
  NOPG=$(printf '%s' "$out" | tail -1 | sed 's/^credbroker: //; s/^.*: //')
  PGS=""
fi

serve_load() { # serve_load DB CLIENTS TOOL ARGS: the http_load JSON line
  local port pid out
  [ -n "$1" ] || { echo '{}'; return; }
  port=$(free_port)
  CREDBROKER_DB=$1 "$CB" serve --listen "127.0.0.1:$port" >/dev/null 2>"$TMP/serve.err" &
  pid=$!
  wait_port "$port" 15 || { kill "$pid" 2>/dev/null; echo '{}'; return; }
  out=$("$LOAD" "$port" "$KEY" "$2" "$S" "$3" "$4")
  kill "$pid"; wait "$pid" 2>/dev/null
  echo "$out"
}
cli_rate() { # cli_rate DB: conn url calls per second (a process per call)
  local t0 t1 i
  [ -n "$1" ] || { echo '{}'; return; }
  t0=$(date +%s.%N)
  for ((i = 0; i < N_CLI; i++)); do CREDBROKER_DB=$1 "$CB" -q conn url db >/dev/null || { echo 0; return; }; done
  t1=$(date +%s.%N)
  python3 -c "import sys; print('{\"calls_per_s\": %.1f}' % ($N_CLI / (float(sys.argv[2]) - float(sys.argv[1]))))" "$t0" "$t1"
}
row() { # row TITLE PG1 PG2 LITE1 LITE2 [latency]
  NOPG=$NOPG python3 - "$@" <<'PY'
import json, os, sys
title, p1, p2, l1, l2 = sys.argv[1:6]
lat = len(sys.argv) > 6
nopg = os.environ.get("NOPG")
def best(*xs):
    rs = [json.loads(x) for x in xs]
    rs = [r for r in rs if r.get("calls_per_s")]
    return max(rs, key=lambda r: r["calls_per_s"]) if rs else None
P, L = best(p1, p2), best(l1, l2)
def fmt(r, what):
    if not r and nopg and what.startswith("PostgreSQL"): return "n/a (" + nopg + ")"
    if not r: return "failed"
    s = "%.0f calls/s" % r["calls_per_s"]
    if lat: s += " (p99 %.1f ms)" % r["p99_ms"]
    return s + " (" + what + ")"
ratio = "%.2f" % (P["calls_per_s"] / L["calls_per_s"]) if P and L else ""
print("| %s | %s | %s | %s |" % (title, fmt(P, "PostgreSQL store"), fmt(L, "SQLite store"), ratio))
PY
}
Q='{"connection":"db","sql":"SELECT 1"}'
for c in 1 16; do
  l1=$(serve_load "$LITE" "$c" query_readonly "$Q"); p1=$(serve_load "$PGS" "$c" query_readonly "$Q")
  l2=$(serve_load "$LITE" "$c" query_readonly "$Q"); p2=$(serve_load "$PGS" "$c" query_readonly "$Q")
  row "store backend: HTTP query_readonly SELECT 1, $c client$([ "$c" = 1 ] || echo s)" "$p1" "$p2" "$l1" "$l2" lat
done
l1=$(serve_load "$LITE" 16 connections_list '{}'); p1=$(serve_load "$PGS" 16 connections_list '{}')
l2=$(serve_load "$LITE" 16 connections_list '{}'); p2=$(serve_load "$PGS" 16 connections_list '{}')
row "store backend: HTTP connections_list (API key + policy + audit), 16 clients" "$p1" "$p2" "$l1" "$l2" lat
l1=$(cli_rate "$LITE"); p1=$(cli_rate "$PGS"); l2=$(cli_rate "$LITE"); p2=$(cli_rate "$PGS")
row "store backend: CLI conn url (open, unlock, unseal, audit), sequential processes" "$p1" "$p2" "$l1" "$l2"
