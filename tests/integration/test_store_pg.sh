#!/usr/bin/env bash
# The store on PostgreSQL (issue 15), one broker, a login with no superuser: init (and
# init into a schema an administrator made), connections, cached secrets, API keys,
# audit and `audit verify` (tampering found), key rotation with and without re-encryption,
# verify, `mcp` over stdio answering query_readonly, `serve` over HTTP (a revoked key
# refused within 1 s), the store password never from argv (refused) but from PGPASSWORD or
# CREDBROKER_DB_REF, and no secret in clear in the store's tables nor in the server log
# (log_statement=all).
# test-store: own (the PostgreSQL store's own suite: it sets CREDBROKER_DB itself)
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/pg.sh
source "$CB_ROOT/tests/lib/pg.sh"
[ -x "$CB" ] || skip_all "credbroker not built"
command -v curl >/dev/null || skip_all "curl missing"
pg_start || skip_all "cannot start PostgreSQL"

BROKER_PW=$(openssl rand -hex 12); APP_PW=$(openssl rand -hex 12)
pg_sql "CREATE ROLE broker LOGIN PASSWORD '$BROKER_PW'" >/dev/null
pg_sql "CREATE ROLE app LOGIN PASSWORD '$APP_PW'" >/dev/null
pg_sql "CREATE DATABASE brokerdb" >/dev/null
pg_sql "GRANT CONNECT, CREATE ON DATABASE brokerdb TO broker" >/dev/null
pg_sql "CREATE DATABASE shop OWNER app" >/dev/null
pg_sql "SET ROLE app; CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
        INSERT INTO items VALUES (1, 'apple'), (2, 'pear')" shop >/dev/null
# every statement logged from here on (the roles' passwords above are the test's own)
pg_sql "ALTER SYSTEM SET log_statement = 'all'" >/dev/null
pg_sql "SELECT pg_reload_conf()" >/dev/null
is "$(pg_sql "SELECT rolsuper OR rolcreatedb OR rolcreaterole FROM pg_roles WHERE rolname = 'broker'")" f \
   "the broker's login is no superuser and cannot create databases or roles"

export CREDBROKER_DB="postgresql://broker@127.0.0.1:$PGPORT/brokerdb?sslmode=disable&connect_timeout=5"
export CREDBROKER_DB_SCHEMA=cbtest PGPASSWORD=$BROKER_PW
CREDBROKER_MASTER_KEY=$(openssl rand -hex 32); export CREDBROKER_MASTER_KEY
export CREDBROKER_POLICIES="$TMP/policies" CREDBROKER_CONFIG="$TMP/credbroker.json"
mkdir -p "$CREDBROKER_POLICIES"; echo '{}' >"$CREDBROKER_CONFIG"
cat >"$CREDBROKER_POLICIES/p.json" <<'JSON'
{ "clients": { "local": { "tools": ["*"], "connections": ["*"], "mode": "read-only", "statement_timeout_ms": 5000 } } }
JSON
export PGSSLMODE=disable   # the test server has no TLS; libpq reads it like any option
sq() { pg_sql "SET search_path = cbtest; $1" brokerdb; }

# ---- init ----
out=$("$CB" -v init 2>&1); rc=$?
is "$rc" 0 "init on PostgreSQL"
like "$out" "store postgresql://broker@127\.0\.0\.1:$PGPORT/brokerdb.* \(schema cbtest\) \(CREDBROKER_DB, backend postgresql\)" "-v names the backend, location and schema"
is "$(pg_sql "SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'cbtest'" brokerdb)" broker "the schema is made, owned by the broker's login"
# the version a fresh SQLite store gets (never a number written here: migrations grow)
LITE_V=$(CREDBROKER_DB="$TMP/lite-version.db" "$CB" init -q >/dev/null 2>&1 && sqlite3 "$TMP/lite-version.db" "PRAGMA user_version")
is "$(sq "SELECT v FROM schema_version")" "$LITE_V" "schema at the same logical version as SQLite's"
out=$("$CB" init 2>&1); rc=$?
isnt "$rc" 0 "a second init is refused"
like "$out" "already exists" "... saying the store already exists"
# an administrator makes the schema; the login has no CREATE on that database
pg_sql "CREATE DATABASE otherdb" >/dev/null
pg_sql "CREATE SCHEMA made AUTHORIZATION broker" otherdb >/dev/null
pg_sql "REVOKE CREATE ON DATABASE otherdb FROM PUBLIC" >/dev/null
out=$(CREDBROKER_DB_SCHEMA=made CREDBROKER_DB="postgresql://broker@127.0.0.1:$PGPORT/otherdb" "$CB" init 2>&1)
ok $? "init into an existing schema the login owns (no CREATE on the database)"
out=$(CREDBROKER_DB_SCHEMA=nope CREDBROKER_DB="postgresql://broker@127.0.0.1:$PGPORT/otherdb" "$CB" init 2>&1)
isnt "$?" 0 "init of a new schema without CREATE on the database fails"
like "$out" "permission denied" "... with PostgreSQL's reason"
out=$(CREDBROKER_DB_SCHEMA='x;drop' "$CB" conn list 2>&1)
like "$out" "CREDBROKER_DB_SCHEMA must be" "a schema name that is not a plain identifier is refused"
out=$(CREDBROKER_DB_SCHEMA=absent "$CB" conn list 2>&1)
like "$out" "does not exist \(run credbroker init\)" "a schema with no store: 'does not exist (run credbroker init)'"

# ---- connections and secrets ----
base="127.0.0.1:$PGPORT/shop?sslmode=disable&connect_timeout=5"
printf 'postgresql://app:%s@%s\n' "$APP_PW" "$base" | "$CB" -q conn add app 2>/dev/null
ok $? "conn add"
like "$("$CB" conn list)" "^app +postgres +encrypted +postgresql://app:\*\*\*\*@" "conn list (redacted)"
like "$("$CB" conn show app)" "engine: +postgres" "conn show"
is "$("$CB" conn url app)" "postgresql://app:$APP_PW@$base" "conn url prints the stored URL"
printf 'postgresql://app:%s@%s\n' "$APP_PW" "$base" | "$CB" -q conn add app >/dev/null 2>&1
isnt "$?" 0 "adding a connection twice is refused (unique violation)"
CACHED_SECRET=cached-$(openssl rand -hex 8)
is "$(CB_PG_SECRET=$CACHED_SECRET "$CB" get env://CB_PG_SECRET)" "$CACHED_SECRET" "get env:// (a secret through the store)"
printf 'postgresql://app:%s@%s\n' "$APP_PW" "$base" >"$TMP/url"; chmod 600 "$TMP/url"
check "conn add --from-ref (a cached source)" "$CB" -q conn add fromref --from-ref "file://$TMP/url"
like "$("$CB" cache list)" "fromref +fresh" "cache list"

# ---- API keys ----
K1=$("$CB" apikey create k1 --policy local 2>/dev/null | grep '^cbk_')
like "$K1" '^cbk_' "apikey create"
like "$("$CB" apikey list)" "k1 +local" "apikey list"
check "apikey revoke" "$CB" apikey revoke k1
like "$("$CB" apikey list)" "k1 +local .*[0-9]{4}-[0-9]{2}-[0-9]{2}T.*[0-9]{4}-[0-9]{2}-[0-9]{2}T" "the key is listed as revoked"
is "$(sq "SELECT convert_from(v, 'UTF8') FROM meta WHERE k = 'apikeys_gen'")" 2 "API-key generation bumped by create and revoke (bytea digits)"

# ---- key rotation, verify ----
NEWKEY=$(openssl rand -hex 32)
check "key rotate (re-wrap)" env CREDBROKER_NEW_MASTER_KEY="$NEWKEY" "$CB" key rotate
CREDBROKER_MASTER_KEY=$NEWKEY
NEWKEY2=$(openssl rand -hex 32)
check "key rotate --reencrypt" env CREDBROKER_NEW_MASTER_KEY="$NEWKEY2" "$CB" key rotate --reencrypt
CREDBROKER_MASTER_KEY=$NEWKEY2
is "$(sq "SELECT DISTINCT key_version FROM connections")" 2 "every connection re-encrypted under key version 2"
like "$("$CB" verify)" "values checked, 0 failed" "verify after re-encryption"
is "$("$CB" conn url app)" "postgresql://app:$APP_PW@$base" "a re-encrypted URL decrypts"
out=$(CREDBROKER_MASTER_KEY=$NEWKEY "$CB" conn list 2>&1)
is "$?" 4 "the old master key no longer opens the store (exit 4)"

# ---- mcp over stdio, query_readonly against a real PostgreSQL target ----
cat >"$TMP/stdio.py" <<'PY'
import os, sys
sys.path.insert(0, os.environ["MCP_RAW_LIB"])
import mcp_raw
s = mcp_raw.Stdio([os.environ["CB"], "mcp"])
err, st, t = mcp_raw.result(s.call("query_readonly", {"connection": "app", "sql": "SELECT name FROM items ORDER BY id"}))
print("ERR " + t if err else ",".join(r[0] for r in st["rows"]))
s.close()
PY
is "$(CB="$CB" MCP_RAW_LIB="$CB_ROOT/tests/lib" python3 "$TMP/stdio.py" 2>"$TMP/mcp.err")" "apple,pear" \
   "credbroker mcp (stdio) answers query_readonly from the PostgreSQL store's connection"

# ---- serve over HTTP with an API key; a revocation is seen within 1 s ----
K2=$("$CB" apikey create k2 --policy local 2>/dev/null | grep '^cbk_')
port=$(free_port)
CREDBROKER_SCHEDULER_INTERVAL_S=3600 "$CB" serve --listen "127.0.0.1:$port" >"$TMP/serve.out" 2>"$TMP/serve.err" &
SERVE_PID=$!
on_exit "kill $SERVE_PID 2>/dev/null"
wait_port "$port" 15; ok $? "serve listens"
call() { python3 "$CB_ROOT/tests/lib/mcp_http_call.py" "$port" "$1" query_readonly '{"connection":"app","sql":"SELECT count(*) AS n FROM items"}'; }
like "$(call "$K2")" '"rows": ?\[\[2\]\]' "serve answers with a stored API key"
# one client process (no start-up time in the measure): a call, the revocation by another
# process (the CLI), then calls until refused
cat >"$TMP/revoke.py" <<'PY'
import os, subprocess, sys, time, urllib.error
sys.path.insert(0, os.environ["MCP_RAW_LIB"])
import mcp_raw
h = mcp_raw.Http("http://127.0.0.1:%s/mcp" % os.environ["PORT"], os.environ["KEY"])
mcp_raw.result(h.call("connections_list", {}))
subprocess.run([os.environ["CB"], "apikey", "revoke", "k2"], check=True, capture_output=True)
t0, tries = time.monotonic(), 0
while time.monotonic() - t0 < 5:
    tries += 1
    try:
        h.call("connections_list", {})
    except urllib.error.HTTPError as e:
        if e.code == 401:
            print("refused %d %d" % (tries, (time.monotonic() - t0) * 1000))
            sys.exit(0)
    time.sleep(0.02)
print("still accepted after 5 s")
PY
out=$(PORT=$port KEY=$K2 CB="$CB" MCP_RAW_LIB="$CB_ROOT/tests/lib" python3 "$TMP/revoke.py" 2>&1)
like "$out" "^refused 1 " "a key revoked by another process is refused by serve at the next call ($out ms)"
ms=${out##* }
[ "${ms:-9999}" -le 1000 ] 2>/dev/null; ok $? "... within 1 s of the revocation"
kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null

# ---- the store's password: never from argv; PGPASSWORD, CREDBROKER_DB_REF ----
out=$("$CB" --db "postgresql://broker:$BROKER_PW@127.0.0.1:$PGPORT/brokerdb" conn list 2>&1); rc=$?
isnt "$rc" 0 "a --db URL with a password is refused"
like "$out" "PGPASSWORD.*pgpass.*CREDBROKER_DB_REF" "... naming where the password may come from"
unlike "$out" "$BROKER_PW" "... without printing the password"
out=$("$CB" -v --db "postgresql://broker@127.0.0.1:$PGPORT/brokerdb?password=$BROKER_PW" conn list 2>&1)
isnt "$?" 0 "a password= parameter in the URL is refused too"
unlike "$out" "$BROKER_PW" "... and -v does not print it"
out=$(env -u PGPASSWORD "$CB" conn list 2>&1)
isnt "$?" 0 "no password anywhere: refused by the server"
like "$out" "cannot open store .*password" "... with libpq's reason"
out=$(env -u PGPASSWORD BROKER_DB_PW="$BROKER_PW" CREDBROKER_DB_REF=env://BROKER_DB_PW "$CB" conn list 2>&1)
like "$out" "^app " "the password from CREDBROKER_DB_REF (a secret reference) opens the store"
printf '%s\n' "$BROKER_PW" >"$TMP/dbpw"; chmod 600 "$TMP/dbpw"
out=$(env -u PGPASSWORD CREDBROKER_DB_REF="file://$TMP/dbpw" "$CB" conn list 2>&1)
like "$out" "^app " "... also from a file:// reference"
out=$(env -u PGPASSWORD CREDBROKER_DB_REF=env://NOT_SET_ANYWHERE "$CB" conn list 2>&1)
like "$out" "CREDBROKER_DB_REF" "an unreadable CREDBROKER_DB_REF is named in the error"

# ---- audit and tampering ----
like "$("$CB" audit list --limit 0 --json)" '"action":"apikey.revoke"' "audit list (no limit) on PostgreSQL"
is "$("$CB" --json audit list --limit 2 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 2 "audit list --limit 2"
out=$("$CB" monitor --since 24h --json 2>&1); rc=$?
ok "$([ "$rc" = 0 ] || [ "$rc" = 3 ]; echo $?)" "monitor on a PostgreSQL store runs its rules (exit 0 or 3, got $rc)"
is "$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(type(d).__name__)' 2>&1)" "$(CREDBROKER_DB="$TMP/lite-version.db" "$CB" monitor --since 24h --json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(type(d).__name__)' 2>&1)" "... and answers the same JSON shape as on SQLite"
like "$("$CB" audit verify)" "chain intact" "audit verify: the chain of every command above is intact"
n=$(sq "SELECT count(*) FROM audit")
[ "$n" -ge 15 ] ; ok $? "every command was audited in the PostgreSQL store ($n rows)"
out=$(sq "UPDATE audit SET actor = 'x'" 2>&1)
like "$out" "audit is append-only" "the audit table refuses updates (trigger)"
pg_sql "ALTER TABLE cbtest.audit DISABLE TRIGGER USER; UPDATE cbtest.audit SET outcome = 'ok' WHERE id = 3;
        UPDATE cbtest.audit SET target = 'forged' WHERE id = 5; ALTER TABLE cbtest.audit ENABLE TRIGGER USER" brokerdb >/dev/null
"$CB" audit verify >"$TMP/av" 2>&1
is "$?" 3 "audit verify finds tampering done by a superuser (exit 3)"

# ---- no secret in clear in the store's tables or the server log ----
pg_sql "COPY (SELECT * FROM cbtest.connections) TO STDOUT" brokerdb >"$TMP/dump"
for t in secrets api_keys meta audit source_state leases rotation_journal schedule_state; do
  pg_sql "COPY (SELECT * FROM cbtest.$t) TO STDOUT" brokerdb >>"$TMP/dump"
done
pg_sql "COPY (SELECT encode(v, 'escape') FROM cbtest.meta) TO STDOUT" brokerdb >>"$TMP/dump"
sleep 0.5
LOG="$PGSOCK/server.log"
leaks=()
for s in "$APP_PW" "$BROKER_PW" "$CACHED_SECRET" "$K1" "$K2" "$NEWKEY" "$NEWKEY2"; do
  grep -qF -- "$s" "$TMP/dump" && leaks+=("table:${s:0:6}")
  grep -qF -- "$s" "$LOG" && { leaks+=("log:${s:0:6}"); diag "$(grep -F -- "$s" "$LOG" | head -3)"; }
done
is "${leaks[*]:-}" "" "no password, cached secret, API key or master key in clear in the store's tables or the server log"
grep -q "INSERT INTO connections" "$LOG"; ok $? "... (the server log does hold the statements: log_statement=all)"

done_testing
