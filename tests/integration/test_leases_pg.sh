#!/usr/bin/env bash
# Leased query identities against a real PostgreSQL (issue 10): a per-client login made
# on first use (membership, VALID UNTIL, CONNECTION LIMIT, no other attribute), what the
# database then refuses to it, revocation (expiry, `lease revoke`, emergency rotation,
# orphans), kill -9 at every step of creation and revocation, no password in `lease list`,
# the audit log or the server log (log_statement=all), row-level security from API-key
# attributes, and requirements.mcp_least_privilege.
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/pg.sh
source "$CB_ROOT/tests/lib/pg.sh"
[ -x "$CB" ] || skip_all "credbroker not built"
pg_start || skip_all "cannot start PostgreSQL"
pg_sql "ALTER SYSTEM SET log_statement = 'all'" >/dev/null
pg_sql "SELECT pg_reload_conf()" >/dev/null

APP_PW=$(openssl rand -hex 12); ADM_PW=$(openssl rand -hex 12)
pg_sql "CREATE ROLE app LOGIN PASSWORD '$APP_PW'; CREATE ROLE lease_admin LOGIN CREATEROLE PASSWORD '$ADM_PW';
        CREATE ROLE mcp_readers NOLOGIN; GRANT mcp_readers TO lease_admin WITH ADMIN OPTION;
        GRANT pg_signal_backend TO lease_admin" >/dev/null
pg_sql "CREATE DATABASE shop OWNER app" >/dev/null
pg_sql "SET ROLE app; CREATE TABLE items (id int PRIMARY KEY, owner_id int NOT NULL, name text NOT NULL);
        INSERT INTO items VALUES (1, 42, 'apple'), (2, 42, 'pear'), (3, 7, 'plum');
        CREATE TABLE payroll (id int, salary int); INSERT INTO payroll VALUES (1, 100);
        ALTER TABLE items ENABLE ROW LEVEL SECURITY;
        CREATE POLICY by_user ON items USING (owner_id = nullif(current_setting('app.current_user_id', true), '')::int);
        GRANT SELECT ON items TO mcp_readers; RESET ROLE;
        REVOKE EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) TO app" shop >/dev/null

new_store leases
export CREDBROKER_POLICIES="$TMP/policies" CREDBROKER_CONFIG="$TMP/credbroker.json"
echo '{}' >"$CREDBROKER_CONFIG"
mkdir -p "$CREDBROKER_POLICIES"
write_policy() { # write_policy TTL EXTRA_REQUIREMENTS
cat >"$CREDBROKER_POLICIES/p.json" <<JSON
{
  "requirements": { $2 },
  "credentials": { "app-cred": { "connection": "app", "admin_connection": "pgadmin" } },
  "connections": {
    "app": { "query_identity": { "admin_connection": "leaseadmin", "member_of": ["mcp_readers"],
                                 "ttl_s": $1, "connection_limit": 3 } }
  },
  "clients": {
    "local": { "tools": ["*"], "connections": ["*"], "mode": "read-only", "statement_timeout_ms": 5000 },
    "auditor": { "tools": ["query_readonly"], "connections": ["app"] },
    "analyst": { "tools": ["query_readonly"], "connections": ["app", "appdirect"], "mode": "read-only",
                 "session_settings": { "app.current_user_id": "\${apikey.attr.user_id}", "app.client": "\${client}" } }
  }
}
JSON
}
write_policy 3600 ""
base="127.0.0.1:$PGPORT/shop?sslmode=disable&connect_timeout=5"
printf 'postgresql://app:%s@%s\n' "$APP_PW" "$base" | "$CB" -q conn add app
printf 'postgresql://app:%s@%s\n' "$APP_PW" "$base" | "$CB" -q conn add appdirect
printf 'postgresql://lease_admin:%s@%s\n' "$ADM_PW" "$base" | "$CB" -q conn add leaseadmin
printf 'postgresql://postgres:%s@%s\n' "$PG_ADMIN_PW" "$base" | "$CB" -q conn add pgadmin
check "policy with connections.query_identity and session_settings loads" "$CB" policy check

# mcp_q CONNECTION SQL: one query_readonly over stdio as client local; prints the response line
mcp_q() {
  local args
  args=$(python3 -c 'import json,sys; print(json.dumps({"connection": sys.argv[1], "sql": sys.argv[2]}))' "$1" "$2")
  printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}' \
    '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"query_readonly\",\"arguments\":$args}}" |
    "${MCPQ_CB:-$CB}" mcp 2>>"$TMP/mcp.err" | grep '"id":2' | tee -a "$OUTS"
  grab_pw
}
# lease passwords seen so far (a test tool reads them from the store) for the leak check at the end
PWS="$TMP/lease_pws"; : >"$PWS"
grab_pw() { "$BUILD/tools/lease_pw" "$CREDBROKER_DB" >>"$PWS" 2>/dev/null; }
OUTS="$TMP/outputs"; : >"$OUTS"
roles() { pg_sql "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'cb\\_%'"; }

# ---- creation on first use ----
is "$(roles)" "" "no leased login before the first query"
OUT=$(mcp_q app "SELECT current_user AS u, session_user AS s")
like "$OUT" '"rows":\[\["cb_local_[0-9a-f]{8}","cb_local_[0-9a-f]{8}"\]\]' "first query on 'app' runs as a leased login cb_local_<8 hex>"
LOGIN=$(roles)
like "$LOGIN" '^cb_local_[0-9a-f]{8}$' "exactly one leased login exists"
ATTRS=$(pg_sql "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolinherit, rolconnlimit FROM pg_roles WHERE rolname = '$LOGIN'")
is "$ATTRS" "t|f|f|f|f|f|t|3" "login: LOGIN INHERIT, no SUPERUSER/CREATEROLE/CREATEDB/REPLICATION/BYPASSRLS, CONNECTION LIMIT 3"
VU=$(pg_sql "SELECT round(extract(epoch FROM rolvaliduntil) - extract(epoch FROM now())) FROM pg_roles WHERE rolname = '$LOGIN'")
ok "$([ "$VU" -gt 3500 ] && [ "$VU" -le 3600 ]; echo $?)" "rolvaliduntil is now + ttl_s ($VU s)"
is "$(pg_sql "SELECT string_agg(b.rolname, ',') FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = '$LOGIN'")" \
   "mcp_readers" "member of exactly the member_of roles"
OUT2=$(mcp_q app "SELECT current_user")
like "$OUT2" "\"rows\":\[\[\"$LOGIN\"\]\]" "the next call reuses the same lease"
is "$(roles)" "$LOGIN" "still one login"
LJ=$("$CB" --json lease list)
like "$LJ" "\"client\":\"local\",\"connection\":\"app\",\"login\":\"$LOGIN\"" "lease list --json shows client, connection, login"
like "$LJ" '"state":"active"' "lease is active"
like "$("$CB" lease list)" "$LOGIN" "lease list (text) shows the login"
# renewal while in use: once less than half the ttl is left, the next use moves VALID UNTIL
store_sql "update leases set expires_at = strftime('%s','now') + 100 where state = 'active'" >/dev/null
pg_sql "ALTER ROLE \"$LOGIN\" VALID UNTIL 'now'::timestamptz + interval '100 seconds'" >/dev/null
like "$(mcp_q app "SELECT 1")" '"rows":\[\[1\]\]' "a query with little of the lease left"
VU=$(pg_sql "SELECT round(extract(epoch FROM rolvaliduntil) - extract(epoch FROM now())) FROM pg_roles WHERE rolname = '$LOGIN'")
ok "$([ "$VU" -gt 3500 ] && [ "$VU" -le 3600 ]; echo $?)" "the lease was renewed: rolvaliduntil is now + ttl_s again ($VU s)"
is "$(roles)" "$LOGIN" "renewal keeps the same login"
like "$("$CB" --json audit list)" "\"action\":\"lease.renew\",\"target\":\"app\",\"outcome\":\"ok\"" "the renewal is audited"
PW=$(store_sql "select count(*) from secrets where ns='lease'" 2>/dev/null)
is "$PW" 1 "the lease password is sealed in the store (secrets ns lease)"

# ---- what the database refuses to the leased login, with the text layer switched off ----
# (the test driver mcp_cli is credbroker with MCP_CLI_NO_PREFILTER=1: no text checks at
# all, so every refusal below comes from PostgreSQL itself)
export MCP_CLI_NO_PREFILTER=1
MCPQ_CB="$BUILD/tools/mcp_cli"
APPPID_HOLDER() { psql "postgresql://app:$APP_PW@$base" -X -q -c "SELECT pg_sleep(30)" >/dev/null 2>&1 & echo $!; }
HP=$(APPPID_HOLDER); on_exit "kill $HP 2>/dev/null"
for _ in $(seq 50); do [ "$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND query LIKE '%pg_sleep%'")" = 1 ] && break; sleep 0.1; done
OUT=$(mcp_q app "SELECT U&\"pg\\005fterminate\\005fbackend\"(pid) FROM pg_stat_activity WHERE usename = 'app'")
like "$OUT" 'isError":true' "pg_terminate_backend of the application's sessions is refused"
like "$OUT" 'permission denied|must be a member' "refused by PostgreSQL (permission), not by the text layer"
is "$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND query LIKE '%pg_sleep%'")" 1 "the application's session is still alive"
kill "$HP" 2>/dev/null
OUT=$(mcp_q app "SELECT * FROM payroll")
like "$OUT" 'permission denied for table payroll' "a table not granted to mcp_readers cannot be read"
OUT=$(mcp_q app "SELECT U&\"set\\005fconfig\"('app.current_user_id', '7', true)")
like "$OUT" 'permission denied for function set_config' "set_config (revoked from PUBLIC) cannot forge the RLS setting"
unset MCPQ_CB
# rotation's advisory lock: an emergency rotation revokes the leases first, which ends the lock's session
KEY=$("$BUILD/tools/db_tool" postgres lockkey "credential:app-cred" 2>/dev/null || true)
diag "rotation lock key: ${KEY:-unknown}"

# ---- RLS from API-key attributes over HTTP ----
A42=$("$CB" -q apikey create key42 --policy analyst --attr user_id=42)
A7=$("$CB" -q apikey create key7 --policy analyst --attr user_id=7)
ANO=$("$CB" -q apikey create keynone --policy analyst)
expect_exit 2 "apikey create rejects a malformed --attr" "$CB" apikey create bad --policy analyst --attr "no-equals"
PORT=$(free_port)
"$CB" serve --listen "127.0.0.1:$PORT" >"$TMP/serve.out" 2>"$TMP/serve.err" &
SPID=$!; on_exit "kill $SPID 2>/dev/null"
wait_port "$PORT" 10 || fail "serve started"
http_q() { # http_q KEY CONNECTION SQL
  local args init
  args=$(python3 -c 'import json,sys; print(json.dumps({"connection": sys.argv[1], "sql": sys.argv[2]}))' "$2" "$3")
  init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}'
  curl -s -D "$TMP/h" -o /dev/null -H 'Accept: application/json, text/event-stream' -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $1" -d "$init" "http://127.0.0.1:$PORT/mcp"
  local sid; sid=$(tr -d '\r' <"$TMP/h" | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')
  curl -s -H 'Accept: application/json, text/event-stream' -H 'Content-Type: application/json' -H "Authorization: Bearer $1" \
    ${sid:+-H "Mcp-Session-Id: $sid"} -H 'MCP-Protocol-Version: 2025-06-18' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"query_readonly\",\"arguments\":$args}}" \
    "http://127.0.0.1:$PORT/mcp" | tee -a "$OUTS"
  grab_pw
}
R42=$(http_q "$A42" app "SELECT name FROM items ORDER BY id")
R7=$(http_q "$A7" app "SELECT name FROM items ORDER BY id")
like "$R42" '"rows":\[\["apple"\],\["pear"\]\]' "key with user_id=42 sees only its rows"
like "$R7" '"rows":\[\["plum"\]\]' "key with user_id=7 sees only its rows"
like "$(http_q "$A42" app "SELECT current_setting('app.client')")" '"rows":\[\["analyst"\]\]' "\${client} is filled in"
like "$(http_q "$ANO" app "SELECT 1")" "has no attribute 'user_id'" "a key without the attribute is refused (fail closed)"
like "$(http_q "$A7" app "SELECT current_user")" '"rows":\[\["cb_analyst_[0-9a-f]{8}"\]\]' "the analyst client has a lease of its own"
ALOGIN=$(pg_sql "SELECT rolname FROM pg_roles WHERE rolname LIKE 'cb\\_analyst\\_%'")

# ---- requirements.mcp_least_privilege (appdirect: the application's own login, no query_identity) ----
like "$(http_q "$A42" appdirect "SELECT 1")" '"rows":\[\[1\]\]' "without the requirement, a connection without query_identity is queried as its login"
kill "$SPID"; wait "$SPID" 2>/dev/null
write_policy 3600 '"mcp_least_privilege": true'
OUT=$(mcp_q appdirect "SELECT 1")
like "$OUT" 'mcp_least_privilege: connection .appdirect. refused: login app is the login of rotated credential app-cred' "mcp_least_privilege refuses the application's login, with the finding as the reason"
like "$(mcp_q app "SELECT 1")" '"rows":\[\[1\]\]' "mcp_least_privilege allows the leased connection"

# ---- assess: what each read-only query login can do ----
AS=$("$CB" --json assess 2>/dev/null); rc=$?
is "$rc" 3 "assess exits 3 (findings)"
like "$AS" '"target":"appdirect","check":"mcp_least_privilege","severity":"high","message":"login app is the login of rotated credential app-cred' "assess: appdirect uses the rotated credential's login"
like "$AS" '"target":"appdirect","check":"mcp_least_privilege","severity":"high","message":"login app may INSERT, UPDATE, DELETE or TRUNCATE 2 table' "assess: appdirect's login can write (owner of 2 tables)"
like "$AS" '"target":"app","check":"query_identity","severity":"info"' "assess: app is queried through leased logins"
pg_sql "CREATE ROLE weak LOGIN CREATEROLE CREATEDB PASSWORD 'weak-pw-1'; GRANT pg_signal_backend, pg_read_server_files TO weak" >/dev/null
printf 'postgresql://weak:weak-pw-1@%s\n' "$base" | "$CB" -q conn add weakconn
AS=$("$CB" --json assess 2>/dev/null)
for w in "has CREATEROLE" "has CREATEDB" "is a member of pg_signal_backend" "is a member of pg_read_server_files"; do
  like "$AS" "\"target\":\"weakconn\",\"check\":\"mcp_least_privilege\",\"severity\":\"high\",\"message\":\"login weak $w" "assess: login weak $w"
done
unlike "$AS" '"target":"weakconn"[^}]*superuser' "assess: weak is not reported as superuser"
"$CB" -q conn remove weakconn >/dev/null 2>&1

# ---- revocation: lease revoke ----
check "lease revoke --client analyst" "$CB" lease revoke --client analyst
is "$(pg_sql "SELECT count(*) FROM pg_roles WHERE rolname = '$ALOGIN'")" 0 "the analyst's login is dropped"
like "$("$CB" --json lease list --all)" "\"login\":\"$ALOGIN\"[^}]*\"state\":\"revoked\"" "its lease is revoked"
ID=$("$CB" --json lease list | python3 -c 'import json,sys; print(json.load(sys.stdin)["leases"][0]["id"])')
check "lease revoke ID" "$CB" lease revoke "$ID"
is "$(roles)" "" "no leased login left"
expect_exit 2 "lease revoke without a selector is a usage error" "$CB" lease revoke

# ---- expiry: short ttl, the serve tick revokes ----
write_policy 60 ""
like "$(mcp_q app "SELECT 1")" '"rows":\[\[1\]\]' "new lease with ttl 60 s"
L60=$(roles)
store_sql "update leases set expires_at = strftime('%s','now') - 1 where state = 'active'" >/dev/null
PORT=$(free_port)
CREDBROKER_SCHEDULER_INTERVAL_S=1 "$CB" serve --listen "127.0.0.1:$PORT" >/dev/null 2>"$TMP/serve2.err" &
SPID=$!; on_exit "kill $SPID 2>/dev/null"
for _ in $(seq 100); do [ -z "$(roles)" ] && break; sleep 0.1; done
is "$(roles)" "" "the expired lease's login $L60 is dropped by serve (start/tick)"
like "$("$CB" --json lease list --all)" "\"login\":\"$L60\"[^}]*\"state\":\"revoked\"" "the expired lease is recorded revoked"
# policy no longer lists it: the tick revokes
like "$(mcp_q app "SELECT 1")" '"rows":\[\[1\]\]' "a lease while serve runs"
LP=$(roles)
sed -i 's/"member_of": \["mcp_readers"\]/"member_of": ["mcp_readers"]/; s/"admin_connection": "leaseadmin"/"admin_connection": "pgadmin"/' "$CREDBROKER_POLICIES/p.json"
for _ in $(seq 100); do [ -z "$(roles)" ] && break; sleep 0.1; done
is "$(roles)" "" "a lease the policy no longer describes ($LP) is revoked by the tick"
kill "$SPID"; wait "$SPID" 2>/dev/null
write_policy 3600 ""

# ---- emergency rotation revokes the leases of the rotated connection ----
# A model takes the rotation's own advisory lock through a pooled leased session (serve):
# the emergency rotation revokes the leases first, which ends that session and its lock.
PORT=$(free_port)
# serve through the test driver with the text layer off (MCP_CLI_NO_PREFILTER=1): the lock
# is taken by the database's rules alone
"$BUILD/tools/mcp_cli" serve --listen "127.0.0.1:$PORT" >/dev/null 2>"$TMP/serve4.err" &
SPID=$!; on_exit "kill $SPID 2>/dev/null"
wait_port "$PORT" 10 || fail "serve started"
LKEY=$(python3 -c 'import hashlib,struct; print(struct.unpack(">q", hashlib.sha256(b"credbroker:credbroker:rotate:app-cred").digest()[:8])[0])')
R=$(http_q "$A42" app "SELECT U&\"pg\\005fadvisory\\005flock\"($LKEY)::text")
like "$R" '"structuredContent":\{"columns":\[\{"name":"pg_advisory_lock"' "with the text layer off, the leased login can take a session advisory lock"
LOCKS="SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND a.usename LIKE 'cb\\_analyst\\_%'"
is "$(pg_sql "$LOCKS")" 0 "the lock on the rotation's key does not outlive the call (the pooled session is reset)"
AUD=$("$CB" -q apikey create keyaud --policy auditor)
RA=$(http_q "$AUD" app "SELECT current_user, (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())")
like "$RA" '"rows":\[\["cb_auditor_[0-9a-f]{8}",0\]\]' "another client gets its own login and session: the first client's lock is not in it"
LE=$(roles)
"$CB" -q emergency-rotate app-cred --incident INC-1 --reason test >"$TMP/em.out" 2>&1
is "$?" 0 "emergency-rotate succeeds although a leased session held the rotation's lock"
is "$(pg_sql "$LOCKS")" 0 "the lock is gone with the leased session"
is "$(pg_sql "SELECT count(*) FROM pg_roles WHERE rolname = '$LE'")" 0 "emergency-rotate dropped the lease login of the rotated connection"
kill "$SPID"; wait "$SPID" 2>/dev/null
like "$("$CB" --json audit list 2>/dev/null)" '"action":"lease.revoke"[^}]*"reason":"emergency' "the revocation is audited with the emergency as reason"

# ---- kill -9 at every step of creation and revocation: nothing left after restart ----
for step in create:journaled create:created; do
  CREDBROKER_TEST_LEASE_PAUSE=$step mcp_q app "SELECT 1" >/dev/null &
  for _ in $(seq 300); do grep -q "lease pause $step" "$TMP/mcp.err" && break; sleep 0.1; done
  PID=$(sed -n "s/^lease pause $step pid \([0-9]*\)$/\1/p" "$TMP/mcp.err" | tail -1)
  ok "$([ -n "$PID" ] && kill -9 "$PID"; echo $?)" "kill -9 the broker paused at $step"
  wait 2>/dev/null
  : >"$TMP/mcp.err"
  "$CB" -q lease revoke --orphans >/dev/null 2>&1
  is "$(roles)" "" "kill -9 at $step: no leased login after recovery"
  like "$("$CB" --json lease list)" '"leases":\[\]' "kill -9 at $step: no live lease record"
done
for step in revoke:journaled revoke:dropped; do
  like "$(mcp_q app "SELECT 1")" '"rows":\[\[1\]\]' "lease for the $step test"
  CREDBROKER_TEST_LEASE_PAUSE=$step "$CB" lease revoke --all >/dev/null 2>"$TMP/rev.err" &
  RP=$!
  for _ in $(seq 300); do grep -q "lease pause $step" "$TMP/rev.err" && break; sleep 0.1; done
  ok "$(grep -q "lease pause $step pid $RP" "$TMP/rev.err"; echo $?)" "lease revoke paused at $step"
  kill -9 "$RP"; wait "$RP" 2>/dev/null
  PORT=$(free_port)
  "$CB" serve --listen "127.0.0.1:$PORT" >/dev/null 2>>"$TMP/serve3.err" &
  SPID=$!
  wait_port "$PORT" 10
  # serve binds first and recovers on another thread: give it the time a loaded machine
  # needs before stopping it (stopping earlier cuts the recovery short, by design)
  for _ in $(seq 150); do [ -z "$(roles)" ] && "$CB" --json lease list 2>/dev/null | grep -q '"leases":\[\]' && break; sleep 0.1; done
  kill "$SPID"; wait "$SPID" 2>/dev/null
  is "$(roles)" "" "kill -9 at $step: serve's start finished the revocation"
  like "$("$CB" --json lease list)" '"leases":\[\]' "kill -9 at $step: the lease is recorded revoked"
done
# an orphan: a login named like ours with no record
pg_sql "CREATE ROLE cb_ghost_0badf00d LOGIN" >/dev/null
check "lease revoke --orphans" "$CB" lease revoke --orphans
is "$(roles)" "" "lease revoke --orphans drops a login with the broker's prefix and no record"

# ---- no password anywhere ----
sort -u "$PWS" -o "$PWS"
NPW=$(wc -l <"$PWS")
ok "$([ "$NPW" -ge 5 ]; echo $?)" "the leak check knows the real passwords of $NPW leases"
LEAKS=0
ALLTEXT="$TMP/alltext"
{ cat "$OUTS" "$TMP"/*.err "$TMP"/*.out 2>/dev/null; "$CB" --json lease list --all; "$CB" --json audit list; cat "$PGSOCK"/server.log; } >"$ALLTEXT" 2>&1
while IFS= read -r pw; do [ -n "$pw" ] && grep -qF -- "$pw" "$ALLTEXT" && LEAKS=$((LEAKS+1)); done <"$PWS"
is "$LEAKS" 0 "no lease password in any MCP output, broker stderr, lease list, the audit log or PostgreSQL's log (log_statement=all)"
unlike "$(store_dump | strings -a | grep -F -f "$PWS" | head -1)" "." "no lease password in plaintext in the store (file, or schema, its files and the store server's log)"
LIST=$("$CB" --json lease list --all); AUD=$("$CB" --json audit list 2>/dev/null)
like "$AUD" '"action":"lease.create"' "lease creation is audited"
unlike "$LIST$AUD" '[Pp]assword"|SCRAM-SHA-256' "lease list and the audit log hold no password or verifier"
LOG=$(cat "$PGSOCK"/data/log/* "$PGSOCK/server.log" 2>/dev/null)
like "$LOG" 'CREATE ROLE "cb_' "the server log records the CREATE ROLE statements (log_statement=all)"
NCR=$(printf '%s\n' "$LOG" | grep -c 'CREATE ROLE "cb_')
NPLAIN=$(printf '%s\n' "$LOG" | grep 'CREATE ROLE "cb_' | grep -vc "PASSWORD 'SCRAM-SHA-256\\\$4096:")
ok "$([ "$NCR" -ge 5 ] && [ "$NPLAIN" -eq 0 ]; echo $?)" "all $NCR CREATE ROLE statements in the server log carry a SCRAM verifier, none a plaintext password ($NPLAIN)"
unlike "$(cat "$TMP"/*.err "$TMP"/*.out "$OUTS" 2>/dev/null)" "AddressSanitizer|LeakSanitizer|runtime error:" "no sanitizer report in any broker output"
done_testing
