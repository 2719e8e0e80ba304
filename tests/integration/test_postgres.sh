#!/usr/bin/env bash
# PostgreSQL db_target against a real throwaway server: password rotation (client-side
# SCRAM, plaintext never logged), session termination, advisory locks, read-only queries
# and the known read-only bypass catalogue, each checked against a database fingerprint
# and each paired with a control proving the same statement does change the database.
# test-store: none (db_tool against the target cluster only)
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/pg.sh
source "$CB_ROOT/tests/lib/pg.sh"
T="$BUILD/tools/db_tool"
[ -x "$T" ] || skip_all "db_tool not built"
command -v pg_config >/dev/null || skip_all "PostgreSQL not installed"
pg_start || skip_all "cannot start PostgreSQL"

urlenc() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
url_for() { # user password [db]
  printf 'postgresql://%s:%s@127.0.0.1:%s/%s?sslmode=disable&connect_timeout=5' \
    "$(urlenc "$1")" "$(urlenc "$2")" "$PGPORT" "${3:-postgres}"
}
admin() { DB_URL="$PG_ADMIN_URL" "$T" postgres "$@"; }

# A world-writable directory the server (user postgres) can write into.
W="$TMP/w"; mkdir -p "$W"; chmod 777 "$W"

pg_sql "CREATE EXTENSION IF NOT EXISTS dblink" >/dev/null 2>&1 && HAVE_DBLINK=1 || HAVE_DBLINK=0
pg_sql "
CREATE TABLE acct(id int PRIMARY KEY, owner text NOT NULL, balance numeric(12,2), active bool, score float8, big int8);
INSERT INTO acct SELECT g, 'owner'||g, g*10.5, g%2=0, g/4.0, g::int8*10000000000 FROM generate_series(1,50) g;
CREATE TABLE txn(id serial PRIMARY KEY, acct_id int REFERENCES acct(id), amount numeric);
CREATE SEQUENCE s1;
CREATE TABLE d1(i int); CREATE TABLE d2(i int); CREATE TABLE d3(i int);
CREATE FUNCTION evil() RETURNS int LANGUAGE plpgsql VOLATILE AS \$\$
  BEGIN INSERT INTO acct VALUES ((SELECT max(id)+1 FROM acct), 'evil', 0, false, 0, 0); RETURN 1; END \$\$;
SELECT lo_from_bytea(4242, 'large object');
CREATE ROLE reader LOGIN PASSWORD 'reader-pw-123';
GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader;
GRANT USAGE ON SEQUENCE s1 TO reader;
GRANT EXECUTE ON FUNCTION evil() TO reader;" >/dev/null || { fail "fixture"; done_testing; exit 1; }
READER_URL=$(url_for reader reader-pw-123)

fingerprint() { # a failing query yields a unique value, so comparisons fail
  pg_sql "SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
    SELECT 'c:'||n.nspname||'.'||c.relname||':'||c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid=c.relnamespace
      WHERE n.nspname NOT LIKE 'pg\_temp%' AND n.nspname NOT LIKE 'pg\_toast\_temp%'
    UNION ALL SELECT 'r:'||rolname||':'||coalesce(rolpassword,'')||rolsuper::text||rolcanlogin::text FROM pg_authid
    UNION ALL SELECT 'a:'||md5(coalesce((SELECT string_agg(a::text, ',' ORDER BY id) FROM acct a), ''))
    UNION ALL SELECT 's:'||last_value||is_called::text FROM s1
    UNION ALL SELECT 'lo:'||count(*) FROM pg_largeobject_metadata
    UNION ALL SELECT 'px:'||count(*) FROM pg_prepared_xacts
    UNION ALL SELECT 'set:'||setting FROM pg_settings WHERE name='default_transaction_read_only'
  ) t(x)" 2>/dev/null || echo "fingerprint-error-$RANDOM$RANDOM"
  ls -A "$W"
}

# ---------- basics ----------
v=$(admin version)
like "$v" '^1[0-9]' "server_version ($v)"
check "test-login admin" env DB_URL="$PG_ADMIN_URL" "$T" postgres test-login

# ---------- sanitized errors ----------
BADPW='Wr0ng!pass@word:/x'
BADURL=$(url_for postgres "$BADPW")
DB_URL="$BADURL" "$T" postgres test-login >"$TMP/o" 2>"$TMP/err"; rc=$?
isnt "$rc" 0 "wrong password is refused"
err=$(cat "$TMP/err")
like "$err" 'password authentication failed' "error says why ($err)"
if grep -qF "$BADPW" "$TMP/err" || grep -qF "$(urlenc "$BADPW")" "$TMP/err" || grep -qF "postgresql://" "$TMP/err"; then
  fail "error text contains the password or the URL"; else pass "error text holds neither password nor URL"; fi
printf '%s' "$BADURL" | "$T" postgres test-login >/dev/null 2>&1
isnt "$?" 0 "URL read from stdin too"

# ---------- connection options are honoured ----------
DB_URL="postgresql://postgres:$PG_ADMIN_PW@127.0.0.1:$PGPORT/postgres?sslmode=require" "$T" postgres test-login >/dev/null 2>"$TMP/err"
isnt "$?" 0 "sslmode=require is honoured (this server has no TLS)"
like "$(cat "$TMP/err")" 'SSL' "error names the TLS failure"
# a listener that accepts and never answers: connect_timeout must end the attempt
BH=$(free_port)
python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5)
c=[]
while True: c.append(s.accept()[0])' "$BH" &
bhp=$!; on_exit "kill $bhp 2>/dev/null"
wait_port "$BH" 5
start=$(date +%s%N)
DB_URL="postgresql://u:p@127.0.0.1:$BH/x?sslmode=disable&connect_timeout=2" "$T" postgres test-login >/dev/null 2>&1; rc=$?
el=$(( ($(date +%s%N) - start) / 1000000 ))
isnt "$rc" 0 "silent server: connect fails"
[ "$el" -ge 1500 ] && [ "$el" -lt 6000 ]; ok $? "connect_timeout=2 from the URL is honoured (${el} ms)"
start=$(date +%s%N)
DB_URL="postgresql://u:p@127.0.0.1:$BH/x?sslmode=disable" "$T" postgres test-login >/dev/null 2>&1
el=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$el" -ge 9000 ] && [ "$el" -lt 15000 ]; ok $? "default connect_timeout is 10 s (${el} ms)"

# ---------- set_password ----------
pg_sql "CREATE ROLE app LOGIN PASSWORD 'old-password-1'" >/dev/null
OLD_URL=$(url_for app old-password-1)
check "old password works before rotation" env DB_URL="$OLD_URL" "$T" postgres test-login
pg_sql "ALTER SYSTEM SET log_statement = 'all'" >/dev/null && pg_sql "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
NEWPW="N3w'pa\"ss\\ w@rd:/?#%;=$(openssl rand -hex 8)"
NEW_PASSWORD="$NEWPW" admin set-password app >"$TMP/o" 2>&1
is "$(cat "$TMP/o")" '{"ok":true}' "set-password app"
DB_URL="$OLD_URL" "$T" postgres test-login >/dev/null 2>&1
isnt "$?" 0 "old password rejected after rotation"
check "new password works (quotes, backslash, @:/?#%;= and spaces)" env DB_URL="$(url_for app "$NEWPW")" "$T" postgres test-login
like "$(pg_sql "SELECT rolpassword FROM pg_authid WHERE rolname='app'")" '^SCRAM-SHA-256\$' "rolpassword is a SCRAM verifier"
sleep 0.5
LOG="$PGSOCK/server.log"
if grep -q 'ALTER ROLE "app" PASSWORD' "$LOG" && grep -q 'SCRAM-SHA-256\$' "$LOG"; then
  pass "log_statement=all captured the ALTER ROLE (the check below is real)"
else fail "ALTER ROLE not found in the server log"; fi
if grep -qF "$NEWPW" "$LOG" || grep -qF "N3w'pa" "$LOG"; then fail "server log contains the plaintext"; else pass "server log never contains the plaintext"; fi
pg_sql "ALTER SYSTEM RESET log_statement" >/dev/null && pg_sql "SELECT pg_reload_conf()" >/dev/null
# a role name that needs quoting
pg_sql "CREATE ROLE \"Odd \"\"User\" LOGIN PASSWORD 'x-initial-123'" >/dev/null
NEW_PASSWORD="odd-user-new-pw-42" admin set-password 'Odd "User' >/dev/null 2>&1
ok $? "set-password on a role name with space and quote"
check "odd role logs in with new password" env DB_URL="$(url_for 'Odd "User' odd-user-new-pw-42)" "$T" postgres test-login
NEW_PASSWORD="x" admin set-password 'no_such_role' >/dev/null 2>"$TMP/err"
isnt "$?" 0 "set-password on a missing role fails"

# ---------- terminate sessions ----------
APPPW="$NEWPW"
for _ in 1 2; do
  PGPASSWORD="$APPPW" psql -X -q -h 127.0.0.1 -p "$PGPORT" -U app -d postgres -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
  bgp+=("$!")
done
on_exit "kill ${bgp[*]} 2>/dev/null"
for _ in $(seq 50); do
  [ "$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE usename='app'")" = 2 ] && break; sleep 0.1
done
is "$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE usename='app'")" 2 "two app sessions open"
is "$(admin terminate app)" '{"terminated":2}' "terminate app ends 2 sessions"
sleep 0.5
is "$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE usename='app'")" 0 "no app session left"
alive=0; for p in "${bgp[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive+1)); done
is "$alive" 0 "both psql clients saw their sessions end"
is "$(admin terminate app)" '{"terminated":0}' "terminate with no sessions = 0"

# ---------- advisory lock ----------
admin lock rotation:db1 --hold-ms 3000 >"$TMP/lock1" 2>&1 &
lp=$!
for _ in $(seq 50); do [ -s "$TMP/lock1" ] && break; sleep 0.1; done
is "$(cat "$TMP/lock1")" '{"acquired":true}' "first holder gets the lock"
is "$(admin lock rotation:db1)" '{"acquired":false}' "second holder is refused while held"
is "$(admin lock rotation:other)" '{"acquired":true}' "another name is independent"
wait "$lp"; ok $? "first holder unlocked cleanly"
is "$(admin lock rotation:db1)" '{"acquired":true}' "free again after release"

# ---------- query_readonly ----------
r=$(DB_URL="$READER_URL" "$T" postgres query-ro "SELECT id, owner, balance, active, score, big, NULL::text AS n FROM acct WHERE id = \$1 OR owner = \$2 ORDER BY id" '[3, "owner4"]')
is "$r" '{"columns":[{"name":"id","type":"int4"},{"name":"owner","type":"text"},{"name":"balance","type":"numeric"},{"name":"active","type":"bool"},{"name":"score","type":"float8"},{"name":"big","type":"int8"},{"name":"n","type":"text"}],"rows":[[3,"owner3","31.50",false,0.75,30000000000,null],[4,"owner4","42.00",true,1.0,40000000000,null]],"row_count":2,"truncated":false}' "types, params and NULL"
r=$(DB_URL="$READER_URL" "$T" postgres query-ro "SELECT \$1::bool AS b, \$2::float8 AS f, \$3::text IS NULL AS isnull, '{1,2}'::int[] AS arr, 'a'::varchar AS v" '[true, 2.5, null]')
is "$r" '{"columns":[{"name":"b","type":"bool"},{"name":"f","type":"float8"},{"name":"isnull","type":"bool"},{"name":"arr","type":"integer[]"},{"name":"v","type":"varchar"}],"rows":[[true,2.5,true,"{1,2}","a"]],"row_count":1,"truncated":false}' "bool/float/null params, array type name"
r=$(DB_URL="$READER_URL" "$T" postgres query-ro "SELECT g FROM generate_series(1, 100000) g" --max-rows 5)
is "$r" '{"columns":[{"name":"g","type":"int4"}],"rows":[[1],[2],[3],[4],[5]],"row_count":5,"truncated":true,"limit_rows":5}' "row cap stops at max_rows and says truncated"
r=$(DB_URL="$READER_URL" "$T" postgres query-ro "SELECT repeat('x', 1000) FROM generate_series(1, 1000)" --max-bytes 10000)
like "$r" '"truncated":true' "byte cap truncates"
n=$(printf '%s' "$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["row_count"])')
[ "$n" -ge 5 ] && [ "$n" -le 10 ]; ok $? "byte cap keeps ~10 KB of rows ($n)"
r=$(DB_URL="$READER_URL" "$T" postgres query-ro "SELECT 1 WHERE false")
is "$r" '{"columns":[{"name":"?column?","type":"int4"}],"rows":[],"row_count":0,"truncated":false}' "empty result keeps columns"
DB_URL="$READER_URL" "$T" postgres query-ro "SELECT \$1" '[{"a":1}]' >/dev/null 2>"$TMP/err"
isnt "$?" 0 "object parameter rejected"
DB_URL="$READER_URL" "$T" postgres query-ro "SELECT \$1" '[[1]]' >/dev/null 2>&1
isnt "$?" 0 "array parameter rejected"
start=$(date +%s%N)
DB_URL="$READER_URL" "$T" postgres query-ro "SELECT pg_sleep(10)" --timeout-ms 500 >/dev/null 2>"$TMP/err"; rc=$?
el=$(( ($(date +%s%N) - start) / 1000000 ))
isnt "$rc" 0 "pg_sleep beyond the timeout fails"
[ "$el" -lt 3000 ]; ok $? "timeout enforced server-side (${el} ms)"
like "$(cat "$TMP/err")" 'statement timeout' "timeout error says so"
DB_URL="$READER_URL" "$T" postgres query-ro "SELECT * FROM nope" >/dev/null 2>"$TMP/err"
like "$(cat "$TMP/err")" 'does not exist' "SQL error reported"
if grep -q "reader-pw-123" "$TMP/err"; then fail "SQL error leaks password"; else pass "SQL error has no password"; fi

# The session stays clean across calls on one connection.
out=$(DB_URL="$PG_ADMIN_URL" DB_TOOL_NO_PREFILTER=1 "$T" postgres query-ro-seq "COMMIT" "SELECT 1/0" \
      "SELECT current_setting('transaction_read_only') AS ro, current_setting('statement_timeout') AS st")
last=$(printf '%s\n' "$out" | tail -1)
like "$last" '"rows":\[\["on","30s"\]\]' "after COMMIT and an error, the next call is a fresh READ ONLY transaction ($last)"
after=$(pg_sql "SHOW statement_timeout")
is "$after" "0" "SET LOCAL did not leak into the server default"

# ---------- bypass catalogue ----------
# ro_case DESC SQL MODE CONTROL
#  MODE: both  = refused with the prefilter AND unchanged without it (the transaction guard)
#        pre   = refused by the prefilter (the statement acts outside the transaction)
#        reader= without prefilter as the SELECT-only role: refused by privileges
#  CONTROL: "psql:SQL" or "exec:SQL" run the same effect for real; the fingerprint must change.
ro_case() {
  local desc=$1 sql=$2 mode=$3 control=${4:-} before after rc
  before=$(fingerprint)
  DB_URL="$PG_ADMIN_URL" "$T" postgres query-ro "$sql" >"$TMP/o" 2>"$TMP/err"; rc=$?
  isnt "$rc" 0 "$desc: refused ($(head -c 120 "$TMP/err"))"
  is "$(fingerprint)" "$before" "$desc: database unchanged"
  if [ "$mode" = both ]; then
    DB_URL="$PG_ADMIN_URL" DB_TOOL_NO_PREFILTER=1 "$T" postgres query-ro "$sql" >"$TMP/o" 2>"$TMP/err"
    is "$(fingerprint)" "$before" "$desc: unchanged even without the prefilter ($(head -c 100 "$TMP/err"))"
  elif [ "$mode" = reader ]; then
    DB_URL="$READER_URL" DB_TOOL_NO_PREFILTER=1 "$T" postgres query-ro "$sql" >"$TMP/o" 2>"$TMP/err"
    is "$(fingerprint)" "$before" "$desc: unchanged as the SELECT-only role without the prefilter"
  fi
  case "$control" in
    psql:*) pg_sql "${control#psql:}" >/dev/null 2>&1;;
    exec:*) DB_URL="$PG_ADMIN_URL" "$T" postgres execute "${control#exec:}" >/dev/null 2>&1;;
    *) return 0;;
  esac
  after=$(fingerprint)
  isnt "$after" "$before" "$desc: control - the same statement does change the database"
}

ro_case "COMMIT; DROP" "COMMIT; DROP TABLE d1" both "psql:COMMIT; DROP TABLE d1"
ro_case "stacked statements" "SELECT 1; UPDATE acct SET balance = balance + 1" both "psql:SELECT 1; UPDATE acct SET balance = balance + 1"
ro_case "leading comment + stacked" "/* hi */ -- x
COMMIT; DROP TABLE d2" both "psql:COMMIT; DROP TABLE d2"
ro_case "SET transaction_read_only = off" "SET transaction_read_only = off" both \
  "psql:BEGIN READ ONLY; SET transaction_read_only = off; UPDATE acct SET balance = balance + 1; COMMIT"
ro_case "set_config(transaction_read_only) + nextval" "SELECT set_config('transaction_read_only','off',false), nextval('s1')" both "exec:SELECT nextval('s1')"
ro_case "DO block" "DO \$\$BEGIN UPDATE acct SET balance = balance + 1; END\$\$" both "exec:DO \$\$BEGIN UPDATE acct SET balance = balance + 1; END\$\$"
ro_case "writable CTE" "WITH x AS (UPDATE acct SET balance = balance + 1 RETURNING 1) SELECT count(*) FROM x" both \
  "exec:WITH x AS (UPDATE acct SET balance = balance + 1 RETURNING 1) SELECT count(*) FROM x"
ro_case "nextval" "SELECT nextval('s1')" both "exec:SELECT nextval('s1')"
ro_case "volatile function that writes" "SELECT evil()" both "exec:SELECT evil()"
ro_case "EXPLAIN ANALYZE of a write" "EXPLAIN ANALYZE UPDATE acct SET balance = balance + 1" both "exec:EXPLAIN ANALYZE UPDATE acct SET balance = balance + 1"
ro_case "SELECT ... FOR UPDATE" "SELECT * FROM acct FOR UPDATE" both
ro_case "CREATE TEMP TABLE" "CREATE TEMP TABLE tt(i int)" both "exec:CREATE TABLE d3b(i int)"
ro_case "CREATE TABLE" "CREATE TABLE d4(i int)" both "exec:CREATE TABLE d4(i int)"
ro_case "lo_import" "SELECT lo_import('/etc/hostname')" both "psql:SELECT lo_import('/etc/hostname')"
ro_case "PREPARE TRANSACTION" "PREPARE TRANSACTION 'p1'" both
ro_case "SET SESSION CHARACTERISTICS" "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE" both
ro_case "LISTEN" "LISTEN ch" both
ro_case "NOTIFY" "NOTIFY ch, 'x'" both
ro_case "COPY TO PROGRAM" "COPY (SELECT 1) TO PROGRAM 'touch $W/copy_pwned'" reader "psql:COPY (SELECT 1) TO PROGRAM 'touch $W/copy_pwned'"
ro_case "lo_export" "SELECT lo_export(4242, '$W/lo_out')" reader "psql:SELECT lo_export(4242, '$W/lo_out')"
if [ "$HAVE_DBLINK" = 1 ]; then
  ro_case "dblink_exec" "SELECT dblink_exec('host=$PGSOCK port=$PGPORT user=postgres dbname=postgres', 'DROP TABLE d3')" reader \
    "psql:SELECT dblink_exec('host=$PGSOCK port=$PGPORT user=postgres dbname=postgres', 'DROP TABLE d3')"
else
  skip "dblink extension not installed"
fi
# admin functions: a victim session must survive
PGPASSWORD=reader-pw-123 psql -X -q -h 127.0.0.1 -p "$PGPORT" -U reader -d postgres -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
vp=$!; on_exit "kill $vp 2>/dev/null"
for _ in $(seq 50); do [ "$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE usename='reader'")" = 1 ] && break; sleep 0.1; done
ro_case "pg_terminate_backend" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'reader'" pre
ro_case "pg_cancel_backend" "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE usename = 'reader'" pre
ro_case "quoted function name" "SELECT \"pg_terminate_backend\"(pid) FROM pg_stat_activity WHERE usename = 'reader'" pre
sleep 0.3
kill -0 "$vp" 2>/dev/null; ok $? "victim session survived the admin-function attempts"
is "$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE usename='reader'")" 1 "victim still connected"
DB_URL="$PG_ADMIN_URL" DB_TOOL_NO_PREFILTER=1 "$T" postgres query-ro "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'reader'" >/dev/null 2>&1
sleep 0.5
kill -0 "$vp" 2>/dev/null; isnt "$?" 0 "control: without the deny-list a superuser connection can kill it (why the deny-list exists)"

# ---------- query_execute ----------
r=$(admin execute "INSERT INTO txn(acct_id, amount) VALUES (\$1, \$2)" '[1, "9.99"]')
like "$r" '"affected_rows":1' "execute inserts with bound params"
is "$(pg_sql "SELECT count(*) FROM txn")" 1 "insert committed"
admin execute "INSERT INTO txn(acct_id, amount) VALUES (1, 1); DELETE FROM txn" >/dev/null 2>&1
isnt "$?" 0 "execute refuses stacked statements"
is "$(pg_sql "SELECT count(*) FROM txn")" 1 "nothing ran"

# ---------- describe_schema ----------
s=$(DB_URL="$READER_URL" "$T" postgres schema)
printf '%s' "$s" | python3 -c '
import json,sys
d=json.load(sys.stdin)
t={x["schema"]+"."+x["name"]:x for x in d["tables"]}
a=t["public.acct"]; x=t["public.txn"]
assert a["primary_key"]==["id"], a
assert {"name":"owner","type":"text","nullable":False} in a["columns"], a["columns"]
assert {"name":"balance","type":"numeric(12,2)","nullable":True} in a["columns"]
fk=x["foreign_keys"][0]
assert fk["columns"]==["acct_id"] and fk["references_table"]=="public.acct" and fk["references_columns"]==["id"], fk
assert not any(k.startswith(("pg_catalog.","information_schema.")) for k in t)
' 2>"$TMP/err"; ok $? "describe_schema: columns, types, nullability, PK, FK ($(tail -1 "$TMP/err"))"

done_testing
