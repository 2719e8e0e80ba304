#!/usr/bin/env bash
# The store file as a thief sees it, and as an attacker who swaps it sees it:
# - metadata sealed: no host, user or database name in the store, its WAL or a VACUUMed
#   copy (also after migrating a store that kept the old plaintext redacted column), while
#   `conn list` / `conn show` still show the redacted URL;
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
NEEDLES=("$HOST" "$USR" "$DBN" mssql-zq7 sales_zq7 sa_zq7)
found_in() { # found_in FILE: prints the needles present in FILE (strings), nothing when clean
  local n; for n in "${NEEDLES[@]}"; do strings -a "$1" | grep -qF -- "$n" && printf '%s ' "$n"; done
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
