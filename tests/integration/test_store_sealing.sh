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
found_in() { # found_in FILE: prints the needles present in FILE (strings), nothing when clean
  local n; for n in "${NEEDLES[@]}"; do strings -a "$1" | grep -qF -- "$n" && printf '%s ' "$n"; done
}

# conn list still shows the redacted form, derived from the sealed URL
like "$("$CB" conn list)" "pg1 +postgres +encrypted +postgresql://$USR:\*\*\*\*@$HOST:5432/$DBN" "conn list shows the redacted URL"
is "$("$CB" conn list --json | python3 -c 'import json,sys; print(sorted(c["url"] for c in json.load(sys.stdin))[1].split("@")[1])')" "$HOST:5432/$DBN?sslmode=require" "conn list --json carries it too"
like "$("$CB" conn show ms1)" "sa_zq7" "conn show derives the redacted URL"
is "$(sqlite3 "$CREDBROKER_DB" "select count(*) from connections where redacted is not null")" 0 "no redacted copy is stored"
like "$("$CB" conn show pg3)" "description: $DESC" "conn show reads the sealed description"
like "$("$CB" conn show src1)" "source: +$REF" "conn show reads the sealed source reference"
like "$("$CB" conn list --json)" "\"source\":\"$REF\"" "conn list --json carries it"
like "$("$CB" cache list)" "src1 .*$REF" "cache list shows the --from-ref connection with its reference"
check "sync refreshes it" "$CB" sync
like "$("$CB" conn list)" "src1 .*srchost-zq7.example.com" "... and the connection still reads"
is "$(sqlite3 "$CREDBROKER_DB" "select count(*) from connections where description is not null or source_ref is not null")" 0 \
   "description and source_ref columns hold nothing in clear"
is "$(sqlite3 "$CREDBROKER_DB" "select count(*) from source_state where ref <> '' or last_error is not null")" 0 \
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
hold_open 8
printf '%s' "postgresql://${USR}2:pw@${HOST}:5433/${DBN}2" | "$CB" conn add pg2 -q
[ -s "$CREDBROKER_DB-wal" ]; ok $? "the WAL holds the last write (another connection keeps it)"
cp "$CREDBROKER_DB-wal" "$TMP/copy.wal"
is "$(found_in "$TMP/copy.wal")" "" "strings on the WAL finds no host, user or database"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
is "$(found_in "$CREDBROKER_DB")" "" "strings on the store finds no host, user or database"
sqlite3 "$CREDBROKER_DB" "VACUUM INTO '$TMP/vacuumed.db'"
is "$(found_in "$TMP/vacuumed.db")" "" "strings on a VACUUMed copy finds none either"
# the control: the same check does see them in a plain SQLite file that holds them
sqlite3 "$TMP/control.db" "create table t(x); insert into t values('$URL1')"
isnt "$(found_in "$TMP/control.db")" "" "control: the check finds the names where they are in clear"

# a store written by a broker that kept the plaintext redacted column (an old copy, or an
# old backup restored after the migration): cleared when the store is opened
new_store old >/dev/null
printf '%s' "$URL1" | "$CB" conn add pg1 -q
v=$(sqlite3 "$CREDBROKER_DB" "pragma user_version")
sqlite3 "$CREDBROKER_DB" "update connections set redacted='postgresql://$USR:****@$HOST:5432/$DBN'"
isnt "$(found_in "$CREDBROKER_DB")" "" "the old store has the names in clear"
like "$("$CB" conn list)" "pg1 .*@$HOST:5432/$DBN" "conn list works on the old store"
is "$(sqlite3 "$CREDBROKER_DB" "select count(*) from connections where redacted is not null")" 0 "opening it cleared the plaintext redacted column"
is "$(sqlite3 "$CREDBROKER_DB" "pragma user_version")" "$v" "the store is at the current schema"
is "$(found_in "$CREDBROKER_DB")" "" "after the migration the file holds no host, user or database"
expect_exit 0 "verify passes on the migrated store" "$CB" verify

# a store an older broker wrote (the schema before the sealed metadata columns): description, source reference, a source's
# reference and error, a journal row's user, publish_to and error, a lease's login and
# error, all in clear. Built with the sqlite3 CLI from a current store: the sealed
# columns dropped, the schema version before them, the plaintext written as the old
# broker did.
new_store oldmeta >/dev/null
printf '%s' "$URL1" | "$CB" conn add o1 -q
printf '%s' "$URL1" | "$CB" conn add o2 -q
vnow=$(sqlite3 "$CREDBROKER_DB" "pragma user_version")
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
PRAGMA user_version = $((vnow - 1));
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
found_old() { local n; for n in "${OLDNEEDLES[@]}"; do strings -a "$1" | grep -qF -- "$n" && printf '%s ' "$n"; done; }
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
head=$(sqlite3 "$CREDBROKER_DB" "select id || ':' || lower(hex(hash)) from audit order by id desc limit 1")
is "$(cat "$TMP/otherdisk/credbroker.anchor")" "$head" "a mutating command anchors the audit head (id:hash) outside the store"
expect_exit 0 "audit verify: intact and matching its anchor" "$CB" audit verify
like "$(cat "$TMP/.out")" "chain intact, matches its anchor" "audit verify says the anchor matches"
unlike "$("$CB" assess --json)" '"check":"rollback"' "with an anchor, assess no longer warns"
cp "$CREDBROKER_DB" "$TMP/older.db"
printf '%s' "$URL1" | "$CB" conn add a2 -q
"$CB" conn remove a2 -q
expect_exit 0 "audit verify still passes on the live store" "$CB" audit verify
cp "$TMP/older.db" "$CREDBROKER_DB"; rm -f "$CREDBROKER_DB-wal" "$CREDBROKER_DB-shm"
expect_exit 0 "the older copy's own chain is intact (what verify alone saw before)" "$CB" verify
expect_exit 3 "audit verify reports the store rolled back to an older copy" "$CB" audit verify
like "$(cat "$TMP/.out")" "store rolled back: the audit log ends at entry [0-9]+ but the anchor records entry [0-9]+" "... naming both entries"
is "$("$CB" audit verify --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["ok"], len(r["problems"]))')" "False 1" "audit verify --json lists the problem"
# a WAL SQLite silently dropped: the main file alone lacks the newest commits
echo "{\"audit\": {\"anchor\": \"file://$TMP/otherdisk/walcase.anchor\"}}" >"$CREDBROKER_CONFIG"
new_store walcase >/dev/null
printf '%s' "$URL1" | "$CB" conn add w1 -q
hold_open 8
printf '%s' "$URL1" | "$CB" conn add w2 -q
cp "$CREDBROKER_DB" "$TMP/nowal.db"; chmod 600 "$TMP/nowal.db"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
expect_exit 0 "the live store matches its anchor" "$CB" audit verify
expect_exit 3 "the same store without its WAL is reported" "$CB" --db "$TMP/nowal.db" audit verify
rm -f "$TMP/otherdisk/walcase.anchor"
expect_exit 3 "a removed anchor is reported" "$CB" audit verify
like "$(cat "$TMP/.out")" "anchor has no value" "... as such"
done_testing
