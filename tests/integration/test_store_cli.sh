#!/usr/bin/env bash
# The issue-2 CLI end to end: store creation, keys, connections, tampering, import,
# re-encryption atomicity, migration, audit, and a leak check over every output.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

LOG="$TMP/all-output.log"
PW1='Pw1-VeryUnlikelyString-a7f3'
PW2='Pw2;With=Semicolons-b8e4'
PW3='Pw3-MssqlLegacy-c9d5'
PW4='Pw4-plaintext-row-d0e6'
cb() { "$CB" "$@" 2>>"$LOG.err" | tee -a "$LOG"; return "${PIPESTATUS[0]}"; }
cbin() { local input=$1; shift; printf '%s' "$input" | "$CB" "$@" 2>>"$LOG.err" | tee -a "$LOG"; return "${PIPESTATUS[1]}"; }

export CREDBROKER_DB="$TMP/store.db"
unset CREDBROKER_MASTER_KEY CREDBROKER_MASTER_KEY_REF

# --- keys and init
out=$("$CB" init 2>&1); rc=$?
is "$rc" 4 "init without a master key exits 4"
like "$out" "key generate" "missing-key message says how to make one"
KEY=$(cb key generate); is "${#KEY}" 64 "key generate: 32 bytes as 64 hex chars"
B64=$(cb key generate --length 48 --format base64); is "${#B64}" 64 "key generate --length 48 --format base64"
isnt "$(cb key generate)" "$KEY" "two generated keys differ"
expect_exit 2 "key generate rejects a tiny length" "$CB" key generate --length 4
export CREDBROKER_MASTER_KEY=$KEY
expect_exit 0 "init creates a store" "$CB" init
if sqlite_store_only 1 "no store file whose mode to check"; then
  is "$(stat -c %a "$CREDBROKER_DB")" 600 "store file is mode 0600"
fi
expect_exit 1 "init refuses to overwrite an existing store" "$CB" init

# --- connections
cbin "postgresql://app:$PW1@db.internal:5432/app?sslmode=verify-full&connect_timeout=5" conn add app --description "main app" >/dev/null
ok $? "conn add reads a postgresql:// URI from stdin"
cbin "host=10.0.0.5 port=5432 dbname=rep user=rep password='$PW2' sslmode=require" conn add rep >/dev/null
ok $? "conn add accepts a libpq key=value string"
cbin "Server=tcp:sql.internal,1433;Database=erp;User Id=erp;Password=$PW1-x;Encrypt=True" conn add erp >/dev/null
ok $? "conn add accepts an ADO.NET string"
cbin "mysql://shop:$PW1-m@mysql.internal:3306/shop" conn add shop >/dev/null
ok $? "conn add accepts mysql://"
cbin "sqlserver://sql2.internal:1433;databaseName=hr;user=hr;password=$PW1-s" conn add hr >/dev/null
ok $? "conn add accepts sqlserver://"
before=$(store_sql 'select count(*) from connections')
printf 'postgresql://bad:%s@host:notaport/db' "$PW1" | "$CB" conn add broken >"$TMP/o" 2>&1; rc=$?
is "$rc" 1 "an invalid URL exits 1"
is "$(store_sql 'select count(*) from connections')" "$before" "nothing stored for an invalid URL"
unlike "$(cat "$TMP/o")" "$PW1" "the error for an invalid URL does not echo the password"
expect_exit 2 "a URL on the command line is refused" "$CB" conn add other "postgresql://x:y@h/d"
expect_exit 1 "adding an existing name fails" sh -c "printf 'postgresql://a:b@h/d' | '$CB' conn add app"
show=$(cb conn show app)
like "$show" 'postgresql://app:\*\*\*\*@db.internal' "conn show redacts the password"
unlike "$show" "$PW1" "conn show never prints the password"
list=$(cb conn list); like "$list" "rep .*encrypted" "conn list shows encryption status"
unlike "$list" "$PW2" "conn list never prints a password"
url=$("$CB" conn url rep); like "$url" "password='?$PW2" "conn url prints the plaintext on purpose"
python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d)==5 and all("url" in c for c in d)' < <(cb --json conn list)
ok $? "--json conn list is a JSON array of 5 connections"
cbin "postgresql://app:$PW1-v2@db.internal:5432/app?sslmode=verify-full" conn update app >/dev/null
ok $? "conn update reads the new URL from stdin"
like "$("$CB" conn url app)" "$PW1-v2" "conn update replaced the URL"
expect_exit 0 "conn remove" "$CB" conn remove shop
expect_exit 1 "conn remove of a missing name fails" "$CB" conn remove shop
for c in init conn key import assess verify audit; do
  expect_exit 0 "$c --help exits 0" "$CB" "$c" --help
done

# --- wrong key, file mode, truncation, not-a-store
CREDBROKER_MASTER_KEY=$(openssl rand -hex 32) "$CB" conn list >"$TMP/o" 2>&1; is "$?" 4 "a wrong key exits 4"
like "$(cat "$TMP/o")" "does not match" "a wrong key is named as such"
CREDBROKER_MASTER_KEY="a passphrase, not the key" "$CB" conn list >/dev/null 2>&1; is "$?" 4 "a passphrase against a raw-key store exits 4"
if sqlite_store_only 5 "file mode, a truncated file and a non-SQLite file are about the SQLite file"; then
  chmod 644 "$CREDBROKER_DB"; "$CB" conn list >"$TMP/o" 2>&1; rc=$?; chmod 600 "$CREDBROKER_DB"
  is "$rc" 1 "a world-readable store is refused"
  like "$(cat "$TMP/o")" "chmod 600" "the refusal says how to fix it"
  store_sql 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
  head -c 12000 "$CREDBROKER_DB" > "$TMP/trunc.db"; chmod 600 "$TMP/trunc.db"
  "$CB" --db "$TMP/trunc.db" conn list >"$TMP/o" 2>&1; rc=$?
  is "$rc" 1 "a truncated store exits 1"
  like "$(cat "$TMP/o")" "damaged|not a credbroker|malformed" "a truncated store gets a clear error"
  echo "hello" > "$TMP/text.db"; chmod 600 "$TMP/text.db"
  expect_exit 1 "a non-SQLite file is refused" "$CB" --db "$TMP/text.db" conn list
fi

# --- tampering: every single flipped byte of a ciphertext is caught
expect_exit 0 "verify passes on an intact store" "$CB" verify
len=$(store_sql "select length(url_enc) from connections where name='erp'")
orig=$(store_sql "select hex(url_enc) from connections where name='erp'")
caught=0
for ((i=0; i<len; i++)); do
  store_flip erp "$i" 1 || diag "byte $i: the flip itself failed"
  "$CB" verify >"$TMP/o" 2>&1; rc=$?
  if [ "$rc" -eq 3 ] && grep -q "erp" "$TMP/o"; then caught=$((caught+1)); else diag "byte $i: verify exit $rc: $(head -3 "$TMP/o")"; fi
  store_sql "update connections set url_enc=$(blob_lit "$orig") where name='erp'"
done
is "$caught" "$len" "verify catches a flipped byte at each of the $len positions and names the row"
expect_exit 0 "verify passes again after restoring the row" "$CB" verify
store_sql "update connections set url_enc=(select url_enc from connections where name='rep') where name='hr'"
"$CB" conn url hr >"$TMP/o" 2>&1; is "$?" 1 "a ciphertext moved to another row does not decrypt"
like "$(cat "$TMP/o")" "does not authenticate" "the moved row is reported as tampered"
printf 'sqlserver://sql2.internal:1433;databaseName=hr;user=hr;password=%s-s' "$PW1" | "$CB" conn update hr >/dev/null 2>&1

# --- key migrate: a manual plaintext insert
store_sql "insert into connections(name, engine, url_enc, created_at, updated_at) values('manual','postgres','postgresql://m:$PW4@h/db',0,0)"
"$CB" verify >"$TMP/o" 2>&1; is "$?" 3 "verify flags a plaintext row"
like "$(cat "$TMP/o")" "manual.*not encrypted" "the plaintext row is named"
"$CB" assess >"$TMP/o" 2>&1; is "$?" 3 "assess exits 3 with findings"
like "$(cat "$TMP/o")" "manual.*unencrypted" "assess reports the unencrypted connection"
cb key migrate >/dev/null; ok $? "key migrate"
expect_exit 0 "verify passes after key migrate" "$CB" verify
is "$(store_sql "select count(*) from connections where instr(url_enc, '$PW4') > 0")" 0 "no plaintext left in the table"
like "$("$CB" conn url manual)" "$PW4" "the migrated row decrypts"

# --- assess
python3 - <<PY "$("$CB" --json assess 2>/dev/null)"
import json, sys
f = json.loads(sys.argv[1])
assert isinstance(f, list) and f, "array of findings"
for x in f:
    assert {"target","check","severity","message","fix"} <= set(x), x
checks = {(x["target"], x["check"]) for x in f}
assert any(t == "rep" for t, c in checks), checks
PY
ok $? "assess --json: one object per finding with severity and fix"
unlike "$("$CB" --json assess 2>&1)" "$PW1|$PW2|$PW4" "assess output holds no password"

# --- key rotate (re-wrap) and --reencrypt
NEW=$(cb key generate)
CREDBROKER_NEW_MASTER_KEY=$NEW cb key rotate >/dev/null; ok $? "key rotate re-wraps under the new key"
expect_exit 4 "after rotation the old key fails" "$CB" conn list
export CREDBROKER_MASTER_KEY=$NEW
like "$("$CB" conn url rep)" "$PW2" "the new key reads the rows"
expect_exit 4 "key rotate without CREDBROKER_NEW_MASTER_KEY exits 4" "$CB" key rotate

# 10,000 rows, a failure midway: nothing changes
"$BUILD/tools/store_tool" fill "$CREDBROKER_DB" 10000 >/dev/null
ok $? "10,000 connections added"
snap() { store_sql "select name, hex(url_enc), key_version from connections order by name" | sha256sum; }
s1=$(snap)
store_flip conn005000 -1 255
s1=$(snap)
NEW2=$(cb key generate)
CREDBROKER_NEW_MASTER_KEY=$NEW2 "$CB" key rotate --reencrypt >"$TMP/o" 2>&1; rc=$?
isnt "$rc" 0 "re-encrypt with a corrupted row midway fails"
like "$(cat "$TMP/o")" "conn005000" "the failing row is reported"
is "$(snap)" "$s1" "store unchanged after the failed re-encrypt (10,000 rows compared)"
expect_exit 4 "the would-be new key does not open the store" env CREDBROKER_MASTER_KEY="$NEW2" "$CB" conn list
"$BUILD/tools/store_tool" rekey-fail "$CREDBROKER_DB" 7000 >/dev/null 2>&1 <<<"" ; true
CREDBROKER_NEW_MASTER_KEY=$NEW2 "$BUILD/tools/store_tool" rekey-fail "$CREDBROKER_DB" 7000 >"$TMP/o" 2>&1; rc=$?
isnt "$rc" 0 "an injected round-trip failure at row 7,000 fails the re-encrypt"
is "$(snap)" "$s1" "store unchanged after the injected failure"
"$CB" conn remove conn005000 >/dev/null
t0=$(date +%s%N)
CREDBROKER_NEW_MASTER_KEY=$NEW2 cb key rotate --reencrypt >/dev/null; ok $? "re-encrypt of 10,000 rows succeeds"
diag "re-encrypt of 10,000 rows took $(( ($(date +%s%N)-t0)/1000000 )) ms"
expect_exit 4 "old key fails after --reencrypt" "$CB" conn list
export CREDBROKER_MASTER_KEY=$NEW2
expect_exit 0 "the new key verifies every row" "$CB" verify
is "$(store_sql 'select count(distinct key_version) from connections')" 1 "every row carries the new key version"
like "$("$CB" conn url conn009999)" "postgresql://user9999:" "a re-encrypted row decrypts"

# --- passphrase store (Argon2id)
PSTORE="$TMP/pass.db"
CREDBROKER_MASTER_KEY="correct horse battery staple" "$CB" --db "$PSTORE" init >"$TMP/o" 2>&1
like "$(cat "$TMP/o")" "argon2id" "a passphrase store uses Argon2id"
expect_exit 4 "a wrong passphrase exits 4" env CREDBROKER_MASTER_KEY="correct horse battery stapler" "$CB" --db "$PSTORE" conn list
expect_exit 0 "the right passphrase opens it" env CREDBROKER_MASTER_KEY="correct horse battery staple" "$CB" --db "$PSTORE" conn list

# --- import mssqlmcp: fixture built with OpenSSL
LEGACY_KEY='legacy-mssql-mcp-key'
DK=$(openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt "pass:$LEGACY_KEY" -kdfopt salt:mssqlMCP.Salt -kdfopt iter:10000 PBKDF2 | tr -d ':')
hexbytes() { local h=$1 out=''; while [ -n "$h" ]; do out+="\\x${h:0:2}"; h=${h:2}; done; printf '%b' "$out"; }
enc() { local iv; iv=$(openssl rand -hex 16); { hexbytes "$iv"; printf '%s' "$1" | openssl enc -aes-256-cbc -K "$DK" -iv "$iv"; } | base64 -w0 | sed 's/^/ENC:/'; }
SRC="$TMP/mssqlmcp.db"
E1=$(enc "Server=sql1.corp;Database=sales;User Id=sales;Password=$PW3;Encrypt=True;TrustServerCertificate=true")
E2=$(enc "Server=sql2.corp;Database=ops;User Id=ops;Password=$PW3-2")
# corrupt the ciphertext body (an IV change in this MAC-less format cannot be detected: see README)
c=${E2:60:1}; [ "$c" = A ] && r=B || r=A; BAD="${E2:0:60}$r${E2:61}"
sqlite3 "$SRC" "create table Connections(Name text primary key, ConnectionString text, ServerType text, Description text, LastUsed text, CreatedOn text);
insert into Connections values('legacy_enc','$E1','SqlServer','sales db',null,'2024-01-01');
insert into Connections values('legacy_plain','Server=sql3.corp;Database=hr;User Id=hr;Password=$PW3-3','SqlServer',null,null,'2024-01-01');
insert into Connections values('legacy_bad','$BAD','SqlServer',null,null,'2024-01-01');
insert into Connections values('legacy_enc2','$E2','SqlServer',null,null,'2024-01-01');"
src_sum=$(sha256sum < "$SRC")
MSSQL_MCP_KEY=$LEGACY_KEY "$CB" import mssqlmcp "$SRC" >"$TMP/o" 2>&1; rc=$?
cat "$TMP/o" >> "$LOG"
is "$rc" 1 "import with a corrupted row exits 1"
like "$(cat "$TMP/o")" "NOT imported legacy_bad" "the corrupted row is reported"
like "$(cat "$TMP/o")" "3 imported, 1 failed" "the other three rows are imported"
is "$(sha256sum < "$SRC")" "$src_sum" "the source file is untouched"
like "$("$CB" conn url legacy_enc)" "Password=$PW3;" "an ENC: row is re-encrypted under credbroker"
like "$("$CB" conn url legacy_plain)" "Password=$PW3-3" "a plaintext row is imported encrypted"
expect_exit 1 "the corrupted row was not imported" "$CB" conn show legacy_bad
expect_exit 0 "verify after import" "$CB" verify
"$CB" import mssqlmcp "$SRC" >"$TMP/o" 2>&1
like "$(cat "$TMP/o")" "MSSQL_MCP_KEY|skipped" "re-import without the key reports rows instead of importing garbage"

# --- audit
al=$("$CB" audit list --limit 1000)
for a in store.init conn.add conn.update conn.remove conn.url key.migrate key.rotate key.rotate.reencrypt import.mssqlmcp assess store.verify; do
  like "$al" "$a" "audit records $a"
done
like "$al" "conn.add +broken +error" "a failed conn add is audited as an error"
expect_exit 0 "audit verify: chain intact" "$CB" audit verify
python3 -c 'import json,sys; d=json.load(sys.stdin); assert d and all("hash" not in e for e in d)' < <("$CB" --json audit list --limit 5)
ok $? "audit list --json"
is "$("$CB" --json audit list --since 1h --limit 3 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 3 "audit list --since/--limit"
if pg_store; then
  # the same rows changed by someone who can bypass the append-only triggers
  # (session_replication_role = replica: no user trigger fires), then put back
  t3=$(store_sql "select target from audit where id=3")
  store_sql "set session_replication_role = replica; update audit set target='someone-else' where id=3"
  expect_exit 3 "audit verify exits 3 after an entry is altered" "$CB" audit verify
  store_sql "set session_replication_role = replica; update audit set target='$t3' where id=3"
  store_sql "set session_replication_role = replica; delete from audit where id=(select max(id) from audit)"
else
  cp "$CREDBROKER_DB" "$TMP/audit-copy.db"
  store_sql "drop trigger audit_no_update; update audit set target='someone-else' where id=3"
  expect_exit 3 "audit verify exits 3 after an entry is altered" "$CB" audit verify
  cp "$TMP/audit-copy.db" "$CREDBROKER_DB"; rm -f "$CREDBROKER_DB-wal" "$CREDBROKER_DB-shm"
  store_sql "drop trigger audit_no_delete; delete from audit where id=(select max(id) from audit)"
fi
expect_exit 3 "audit verify exits 3 after the newest entry is removed" "$CB" audit verify

# --- leak check: no test password in any output, log, audit row or the store files
cat "$LOG.err" >> "$LOG"
store_sql 'select * from audit' >> "$LOG"
for pw in "$PW1" "$PW2" "$PW3" "$PW4"; do
  n=$(grep -c -F -- "$pw" "$LOG" || true)
  is "$n" 0 "leak check: '$pw' not in any output, error or audit row"
  if pg_store; then
    hits=$({ store_dump; store_dump "$TMP/pass.db"; } | grep -a -c -F -- "$pw" || true)
    is "$hits" 0 "leak check: '$pw' not in the stores' schemas, their files or the store server's log"
  else
    hits=$(cat "$CREDBROKER_DB"* "$TMP"/pass.db* 2>/dev/null | grep -a -c -F -- "$pw" || true)
    is "$hits" 0 "leak check: '$pw' not in any store file or WAL"
  fi
done
done_testing
