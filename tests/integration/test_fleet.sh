#!/usr/bin/env bash
# test-runner: long (five one-minute schedule periods of wall-clock waiting)
# test-store: own (the fleet picks its store itself: SQLite here, PostgreSQL through test_fleet_pg.sh)
# Several brokers on one store (issue 15): three `credbroker serve` processes share a store
# and a real PostgreSQL target. Exactly one leads the scheduler; a key made with the CLI
# works on all three and, revoked, is refused by all three within 1 s; a policy reload and
# a master-key re-encryption reach all three within 1 s; a lease made through one broker
# is revoked through another and its pooled session goes; an every-minute rotation runs
# exactly once per minute over five minutes, across a kill -9 of the leader (another takes
# over within two ticks, no minute is missed); MCP calls spread over the three write one
# audit chain that `audit verify` accepts.
# The store is a SQLite file; with FLEET_STORE=postgresql (test_fleet_pg.sh) it is a schema
# in the same throwaway PostgreSQL, owned by a login with no superuser.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/pg.sh
. "$CB_ROOT/tests/lib/pg.sh"
# shellcheck source=tests/integration/rotation_lib.sh
. "$CB_ROOT/tests/integration/rotation_lib.sh"
[ -x "$CB" ] || skip_all "credbroker not built"
pg_start || skip_all "PostgreSQL not available"
TICK=2
if [ "${FLEET_STORE:-sqlite}" = postgresql ]; then
  PGPASSWORD=$(openssl rand -hex 12); export PGPASSWORD
  pg_sql "CREATE ROLE broker LOGIN PASSWORD '$PGPASSWORD'" >/dev/null
  pg_sql "CREATE DATABASE brokerdb OWNER broker" >/dev/null
  export CREDBROKER_DB="postgresql://broker@127.0.0.1:$PGPORT/brokerdb?sslmode=disable&connect_timeout=5"
  export CREDBROKER_DB_SCHEMA=fleet PGSSLMODE=disable
  CREDBROKER_MASTER_KEY=$(openssl rand -hex 32); export CREDBROKER_MASTER_KEY
  "$CB" init -q || fail "init of the PostgreSQL store"
else
  new_store fleet >/dev/null
fi
diag "store: $CREDBROKER_DB"
OLD_KEY=$CREDBROKER_MASTER_KEY
POL="$TMP/policies"; mkdir -p "$POL"
export CREDBROKER_POLICIES="$POL" CREDBROKER_CONFIG="$TMP/credbroker.json"
echo '{}' >"$CREDBROKER_CONFIG"
ADM_PW=$(openssl rand -hex 12)
pg_sql "CREATE ROLE svc LOGIN PASSWORD 'svc-initial-pw-1'; CREATE ROLE app LOGIN PASSWORD 'app-initial-pw-2';
        CREATE ROLE reader LOGIN PASSWORD 'reader-initial-pw-3';
        CREATE ROLE lease_admin LOGIN CREATEROLE PASSWORD '$ADM_PW'; CREATE ROLE mcp_readers NOLOGIN;
        GRANT mcp_readers TO lease_admin WITH ADMIN OPTION; GRANT pg_signal_backend TO lease_admin" >/dev/null
conn_add pgadmin "$(pg_url postgres "$PG_ADMIN_PW")"
conn_add svc "$(pg_url svc svc-initial-pw-1)"
conn_add app "$(pg_url app app-initial-pw-2)"
conn_add appdirect "$(pg_url reader reader-initial-pw-3)"
conn_add leaseadmin "$(pg_url lease_admin "$ADM_PW")"
cat >"$POL/10-fleet.json" <<JSON
{ "credentials": {
    "svc": { "connection": "svc", "admin_connection": "pgadmin", "schedule": "* * * * *" },
    "app-cred": { "connection": "app", "admin_connection": "pgadmin" } },
  "connections": {
    "app": { "query_identity": { "admin_connection": "leaseadmin", "member_of": ["mcp_readers"], "ttl_s": 3600 } } },
  "clients": {
    "analyst": { "tools": ["connections_list", "query_readonly"], "connections": ["app", "appdirect"], "mode": "read-only" },
    "ops": { "tools": ["credentials_emergency_rotate"], "admin": true, "connections": ["*"] } } }
JSON
expect_exit 0 "the fleet policy is valid" "$CB" policy check

# store_sql SQL: a query on the store (the SQLite file; psql for a PostgreSQL store)
store_sql() {
  case $CREDBROKER_DB in
    postgres*://*) psql -X -q -A -t "$CREDBROKER_DB" -c "SET search_path TO ${CREDBROKER_DB_SCHEMA:-credbroker}; $1";;
    *) sqlite3 "$CREDBROKER_DB" "$1";;
  esac
}
call() { python3 "$CB_ROOT/tests/lib/mcp_http_call.py" "$@" 2>>"$TMP/calls.err"; } # PORT TOKEN TOOL ARGS
refused() { [[ "$1" == *'"http_status": 401'* ]]; }
health() { curl -s -m 5 "http://127.0.0.1:$1/healthz"; }
leads() { health "$1" | python3 -c 'import json,sys; print(str(json.load(sys.stdin).get("scheduler_leader")).lower())' 2>/dev/null; }
metric() { curl -s -m 5 "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }
now_ms() { date +%s%3N; }
# log_ms: the time of the log line on stdin ("credbroker: 2026-...T...Z level: ...") in ms
log_ms() {
  python3 -c 'import sys,datetime; l=sys.stdin.read().split(); print(int(datetime.datetime.strptime(l[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()*1000))' 2>/dev/null
}

# The brokers read the master key from a file, as a reference: a re-encryption later
# changes that file, and each broker reads its new data key from there.
printf '%s' "$OLD_KEY" >"$TMP/master.key"; chmod 600 "$TMP/master.key"
PORTS=(); PIDS=()
start_broker() { # start_broker INDEX
  local p; p=$(free_port)
  env -u CREDBROKER_MASTER_KEY CREDBROKER_MASTER_KEY_REF="file://$TMP/master.key" CREDBROKER_SCHEDULER_INTERVAL_S=$TICK \
    "$CB" serve --listen "127.0.0.1:$p" >"$TMP/serve$1.log" 2>&1 &
  PIDS[$1]=$!; PORTS[$1]=$p
  on_exit "kill -9 ${PIDS[$1]} 2>/dev/null"
}
for i in 0 1 2; do start_broker $i; done
for i in 0 1 2; do wait_port "${PORTS[$i]}" 15 || fail "broker $i is not listening"; done
T0=$(date +%s)
sleep $((TICK + 1))

# ---- one leader
leader_count() { local n=0 i; for i in "$@"; do [ "$(leads "${PORTS[$i]}")" = true ] && n=$((n+1)); done; echo $n; }
is "$(leader_count 0 1 2)" 1 "exactly one of the three brokers says it leads the scheduler (/healthz)"
LEAD=-1; for i in 0 1 2; do [ "$(leads "${PORTS[$i]}")" = true ] && LEAD=$i; done
is "$(metric "${PORTS[$LEAD]}" credbroker_scheduler_leader)" 1 "the leader's /metrics: credbroker_scheduler_leader 1"
F1=$(( (LEAD + 1) % 3 )); F2=$(( (LEAD + 2) % 3 ))
is "$(metric "${PORTS[$F1]}" credbroker_scheduler_leader)" 0 "a follower's /metrics: credbroker_scheduler_leader 0"
like "$(curl -s "http://127.0.0.1:${PORTS[$LEAD]}/metrics")" "credbroker_broker_info\{broker=\"[^\"]+:${PIDS[$LEAD]}\"\} 1" \
  "/metrics names the broker (host:pid)"
is "$(cat "$TMP"/serve*.log | grep -c 'scheduler leadership gained')" 1 "one 'leadership gained' line in the three logs"
like "$(cat "$TMP/serve$LEAD.log")" "scheduler leadership gained by [^ ]+:${PIDS[$LEAD]}" "the line names the leader (host:pid)"

# ---- API keys: created with the CLI, used everywhere, revoked everywhere within 1 s
K1=$("$CB" -q apikey create fleet-k1 --policy analyst)
for i in 0 1 2; do
  like "$(call "${PORTS[$i]}" "$K1" connections_list '{}')" '"result"' "a key made with the CLI works on broker $i"
done
# watch WHAT TOKEN: runs the rest of the line, then the three brokers at once (fleet_watch.py);
# one assertion per broker: the effect within 1 s of the command's end
watch() {
  local what=$1 token=$2 out line; shift 2
  out=$(python3 "$CB_ROOT/tests/integration/fleet_watch.py" "$what" "$token" connections_list '{}' \
        "${PORTS[0]},${PORTS[1]},${PORTS[2]}" -- "$@")
  ok $? "the command ran: $*"
  for i in 0 1 2; do
    line=$(echo "$out" | awk -v p="${PORTS[$i]}" '$1 == p { print $2 }')
    ok "$([ "${line:--1}" -ge 0 ] && [ "$line" -le 1000 ]; echo $?)" "broker $i: $what within 1 s (${line:-?} ms)"
  done
}
watch refused "$K1" "$CB" -q apikey revoke fleet-k1
for i in 0 1 2; do
  refused "$(call "${PORTS[$i]}" "$K1" connections_list '{}')"; ok $? "broker $i still refuses the revoked key"
done

# ---- MCP calls spread over the three: one audit chain
K2=$("$CB" -q apikey create fleet-k2 --policy analyst)
before=$(store_sql "SELECT count(*) FROM audit")
bad=0
for n in $(seq 30); do
  r=$(call "${PORTS[$((n % 3))]}" "$K2" connections_list '{}')
  [[ "$r" == *'"result"'* ]] || bad=$((bad+1))
done
is "$bad" 0 "30 calls spread over the three brokers all answered"
sleep 1
after=$(store_sql "SELECT count(*) FROM audit")
ok "$([ $((after - before)) -ge 30 ]; echo $?)" "every call has its audit row ($((after - before)) new rows)"
expect_exit 0 "audit verify accepts the one chain the three brokers wrote" "$CB" audit verify

# ---- policy reload through the store
# the files change first (configuration management), the brokers keep what they loaded
python3 - "$POL/10-fleet.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["clients"]["late"] = {"tools": ["connections_list"], "connections": ["appdirect"], "mode": "read-only"}
json.dump(p, open(sys.argv[1], "w"))
PY
K3=$("$CB" -q apikey create fleet-k3 --policy late)
for i in 0 1 2; do
  unlike "$(call "${PORTS[$i]}" "$K3" connections_list '{}')" '"result":\{"content"' \
    "broker $i does not know the new client before the reload"
done
watch accepted "$K3" "$CB" policy reload
is "$(store_sql "SELECT count(*) FROM audit WHERE action = 'serve.reload' AND outcome = 'ok'")" 3 "each broker audited its reload"

# ---- leases: made through one broker, revoked through another, its pooled session gone
OPS=$("$CB" -q apikey create fleet-ops --policy ops)
r=$(call "${PORTS[$F1]}" "$K2" query_readonly '{"connection":"app","sql":"SELECT current_user"}')
like "$r" 'cb_analyst_[0-9a-f]{8}' "a query through broker $F1 runs as a leased login"
LOGIN=$(pg_sql "SELECT rolname FROM pg_roles WHERE rolname LIKE 'cb\\_%'")
is "$(metric "${PORTS[$F1]}" 'credbroker_pool_sessions{state="idle"}')" 1 "broker $F1 pools the leased session"
r=$(call "${PORTS[$F2]}" "$OPS" credentials_emergency_rotate '{"credential":"app-cred","incident":"INC-15","reason":"fleet test"}')
t=$(now_ms)
like "$r" '"leases_revoked":1,"ok":true' "an emergency rotation through broker $F2 revokes the connection's lease"
is "$(pg_sql "SELECT count(*) FROM pg_roles WHERE rolname = '$LOGIN'")" 0 "the leased login made through broker $F1 is dropped"
until [ "$(metric "${PORTS[$F1]}" 'credbroker_pool_sessions{state="idle"}')" = 0 ]; do
  [ $(( $(now_ms) - t )) -gt 5000 ] && break
  sleep 0.02
done
is "$(metric "${PORTS[$F1]}" 'credbroker_pool_sessions{state="idle"}')" 0 "broker $F1 no longer pools the revoked lease's session"
# when: broker F1's own log line (ms; a scrape of /metrics is too slow a clock on a loaded
# machine) against the end of the call that committed the revocation
closed=$(grep -h "lease login $LOGIN revoked elsewhere" "$TMP/serve$F1.log" | tail -1 | log_ms)
ok "$([ -n "$closed" ] && [ $(( closed - t )) -le 1000 ]; echo $?)" \
  "broker $F1 closed it within 1 s of the revocation ($(( ${closed:-0} - t )) ms after the call's answer; the commit was before)"
r=$(call "${PORTS[$F1]}" "$K2" query_readonly '{"connection":"app","sql":"SELECT current_user"}')
like "$r" 'cb_analyst_[0-9a-f]{8}' "the next query through broker $F1 gets a new lease"
unlike "$r" "$LOGIN" "not the revoked login"

# ---- master key: re-encryption by the CLI, each broker reads the new data key
NEW_KEY=$(openssl rand -hex 32)
printf '%s' "$NEW_KEY" >"$TMP/master.key.new"; chmod 600 "$TMP/master.key.new"; mv "$TMP/master.key.new" "$TMP/master.key"
t=$(now_ms)
CREDBROKER_NEW_MASTER_KEY=$NEW_KEY "$CB" -q key rotate --reencrypt >/dev/null 2>>"$TMP/calls.err"
ok $? "key rotate --reencrypt (a new data key) while three brokers serve"
export CREDBROKER_MASTER_KEY=$NEW_KEY
sleep 1.2 # past the pool's 1 s re-check: the next call unseals the stored URL again
for i in 0 1 2; do
  like "$(call "${PORTS[$i]}" "$K2" query_readonly '{"connection":"appdirect","sql":"SELECT 41 + 1"}')" '\[\[42\]\]' \
    "broker $i unseals with the new data key"
  like "$(health "${PORTS[$i]}")" '"key":\{"ok":true\}' "broker $i /healthz: key ok"
done
ok "$(grep -q 'data key reloaded' "$TMP/serve0.log"; echo $?)" "the broker logged the data key reload"

# ---- the leader dies: another takes over within two ticks
# kill at about 30 s into a minute (no rotation is running then) after two boundaries
kill_at=$(( (T0 / 60 + 2) * 60 + 30 ))
now=$(date +%s)
if [ "$now" -ge "$kill_at" ]; then
  sec=$(( now % 60 ))
  if [ "$sec" -ge 20 ] && [ "$sec" -le 40 ]; then kill_at=$now; else kill_at=$(( (now + 30) / 60 * 60 + 30 )); fi
fi
while [ "$(date +%s)" -lt "$kill_at" ]; do sleep 1; done
KILLED_AT=$(date +%s)
t=$(now_ms)
kill -9 "${PIDS[$LEAD]}"; wait "${PIDS[$LEAD]}" 2>/dev/null
NEW=-1
while [ "$NEW" -lt 0 ] && [ $(( $(now_ms) - t )) -le $((2 * TICK * 1000 + 2000)) ]; do
  for i in $F1 $F2; do [ "$(leads "${PORTS[$i]}")" = true ] && NEW=$i; done
  sleep 0.1
done
el=$(( $(now_ms) - t ))
ok "$([ "$NEW" -ge 0 ]; echo $?)" "after kill -9 of the leader, broker $NEW says it leads (/healthz, seen after $el ms)"
# when: the new leader's log line (ms) against the kill
gained=$(grep -h "scheduler leadership gained by [^ ]*:${PIDS[$NEW]:-0}" "$TMP/serve$NEW.log" | tail -1 | log_ms)
took=$(( ${gained:-0} - t ))
ok "$([ -n "$gained" ] && [ "$took" -le $((2 * TICK * 1000)) ]; echo $?)" \
  "it took over $took ms after the kill (within two ticks: $((2 * TICK)) s)"
is "$(leader_count "$F1" "$F2")" 1 "exactly one of the two survivors leads"
like "$(cat "$TMP/serve$NEW.log")" "scheduler leadership gained by [^ ]+:${PIDS[$NEW]}" "the new leader logged it"

# ---- every minute rotated exactly once, before and after the takeover
# from the first boundary after the first tick saw the schedule; five minutes that
# include the one of the takeover
FIRST=$(( (T0 + TICK + 2) / 60 + 1 )); LAST=$(( FIRST + 4 ))
[ "$LAST" -le $(( KILLED_AT / 60 )) ] && LAST=$(( KILLED_AT / 60 + 1 ))
while [ "$(date +%s)" -lt $(( (LAST + 1) * 60 + 15 )) ]; do sleep 2; done
counts=$(store_sql "SELECT ts / 60, count(*) FROM audit WHERE target = 'svc' AND action LIKE 'rotate%' GROUP BY ts / 60")
diag "rotations of svc per minute: $(echo "$counts" | tr '\n' ' ')"
for m in $(seq $FIRST $LAST); do
  n=$(echo "$counts" | awk -F'|' -v m="$m" '$1 == m { print $2 }')
  is "${n:-0}" 1 "minute $((m - FIRST + 1)) of $((LAST - FIRST + 1)): svc rotated exactly once"
done
is "$(store_sql "SELECT count(*) FROM audit WHERE target = 'svc' AND action LIKE 'rotate%' AND outcome <> 'ok'")" 0 \
  "no failed or refused rotation of svc (no second scheduler tried)"
stored_ok svc; ok $? "the stored svc credential logs in after the rotations"
expect_exit 0 "audit verify at the end" "$CB" audit verify

# ---- clean stop
for i in $F1 $F2; do kill "${PIDS[$i]}"; done
for i in $F1 $F2; do wait "${PIDS[$i]}"; is $? 0 "broker $i stops on SIGTERM"; done
snapshot
cat "$TMP"/serve*.log >>"$ALL"
leaks=0
while IFS= read -r pw; do [ -n "$pw" ] && grep -qF -- "$pw" "$ALL" && leaks=$((leaks+1)); done <"$PWLIST"
is "$leaks" 0 "no stored password in any broker log or output ($(wc -l <"$PWLIST") checked)"
done_testing
