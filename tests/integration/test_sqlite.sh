#!/usr/bin/env bash
# The SQLite engine (providers/databases/sqlite.c): read-only queries on a file opened
# SQLITE_OPEN_READONLY with an authorizer; every write / ATTACH / PRAGMA / extension trick
# leaves the file byte-identical (sha256), with a query_execute control that does change
# it; ATTACH cannot create a file; time limit, row and byte caps, bound params, schema;
# rotation says it does not apply; assess checks the file's mode and owner.
# shellcheck source=tests/lib/common.sh disable=SC1091
source "$(dirname "$0")/../lib/common.sh"
DBT="$BUILD/tools/db_tool"
[ -x "$DBT" ] && [ -x "$CB" ] || skip_all "db_tool / credbroker not built"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"

DB="$TMP/app.db"
sqlite3 "$DB" "CREATE TABLE acct(id INTEGER PRIMARY KEY, name TEXT NOT NULL, bal INT, pic BLOB);
INSERT INTO acct VALUES (1,'ann',100,x'00ff'),(2,'bob',200,NULL),(3,'cy',300,NULL);
CREATE TABLE child(id INTEGER PRIMARY KEY, acct_id INT REFERENCES acct(id));
CREATE VIEW rich AS SELECT * FROM acct WHERE bal > 150;
CREATE TABLE big(v TEXT); INSERT INTO big VALUES (printf('%.*c', 2000000, 'x'));" || { fail "fixture"; done_testing; exit 1; }
chmod 600 "$DB"
q() { DB_URL="$DB" "$DBT" sqlite "$@"; }
J() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
sha() { sha256sum "$DB" | cut -c1-64; }

out=$(q query-ro "SELECT id, name, bal, pic FROM acct WHERE bal > ? ORDER BY id" '[150]')
is "$(J "$out" 'd["rows"]')" "[[2, 'bob', 200, None], [3, 'cy', 300, None]]" "bound parameter, integers, text, NULL"
is "$(J "$out" '[c["type"] for c in d["columns"]]')" "['INTEGER', 'TEXT', 'INT', 'BLOB']" "declared column types"
out=$(q query-ro "SELECT pic FROM acct WHERE id = 1")
is "$(J "$out" 'd["rows"][0][0]')" '\x00ff' "blobs as \\x hex"
out=$(q query-ro "SELECT ?" "[\"'); DROP TABLE acct; --\"]")
is "$(J "$out" 'd["rows"][0][0]')" "'); DROP TABLE acct; --" "a parameter is a value, never SQL"
out=$(q query-ro "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c" --max-rows 4)
is "$(J "$out" '(d["row_count"], d["truncated"])')" "(4, True)" "row cap on an endless recursive CTE"
out=$(q query-ro "SELECT v FROM big" --max-bytes 50000)
is "$(J "$out" '(d["row_count"], d["truncated"])')" "(0, True)" "byte cap: a 2 MB value with a 50 kB cap is not returned"
t0=$(date +%s%N)
out=$(q query-ro "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c" --timeout-ms 400 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "$([ $rc -ne 0 ] && [ $ms -lt 5000 ]; echo $?)" "time limit via the progress handler (${ms} ms)"
like "$out" "statement timeout \(400 ms\)" "... says so"
out=$(q query-ro "PRAGMA table_info(acct)")
is "$(J "$out" 'len(d["rows"])')" 4 "read-only PRAGMA table_info is allowed"
out=$(q query-ro "SELECT name FROM pragma_table_info('acct') ORDER BY cid LIMIT 1")
is "$(J "$out" 'd["rows"][0][0]')" id "pragma table-valued functions are allowed"
out=$(q query-ro "PRAGMA user_version")
is "$(J "$out" 'd["rows"][0][0]')" 0 "PRAGMA user_version (read) is allowed"
out=$(q schema)
is "$(J "$out" '[(t["name"], t["kind"]) for t in d["tables"]]')" "[('acct', 'table'), ('big', 'table'), ('child', 'table'), ('rich', 'view')]" "schema: tables and views"
is "$(J "$out" '[t for t in d["tables"] if t["name"]=="child"][0]["foreign_keys"][0]["references_table"]')" "main.acct" "schema: foreign keys"
like "$(q version)" "^SQLite 3\." "version"
out=$(DB_URL="$TMP/missing.db" "$DBT" sqlite query-ro "SELECT 1" 2>&1); rc=$?
ok "$([ $rc -ne 0 ] && [ ! -e "$TMP/missing.db" ]; echo $?)" "a missing file is an error and is not created"

# --- every write / attach / pragma trick leaves the file byte-identical ---------------------------
H0=$(sha)
TRICKS=(
  "INSERT INTO acct VALUES (9, 'x', 1, NULL)" "UPDATE acct SET bal = 0" "DELETE FROM acct" "REPLACE INTO acct VALUES (1, 'z', 0, NULL)"
  "DROP TABLE acct" "CREATE TABLE t2 (a)" "CREATE TEMP TABLE t3 (a)" "ALTER TABLE acct ADD COLUMN c" "CREATE INDEX ix ON acct(bal)"
  "ATTACH '$TMP/other.db' AS o" "ATTACH 'file:$TMP/other2.db?mode=rwc' AS o" "DETACH main"
  "PRAGMA user_version = 7" "PRAGMA journal_mode = WAL" "PRAGMA writable_schema = ON" "PRAGMA query_only = OFF"
  "PRAGMA foreign_keys = ON" "PRAGMA page_size = 8192" "PRAGMA auto_vacuum = FULL"
  "SELECT load_extension('/tmp/evil.so')" "VACUUM" "VACUUM INTO '$TMP/copy.db'" "REINDEX" "ANALYZE"
  "BEGIN IMMEDIATE" "SAVEPOINT s" "SELECT 1; DELETE FROM acct" "WITH x AS (SELECT 1) DELETE FROM acct"
  "INSERT INTO acct SELECT * FROM acct RETURNING id" "CREATE TRIGGER tr AFTER INSERT ON acct BEGIN DELETE FROM acct; END"
)
for t in "${TRICKS[@]}"; do
  out=$(q query-ro "$t" 2>&1); rc=$?
  # REINDEX of a read-only handle succeeds as a no-op: what must hold is the file
  if { [ $rc -ne 0 ] || [ "$t" = REINDEX ]; } && [ "$(sha)" = "$H0" ]; then pass "read-only refuses: $t (file unchanged)"
  else fail "read-only: $t (exit $rc)"; diag "$out"; H0=$(sha); fi
done
for f in other.db other2.db copy.db; do
  [ -e "$TMP/$f" ] && { fail "$f was created"; continue; }
  pass "no $f was created"
done
is "$(ls -A "$TMP" | grep -c -- '-wal\|-shm\|-journal')" 0 "no journal, WAL or shm file appeared"

# --- query_execute: the control ---------------------------------------------------------------------------
out=$(q execute "UPDATE acct SET bal = bal + 1 WHERE id = ?" '[1]')
is "$(J "$out" 'd["affected_rows"]')" 1 "query_execute writes (affected_rows 1)"
isnt "$(sha)" "$H0" "... and the file changed (the fingerprint detects a write)"
out=$(q execute "ATTACH '$TMP/other3.db' AS o" 2>&1); rc=$?
ok "$([ $rc -ne 0 ] && [ ! -e "$TMP/other3.db" ]; echo $?)" "query_execute refuses ATTACH too (no file created)"
out=$(q execute "SELECT load_extension('/tmp/evil.so')" 2>&1); rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "query_execute refuses load_extension"

# --- rotation does not apply; assess looks at the file ------------------------------------------------------------
new_store store
printf '%s' "$DB" | "$CB" -q conn add lite
mkdir -p "$TMP/pol"
printf '{ "credentials": { "lite-db": { "connection": "lite" } } }\n' >"$TMP/pol/p.json"
out=$("$CB" --policies "$TMP/pol" rotate lite-db 2>&1); rc=$?
is "$rc" 2 "credbroker rotate of a SQLite connection: exit 2"
like "$out" "SQLite, which has no logins or passwords: rotation does not apply" "... says clearly that rotation does not apply"
is "$(DB_URL="$DB" "$DBT" sqlite assess)" "[]" "assess: a 0600 file owned by us has no findings"
chmod 666 "$DB"
like "$(DB_URL="$DB" "$DBT" sqlite assess)" '"check":"file_mode","severity":"high"' "assess: a world-writable file is high"
out=$("$CB" assess --json 2>&1); rc=$?
is "$rc" 3 "credbroker assess exits 3 on the world-writable SQLite file"
like "$out" '"check":"file_mode","severity":"high",[^}]*"target":"lite"' "... naming the connection"
chmod 644 "$DB"
like "$(DB_URL="$DB" "$DBT" sqlite assess)" '"check":"file_mode","severity":"medium"' "assess: a world-readable file is medium"
chmod 600 "$DB"
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
  chown nobody "$DB"
  like "$(DB_URL="$DB" "$DBT" sqlite assess)" '"check":"file_owner"' "assess: a file owned by another user is reported"
  chown root "$DB"
else
  skip "file owner check needs root"
fi
mkdir -m 777 "$TMP/open"; cp "$DB" "$TMP/open/x.db"; chmod 600 "$TMP/open/x.db"
like "$(DB_URL="$TMP/open/x.db" "$DBT" sqlite assess)" '"check":"dir_mode","severity":"high"' "assess: a world-writable directory (file can be replaced) is high"
done_testing
