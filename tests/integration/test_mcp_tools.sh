#!/usr/bin/env bash
# credbroker's MCP tools end to end against a real PostgreSQL: the official SDK client over
# stdio (`mcp`) and Streamable HTTP (`serve`, API keys from `apikey create`), the Inspector
# CLI, curl for 401/403, the read-only bypass catalogue (with a query_execute control that
# shows the same statements do change the database), and a leak test over every MCP
# message, the server's stderr and the audit log.
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/pg.sh
source "$CB_ROOT/tests/lib/pg.sh"
CLI="$BUILD/tools/mcp_cli"
INTEROP="$CB_ROOT/tests/interop"
{ [ -x "$CLI" ] && [ -x "$CB" ]; } || skip_all "credbroker / mcp_cli not built"
command -v node >/dev/null || skip_all "node missing"
[ -d "$INTEROP/node_modules/@modelcontextprotocol/sdk" ] || skip_all "MCP SDK not installed in tests/interop"
pg_start || skip_all "cannot start PostgreSQL"

RO_PW=$(openssl rand -hex 12); RW_PW=$(openssl rand -hex 12); BAD_PW="wrong-$(openssl rand -hex 8)"
pg_sql "CREATE ROLE app_ro LOGIN PASSWORD '$RO_PW'; CREATE ROLE app_rw LOGIN PASSWORD '$RW_PW'" >/dev/null
pg_sql "CREATE DATABASE shop" >/dev/null
HAVE_DBLINK=$(pg_sql "SELECT count(*) FROM pg_available_extensions WHERE name = 'dblink'")
export PWNED_FILE="$PGSOCK/pwned"
cat >"$TMP/reset.sql" <<SQL
DROP TABLE IF EXISTS items, pwned, pwned2, pwned3 CASCADE;
DROP PROCEDURE IF EXISTS add_item(); DROP FUNCTION IF EXISTS evil();
SELECT lo_unlink(oid) FROM pg_largeobject_metadata;
ALTER ROLE app_ro NOSUPERUSER;
CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, qty int NOT NULL);
INSERT INTO items (name, qty) VALUES ('apple', 1), ('pear', 5), ('plum', 9);
GRANT SELECT ON items TO app_ro; GRANT SELECT, INSERT, UPDATE, DELETE ON items TO app_rw;
GRANT USAGE ON SEQUENCE items_id_seq TO app_rw;
CREATE FUNCTION evil() RETURNS int LANGUAGE plpgsql AS \$\$ BEGIN INSERT INTO items(name, qty) VALUES ('f', 1); RETURN 1; END \$\$;
CREATE PROCEDURE add_item() LANGUAGE sql AS \$\$ INSERT INTO items(name, qty) VALUES ('p', 1) \$\$;
SQL
[ "$HAVE_DBLINK" = 1 ] && echo "CREATE EXTENSION IF NOT EXISTS dblink;" >>"$TMP/reset.sql"
cat >"$TMP/reset.sh" <<SH
#!/bin/bash
rm -f '$PWNED_FILE'
PGOPTIONS='-c client_min_messages=warning' psql -X -q -A -t -v ON_ERROR_STOP=1 -h '$PGSOCK' -p '$PGPORT' -U postgres -d shop -f '$TMP/reset.sql' >/dev/null
SH
# Fingerprint: relations, ACLs, roles, large objects, extensions, settings, items' content,
# the sequence, and the file COPY TO PROGRAM would create. A failing query exits 1 (the
# caller then counts the database as changed: e.g. the table is gone).
cat >"$TMP/fp.sh" <<SH
#!/bin/bash
{ psql -X -q -A -t -v ON_ERROR_STOP=1 -h '$PGSOCK' -p '$PGPORT' -U postgres -d shop -c "
SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
  SELECT 'rel:' || n.nspname || '.' || c.relname || ':' || c.relkind::text || ':' || coalesce(c.relacl::text, '')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  UNION ALL SELECT 'role:' || rolname || rolsuper FROM pg_roles
  UNION ALL SELECT 'lo:' || count(*) FROM pg_largeobject_metadata
  UNION ALL SELECT 'ext:' || extname FROM pg_extension
  UNION ALL SELECT 'set:' || coalesce(array_to_string(setconfig, ';'), '') FROM pg_db_role_setting
  UNION ALL SELECT 'items:' || string_agg(id || '=' || name || '/' || qty, ';' ORDER BY id) FROM items
  UNION ALL SELECT 'seq:' || last_value || is_called FROM items_id_seq
  UNION ALL SELECT 'auto:' || count(*) FROM pg_file_settings WHERE sourcefile LIKE '%postgresql.auto.conf'
  UNION ALL SELECT 'xact:' || count(*) FROM pg_prepared_xacts) t(x)" || exit 1; } | tr -d '\n'
[ -e '$PWNED_FILE' ] && echo -n '+pwned'
echo
SH
chmod 755 "$TMP/reset.sh" "$TMP/fp.sh"
bash "$TMP/reset.sh" || { fail "fixture"; done_testing; exit 1; }
export FP_CMD="$TMP/fp.sh" RESET_CMD="$TMP/reset.sh"
export DBLINK_CONN="host=$PGSOCK port=$PGPORT dbname=shop user=postgres"

new_store mcp
export CREDBROKER_POLICIES="$TMP/policies"
export CREDBROKER_CONFIG="$TMP/credbroker.json"
# a 16-session pool: the pool test below opens 20 connections and expects at most 16 (+1)
echo '{"database_pool":{"max_sessions":16}}' >"$CREDBROKER_CONFIG"
mkdir -p "$CREDBROKER_POLICIES"
cat >"$CREDBROKER_POLICIES/clients.json" <<'JSON'
{
  "credentials": {
    "appcred": { "connection": "shop_rw" },
    "broken": { "connection": "shop" }
  },
  "clients": {
    "local": { "tools": ["connections_list", "connection_test", "schema_describe", "query_readonly", "query_execute",
                         "security_assess", "audit_recent", "security_rotate_key", "security_migrate_connections_to_encrypted",
                         "security_generate_secure_key", "credentials_rotate", "credentials_emergency_rotate", "security_monitor"],
               "connections": ["*"], "mode": "read-only", "max_rows": 5, "statement_timeout_ms": 1000 },
    "analyst": { "tools": ["connections_list", "schema_describe", "query_readonly", "audit_recent"],
                 "connections": ["shop"], "mode": "read-only", "sensitive_params": true },
    "writer": { "tools": ["connections_list", "schema_describe", "query_readonly", "query_execute", "security_generate_secure_key"],
                "connections": ["shop_rw", "shop_admin"], "mode": "read-write", "reveal": true },
    "temp": { "tools": ["connections_list"], "connections": [] }
  }
}
JSON
base="127.0.0.1:$PGPORT/shop?sslmode=disable&connect_timeout=5"
printf 'postgresql://app_ro:%s@%s\n' "$RO_PW" "$base" | "$CB" -q conn add shop
printf 'postgresql://app_rw:%s@%s\n' "$RW_PW" "$base" | "$CB" -q conn add shop_rw
printf 'postgresql://postgres:%s@%s\n' "$PG_ADMIN_PW" "$base" | "$CB" -q conn add shop_admin
printf 'postgresql://app_ro:%s@%s\n' "$BAD_PW" "$base" | "$CB" -q conn add badpw
is "$("$CB" conn list --json | grep -c shop_admin)" 1 "connections added with credbroker conn add"

export TRAFFIC="$TMP/traffic.log" GENKEY_DIR="$TMP"
: >"$TRAFFIC"
run_node() { (cd "$INTEROP" && node mcp_tools.mjs "$@") >"$TMP/node.out" 2>&1; local rc=$?
  while IFS= read -r l; do case "$l" in PASS\ *) pass "${l#PASS }";; FAIL\ *) fail "${l#FAIL }";; \#*) echo "$l";; *) diag "$l";; esac; done <"$TMP/node.out"
  return $rc; }

# ---- bypass catalogue over stdio (client local, read-only, superuser connection) ----
MCP_CLI_FAKE_ROTATE=1 run_node bypass "$CLI" mcp 2>>"$TMP/stdio.err"
[ "$HAVE_DBLINK" = 1 ] || diag "dblink extension not available: dblink statements only fail as unknown functions"
# ---- pool: more connections than session slots ----
for i in $(seq 0 19); do printf 'postgresql://app_ro:%s@%s\n' "$RO_PW" "$base" | "$CB" -q conn add "p$i"; done
run_node pool "$CLI" mcp
# ---- stdio suite ----
NEWKEY=$(openssl rand -hex 32); export NEWKEY
MCP_CLI_FAKE_ROTATE=1 run_node local-stdio "$CLI" mcp
export CREDBROKER_MASTER_KEY="$NEWKEY"   # security_rotate_key moved the store to the new key
is "$("$CB" conn list --json >/dev/null 2>&1; echo $?)" 0 "store opens with the rotated master key"

# ---- API keys ----
expect_exit 2 "apikey create for an unknown client fails" "$CLI" apikey create nobody --policy no-such-client
AK=$("$CLI" apikey create analyst-key --policy analyst 2>"$TMP/apikey.err")
like "$AK" '^cbk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$' "apikey create prints a token once"
WK=$("$CLI" -q apikey create writer-key --policy writer)
TK=$("$CLI" -q apikey create temp-key --policy temp)
RK=$("$CLI" -q apikey create revoked-key --policy analyst)
expect_exit 1 "apikey create with an existing name fails" "$CLI" apikey create analyst-key --policy analyst
LIST=$("$CLI" --json apikey list)
like "$LIST" '"name":"analyst-key","policy":"analyst","prefix":"[0-9a-f]{8}"' "apikey list shows name, policy, prefix"
unlike "$LIST" "${AK#cbk_????????_}" "apikey list never shows a token"
unlike "$LIST" 'hash' "apikey list never shows a hash"
check "apikey revoke" "$CLI" apikey revoke revoked-key
like "$("$CLI" --json apikey list)" '"name":"revoked-key"[^}]*"revoked_at":"20' "revoked key listed with its date"
expect_exit 1 "revoking twice fails" "$CLI" apikey revoke revoked-key
HASHHEX=$(store_sql "SELECT lower(hex(hash)) FROM api_keys WHERE name = 'analyst-key'")
like "$HASHHEX" '^[0-9a-f]{64}$' "only a 32-byte keyed hash is stored"
unlike "$(store_dump | strings -a)" "${AK#cbk_????????_}" "the token is not in the store (file, or schema, its files and the store server's log)"

# ---- HTTP server ----
PORT=$(free_port)
BOOT=$(openssl rand -hex 24)
CREDBROKER_API_KEY=$BOOT CREDBROKER_API_KEY_POLICY=analyst "$CLI" serve --listen "127.0.0.1:$PORT" >"$TMP/serve.out" 2>"$TMP/serve.err" &
SPID=$!
on_exit "kill $SPID"
wait_port "$PORT" 10 || { fail "serve started"; diag "$(cat "$TMP/serve.err")"; done_testing; exit 1; }
pass "credbroker serve listens on 127.0.0.1"
URL="http://127.0.0.1:$PORT/mcp"
MCP_KEY=$AK run_node analyst-http "$URL"
MCP_KEY=$WK run_node writer-http "$URL"
# control: the same statements through query_execute (read-write client) DO change the database
MCP_KEY=$WK run_node control "$URL"

ACC='Accept: application/json, text/event-stream'
CT='Content-Type: application/json'
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"0"}}}'
req() { curl -s -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' "$@"; }
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -d "$INIT")" 401 "no API key -> 401"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "Authorization: Bearer cbk_00000000_$(openssl rand -hex 22 | cut -c1-43)" -d "$INIT")" 401 "wrong API key -> 401"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "Authorization: Bearer $RK" -d "$INIT")" 401 "revoked API key -> 401"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "Authorization: Bearer $HASHHEX" -d "$INIT")" 401 "the stored hash presented as a token -> 401"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "Authorization: Bearer ${AK}x" -d "$INIT")" 401 "key with a suffix -> 401"
# a key revoked while the server runs and holds it in its token cache: refused at once
# (SQLite: every request reads the keys' generation; PostgreSQL: when its NOTIFY has
# arrived, which the test gives one second). The fleet poll also drops the cache, every
# 200 ms: without the per-request read this check fails unless a poll falls between the
# revoke and the request.
LK=$("$CLI" -q apikey create live-key --policy analyst)
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "Authorization: Bearer $LK" -d "$INIT")" 200 "a key made while serving works"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "Authorization: Bearer $LK" -d "$INIT")" 200 "and again (from the token cache)"
"$CLI" -q apikey revoke live-key
code=$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "Authorization: Bearer $LK" -d "$INIT")
if [ "${CREDBROKER_TEST_STORE:-sqlite}" = postgresql ]; then
  for _ in $(seq 20); do [ "$code" = 401 ] && break; sleep 0.05; code=$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "Authorization: Bearer $LK" -d "$INIT"); done
fi
is "$code" 401 "revoked while cached: the next request (PostgreSQL: within 1 s) -> 401"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "Authorization: Bearer $AK" -d "$INIT")" 200 "the other keys still work"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "Authorization: Bearer $BOOT" -d "$INIT")" 200 "CREDBROKER_API_KEY bootstrap key accepted"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "Authorization: Bearer $AK" -d "$INIT")" 200 "analyst key: initialize -> 200"
SID=$(tr -d '\r' <"$TMP/h" | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')
H=(-H "$ACC" -H "$CT" -H "Authorization: Bearer $AK" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25')
is "$(req -X POST "$URL" "${H[@]}" -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"query_execute","arguments":{"connection":"shop","sql":"DELETE FROM items"}}}')" 403 "analyst calling a tool it may not use -> 403"
like "$(cat "$TMP/b")" '"id":2,"error":\{"code":-32000,"message":"Forbidden: Permission denied: client .analyst. may not call query_execute' "403 body is a JSON-RPC error naming the rule"
like "$(tr -d '\r' <"$TMP/h")" 'insufficient_scope' "403 carries WWW-Authenticate insufficient_scope"
is "$(req -X POST "$URL" "${H[@]}" -d '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"query_readonly","arguments":{"connection":"shop_admin","sql":"SELECT 1"}}}')" 403 "analyst using a connection it may not use -> 403"
like "$(cat "$TMP/b")" "may not use connection 'shop_admin'" "403 names the connection"
is "$(req -X POST "$URL" "${H[@]}" -d '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"query_readonly","arguments":{"connection":"shop","sql":"SELECT count(*) FROM items"}}}')" 200 "allowed call -> 200"
like "$(cat "$TMP/b")" '"structuredContent":\{.*"rows":\[\[3\]\]' "allowed call returns rows"
kill "$SPID"; wait "$SPID" 2>/dev/null
is "$?" 0 "serve exits 0 on SIGTERM"
like "$("$CLI" --json apikey list)" '"name":"analyst-key"[^}]*"last_used":"20' "apikey list shows when a key was last used"

# fail closed: a key whose policy client disappeared is refused
sed -i 's/"temp": {/"temp_gone": {/' "$CREDBROKER_POLICIES/clients.json"
PORT2=$(free_port)
"$CLI" serve --listen "127.0.0.1:$PORT2" >/dev/null 2>"$TMP/serve2.err" &
SPID2=$!
on_exit "kill $SPID2"
wait_port "$PORT2" 10 || fail "second server started"
is "$(req -X POST "http://127.0.0.1:$PORT2/mcp" -H "$ACC" -H "$CT" -H "Authorization: Bearer $TK" -d "$INIT")" 401 "key bound to an undefined client -> 401 (fail closed)"
# Inspector CLI 2.12.0 over HTTP and stdio
INSP=(npx --no-install @modelcontextprotocol/inspector --cli)
OUT=$(cd "$INTEROP" && "${INSP[@]}" "http://127.0.0.1:$PORT2/mcp" --transport http --header "Authorization: Bearer $WK" --method tools/list 2>&1); rc=$?
is "$rc" 0 "Inspector CLI lists tools over HTTP"
like "$OUT" '"name": *"query_execute"' "Inspector sees the writer's tools"
OUT=$(cd "$INTEROP" && "${INSP[@]}" "http://127.0.0.1:$PORT2/mcp" --transport http --header "Authorization: Bearer wrong" --method tools/list 2>&1); rc=$?
is "$rc" 3 "Inspector CLI: bad key -> exit 3 (auth_required)"
OUT=$(cd "$INTEROP" && "${INSP[@]}" -e "CREDBROKER_DB=$CREDBROKER_DB" -e "CREDBROKER_MASTER_KEY=$CREDBROKER_MASTER_KEY" \
      -e "CREDBROKER_POLICIES=$CREDBROKER_POLICIES" -e "CREDBROKER_CONFIG=$CREDBROKER_CONFIG" "$CLI" mcp --method tools/list 2>&1); rc=$?
is "$rc" 0 "Inspector CLI lists tools over stdio"
like "$OUT" '"name": *"query_readonly"' "Inspector sees query_readonly over stdio"
OUT=$(cd "$INTEROP" && "${INSP[@]}" -e "CREDBROKER_DB=$CREDBROKER_DB" -e "CREDBROKER_MASTER_KEY=$CREDBROKER_MASTER_KEY" \
      -e "CREDBROKER_POLICIES=$CREDBROKER_POLICIES" -e "CREDBROKER_CONFIG=$CREDBROKER_CONFIG" "$CLI" mcp --method tools/call \
      --tool-name query_readonly --tool-args-json '{"connection":"shop","sql":"SELECT name FROM items ORDER BY 1"}' 2>&1); rc=$?
is "$rc" 0 "Inspector CLI calls query_readonly over stdio"
like "$OUT" 'apple' "Inspector gets rows"
kill "$SPID2"; wait "$SPID2" 2>/dev/null

# TLS, the periodic tick the scheduler uses, and the startup line
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 1 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1
PORT3=$(free_port)
"$CLI" serve --listen "127.0.0.1:$PORT3" --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" >/dev/null 2>"$TMP/serve3.err" &
SPID3=$!
on_exit "kill $SPID3"
wait_port "$PORT3" 10 || fail "TLS server started"
is "$(curl -s -o "$TMP/b" -w '%{http_code}' --cacert "$TMP/cert.pem" -X POST "https://127.0.0.1:$PORT3/mcp" -H "$ACC" -H "$CT" -H "Authorization: Bearer $WK" -d "$INIT")" 200 "serve --tls-cert/--tls-key: HTTPS with a verified certificate"
like "$(cat "$TMP/serve3.err")" "serving MCP on https://127.0.0.1:$PORT3/mcp" "serve says where it listens"
kill "$SPID3"; wait "$SPID3" 2>/dev/null
expect_exit 2 "serve with a certificate but no key fails" "$CLI" serve --listen "127.0.0.1:$PORT3" --tls-cert "$TMP/cert.pem"
PORT4=$(free_port)
"$CLI" serve-tick "127.0.0.1:$PORT4" "$TMP/ticks" >/dev/null 2>&1 &
SPID4=$!
on_exit "kill $SPID4"
wait_port "$PORT4" 10 || fail "tick server started"
sleep 2.5
kill "$SPID4"; wait "$SPID4" 2>/dev/null
like "$(wc -l <"$TMP/ticks" 2>/dev/null)" '^ *[23]$' "mcp_app_serve_http calls tick every interval while serving"

# ---- audit and leaks ----
AUDIT=$("$CB" audit list --json 2>&1)
like "$AUDIT" '"action":"mcp.query_readonly"' "tool calls are audited"
like "$AUDIT" '"actor":"mcp:analyst","action":"mcp.query_readonly","target":"shop","outcome":"ok"' "audit row: client, tool, connection, outcome"
like "$AUDIT" '"outcome":"denied"' "denials are audited"
like "$AUDIT" '"rows":3' "audit records rows returned"
like "$AUDIT" '"action":"apikey.create"' "apikey create audited"
like "$AUDIT" '"action":"apikey.revoke"' "apikey revoke audited"
like "$AUDIT" '"action":"mcp.authenticate","target":null,"outcome":"denied"|"action":"mcp.authenticate"[^}]*"outcome":"denied"' "failed authentication audited"
unlike "$AUDIT" 'SENSITIVE-PARAM-VALUE' "sensitive_params: parameter values not in the audit log"
like "$AUDIT" '"params_count":1' "sensitive_params: only the count is recorded"
check "audit chain verifies" "$CB" audit verify
cat "$TMP"/*.err >"$TMP/allerr.log" 2>/dev/null
leak=0
for pw in "$PG_ADMIN_PW" "$RO_PW" "$RW_PW" "$BAD_PW" "FAKE-ROTATION-SECRET" "$NEWKEY" "$AK" "$WK"; do
  for f in "$TRAFFIC" "$TMP/allerr.log" "$TMP/node.out"; do
    if grep -qF -- "$pw" "$f"; then leak=1; diag "secret found in $(basename "$f")"; fi
  done
  case "$AUDIT" in *"$pw"*) leak=1; diag "secret found in the audit log";; esac
done
is "$leak" 0 "no password, key or token in any MCP message, stderr or audit row"
like "$(wc -l <"$TRAFFIC")" '^[0-9]{3,}' "traffic was captured ($(wc -l <"$TRAFFIC") lines)"
grep -qF -- "$BAD_PW" "$TRAFFIC" || pass "wrong-password login error sanitized"
done_testing
