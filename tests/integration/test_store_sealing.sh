#!/usr/bin/env bash
# The store file as a thief sees it, and as an attacker who swaps it sees it:
# - metadata sealed: no host, user or database name, description or secret reference in
#   the store, its WAL or a VACUUMed copy (also after migrating a store that kept the old
#   plaintext redacted column, and one an older broker wrote with description, source
#   reference, journal user, lease login and their errors in clear), while `conn list` /
#   `conn show` / `cache list` / `sync` / `rotate --journal` / `lease list` still show
#   them; on PostgreSQL, a journal row left by kill -9 and a leased login are sealed too,
#   `key rotate --reencrypt` re-encrypts and `verify` checks every sealed column, and a
#   tampered sealed value is reported;
# - rollback detection: with "audit": {"anchor": "file://..."} the chain's head is written
#   outside the store by every audited command, and `audit verify` reports a store
#   replaced by an older copy (or one whose WAL was dropped) with exit 3; without an
#   anchor, assess says rollback cannot be detected.
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
command -v sqlite3 >/dev/null || skip_all "sqlite3 missing"
new_store store >/dev/null
HOST=dbhost-zq7.example.com; USR=appuser_zq7; DBN=orders_zq7
URL1="postgresql://$USR:pw-$(openssl rand -hex 6)@$HOST:5432/$DBN?sslmode=require"
URL2="Server=tcp:mssql-zq7.example.com,1433;Database=sales_zq7;User Id=sa_zq7;Password=Pw$(openssl rand -hex 6)!;Encrypt=True"
printf '%s' "$URL1" | "$CB" conn add pg1 -q
printf '%s' "$URL2" | "$CB" conn add ms1 --engine sqlserver -q
# a description and a --from-ref connection: the text and the reference's path name
# infrastructure as much as the URL does
DESC="billing replica in rack-zq7"
printf '%s' "$URL1" | "$CB" conn add pg3 --description "$DESC" -q
mkdir -p "$TMP/refdir-zq7"; REF="file://$TMP/refdir-zq7/url"
printf '%s' "postgresql://srcuser_zq7:pw@srchost-zq7.example.com:5432/srcdb_zq7" >"$TMP/refdir-zq7/url"
chmod 600 "$TMP/refdir-zq7/url"
check "conn add --from-ref" "$CB" conn add src1 --from-ref "$REF" -q
NEEDLES=("$HOST" "$USR" "$DBN" mssql-zq7 sales_zq7 sa_zq7 rack-zq7 refdir-zq7 srcuser_zq7 srchost-zq7 srcdb_zq7)
found_in() { # found_in FILE [NEEDLE...]: prints the needles (default: NEEDLES) present in FILE (strings), nothing when clean
  # strings runs once to a file: `strings | grep -q` under pipefail reads "absent" whenever
  # grep finds the needle before strings has written everything (SIGPIPE), i.e. on any large file
  local f=$1 n; shift
  [ $# -gt 0 ] || set -- "${NEEDLES[@]}"
  strings -a "$f" >"$TMP/strings.out"
  for n in "$@"; do grep -qF -- "$n" "$TMP/strings.out" && printf '%s ' "$n"; done
}
# found_in_store: the same for the store: its file, or (PostgreSQL) its schema's files and
# rows and the store server's log (store_dump)
found_in_store() {
  if pg_store; then store_dump >"$TMP/store.dump"; found_in "$TMP/store.dump"; else found_in "$CREDBROKER_DB"; fi
}
# schema_version: the store's schema version (SQLite: user_version)
schema_version() { if pg_store; then store_sql "select v from schema_version"; else store_sql "pragma user_version"; fi; }

# conn list still shows the redacted form, derived from the sealed URL
like "$("$CB" conn list)" "pg1 +postgres +encrypted +postgresql://$USR:\*\*\*\*@$HOST:5432/$DBN" "conn list shows the redacted URL"
is "$("$CB" conn list --json | python3 -c 'import json,sys; print(sorted(c["url"] for c in json.load(sys.stdin))[1].split("@")[1])')" "$HOST:5432/$DBN?sslmode=require" "conn list --json carries it too"
like "$("$CB" conn show ms1)" "sa_zq7" "conn show derives the redacted URL"
is "$(store_sql "select count(*) from connections where redacted is not null")" 0 "no redacted copy is stored"
like "$("$CB" conn show pg3)" "description: $DESC" "conn show reads the sealed description"
like "$("$CB" conn show src1)" "source: +$REF" "conn show reads the sealed source reference"
like "$("$CB" conn list --json)" "\"source\":\"$REF\"" "conn list --json carries it"
like "$("$CB" cache list)" "src1 .*$REF" "cache list shows the --from-ref connection with its reference"
check "sync refreshes it" "$CB" sync
like "$("$CB" conn list)" "src1 .*srchost-zq7.example.com" "... and the connection still reads"
is "$(store_sql "select count(*) from connections where description is not null or source_ref is not null")" 0 \
   "description and source_ref columns hold nothing in clear"
is "$(store_sql "select count(*) from source_state where ref <> '' or last_error is not null")" 0 \
   "source_state holds no reference or error in clear"
unlike "$("$CB" --json audit list --limit 0)" "refdir-zq7" "the audit log names the provider, not the reference"

# the store, a live WAL and a VACUUMed copy hold no host, user or database name
# hold_open SECONDS: another connection keeps the WAL from being checkpointed away
hold_open() {
  rm -f "$TMP/held"
  python3 -c 'import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1]); c.execute("select count(*) from meta").fetchall(); open(sys.argv[3],"w").close(); time.sleep(float(sys.argv[2]))' "$CREDBROKER_DB" "$1" "$TMP/held" &
  holder=$!; on_exit "kill $holder"
  for _ in $(seq 100); do [ -e "$TMP/held" ] && return 0; sleep 0.1; done
  return 1
}
if sqlite_store_only 2 "no WAL file (the store server's log is in the store scan below)"; then
  hold_open 8
  printf '%s' "postgresql://${USR}2:pw@${HOST}:5433/${DBN}2" | "$CB" conn add pg2 -q
  [ -s "$CREDBROKER_DB-wal" ]; ok $? "the WAL holds the last write (another connection keeps it)"
  cp "$CREDBROKER_DB-wal" "$TMP/copy.wal"
  is "$(found_in "$TMP/copy.wal")" "" "strings on the WAL finds no host, user or database"
  kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
else
  printf '%s' "postgresql://${USR}2:pw@${HOST}:5433/${DBN}2" | "$CB" conn add pg2 -q
fi
is "$(found_in_store)" "" "strings on the store finds no host, user or database"
if sqlite_store_only 1 "VACUUM INTO copies a SQLite file"; then
  store_sql "VACUUM INTO '$TMP/vacuumed.db'"
  is "$(found_in "$TMP/vacuumed.db")" "" "strings on a VACUUMed copy finds none either"
fi
# the control: the same check does see them in a plain SQLite file that holds them
sqlite3 "$TMP/control.db" "create table t(x); insert into t values('$URL1')"
isnt "$(found_in "$TMP/control.db")" "" "control: the check finds the names where they are in clear"

# a store written by a broker that kept the plaintext redacted column (an old copy, or an
# old backup restored after the migration): cleared when the store is opened
new_store old >/dev/null
printf '%s' "$URL1" | "$CB" conn add pg1 -q
v=$(schema_version)
store_sql "update connections set redacted='postgresql://$USR:****@$HOST:5432/$DBN'"
isnt "$(found_in_store)" "" "the old store has the names in clear"
like "$("$CB" conn list)" "pg1 .*@$HOST:5432/$DBN" "conn list works on the old store"
is "$(store_sql "select count(*) from connections where redacted is not null")" 0 "opening it cleared the plaintext redacted column"
is "$(schema_version)" "$v" "the store is at the current schema"
is "$(found_in_store)" "" "after the migration the file holds no host, user or database"
expect_exit 0 "verify passes on the migrated store" "$CB" verify

# (a SQLite file rewritten with the sqlite3 CLI: the sealing code is above the backend, and
# test_store_pg scans a PostgreSQL store for the same names)
if sqlite_store_only 12 "an older broker's store is built and inspected as a SQLite file"; then
  # a store an older broker wrote (the schema before the sealed metadata columns): description, source reference, a source's
  # reference and error, a journal row's user, publish_to and error, a lease's login and
  # error, all in clear. Built with the sqlite3 CLI from a current store: the sealed
  # columns dropped, the schema version before them, the plaintext written as the old
  # broker did.
  new_store oldmeta >/dev/null
  printf '%s' "$URL1" | "$CB" conn add o1 -q
  printf '%s' "$URL1" | "$CB" conn add o2 -q
  vnow=$(sqlite3 "$CREDBROKER_DB" "pragma user_version")
  # a store as the brokers before the sealing migration (schema 7) wrote it: schema 6, no
  # sealed metadata columns, nor anything a later migration added (the generations table of 8)
  OLDLOGIN=cb_local_zq7ab12cd
  now=$(date +%s)
  sqlite3 "$CREDBROKER_DB" <<SQL
  ALTER TABLE connections DROP COLUMN meta_enc; ALTER TABLE connections DROP COLUMN meta_kv;
  ALTER TABLE source_state DROP COLUMN ref_enc; ALTER TABLE source_state DROP COLUMN ref_kv;
  ALTER TABLE source_state DROP COLUMN error_enc; ALTER TABLE source_state DROP COLUMN error_kv;
  ALTER TABLE rotation_journal DROP COLUMN meta_enc; ALTER TABLE rotation_journal DROP COLUMN meta_kv;
  ALTER TABLE rotation_journal DROP COLUMN error_enc; ALTER TABLE rotation_journal DROP COLUMN error_kv;
  ALTER TABLE leases DROP COLUMN login_enc; ALTER TABLE leases DROP COLUMN login_kv;
  ALTER TABLE leases DROP COLUMN error_enc; ALTER TABLE leases DROP COLUMN error_kv;
  DROP TABLE IF EXISTS generations;
  PRAGMA user_version = 6;
  UPDATE connections SET description = '$DESC' WHERE name = 'o1';
  UPDATE connections SET source_ref = '$REF' WHERE name = 'o2';
  INSERT INTO source_state(name, ref, version, fetched_at, last_attempt, last_error)
    VALUES('o2', '$REF', NULL, $now, $now, 'cannot reach srchost-zq7.example.com');
  INSERT INTO rotation_journal(credential, id, step, strategy, target_user, connection, publish_to, started_at, updated_at,
    owner_pid, owner_host, error)
    VALUES('old-cred', 'r-old', 'create', 'single-user', '$USR', 'o1', 'vault://secret/refdir-zq7/app', $now, $now, 0, 'h',
    'setting the new password of $USR: timeout');
  INSERT INTO leases(id, client, connection, login, admin_connection, created_at, expires_at, updated_at, state, error)
    VALUES('l-old', 'local', 'o1', '$OLDLOGIN', 'o1', $now, $now + 3600, $now, 'active', 'role $OLDLOGIN: busy');
SQL
  OLDNEEDLES=("${NEEDLES[@]}" "$OLDLOGIN")
  found_old() { found_in "$1" "${OLDNEEDLES[@]}"; }
  isnt "$(found_old "$CREDBROKER_DB")" "" "the older broker's store has description, reference, user and login in clear"
  like "$("$CB" conn list)" "o1 .*@$HOST:5432/$DBN" "conn list works on it (first unlocked open: migrated and sealed)"
  is "$(sqlite3 "$CREDBROKER_DB" "pragma user_version")" "$vnow" "the store is at the current schema"
  plain=$(sqlite3 "$CREDBROKER_DB" "select (select count(*) from connections where description is not null or source_ref is not null)
    || ' ' || (select count(*) from source_state where ref <> '' or last_error is not null)
    || ' ' || (select count(*) from rotation_journal where target_user <> '' or publish_to is not null or error is not null)
    || ' ' || (select count(*) from leases where login <> '' or error is not null)")
  is "$plain" "0 0 0 0" "no plaintext metadata left in connections, source_state, rotation_journal, leases"
  is "$(found_old "$CREDBROKER_DB")" "" "strings on the migrated store finds none of them"
  sqlite3 "$CREDBROKER_DB" "VACUUM INTO '$TMP/oldmeta-vacuumed.db'"
  is "$(found_old "$TMP/oldmeta-vacuumed.db")" "" "nor on a VACUUMed copy"
  like "$("$CB" conn show o1)" "description: $DESC" "the description reads back from its sealed column"
  like "$("$CB" cache list --json)" "\"ref\":\"$REF\".*srchost-zq7" "cache list shows the reference and the last error"
  mkdir -p "$TMP/oldpol"; echo '{}' >"$TMP/oldpol/p.json"
  like "$(CREDBROKER_POLICIES="$TMP/oldpol" "$CB" rotate --journal)" "old-cred +step=create +user=$USR .*last error: setting the new password of $USR" \
       "rotate --journal shows the sealed user and error"
  like "$("$CB" --json lease list)" "\"login\":\"$OLDLOGIN\"" "lease list shows the sealed login"
  expect_exit 0 "verify passes on the migrated store" "$CB" verify
  like "$(cat "$TMP/.out")" "^1[0-9] encrypted values checked, 0 failed" "... and checks the sealed metadata (2 URLs, 7 metadata values, the sealed meta rows)"
fi

# ---- PostgreSQL: a journal row left by kill -9 and a leased login name database users
# shellcheck source=tests/lib/pg.sh
source "$CB_ROOT/tests/lib/pg.sh"
if pg_store; then
  skip "PostgreSQL store: the journal and lease rows are inspected as a SQLite file (sqlite3 CLI, WAL, VACUUM INTO); the sealing code is above the backend"
elif pg_start; then
  new_store infra >/dev/null
  export CREDBROKER_POLICIES="$TMP/pol-infra" CREDBROKER_CONFIG="$TMP/infra.json"
  mkdir -p "$CREDBROKER_POLICIES"; echo '{}' >"$CREDBROKER_CONFIG"
  RUSR=rotuser_zq9; LADM=leaseadm_zq9; RDB=ledger_zq9
  RPW=$(openssl rand -hex 12); LPW=$(openssl rand -hex 12)
  pg_sql "CREATE ROLE $RUSR LOGIN PASSWORD '$RPW'; CREATE ROLE $LADM LOGIN CREATEROLE PASSWORD '$LPW';
          CREATE ROLE readers_zq9 NOLOGIN; GRANT readers_zq9 TO $LADM WITH ADMIN OPTION" >/dev/null
  pg_sql "CREATE DATABASE $RDB OWNER $RUSR" >/dev/null
  base="127.0.0.1:$PGPORT/$RDB?sslmode=disable&connect_timeout=5"
  printf 'postgresql://%s:%s@%s' "$RUSR" "$RPW" "$base" | "$CB" -q conn add app9 --description "ledger primary in rack-zq9"
  printf 'postgresql://%s:%s@%s' "$LADM" "$LPW" "$base" | "$CB" -q conn add ladm9
  printf 'postgresql://%s:%s@%s' "$RUSR" "$RPW" "$base" | "$CB" -q conn add pub9
  # pub9-cred publishes to a reference whose provider has no pending stage: its rotation
  # stops at create with an error that quotes the reference
  cat >"$CREDBROKER_POLICIES/p.json" <<JSON
{
  "credentials": { "app9-cred": { "connection": "app9" },
                   "pub9-cred": { "connection": "pub9", "publish_to": "file://$TMP/refdir-zq9/published" } },
  "connections": { "app9": { "query_identity": { "admin_connection": "ladm9", "member_of": ["readers_zq9"], "ttl_s": 3600 } } },
  "clients": { "local": { "tools": ["*"], "connections": ["*"], "mode": "read-only", "statement_timeout_ms": 5000 } }
}
JSON
  mkdir -p "$TMP/refdir-zq9"; : >"$TMP/refdir-zq9/published"; chmod 600 "$TMP/refdir-zq9/published"
  check "policy check" "$CB" policy check
  # a leased login, made on first use by an MCP query
  args='{"connection":"app9","sql":"SELECT current_user"}'
  OUT=$(printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}' \
    '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"query_readonly\",\"arguments\":$args}}" |
    "$CB" mcp 2>>"$TMP/mcp9.err" | grep '"id":2')
  LOGIN9=$(pg_sql "SELECT string_agg(rolname, ',') FROM pg_roles WHERE rolname LIKE 'cb\\_%'")
  like "$OUT" "\"rows\":\\[\\[\"$LOGIN9\"\\]\\]" "an MCP query runs as a leased login ($LOGIN9)"
  like "$("$CB" lease list)" "$LOGIN9" "lease list shows the login (sealed in the store)"
  "$CB" rotate pub9-cred >"$TMP/.out" 2>&1
  isnt "$?" 0 "rotate pub9-cred fails at create (file:// has no pending stage)"
  like "$(cat "$TMP/.out")" "refdir-zq9/published" "... the operator is told which reference"
  unlike "$(sqlite3 "$CREDBROKER_DB" "select last_result from schedule_state where credential = 'pub9-cred'")" "refdir-zq9|$RUSR" \
         "the schedule state's last result (in clear: the monitor quotes it) names neither"
  like "$("$CB" rotate --journal)" "pub9-cred +step=create +user=$RUSR .*last error: .*refdir-zq9/published" \
       "rotate --journal shows the sealed user and error"
  unlike "$("$CB" --json audit list --limit 0)" "refdir-zq9|$RUSR" "the audit row of the failure names neither the reference nor the user"
  is "$(sqlite3 "$CREDBROKER_DB" "select count(*) from rotation_journal where error is not null")" 0 "the journal's error is not in clear"
  echo "{\"credentials\": {\"app9-cred\": {\"connection\": \"app9\"}}, $(sed -n 's/^  "connections"/"connections"/p; s/^  "clients"/"clients"/p' "$CREDBROKER_POLICIES/p.json" | paste -sd' ')}" >"$TMP/p9.json"
  # a rotation that finishes, then one killed -9 after its journal row was written
  check "rotate app9-cred" "$CB" rotate app9-cred
  CREDBROKER_TEST_PAUSE_AT=after-create CREDBROKER_TEST_PAUSE_S=30 "$CB" rotate app9-cred >"$TMP/p9.out" 2>&1 &
  rpid=$!
  for _ in $(seq 200); do grep -q "test pause at after-create" "$TMP/p9.out" && break; sleep 0.05; done
  kill -9 "$rpid"; wait "$rpid" 2>/dev/null
  like "$("$CB" rotate --journal)" "app9-cred +step=[a-z]+ +user=$RUSR" "rotate --journal shows the interrupted rotation's user"
  is "$(sqlite3 "$CREDBROKER_DB" "select count(*) from rotation_journal where target_user <> '' or publish_to is not null")" 0 \
     "the journal row holds no user or publish_to in clear"
  is "$(sqlite3 "$CREDBROKER_DB" "select count(*) from leases where login <> ''")" 0 "the lease row holds no login in clear"
  NEEDLES=("$RUSR" "$LADM" "$RDB" "$LOGIN9" refdir-zq9 rack-zq9)
  hold_open 8
  printf '%s' "postgresql://$RUSR:pw@127.0.0.1:5432/$RDB" | "$CB" conn add app9b -q
  cp "$CREDBROKER_DB-wal" "$TMP/infra.wal"
  is "$(found_in "$TMP/infra.wal")" "" "strings on the WAL finds no user, login, database or publish_to path"
  kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
  is "$(found_in "$CREDBROKER_DB")" "" "strings on the store finds none (journal, leases, audit)"
  sqlite3 "$CREDBROKER_DB" "VACUUM INTO '$TMP/infra-vacuumed.db'"
  is "$(found_in "$TMP/infra-vacuumed.db")" "" "nor on a VACUUMed copy"
  # key rotation re-encrypts every sealed column, verify checks them
  expect_exit 0 "verify passes" "$CB" verify
  n0=$(sed -n 's/^\([0-9]*\) encrypted values checked.*/\1/p' "$TMP/.out")
  NEWK=$(openssl rand -hex 32)
  check "key rotate --reencrypt" env CREDBROKER_NEW_MASTER_KEY="$NEWK" "$CB" key rotate --reencrypt
  export CREDBROKER_MASTER_KEY=$NEWK
  kv=$(sqlite3 "$CREDBROKER_DB" "select cast(v as text) from meta where k = 'key_version'")
  stale=$(sqlite3 "$CREDBROKER_DB" "select (select count(*) from connections where meta_enc is not null and meta_kv <> $kv)
    + (select count(*) from rotation_journal where meta_enc is not null and meta_kv <> $kv)
    + (select count(*) from leases where login_enc is not null and login_kv <> $kv)")
  is "$stale" 0 "every sealed metadata value is under the new key version ($kv)"
  is "$(sqlite3 "$CREDBROKER_DB" "select count(*) from rotation_journal where meta_enc is not null and error_enc is not null") $(sqlite3 "$CREDBROKER_DB" "select count(*) from leases where login_enc is not null") $(sqlite3 "$CREDBROKER_DB" "select count(*) from connections where meta_enc is not null")" \
     "1 1 1" "... the journal row with its error, the lease and the description among them"
  stale=$(sqlite3 "$CREDBROKER_DB" "select count(*) from rotation_journal where error_enc is not null and error_kv <> $kv")
  is "$stale" 0 "... the journal's error too"
  expect_exit 0 "verify passes after re-encryption" "$CB" verify
  like "$(cat "$TMP/.out")" "^$n0 encrypted values checked, 0 failed" "... checking as many values as before ($n0)"
  # tampering with sealed metadata is detected
  orig=$(sqlite3 "$CREDBROKER_DB" "select hex(login_enc) from leases limit 1")
  sqlite3 "$CREDBROKER_DB" "update leases set login_enc = X'$(python3 -c 'import sys; b=bytearray.fromhex(sys.argv[1]); b[-1]^=1; print(b.hex())' "$orig")'"
  expect_exit 3 "verify reports a flipped byte in a lease's sealed login" "$CB" verify
  like "$(cat "$TMP/.out")" "leases" "... naming the table"
  expect_exit 1 "lease list refuses to act on it" "$CB" lease list
  sqlite3 "$CREDBROKER_DB" "update leases set login_enc = X'$orig'"
  sqlite3 "$CREDBROKER_DB" "update connections set meta_enc = (select meta_enc from connections where name = 'app9'), meta_kv = $kv where name = 'ladm9'"
  expect_exit 3 "verify reports a connection's sealed metadata moved to another row" "$CB" verify
  like "$(cat "$TMP/.out")" "ladm9" "... naming the row"
  expect_exit 1 "conn show refuses the moved metadata" "$CB" conn show ladm9
  sqlite3 "$CREDBROKER_DB" "update connections set meta_enc = NULL where name = 'ladm9'"
  expect_exit 0 "verify passes once the row is repaired" "$CB" verify
  # pub9-cred leaves the policy, its row is discarded; the interrupted rotation of app9-cred
  # resumes with the re-encrypted journal row, and the password logs in
  cp "$TMP/p9.json" "$CREDBROKER_POLICIES/p.json"
  check "rotate --journal --discard pub9-cred" "$CB" rotate --journal --discard pub9-cred
  check "rotate --resume finishes it" "$CB" rotate --resume
  like "$("$CB" rotate --journal)" "no rotation in progress" "the journal is empty"
  is "$(psql -X -A -t "$("$CB" conn url app9)" -c 'select current_user' 2>&1)" "$RUSR" "the stored password of $RUSR logs in"
else
  skip "PostgreSQL not available: journal and lease sealing not checked"
fi

# ---- rollback detection
new_store anchored >/dev/null
export CREDBROKER_CONFIG="$TMP/credbroker.json"
echo '{}' >"$CREDBROKER_CONFIG"
like "$("$CB" assess --json)" '"check":"rollback","severity":"info","message":"no audit anchor: a store replaced by an older copy of itself cannot be detected' "without an anchor, assess says rollback cannot be detected"
like "$("$CB" audit verify)" "no anchor: a rollback of the whole store cannot be detected" "audit verify says so too"
mkdir -p "$TMP/otherdisk"
echo "{\"audit\": {\"anchor\": \"file://$TMP/otherdisk/credbroker.anchor\"}}" >"$CREDBROKER_CONFIG"
echo '{"audit":{"anchor":"/tmp/x"}}' >"$TMP/bad.json"
expect_exit 2 "an anchor that is not a secret reference is refused" env CREDBROKER_CONFIG="$TMP/bad.json" "$CB" audit verify
printf '%s' "$URL1" | "$CB" conn add a1 -q
head=$(store_sql "select id || ':' || lower(hex(hash)) from audit order by id desc limit 1")
is "$(cat "$TMP/otherdisk/credbroker.anchor")" "$head" "a mutating command anchors the audit head (id:hash) outside the store"
expect_exit 0 "audit verify: intact and matching its anchor" "$CB" audit verify
like "$(cat "$TMP/.out")" "chain intact, matches its anchor" "audit verify says the anchor matches"
unlike "$("$CB" assess --json)" '"check":"rollback"' "with an anchor, assess no longer warns"
store_backup "$TMP/older.db"
printf '%s' "$URL1" | "$CB" conn add a2 -q
"$CB" conn remove a2 -q
expect_exit 0 "audit verify still passes on the live store" "$CB" audit verify
store_restore "$TMP/older.db"
expect_exit 0 "the older copy's own chain is intact (what verify alone saw before)" "$CB" verify
expect_exit 3 "audit verify reports the store rolled back to an older copy" "$CB" audit verify
like "$(cat "$TMP/.out")" "store rolled back: the audit log ends at entry [0-9]+ but the anchor records entry [0-9]+" "... naming both entries"
is "$("$CB" audit verify --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["ok"], len(r["problems"]))')" "False 1" "audit verify --json lists the problem"
# a WAL SQLite silently dropped: the main file alone lacks the newest commits
echo "{\"audit\": {\"anchor\": \"file://$TMP/otherdisk/walcase.anchor\"}}" >"$CREDBROKER_CONFIG"
new_store walcase >/dev/null
printf '%s' "$URL1" | "$CB" conn add w1 -q
pg_store || hold_open 8
printf '%s' "$URL1" | "$CB" conn add w2 -q
pg_store || { cp "$CREDBROKER_DB" "$TMP/nowal.db"; chmod 600 "$TMP/nowal.db"; kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null; }
expect_exit 0 "the live store matches its anchor" "$CB" audit verify
if sqlite_store_only 1 "no WAL that SQLite could drop"; then
  expect_exit 3 "the same store without its WAL is reported" "$CB" --db "$TMP/nowal.db" audit verify
fi
rm -f "$TMP/otherdisk/walcase.anchor"
expect_exit 3 "a removed anchor is reported" "$CB" audit verify
like "$(cat "$TMP/.out")" "anchor has no value" "... as such"
done_testing
