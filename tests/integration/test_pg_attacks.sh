#!/usr/bin/env bash
# The read-only attack catalogue of issue 10 against a real PostgreSQL, sent as an attacker
# controlling the model would: MCP query_readonly (Streamable HTTP, API keys) over a
# connection whose role `app` is the application's own non-superuser login.
#   mode a: text layer on (the default)           -> nothing may change
#   mode b: text layer off (MCP_CLI_NO_PREFILTER) -> what the database alone refuses with the
#           shared app role; what still succeeds is reported (diag), what only the issue-12
#           session reset prevents is a TAP TODO
#   mode c: leased identity, text layer off        -> needs `credbroker lease` (SKIP before)
# After each statement a fingerprint taken as superuser (catalog, roles, tables, sequences,
# large objects, role settings, pg_locks of every backend, the application's own session
# still alive) and a probe through the same client's pooled session (current/session user,
# prepared statements, cursors, LISTEN, advisory locks, temp tables, session settings) must
# be unchanged; a query_execute control shows each statement would have changed them.
# Also: a lock/setting taken through client alpha is never visible to client beta, and
# `credbroker rotate` still works after the model tried to take the rotation's lock.
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/pg.sh
source "$CB_ROOT/tests/lib/pg.sh"
CLI="$BUILD/tools/mcp_cli"
{ [ -x "$CLI" ] && [ -x "$CB" ]; } || skip_all "credbroker / mcp_cli not built"
command -v jq >/dev/null || skip_all "jq missing"
pg_start || skip_all "cannot start PostgreSQL"
# Reason of the TODO assertions (remove once the issue-12 session reset has landed).

# ---------- fixture ----------
APP_PW=$(openssl rand -hex 12)
pg_sql "CREATE ROLE app LOGIN PASSWORD '$APP_PW'; CREATE ROLE app_ops NOLOGIN; GRANT app_ops TO app;
        CREATE ROLE mcp_readers NOLOGIN" >/dev/null
pg_sql "CREATE DATABASE shop" >/dev/null
pg_sql "GRANT CREATE ON SCHEMA public TO app" shop >/dev/null
cat >"$TMP/reset.sql" <<'SQL'
DROP TABLE IF EXISTS items, cb_copy CASCADE; DROP FUNCTION IF EXISTS evil() CASCADE; DROP PROCEDURE IF EXISTS add_item();
SELECT lo_unlink(oid) FROM pg_largeobject_metadata;
ALTER ROLE app RESET ALL;
CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, qty int NOT NULL);
INSERT INTO items (name, qty) VALUES ('apple', 1), ('pear', 5), ('plum', 9);
GRANT SELECT, INSERT, UPDATE, DELETE ON items TO app; GRANT USAGE, UPDATE ON SEQUENCE items_id_seq TO app;
GRANT SELECT ON items TO mcp_readers;
CREATE FUNCTION evil() RETURNS int LANGUAGE plpgsql AS $$ BEGIN INSERT INTO items(name, qty) VALUES ('f', 1); RETURN 1; END $$;
CREATE VIEW v_evil AS SELECT evil() AS x;
GRANT SELECT ON v_evil TO app, mcp_readers;
CREATE PROCEDURE add_item() LANGUAGE sql AS $$ INSERT INTO items(name, qty) VALUES ('p', 1) $$;
SQL
reset_db() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$PGPORT" -U postgres -d shop -f "$TMP/reset.sql" >/dev/null; }
reset_db || { fail "fixture"; done_testing; exit 1; }

# The application's own production session (role app), the victim of signalling attacks.
VICTIM_PID=
start_victim() {
  PGAPPNAME=cb_victim psql -X -q -h "$PGSOCK" -p "$PGPORT" -U app -d shop -c "SELECT pg_sleep(3600)" >/dev/null 2>&1 &
  on_exit "kill $! 2>/dev/null"
  local i
  for i in $(seq 100); do
    VICTIM_PID=$(pg_sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'cb_victim' AND state = 'active'" shop)
    [ -n "$VICTIM_PID" ] && return 0
    sleep 0.05
  done
  return 1
}
start_victim || { fail "victim session started"; done_testing; exit 1; }

# The rotation's own advisory lock key (postgres.c pg_lock_key of "credbroker:rotate:appcred").
KEY=$(python3 -c 'import hashlib,struct; print(struct.unpack(">q", hashlib.sha256(b"credbroker:credbroker:rotate:appcred").digest()[:8])[0])')

# ---------- the lexer decodes as the server does ----------
# Each name and literal is decoded by pg_lex_tool and by PostgreSQL itself (the name through
# a temporary view's column, the literal through convert_to), compared as hex; spellings the
# lexer refuses must be refused by the server too.
LEX="$BUILD/tools/pg_lex_tool"
server_name_hex() { pg_sql "CREATE TEMP VIEW cb_v AS SELECT 1 AS $1; SELECT encode(convert_to(attname::text, 'UTF8'), 'hex') FROM pg_attribute WHERE attrelid = 'cb_v'::regclass" shop 2>/dev/null; }
server_str_hex() { pg_sql "SELECT encode(convert_to($1, 'UTF8'), 'hex')" shop 2>/dev/null; }
lexer_hex() { "$LEX" tokens "$1" 2>/dev/null | awk 'NR==1 && ($1=="qident" || $1=="ident" || $1=="string") {print $2}'; }
if [ -x "$LEX" ]; then
  long=$(printf 'x%.0s' $(seq 70)); long62=$(printf 'x%.0s' $(seq 62))
  # shellcheck disable=SC2016 # literal SQL, nothing to expand
  names=('U&"d\0061t\+000061"' "U&\"d!0061t!+000061\" UESCAPE '!'" 'U&"\D83D\DE00"' '"Quo""ted"' 'FooBAR'
         'U&"a\\b"' "$long" "\"$long62"$'\xc3\xa9'"zz\"" "U&\"!!x\" UESCAPE '!'" "U&\"d!0061\" /* c */ uescape E'!'"
         'a$b' $'\xc3\x89T\xc3\xa9' 'U&"\0070G_TERMINATE"' 'U&"pg\005fterminate\005fbackend"')
  for n in "${names[@]}"; do
    is "$(lexer_hex "$n")" "$(server_name_hex "$n")" "lexer and server decode the name $n alike"
  done
  strs=("E'\\x41\\101\\u0041\\U0001F600\\q'" "'it''s'" $'\'a\'\n  \'b\'' $'E\'a\'\n\'\\n\'' "U&'\\0041' UESCAPE '!'"
        "U&'!0041' UESCAPE '!'" "U&'d\\0061t''a'" "\$tag\$ x \$\$ y \$tag\$" $'\'a\' -- c\n\'b\'' "E'\\uD83D\\uDE00'")
  for v in "${strs[@]}"; do
    is "$(lexer_hex "$v")" "$(server_str_hex "$v")" "lexer and server decode the literal ${v//$'\n'/\\n} alike"
  done
  # with standard_conforming_strings off, a backslash escapes in '...' (the second reading)
  for v in "'a\\'b'" "'\\x41\\n\\101'" "'it''s\\\\'"; do
    got=$("$LEX" tokens-scs-off "$v" 2>/dev/null | awk 'NR==1 {print $2}')
    # two messages: the server lexes a whole message before it runs the SET
    want=$(psql -X -q -A -t -h "$PGSOCK" -p "$PGPORT" -U postgres -d shop -c "SET standard_conforming_strings = off" \
           -c "SELECT encode(convert_to($v, 'UTF8'), 'hex')" 2>/dev/null)
    is "$got" "$want" "with standard_conforming_strings off, lexer and server decode $v alike"
  done
  # shellcheck disable=SC2016 # literal SQL, nothing to expand
  for bad in 'U&"\D83D"' 'U&"\DE00"' 'U&"\12"' "U&\"x\" UESCAPE '+'" "U&\"x\" UESCAPE 'a'" "U&\"x\" UESCAPE '!!'" \
             "E'\\u12'" "E'\\uD83D'" "'abc" '"abc' '/* a /* b */ 1' '$TAG$x$tag$' '""' "E'\\x00'"; do
    "$LEX" tokens "$bad" >/dev/null 2>&1; lrc=$?
    pg_sql "SELECT $bad" shop >/dev/null 2>&1; src=$?
    [ "$lrc" != 0 ] && [ "$src" != 0 ]; ok $? "lexer and server both refuse $bad (lexer $lrc, server $src)"
  done
else
  skip "pg_lex_tool not built"
fi

# ---------- store, policy, API keys ----------
new_store attacks
export CREDBROKER_POLICIES="$TMP/policies" CREDBROKER_CONFIG="$TMP/credbroker.json"
echo '{}' >"$CREDBROKER_CONFIG"
mkdir -p "$CREDBROKER_POLICIES"
write_policy() { # DIR [EXTRA top-level JSON members]
  mkdir -p "$1"
  cat >"$1/clients.json" <<JSON
{ ${2:-}
  "credentials": { "appcred": { "connection": "app", "admin_connection": "pgadmin", "strategy": "single-user" } },
  "clients": {
    "alpha": { "tools": ["query_readonly"], "connections": ["app"], "mode": "read-only", "statement_timeout_ms": 3000 },
    "beta": { "tools": ["query_readonly"], "connections": ["app"], "mode": "read-only", "statement_timeout_ms": 3000 },
    "writer": { "tools": ["query_readonly", "query_execute"], "connections": ["app"], "mode": "read-write", "statement_timeout_ms": 3000 }
  } }
JSON
}
write_policy "$CREDBROKER_POLICIES"
base="127.0.0.1:$PGPORT/shop?sslmode=disable&connect_timeout=5"
printf 'postgresql://app:%s@%s\n' "$APP_PW" "$base" | "$CB" -q conn add app
printf 'postgresql://postgres:%s@%s\n' "$PG_ADMIN_PW" "$base" | "$CB" -q conn add pgadmin
AK=$("$CLI" -q apikey create alpha-key --policy alpha)
BK=$("$CLI" -q apikey create beta-key --policy beta)
WK=$("$CLI" -q apikey create writer-key --policy writer)

# ---------- serve + MCP over curl ----------
SPID=; PORT=; declare -A SID=() KEYOF=([alpha]="$AK" [beta]="$BK" [writer]="$WK")
ACC='Accept: application/json, text/event-stream'
CT='Content-Type: application/json'
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"attacks","version":"0"}}}'
stop_serve() { if [ -n "$SPID" ]; then kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=; fi; }
on_exit stop_serve
# start_serve [ENV=VALUE...]: one `serve` (one session pool) for the clients of a phase.
start_serve() {
  stop_serve
  PORT=$(free_port)
  env "$@" "$CLI" serve --listen "127.0.0.1:$PORT" >>"$TMP/serve.out" 2>>"$TMP/serve.err" &
  SPID=$!
  wait_port "$PORT" 10 || return 1
  SID=()
}
mcp_init() { # CLIENT
  local h
  h=$(curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$PORT/mcp" -H "$ACC" -H "$CT" -H "Authorization: Bearer ${KEYOF[$1]}" -d "$INIT")
  SID[$1]=$(printf '%s' "$h" | tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')
  curl -s -o /dev/null -X POST "http://127.0.0.1:$PORT/mcp" -H "$ACC" -H "$CT" -H "Authorization: Bearer ${KEYOF[$1]}" \
    -H "Mcp-Session-Id: ${SID[$1]}" -H 'MCP-Protocol-Version: 2025-11-25' -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
}
# mcp_call CLIENT TOOL SQL: prints the JSON-RPC result ({"isError":..,"content":..,"structuredContent":..}).
mcp_call() {
  [ -n "${SID[$1]:-}" ] || mcp_init "$1"
  local body
  body=$(jq -cn --arg t "$2" --arg s "$3" '{jsonrpc:"2.0",id:2,method:"tools/call",params:{name:$t,arguments:{connection:"app",sql:$s}}}')
  curl -s -m 30 -X POST "http://127.0.0.1:$PORT/mcp" -H "$ACC" -H "$CT" -H "Authorization: Bearer ${KEYOF[$1]}" \
    -H "Mcp-Session-Id: ${SID[$1]}" -H 'MCP-Protocol-Version: 2025-11-25' -d "$body" |
    sed -n 's/^data: //p; /^{/p' | tail -1 | jq -c '.result // {isError: true, content: [{text: (.error.message // "no result")}]}'
}
result_text() { jq -r '[.content[]?.text] | join(" ")' | tr '\n' ' ' | cut -c1-160; }

# ---------- fingerprint ----------
# fp_db: catalog, roles (leased cb_* logins excepted), members, large objects, extensions,
# role settings, items, the sequence, auto.conf, prepared xacts.
FP_DB="SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
  SELECT 'rel:' || n.nspname || '.' || c.relname || ':' || c.relkind::text || ':' || coalesce(c.relacl::text, '')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
  UNION ALL SELECT 'fn:' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  UNION ALL SELECT 'role:' || rolname || rolsuper || rolcreaterole || rolcreatedb || rolcanlogin || rolreplication || rolbypassrls || rolconnlimit
    FROM pg_roles WHERE rolname NOT LIKE 'cb\\_%'
  UNION ALL SELECT 'member:' || roleid::regrole::text || '>' || member::regrole::text FROM pg_auth_members
   WHERE member::regrole::text NOT LIKE 'cb\\_%'
  UNION ALL SELECT 'lo:' || count(*) FROM pg_largeobject_metadata
  UNION ALL SELECT 'ext:' || extname FROM pg_extension
  UNION ALL SELECT 'set:' || setdatabase || ':' || setrole || ':' || array_to_string(setconfig, ';') FROM pg_db_role_setting
  UNION ALL SELECT 'items:' || coalesce(string_agg(id || '=' || name || '/' || qty, ';' ORDER BY id), '') FROM items
  UNION ALL SELECT 'seq:' || last_value || is_called FROM items_id_seq
  UNION ALL SELECT 'auto:' || count(*) FROM pg_file_settings WHERE sourcefile LIKE '%postgresql.auto.conf'
  UNION ALL SELECT 'xact:' || count(*) FROM pg_prepared_xacts) t(x)"
# fp_locks: every lock an idle client backend holds (what outlives a call; transaction ids
# aside, and not the transient locks of backends that are starting or working).
FP_LOCKS="SELECT coalesce(string_agg(l, ',' ORDER BY l), 'none') FROM (SELECT locktype || ':' || coalesce(database::text, '') || ':' ||
  coalesce(relation::text, '') || ':' || coalesce(classid::text, '') || ':' || coalesce(objid::text, '') || ':' ||
  coalesce(objsubid::text, '') || ':' || mode || ':' || granted AS l FROM pg_locks
  WHERE pid <> pg_backend_pid() AND locktype NOT IN ('virtualxid', 'transactionid')
    AND pid IN (SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND state LIKE 'idle%')) s"
# the probe, through the client's own pooled session
PROBE="SELECT current_user, session_user, (SELECT count(*) FROM pg_prepared_statements) AS prepared,
  (SELECT count(*) FROM pg_cursors) AS cursors, (SELECT count(*) FROM pg_listening_channels()) AS listening,
  (SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory') AS advisory,
  (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()) AS temp_rels,
  coalesce(current_setting('cb.flag', true), '') AS flag,
  (SELECT string_agg(name || '=' || setting, ';' ORDER BY name) FROM pg_settings WHERE source = 'session') AS settings"
# fp: "DB|LOCKS|victim:N" in one psql run (a failing query, e.g. a dropped table, counts as a change)
fp() {
  local out
  out=$(psql -X -q -A -t -h "$PGSOCK" -p "$PGPORT" -U postgres -d shop -c "$FP_DB" -c "$FP_LOCKS" \
    -c "SELECT 'victim:' || count(*) FROM pg_stat_activity WHERE pid = ${VICTIM_PID:-0}" 2>/dev/null | paste -sd'|')
  [[ $out =~ ^[0-9a-f]{32}\|[^|]*\|victim:[0-9]+$ ]] || out="unavailable-$RANDOM|unavailable-$RANDOM|unavailable-$RANDOM"
  printf '%s\n' "$out"
}
fp_victim() { echo "victim:$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE pid = ${VICTIM_PID:-0}" shop)"; }
# settle FLAGS: a signalled backend exits a moment after pg_terminate_backend returns; after
# a signalling statement wait (at most 0.5 s) so its effect is seen now, not on the next one.
settle() {
  [[ $1 == *K* ]] || return 0
  local i; for i in 1 2 3 4 5 6 7 8 9 10; do [ "$(fp_victim)" = "victim:1" ] || return 0; sleep 0.05; done
}
probe() { mcp_call "$1" query_readonly "$PROBE" | jq -c '.structuredContent.rows // .content' | cut -c1-400; }

# restore [WHAT]: puts back what a statement changed, so the next one starts clean: "data"
# resets the fixture, "locks"/"session-state" restart serve (its pooled sessions end),
# "app-session-killed" starts a new victim. Without WHAT: all of it.
SERVE_ENV=()
restore() {
  local what=${1:-data locks session-state app-session-killed} i
  if [[ $what == *locks* || $what == *session-state* ]]; then
    stop_serve
    pg_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend'
            AND pid <> pg_backend_pid() AND pid <> ${VICTIM_PID:-0}" shop >/dev/null
    for i in $(seq 100); do
      [ "$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND pid <> ${VICTIM_PID:-0}" shop)" = 0 ] && break
      sleep 0.05
    done
  fi
  [ "$(fp_victim)" = "victim:1" ] || start_victim
  [[ $what == *data* ]] && reset_db
  [ -n "$SPID" ] || start_serve "${SERVE_ENV[@]}"
}

# reset_is GOT WANT DESC: what the session reset after every call (DISCARD ALL in the
# call's pipeline) and the pool keyed by client guarantee, with or without the text layer.
reset_is() { is "$1" "$2" "$3"; }

# ---------- the catalogue ----------
# add FLAGS CONTROL LABEL SQL
#  FLAGS: - = may change nothing; K = signals the application's other sessions (only a separate
#         login stops it); S = session state that survives ROLLBACK (only the session reset
#         clears it); R = also check that `credbroker rotate` still works afterwards.
#  CONTROL: "=" the same SQL through query_execute; "-" none (why in the label); else that SQL.
C_FLAGS=(); C_CTL=(); C_LABEL=(); C_SQL=()
add() { C_FLAGS+=("$1"); C_CTL+=("$2"); C_LABEL+=("$3"); C_SQL+=("$4"); }
V="application_name = 'cb_victim'"
# signalling, through escapes and through every string-executing function
add K = "issue: U&-escaped pg_terminate_backend of the app role's own sessions" \
  "select U&\"pg\\005fterminate\\005fbackend\"(pid) from pg_stat_activity where usename = current_user and pid <> pg_backend_pid()"
add K = "U& + UESCAPE, schema-qualified pg_cancel_backend" \
  "select pg_catalog.U&\"pg!005fcancel!005fbackend\" UESCAPE '!' (pid) from pg_stat_activity where $V"
add K = "U& with \\+XXXXXX escapes" "select U&\"\\+000070g_terminate_backend\"(pid) from pg_stat_activity where $V"
add K = "quoted, schema-qualified, comments between" "select pg_catalog . /* x */ \"pg_terminate_backend\" (pid) from pg_stat_activity where $V"
add K = "issue: query_to_xml with a concatenated pg_cancel_backend" \
  "select query_to_xml('select pg_'||'cancel_backend(pid) from pg_stat_activity where application_name = ''cb_victim''', true, false, '')"
add K = "query_to_xml_and_xmlschema" \
  "select query_to_xml_and_xmlschema('select pg_terminate_backend(pid) from pg_stat_activity where application_name = ''cb_victim''', true, false, '')"
add K = "query_to_xml with E'' escapes in the SQL string" \
  "select query_to_xml(E'select pg\\x5fterminate\\x5fbackend(pid) from pg_stat_activity where application_name = \\'cb_victim\\'', true, false, '')"
add K = "query_to_xml with a dollar-quoted SQL string" \
  "select query_to_xml(\$q\$select pg_terminate_backend(pid) from pg_stat_activity where $V\$q\$, true, false, '')"
add K = "issue: ts_stat running a query" \
  "select * from ts_stat('select to_tsvector(pg_terminate_backend(pid)::text) from pg_stat_activity where application_name = ''cb_victim''')"
add K = "ts_rewrite running a query" \
  "select ts_rewrite('a'::tsquery, 'select ''a''::tsquery, (''b'' || pg_cancel_backend(pid)::text)::tsquery from pg_stat_activity where application_name = ''cb_victim''')"
add K = "DO block signalling" "DO \$\$BEGIN PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE $V; END\$\$"
add K = "'--' in a string (a naive comment stripper misses the call)" "select '--', pg_terminate_backend(pid) from pg_stat_activity where $V"
add K = "nested comment and dollar quote before the call" "select /* a /* b */ c */ \$\$ '\$\$, pg_cancel_backend(pid) from pg_stat_activity where $V"
add K "select pg_terminate_backend(pid) from pg_stat_activity where $V" "stacked: SELECT 1; terminate" \
  "select 1; select pg_terminate_backend(pid) from pg_stat_activity where $V"
# locks and state that survive ROLLBACK
add SR = "issue: U& pg_advisory_lock on the rotation's own key, then credbroker rotate" "select U&\"pg\\005fadvisory\\005flock\"($KEY)"
add S = "quoted pg_try_advisory_lock_shared" "select \"pg_try_advisory_lock_shared\"(1, 2)"
add S = "advisory lock through query_to_xml" "select query_to_xml('select pg_advisory_lock(77)', true, false, '')"
add S = "advisory lock in a DO block" "DO \$\$BEGIN PERFORM pg_advisory_lock(78); END\$\$"
add S = "PREPARE (prepared statements are not transactional)" "PREPARE cb_p AS SELECT 1"
# session settings, roles, cursors, LISTEN, temp objects
add - = "set_config at session level (search_path)" "select set_config('search_path', 'pg_temp, public', false)"
add - = "set_config of a custom setting at session level" "select set_config('cb.flag', 'pwned', false)"
add - = "U&-escaped set_config of the role" "select U&\"set\\005fconfig\"('role', 'app_ops', false)"
add - = "set_config default_transaction_read_only off" "select set_config('default_transaction_read_only', 'off', false)"
add - = "SET ROLE to a role the app belongs to" "SET ROLE app_ops"
add - - "SET SESSION AUTHORIZATION (no control: needs a superuser session)" "SET SESSION AUTHORIZATION postgres"
add - - "RESET ALL (no control: nothing to reset in a fresh session)" "RESET ALL"
add - = "SET a setting at session level" "SET work_mem = '64MB'"
add - = "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE" "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE"
add - = "LISTEN" "LISTEN cb_chan"
add - - "NOTIFY (no control: a notification leaves nothing to fingerprint)" "NOTIFY cb_chan, 'x'"
add - - "U& pg_notify (no control: as NOTIFY)" "select U&\"pg\\005fnotify\"('cb_chan', 'x')"
add - = "DECLARE ... CURSOR WITH HOLD" "DECLARE cb_c CURSOR WITH HOLD FOR SELECT * FROM items"
add - = "CREATE TEMP TABLE" "CREATE TEMP TABLE cb_tmp (i int)"
add - = "SELECT ... INTO TEMP" "SELECT * INTO TEMP cb_tmp2 FROM items"
add - - "LOCK TABLE (no control: a table lock ends with the transaction)" "LOCK TABLE items IN ACCESS EXCLUSIVE MODE"
add - - "SELECT ... FOR UPDATE (no control: ends with the transaction)" "SELECT * FROM items FOR UPDATE"
add - = "ALTER ROLE app SET (a role-level setting)" "ALTER ROLE app SET work_mem = '64MB'"
# data, through writable CTEs, functions, COMMIT tricks
add - = "writable CTE (DELETE)" "WITH d AS (DELETE FROM items RETURNING *) SELECT count(*) FROM d"
add - = "writable CTE (INSERT)" "WITH i AS (INSERT INTO items(name, qty) VALUES ('cte', 1) RETURNING id) SELECT id FROM i"
add - = "SELECT ... INTO a new table" "SELECT * INTO cb_copy FROM items"
add - = "WITH ... SELECT ... INTO" "WITH x AS (SELECT 1 AS i) SELECT * INTO cb_copy FROM x"
add - = "MERGE" "MERGE INTO items USING (SELECT 1 AS id) s ON items.id = s.id WHEN MATCHED THEN DELETE"
add - = "UPDATE through a U& table name" "UPDATE U&\"\\0069tems\" SET qty = 0"
add - = "side-effecting function" "SELECT evil()"
add - = "table_to_xml over a view that calls a writing function" "select table_to_xml('v_evil', true, false, '')"
add - = "schema_to_xml (reads every table, the view included)" "select schema_to_xml('public', true, false, '')"
add - = "database_to_xml" "select database_to_xml(true, false, '')"
add - = "CALL a procedure" "CALL add_item()"
add - = "EXPLAIN ANALYZE DELETE" "EXPLAIN ANALYZE DELETE FROM items"
add - = "nextval" "select nextval('items_id_seq')"
add - = "quoted setval" "select \"setval\"('items_id_seq', 500)"
add - = "U& lo_from_bytea" "select U&\"lo\\005ffrom\\005fbytea\"(0, 'x')"
add - "DELETE FROM items" "COMMIT; DELETE" "COMMIT; DELETE FROM items"
add - "select pg_advisory_lock(79)" "ROLLBACK; advisory lock" "ROLLBACK; select pg_advisory_lock(79)"
add - "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE" "END; SET SESSION CHARACTERISTICS" \
  "END; SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE"
add - - "COMMIT AND CHAIN (no control: commits nothing)" "COMMIT AND CHAIN"
NCAT=${#C_SQL[@]}
[ "$NCAT" -ge 40 ]; ok $? "the catalogue holds at least 40 statements ($NCAT)"

# run_mode MODE CLIENT: every statement through CLIENT's query_readonly on the current serve.
#  a: everything asserted.  b: data asserted; K diag only; S as TODO.  c: data and K asserted; S as TODO.
run_mode() {
  local mode=$1 client=$2 i sql label flags f0='' p0='' f1 p1 db0 lk0 vi0 db1 lk1 vi1 res txt changed refused_text=0 succeeded=()
  for ((i = 0; i < NCAT; i++)); do
    sql=${C_SQL[$i]} label="$mode: ${C_LABEL[$i]}" flags=${C_FLAGS[$i]}
    [ -n "$f0" ] || { f0=$(fp); p0=$(probe "$client"); }
    res=$(mcp_call "$client" query_readonly "$sql")
    settle "$flags"
    txt=$(printf '%s' "$res" | result_text)
    case "$txt" in *"not allowed read-only"*|*"only one statement"*|*"only SELECT"*|*"cannot tokenize"*|*"EXPLAIN is allowed"*) refused_text=$((refused_text+1));; esac
    f1=$(fp); p1=$(probe "$client")
    IFS='|' read -r db0 lk0 vi0 <<<"$f0"; IFS='|' read -r db1 lk1 vi1 <<<"$f1"
    changed=""
    [ "$db1" = "$db0" ] || changed+=" data"
    [ "$lk1" = "$lk0" ] || changed+=" locks"
    [ "$vi1" = "$vi0" ] || changed+=" app-session-killed"
    [ "$p1" = "$p0" ] || changed+=" session-state"
    is "$db1" "$db0" "$label: catalog, roles, tables, sequences unchanged"
    if [ "$mode" = a ] || [[ $flags != *S* ]]; then
      is "$lk1|$p1" "$lk0|$p0" "$label: locks and session state unchanged"
    else
      reset_is "$lk1|$p1" "$lk0|$p0" "$label: locks and session state unchanged"
    fi
    # with the shared app role nothing but a separate login stops signalling: reported, not asserted
    if [ "$mode" != b ] || [[ $flags != *K* ]]; then
      is "$vi1" "$vi0" "$label: the application's own session survives"
    fi
    if [[ $flags == *R* ]]; then
      local out rc
      out=$("$CB" rotate appcred 2>&1); rc=$?
      if [ "$mode" = a ]; then is "$rc" 0 "$label: credbroker rotate still works ($(echo "$out" | tail -1 | cut -c1-120))"
      else reset_is "$rc" 0 "$label: credbroker rotate still works ($(echo "$out" | tail -1 | cut -c1-120))"; fi
    fi
    f0=$f1 p0=$p1
    if [ -n "$changed" ]; then
      if [ "$mode" = a ]; then diag "$label changed:$changed; result: $txt"; else succeeded+=("${C_LABEL[$i]}:$changed"); fi
      restore "$changed"
      f0=
    fi
  done
  diag "mode $mode: $refused_text of $NCAT statements refused by the text layer"
  if [ "$mode" != a ]; then
    diag "mode $mode: ${#succeeded[@]} of $NCAT statements left a trace with the text layer off:"
    local s; for s in "${succeeded[@]}"; do diag "  SUCCEEDS TODAY: $s"; done
  fi
}

# ---------- controls: the same statements through query_execute (read-write client) ----------
start_serve || { fail "serve started"; diag "$(cat "$TMP/serve.err")"; done_testing; exit 1; }
pass "credbroker serve (mcp_cli) listens"
nctl=0; nchanged=0; f0=
for ((i = 0; i < NCAT; i++)); do
  ctl=${C_CTL[$i]}
  [ "$ctl" = - ] && continue
  [ "$ctl" = = ] && ctl=${C_SQL[$i]}
  nctl=$((nctl+1))
  [ -n "$f0" ] || { f0=$(fp); p0=$(probe writer); }
  res=$(mcp_call writer query_execute "$ctl")
  settle "${C_FLAGS[$i]}"
  f1=$(fp); p1=$(probe writer)
  IFS='|' read -r db0 lk0 vi0 <<<"$f0"; IFS='|' read -r db1 lk1 vi1 <<<"$f1"
  changed=""
  [ "$db1" = "$db0" ] || changed+=" data"
  [ "$lk1" = "$lk0" ] || changed+=" locks"
  [ "$vi1" = "$vi0" ] || changed+=" app-session-killed"
  [ "$p1" = "$p0" ] || changed+=" session-state"
  if [ -n "$changed" ]; then
    pass "control: query_execute changes it ($changed ): ${C_LABEL[$i]}"; nchanged=$((nchanged+1))
    restore "$changed"; f0=
  else
    fail "control: query_execute changes it: ${C_LABEL[$i]}"; diag "result: $(printf '%s' "$res" | result_text)"
    f0=$f1 p0=$p1
  fi
done
diag "controls: $nchanged of $nctl statements changed the database or the session through query_execute"

# ---------- mode a: text layer on ----------
run_mode a alpha
# cross-client with the text layer on: alpha cannot take anything beta could see
for sql in "select pg_advisory_lock(4242)" "PREPARE cb_x AS SELECT 1" "select set_config('cb.flag', 'alpha', false)"; do
  mcp_call alpha query_readonly "$sql" >/dev/null
done
seen=$(mcp_call beta query_readonly "SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'), (SELECT count(*) FROM pg_prepared_statements), coalesce(current_setting('cb.flag', true), '')" | jq -c '.structuredContent.rows')
is "$seen" '[[0,0,""]]' "a: cross-client: no lock, prepared statement or setting of alpha visible to beta"

# a database with standard_conforming_strings off reads a call that the default reading
# sees inside a string: the text layer's second reading refuses it
pg_sql "ALTER DATABASE shop SET standard_conforming_strings = off" >/dev/null
restore
SCS_ATTACK="select 'a\\'' , pg_terminate_backend(pid) from pg_stat_activity where $V --'"
res=$(mcp_call alpha query_readonly "$SCS_ATTACK"); settle K
like "$(printf '%s' "$res" | result_text)" 'pg_terminate_backend is not allowed.*reading strings with standard_conforming' "a: standard_conforming_strings off: the call outside the string is refused"
is "$(fp_victim)" "victim:1" "a: standard_conforming_strings off: the application's own session survives"
mcp_call writer query_execute "$SCS_ATTACK" >/dev/null; settle K
is "$(fp_victim)" "victim:0" "a: standard_conforming_strings off: control - through query_execute the server runs the call"
pg_sql "ALTER DATABASE shop RESET standard_conforming_strings" >/dev/null
restore

# ---------- mode b: text layer off, the shared app role ----------
SERVE_ENV=(MCP_CLI_NO_PREFILTER=1)
restore
run_mode b alpha
restore
mcp_call alpha query_readonly "select pg_advisory_lock(4242)" >/dev/null
mcp_call alpha query_readonly "PREPARE cb_x AS SELECT 1" >/dev/null
mcp_call alpha query_readonly "select set_config('cb.flag', 'alpha', false)" >/dev/null
seen=$(mcp_call beta query_readonly "SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()), (SELECT count(*) FROM pg_prepared_statements)" | jq -c '.structuredContent.rows')
reset_is "$seen" '[[0,0]]' "b: cross-client: alpha's session lock and prepared statement not visible through beta (pg_locks)"
seen=$(mcp_call beta query_readonly "SELECT coalesce(current_setting('cb.flag', true), '')" | jq -c '.structuredContent.rows')
is "$seen" '[[""]]' "b: cross-client: alpha's session-level set_config is not visible through beta (current_setting)"
restore

# ---------- mode c: leased identity, text layer off ----------
if ! "$CB" lease list --json >"$TMP/lease.out" 2>&1; then
  skip "c: leased identity: \`credbroker lease\` is not available in this build ($(head -1 "$TMP/lease.out" | cut -c1-80)); runs once the leases work is merged"
else
  pg_sql "GRANT SELECT ON items TO mcp_readers" shop >/dev/null
  write_policy "$TMP/policies-leased" '"connections": { "app": { "query_identity": { "admin_connection": "pgadmin",
    "member_of": ["mcp_readers"], "ttl_s": 3600, "connection_limit": 4 } } },'
  SERVE_ENV=(MCP_CLI_NO_PREFILTER=1 CREDBROKER_POLICIES="$TMP/policies-leased")
  restore
  who=$(mcp_call alpha query_readonly "SELECT current_user, session_user" | jq -c '.structuredContent.rows[0]')
  like "$who" '^\["[^"]+","[^"]+"\]$' "c: query_readonly answers through the leased identity ($who)"
  unlike "$who" '"app"' "c: ... as a leased login, never as app"
  like "$(CREDBROKER_POLICIES="$TMP/policies-leased" "$CB" lease list --json)" 'alpha' "c: lease list shows alpha's lease"
  run_mode c alpha
  mcp_call alpha query_readonly "select pg_advisory_lock(4242)" >/dev/null
  seen=$(mcp_call beta query_readonly "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()" | jq -c '.structuredContent.rows')
  is "$seen" '[[0]]' "c: cross-client: alpha's lock is not held by beta's session"
fi

[ "$(fp_victim)" = "victim:1" ] || start_victim
done_testing
