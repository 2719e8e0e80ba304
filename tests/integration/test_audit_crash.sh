#!/usr/bin/env bash
# test-runner: exclusive (latency bounds and load: run alone, after the parallel phase)
# Issue 11: the audit is written before the answer. `credbroker serve` is killed with
# SIGKILL 10 times while 16 HTTP clients call a tool; every call that got its answer must
# have its audit row (rows >= answered calls in every round), and `audit verify` is clean
# after every crash. A call cut off by the kill may have a row without an answer: fine.
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
LOAD="$BUILD/tools/http_load"
[ -x "$LOAD" ] || skip_all "http_load not built"
command -v python3 >/dev/null || skip_all "python3 missing"
ROUNDS=${AUDIT_CRASH_ROUNDS:-10}

new_store crash
export CREDBROKER_POLICIES="$TMP/policies" CREDBROKER_CONFIG="$TMP/credbroker.json"
mkdir -p "$CREDBROKER_POLICIES"
echo '{}' >"$CREDBROKER_CONFIG"
echo '{"clients":{"loader":{"tools":["connections_list"],"connections":["*"]}}}' >"$CREDBROKER_POLICIES/p.json"
KEY=$("$CB" -q apikey create loader --policy loader)
rows() { store_sql "select count(*) from audit where action='mcp.connections_list'"; }

lost=0 answered=0 bad_rounds=0 verify_bad=0 died=0
for r in $(seq 1 "$ROUNDS"); do
  before=$(rows)
  PORT=$(free_port)
  "$CB" serve --listen "127.0.0.1:$PORT" >/dev/null 2>"$TMP/serve.$r.err" &
  SPID=$!
  wait_port "$PORT" 10 || { fail "round $r: serve started"; kill -9 "$SPID"; continue; }
  "$LOAD" "$PORT" "$KEY" 16 30 connections_list '{}' >"$TMP/load.$r" 2>&1 &
  LPID=$!
  for _ in $(seq 1 100); do [ "$(rows)" -gt "$before" ] && break; sleep 0.1; done # load is running
  sleep "$(awk -v r="$r" 'BEGIN{printf "%.2f", 0.5 + (r % 4) * 0.3}')"
  kill -0 "$SPID" 2>/dev/null || { died=$((died + 1)); diag "round $r: serve died before the kill: $(tail -5 "$TMP/serve.$r.err")"; }
  kill -9 "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
  wait "$LPID"
  calls=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['calls'])" "$TMP/load.$r" 2>/dev/null || echo 0)
  after=$(rows)
  got=$((after - before))
  miss=$((calls > got ? calls - got : 0))
  lost=$((lost + miss)); answered=$((answered + calls))
  [ "$calls" -gt 0 ] || bad_rounds=$((bad_rounds + 1))
  "$CB" audit verify >"$TMP/verify.$r" 2>&1 || verify_bad=$((verify_bad + 1))
  diag "round $r: $calls answered calls, $got audit rows, $miss lost"
done
ok "$bad_rounds" "every round had answered calls before the kill ($answered in all)"
is "$lost" 0 "0 audit rows lost for answered calls over $ROUNDS SIGKILLs"
is "$verify_bad" 0 "audit verify clean after every crash"
is "$died" 0 "serve was alive (under load) at every kill"
done_testing
