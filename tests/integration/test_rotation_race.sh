#!/usr/bin/env bash
# Two brokers rotating the same credential at once (issue #8), against a real PostgreSQL.
# Deterministic part: the test-only pause CREDBROKER_TEST_PAUSE_AT=after-read-credential
# holds the first broker between reading the stored credential and taking the journal
# row, so the race "the other broker rotates meanwhile" happens on every run (self,
# admin, alternating, --due); the resume path must leave a live owner's row alone (same
# host: pid; other host: heartbeat). Statistical part: ROTATION_RACE_PAIRS (default 100)
# pairs started at the same instant, self-rotation and admin rotation, a few pairs at a
# time on distinct credentials: every pair ends 0/0, 0/5 or 5/0 (never 1) and the stored
# credential logs in after each pair.
# shellcheck source=tests/lib/common.sh disable=SC1091
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/pg.sh disable=SC1091
source "$CB_ROOT/tests/lib/pg.sh"
# shellcheck source=tests/integration/rotation_lib.sh disable=SC1091
source "$CB_ROOT/tests/integration/rotation_lib.sh"
for b in "$RC" "$DBT" "$CB"; do [ -x "$b" ] || skip_all "build rotate_cli, db_tool and credbroker first"; done
command -v pg_config >/dev/null || skip_all "PostgreSQL not installed"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
pg_start || skip_all "cannot start PostgreSQL"
new_store store
remember "$PG_ADMIN_PW"
PAUSE=${ROTATION_RACE_PAUSE_S:-60}  # upper bound: a paused broker goes on when the test creates its go file
PAIRS=${ROTATION_RACE_PAIRS:-100}
WIDTH=4                              # pairs run at once (distinct credentials)

pw() { openssl rand -hex 10; }
# rq ARGS...: like rot without the (slow) snapshot, where a paused broker's clock is running
rq() { local out rc; out=$("$RC" --policies "$POL" "$@" 2>&1); rc=$?; printf '%s\n' "$out" >>"$ALL"; printf '%s\n' "$out"; return $rc; }
sql="" ; creds=""
conn_add pgadmin "$PG_ADMIN_URL"
# selfN: the login rotates itself; appN: rotated by the admin connection
for i in 1 2 3 4; do
  ps=$(pw); pa=$(pw)
  sql+="CREATE ROLE selfu$i LOGIN PASSWORD '$ps'; CREATE ROLE appu$i LOGIN PASSWORD '$pa';"
  conn_add "selfc$i" "$(pg_url "selfu$i" "$ps")"
  conn_add "appc$i" "$(pg_url "appu$i" "$pa")"
  creds+="\"self$i\": { \"connection\": \"selfc$i\", \"strategy\": \"single-user\" },"
  creds+="\"app$i\": { \"connection\": \"appc$i\", \"admin_connection\": \"pgadmin\" },"
done
P_OA=$(pw); P_OB=$(pw); P_BA=$(pw); P_BB=$(pw); P_ADM=$(pw); P_A5=$(pw)
# adm2: an admin login (CREATEROLE) that is itself a rotated credential
sql+="CREATE ROLE adm2 LOGIN CREATEROLE PASSWORD '$P_ADM'; CREATE ROLE appu5 LOGIN PASSWORD '$P_A5';"
sql+="CREATE ROLE orders_a LOGIN PASSWORD '$P_OA'; CREATE ROLE orders_b LOGIN PASSWORD '$P_OB';
      CREATE ROLE billing_a LOGIN PASSWORD '$P_BA'; CREATE ROLE billing_b LOGIN PASSWORD '$P_BB';"
pg_sql "$sql" >/dev/null
conn_add orders "$(pg_url orders_a "$P_OA")"
conn_add billing "$(pg_url billing_a "$P_BA")"
conn_add billing_b "$(pg_url billing_b "$P_BB")"
conn_add adm2c "$(pg_url adm2 "$P_ADM")"
conn_add appc5 "$(pg_url appu5 "$P_A5")"
POL="$TMP/pol"; mkdir -p "$POL"
cat >"$POL/10-race.json" <<J
{ "credentials": { $creds
    "orders-db": { "connection": "orders", "admin_connection": "pgadmin", "strategy": "alternating-users",
                   "users": ["orders_a", "orders_b"] },
    "billing-db": { "connection": "billing", "strategy": "alternating-users", "alternate_connection": "billing_b" },
    "sched-db": { "connection": "selfc4", "strategy": "single-user", "schedule": "0 3 * * *" },
    "app5": { "connection": "appc5", "admin_connection": "adm2c" },
    "adm2-db": { "connection": "adm2c" }
} }
J
cred_conn() { case $1 in self*) printf 'selfc%s' "${1#self}";; app*) printf 'appc%s' "${1#app}";; orders-db) printf orders;;
  billing-db) printf billing;; sched-db) printf selfc4;; esac; }

# --- deterministic: the other broker rotates while the first holds a read credential ---
# (before #8 the self-rotating first broker then logged in with a password that no longer
# existed and failed with exit 1)
paused_race() { # paused_race CRED [extra args for both brokers...]
  local cred=$1 c; c=$(cred_conn "$1"); shift
  CREDBROKER_TEST_PAUSE_AT=after-read-credential CREDBROKER_TEST_PAUSE_S=$PAUSE CREDBROKER_TEST_PAUSE_UNTIL="$TMP/go.$cred" \
    "$RC" --policies "$POL" "$@" rotate "$cred" >"$TMP/p1.out" 2>&1 &
  local p1=$!
  wait_pause "$TMP/p1.out" after-read-credential; ok $? "$cred: the first broker holds the credential it read (test pause)"
  out=$(rot "$@" rotate "$cred"); is "$?" 0 "$cred: the second broker rotates meanwhile (exit 0)"
  touch "$TMP/go.$cred"
  wait "$p1"; R1=$?
  cat "$TMP/p1.out" >>"$ALL"
  is "$R1" 5 "$cred: the first broker then exits 5, not 1"
  like "$(cat "$TMP/p1.out")" "rotated by another broker just now" "$cred: ... saying the credential was rotated by another broker"
  check "$cred: the stored credential logs in" stored_ok "$c"
  is "$(journal_rows)" 0 "$cred: nothing is left in the journal"
}
paused_race self1
paused_race app1
paused_race orders-db
check "orders: the previous login keeps working" login_ok "$(pg_url orders_a "$P_OA")"
paused_race billing-db
check "billing: the alternate connection (previous login) logs in" stored_ok billing_b

# --- the admin login is rotated (another credential) while a rotation holds its old URL --
CREDBROKER_TEST_PAUSE_AT=after-read-credential CREDBROKER_TEST_PAUSE_S=$PAUSE CREDBROKER_TEST_PAUSE_UNTIL="$TMP/go.adm" \
  "$RC" --policies "$POL" rotate app5 >"$TMP/adm.out" 2>&1 &
P1=$!
wait_pause "$TMP/adm.out" after-read-credential; ok $? "app5: the first broker holds the admin URL it read (test pause)"
out=$(rot rotate adm2-db); is "$?" 0 "the admin login adm2 rotates itself meanwhile"
touch "$TMP/go.adm"
wait "$P1"; R1=$?
cat "$TMP/adm.out" >>"$ALL"
is "$R1" 0 "app5 then rotates with the admin's new stored URL (exit 0), not a login failure"
check "app5: the stored credential logs in" stored_ok appc5
check "adm2: the stored admin credential logs in" stored_ok adm2c

# --- rotate --due racing a manual rotate: what was due is done ---------------------------
D0=2030-01-01T00:00:00Z; D1=2030-01-05T12:00:00Z
out=$(CREDBROKER_NOW=$D0 rot --json rotate --due); is "$?" 0 "rotate --due on first sight: nothing due yet"
CREDBROKER_NOW=$D1 CREDBROKER_TEST_PAUSE_AT=after-read-credential CREDBROKER_TEST_PAUSE_S=$PAUSE CREDBROKER_TEST_PAUSE_UNTIL="$TMP/go.due" \
  "$RC" --policies "$POL" --json rotate --due >"$TMP/d.out" 2>"$TMP/d.err" &
P1=$!
wait_pause "$TMP/d.err" after-read-credential; ok $? "rotate --due holds the due credential it read (test pause)"
out=$(CREDBROKER_NOW=$D1 rot rotate sched-db); is "$?" 0 "a manual rotate of the same credential meanwhile exits 0"
touch "$TMP/go.due"
wait "$P1"; R1=$?
cat "$TMP/d.out" "$TMP/d.err" >>"$ALL"
is "$R1" 0 "rotate --due then treats it as done (exit 0)"
like "$(cat "$TMP/d.out")" '"outcome":"rotated-elsewhere"' "... reported as rotated elsewhere"
check "sched-db: the stored credential logs in" stored_ok selfc4

# --- the first broker holds the journal row: the second exits 5 at once, never 1 ---------
CREDBROKER_TEST_PAUSE_AT=after-create CREDBROKER_TEST_PAUSE_S=$PAUSE CREDBROKER_TEST_PAUSE_UNTIL="$TMP/go.hold" "$RC" --policies "$POL" rotate self2 >"$TMP/h.out" 2>&1 &
P1=$!
wait_pause "$TMP/h.out" after-create; ok $? "self2: the first broker paused after journaling (row and database lock held)"
out=$(rq rotate self2); is "$?" 5 "self2: a second rotate exits 5"
like "$out" "already in progress \(pid $P1 on " "... naming the live owner"
out=$(rq rotate --resume self2); is "$?" 5 "rotate --resume does not take a live broker's row as interrupted (exit 5)"
out=$(rq tick); rc=$?
is "$rc" 0 "the scheduler tick leaves the live row alone (exit 0)"
like "$out" '"report":\[\]' "... and reports nothing resumed"
touch "$TMP/go.hold"
wait "$P1"; is "$?" 0 "the first broker finishes its rotation"
cat "$TMP/h.out" >>"$ALL"
check "self2: the stored credential logs in" stored_ok selfc2

# --- a row owned by another host: live while its heartbeat is fresh ---------------------
CREDBROKER_TEST_PAUSE_AT=after-create CREDBROKER_TEST_PAUSE_S=30 "$RC" --policies "$POL" rotate self3 >"$TMP/k.out" 2>&1 &
P1=$!
wait_pause "$TMP/k.out" after-create; ok $? "self3: paused after journaling"
kill -9 "$P1" 2>/dev/null; wait "$P1" 2>/dev/null; cat "$TMP/k.out" >>"$ALL"
# the database lock dies with the session; wait until the server has noticed
for _ in $(seq 50); do [ "$(pg_sql "SELECT count(*) FROM pg_locks WHERE locktype='advisory'")" = 0 ] && break; sleep 0.1; done
store_sql "UPDATE rotation_journal SET owner_host='other-host.example', owner_pid=4242, updated_at=strftime('%s','now') WHERE credential='self3'"
out=$(rot rotate --resume self3); is "$?" 5 "a row of another host with a fresh heartbeat is in progress: exit 5"
like "$out" "in progress \(pid 4242 on other-host.example\)" "... naming it"
store_sql "UPDATE rotation_journal SET updated_at=strftime('%s','now')-3600 WHERE credential='self3'"
out=$(rot rotate --resume self3); is "$?" 0 "the same row with a stale heartbeat is resumed (exit 0)"
like "$out" "resumed from step set" "... from its step (publish done: set)"
check "self3: the stored credential logs in" stored_ok selfc3
is "$(journal_rows)" 0 "the journal is empty"

# --- truly simultaneous pairs ----------------------------------------------------------
# One rotation's duration spreads the second start over the whole rotation (half the
# pairs start at the same instant, half with that offset).
t0=$(date +%s%N); "$RC" --policies "$POL" rotate self1 >>"$ALL" 2>&1; t1=$(date +%s%N)
span=$(( (t1 - t0) / 1000000 + 1 ))
diag "one self-rotation takes ${span} ms"
declare -A seen=()
bad=0; lost=0; n=0
slot_cred() { case $1 in 0) printf self1;; 1) printf app1;; 2) printf self2;; *) printf app2;; esac; }
pair() { # pair INDEX CRED: two brokers on CRED; writes "R1 R2 LOGIN" to $TMP/rINDEX.rc
  local i=$1 cred=$2 d=0 a b ra rb
  ((i % 2)) && d=$(( (i * 37) % span ))
  "$RC" --policies "$POL" rotate "$cred" >"$TMP/r$i.a" 2>&1 & a=$!
  [ "$d" -gt 0 ] && sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
  "$RC" --policies "$POL" rotate "$cred" >"$TMP/r$i.b" 2>&1 & b=$!
  wait "$a"; ra=$?; wait "$b"; rb=$?
  # checked here, so the pairs of a batch check in parallel too
  if stored_ok "$(cred_conn "$cred")"; then login=ok; else login=lost; fi
  printf '%s %s %s\n' "$ra" "$rb" "$login" >"$TMP/r$i.rc"
}
t0=$(date +%s)
for ((i = 0; i < PAIRS; i += WIDTH)); do
  for ((k = 0; k < WIDTH && i + k < PAIRS; k++)); do pair $((i + k)) "$(slot_cred "$k")" & done
  wait
  for ((k = 0; k < WIDTH && i + k < PAIRS; k++)); do
    j=$((i + k)); n=$((n + 1)); cred=$(slot_cred "$k")
    read -r ra rb login <"$TMP/r$j.rc"
    cat "$TMP/r$j.a" "$TMP/r$j.b" >>"$ALL"
    key="$ra/$rb"; seen[$key]=$(( ${seen[$key]:-0} + 1 ))
    case $key in 0/0|0/5|5/0) ;; *) bad=$((bad + 1)); diag "pair $j ($cred): exits $ra/$rb"; diag "$(cat "$TMP/r$j.a" "$TMP/r$j.b")";; esac
    [ "$login" = ok ] || { lost=$((lost + 1)); diag "pair $j ($cred): the stored credential does not log in"; }
  done
done
t1=$(date +%s)
summary=""; for k in "${!seen[@]}"; do summary+=" $k:${seen[$k]}"; done
diag "$n pairs in $((t1 - t0)) s, exits (first/second: pairs):$summary"
is "$n" "$PAIRS" "$PAIRS simultaneous pairs ran (self and admin rotation)"
is "$bad" 0 "every pair ended 0/0, 0/5 or 5/0, never 1"
is "$lost" 0 "after every pair the stored credential logs in"
is "$(journal_rows)" 0 "no rotation is left in the journal"
is "$(store_sql "SELECT count(*) FROM secrets WHERE ns='pending'")" 0 "no pending password is left in the store"

# --- serve: its scheduler tick and an MCP call rotate in threads of ONE process ---------
# (the journal's owner pid is the same for both: the engine keeps an in-process set)
P_S=$(pw); pg_sql "CREATE ROLE srvu LOGIN PASSWORD '$P_S'" >/dev/null
conn_add srvc "$(pg_url srvu "$P_S")"
SPOL="$TMP/spol"; mkdir -p "$SPOL"
cat >"$SPOL/10-serve.json" <<'J'
{ "credentials": { "srv-db": { "connection": "srvc", "admin_connection": "pgadmin", "schedule": "* * * * *" } },
  "clients": { "ops": { "tools": ["*"], "admin": true, "connections": ["*"], "mode": "read-only" } } }
J
store_sql "INSERT INTO schedule_state(credential, schedule, first_seen) VALUES('srv-db', '* * * * *', strftime('%s','now') - 600)"
port=$(free_port); KEY=$(openssl rand -hex 24)
CREDBROKER_POLICIES="$SPOL" CREDBROKER_API_KEY=$KEY CREDBROKER_API_KEY_POLICY=ops CREDBROKER_SCHEDULER_INTERVAL_S=1 \
  CREDBROKER_TEST_PAUSE_AT=after-create CREDBROKER_TEST_PAUSE_S=$PAUSE CREDBROKER_TEST_PAUSE_UNTIL="$TMP/go.serve" \
  "$CB" serve --listen "127.0.0.1:$port" >"$TMP/serve.out" 2>"$TMP/serve.err" &
SPID=$!
on_exit "kill -9 $SPID"
wait_pause "$TMP/serve.err" after-create; ok $? "serve's scheduler tick is rotating srv-db (test pause after journaling)"
URL="http://127.0.0.1:$port/mcp"
H=(-H 'Accept: application/json, text/event-stream' -H 'Content-Type: application/json' -H "Authorization: Bearer $KEY")
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"0"}}}'
curl -s -D "$TMP/h" -o "$TMP/b" -X POST "$URL" "${H[@]}" -d "$INIT"
SID=$(tr -d '\r' <"$TMP/h" | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')
curl -s -o "$TMP/b" -X POST "$URL" "${H[@]}" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25' \
  -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"credentials_rotate","arguments":{"credential":"srv-db"}}}'
body=$(cat "$TMP/b"); printf '%s\n' "$body" >>"$ALL"
like "$body" '"isError":true' "credentials_rotate over MCP while the tick rotates the same credential: refused"
like "$body" "already in progress \(in this process\)" "... as in progress in this process"
is "$(store_sql "SELECT owner_pid FROM rotation_journal WHERE credential='srv-db'")" "$SPID" "... and the tick still owns its journal row"
touch "$TMP/go.serve"
for _ in $(seq 100); do [ "$(journal_rows)" = 0 ] && break; sleep 0.2; done
is "$(journal_rows)" 0 "the tick's rotation finished"
kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
cat "$TMP/serve.out" "$TMP/serve.err" >>"$ALL"
check "srv-db: the stored credential logs in" stored_ok srvc
is "$(store_sql "SELECT count(*) FROM audit WHERE action='rotate' AND target='srv-db' AND outcome='ok'")" 1 "one rotation of srv-db, by the tick"

# --- leak check ----------------------------------------------------------------------------
for c in selfc1 selfc2 selfc3 selfc4 appc1 appc2 appc3 appc4 appc5 adm2c orders billing billing_b srvc; do remember "$(url_part "$(stored_url "$c")" password)"; done
hit=0
for f in "$ALL" $(store_files "$CREDBROKER_DB"); do
  if grep -aqF -f "$PWLIST" "$f"; then hit=1; diag "password found in $f"; fi
done
is "$hit" 0 "no password in any broker output or the store file"
is "$(grep -cE 'Sanitizer|runtime error' "$ALL")" 0 "no sanitizer report in any broker output"
done_testing
