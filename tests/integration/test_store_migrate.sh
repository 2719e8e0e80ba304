#!/usr/bin/env bash
# store migrate (issue 15): a rich store (plain and --from-ref connections, cached values,
# API keys active and revoked, a lease with its sealed password, rotations and schedule
# state, a long audit chain) copied SQLite -> SQLite -> SQLite and, when this build has
# the PostgreSQL store backend, SQLite -> PostgreSQL -> SQLite: every row identical (row
# by row, and through the CLI), verify and audit verify clean on each copy, an API key
# made before still authenticates on a `serve` of the copy, the source byte-identical;
# refused: a non-empty target, a wrong or missing master key, a rotation in progress, a
# schema the target lacks; a copy that does not verify (a test hook tampers one value in
# flight) rolled back with nothing left behind.
# test-store: own (a SQLite source, copied into SQLite and PostgreSQL targets it names itself)
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/pg.sh
source "$CB_ROOT/tests/lib/pg.sh"
[ -x "$CB" ] || skip_all "credbroker not built"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
pg_start || skip_all "cannot start PostgreSQL"

APP_PW=$(openssl rand -hex 12); ADM_PW=$(openssl rand -hex 12)
pg_sql "CREATE ROLE app LOGIN PASSWORD '$APP_PW'; CREATE ROLE lease_admin LOGIN CREATEROLE PASSWORD '$ADM_PW';
        CREATE ROLE mcp_readers NOLOGIN; GRANT mcp_readers TO lease_admin WITH ADMIN OPTION" >/dev/null
pg_sql "CREATE DATABASE shop OWNER app" >/dev/null
pg_sql "SET ROLE app; CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'apple');
        GRANT SELECT ON items TO mcp_readers" shop >/dev/null

new_store src
SRC=$CREDBROKER_DB
export CREDBROKER_POLICIES="$TMP/policies" CREDBROKER_CONFIG="$TMP/credbroker.json"
echo '{}' >"$CREDBROKER_CONFIG"
mkdir -p "$CREDBROKER_POLICIES"
cat >"$CREDBROKER_POLICIES/p.json" <<'JSON'
{
  "credentials": { "app-db": { "connection": "app", "admin_connection": "pgadmin", "schedule": "0 3 * * *" } },
  "connections": {
    "app": { "query_identity": { "admin_connection": "leaseadmin", "member_of": ["mcp_readers"], "ttl_s": 3600 } }
  },
  "clients": {
    "local": { "tools": ["*"], "connections": ["*"], "mode": "read-only" },
    "svc": { "tools": ["connections_list"], "connections": ["*"] }
  }
}
JSON
base="127.0.0.1:$PGPORT/shop?sslmode=disable&connect_timeout=5"
printf 'postgresql://app:%s@%s\n' "$APP_PW" "$base" | "$CB" -q conn add app --description "the app"
printf 'postgresql://lease_admin:%s@%s\n' "$ADM_PW" "$base" | "$CB" -q conn add leaseadmin
printf 'postgresql://postgres:%s@%s\n' "$PG_ADMIN_PW" "$base" | "$CB" -q conn add pgadmin
printf 'mysql://shop:%s@mysql.internal:3306/shop\n' "$(openssl rand -hex 8)" | "$CB" -q conn add shop
export MIG_REF_URL="postgresql://reporter:$(openssl rand -hex 8)@reports.internal/rep"
check "a provider-backed connection (conn add --from-ref env://)" "$CB" -q conn add fromref --from-ref env://MIG_REF_URL
KEY1=$("$CB" -q apikey create svc1 --policy svc)
KEY2=$("$CB" -q apikey create svc2 --policy svc)
check "an API key is revoked" "$CB" -q apikey revoke svc2
check "rotate app-db (admin connection)" "$CB" -q rotate app-db
check "rotate app-db again" "$CB" -q rotate app-db
check "rotate --due records the schedule state" "$CB" -q rotate --due
# a lease: the first query of client local on 'app' makes a leased login (password sealed in ns lease)
mcp_q() {
  local args
  args=$(python3 -c 'import json,sys; print(json.dumps({"connection": sys.argv[1], "sql": sys.argv[2]}))' "$1" "$2")
  printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}' \
    '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"query_readonly\",\"arguments\":$args}}" |
    "$CB" mcp 2>>"$TMP/mcp.err" | grep '"id":2'
}
like "$(mcp_q app "SELECT current_user")" 'cb_local_[0-9a-f]{8}' "a query as client local runs as a leased login"
# a long audit chain
for _ in $(seq 120); do "$CB" -q verify >/dev/null; done
"$CB" -q conn url app >/dev/null   # touches last_used

# row_dump DB: every row of every table, blobs as hex, sorted, as JSON (read-only open)
row_dump() {
  python3 - "$1" <<'PY'
import json, sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
out = {}
for (t,) in c.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"):
    rows = [[("x:" + v.hex()) if isinstance(v, bytes) else v for v in r] for r in c.execute('SELECT * FROM "%s"' % t)]
    out[t] = sorted(rows, key=json.dumps)
print(json.dumps(out, sort_keys=True))
PY
}
# rows_same A.json B.json N [bytes]: B holds A's rows exactly, plus N audit entries
# "store.migrate" after A's last one (and so a newer sealed audit head in meta). With
# "bytes", values compare as their bytes (an integer as its decimal digits): through
# PostgreSQL's typed columns SQLite's integer API-key generation in meta.v (a BLOB
# column) comes back as the same digits in a blob. Prints "same" or the first difference.
rows_same() {
  python3 - "$1" "$2" "$3" "${4:-}" <<'PY'
import json, sys
a, b, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
def norm(v):
    if v is None or (isinstance(v, str) and v.startswith("x:")): return v
    return "x:" + str(v).encode().hex()
def as_bytes(rows):
    return sorted([[norm(v) for v in r] for r in rows], key=json.dumps) if sys.argv[4] == "bytes" else rows
def fail(msg): print(msg); sys.exit(0)
if sorted(a) != sorted(b): fail("tables differ: %s vs %s" % (sorted(a), sorted(b)))
last = max([r[0] for r in a["audit"]] or [0])
extra = [r for r in b["audit"] if r[0] > last]
if len(extra) != n or any(r[3] != "store.migrate" for r in extra): fail("extra audit rows: %s" % [r[3] for r in extra])
for t in a:
    ra, rb = a[t], b[t]
    if t == "audit": rb = [r for r in rb if r[0] <= last]
    if t == "meta":
        ra = [r for r in ra if r[0] != "sealed:audit_head"]; rb = [r for r in rb if r[0] != "sealed:audit_head"]
    if as_bytes(ra) != as_bytes(rb): fail("table %s differs (%d vs %d rows)" % (t, len(ra), len(rb)))
print("same")
PY
}
# cli_dump: the store as the CLI shows it (no command that writes), in a fixed order; the
# cache's age (seconds since the fetch, so it depends on when it is run) left out
cli_dump() {
  { "$CB" --json conn list; "$CB" --json apikey list; "$CB" --json lease list; "$CB" --json schedule list
    "$CB" --json cache list | sed 's/"age_s":[0-9]*,//g'; "$CB" --json rotate --journal; } 2>&1
}
tables_have_rows() {
  python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
need = ["meta", "connections", "secrets", "api_keys", "audit", "source_state", "schedule_state", "leases"]
print(",".join(t for t in need if not d.get(t)) or "all")
PY
}

row_dump "$SRC" >"$TMP/src.rows"
is "$(tables_have_rows "$TMP/src.rows")" "all" "the source has rows in meta, connections, secrets, api_keys, audit, source_state, schedule_state, leases"
URL_APP=$("$CB" conn url app); URL_FR=$("$CB" conn url fromref)
cli_dump >"$TMP/src.cli"
"$CB" --json audit list --limit 0 >"$TMP/src.audit"
row_dump "$SRC" >"$TMP/src.rows"
AUDIT_N=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["audit"]))' "$TMP/src.rows")
ok "$([ "$AUDIT_N" -gt 120 ]; echo $?)" "a long audit chain ($AUDIT_N entries)"
SUM=$(sha256sum <"$SRC")

# ---- SQLite -> SQLite ----
A="$TMP/copy-a.db"
OUT=$("$CB" -v store migrate --to "$A" 2>"$TMP/mig.err"); rc=$?
is "$rc" 0 "store migrate --to a new file exits 0"
like "$OUT" "copied .*src.db \(sqlite\) to .*copy-a.db \(sqlite\) in one transaction" "... says what it copied where"
like "$OUT" "  audit +$AUDIT_N" "... with the count per table (audit)"
like "$OUT" "  connections +5" "... (connections)"
like "$(cat "$TMP/mig.err")" "source: sqlite store .*src.db" "-v names the source backend"
like "$(cat "$TMP/mig.err")" "target: sqlite store .*copy-a.db" "-v names the target backend"
is "$(sha256sum <"$SRC")" "$SUM" "the source file is byte-identical after the migration"
is "$(stat -c %a "$A")" 600 "the copy is mode 0600"
row_dump "$SRC" >"$TMP/src2.rows"
is "$(rows_same "$TMP/src.rows" "$TMP/src2.rows" 0)" same "the source's rows did not change"
row_dump "$A" >"$TMP/a.rows"
is "$(rows_same "$TMP/src.rows" "$TMP/a.rows" 1)" same "every row of every table is identical in the copy, plus one store.migrate audit entry"
export CREDBROKER_DB=$A
"$CB" --json audit list --limit 0 >"$TMP/a.audit"
python3 - "$TMP/src.audit" "$TMP/a.audit" >"$TMP/audit.cmp" <<'PY'
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print("same" if b[:len(a)] == a and len(b) == len(a) + 1 and b[-1]["action"] == "store.migrate" else "differs")
print(json.dumps(b[-1]))
PY
is "$(head -1 "$TMP/audit.cmp")" same "audit list of the copy: the source's entries, then store.migrate"
like "$(tail -1 "$TMP/audit.cmp")" '"from": ?\{"backend": ?"sqlite", ?"location": ?"[^"]*src.db"\}' "the store.migrate entry names the source"
is "$(cli_dump)" "$(cat "$TMP/src.cli")" "conn/apikey/lease/schedule/cache/journal listings identical through the CLI"
is "$("$CB" conn url app)" "$URL_APP" "a sealed URL decrypts to the same value in the copy"
is "$("$CB" conn url fromref)" "$URL_FR" "the --from-ref connection's cached URL too"
check "verify is clean on the copy" "$CB" verify
check "audit verify is clean on the copy" "$CB" audit verify
# an API key created before the move authenticates on a serve of the copy; the revoked one does not
PORT=$(free_port)
"$CB" serve --listen "127.0.0.1:$PORT" >/dev/null 2>"$TMP/serve.err" &
SPID=$!; on_exit "kill $SPID"
if wait_port "$PORT" 15; then
  R=$(python3 "$CB_ROOT/tests/lib/mcp_http_call.py" "$PORT" "$KEY1" connections_list '{}')
  like "$R" '"app"' "an API key made before the move authenticates on serve of the copy (connections_list)"
  R=$(python3 "$CB_ROOT/tests/lib/mcp_http_call.py" "$PORT" "$KEY2" connections_list '{}')
  like "$R" '"http_status": 401' "the key revoked before the move is refused"
else
  fail "serve of the copy did not start"; diag "$(tail -5 "$TMP/serve.err")"
fi
kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null

# a second hop: the copy of the copy holds the same rows (plus its own store.migrate)
row_dump "$A" >"$TMP/a.rows"
B="$TMP/copy-b.db"
check "migrate the copy again (SQLite -> SQLite)" "$CB" store migrate --to "$B"
row_dump "$B" >"$TMP/b.rows"
is "$(rows_same "$TMP/a.rows" "$TMP/b.rows" 1)" same "second hop: every row identical, plus one store.migrate entry"
check "verify is clean on the second copy" env CREDBROKER_DB="$B" "$CB" verify
check "audit verify is clean on the second copy" env CREDBROKER_DB="$B" "$CB" audit verify
J=$(CREDBROKER_DB=$B "$CB" --json store migrate --to "$TMP/copy-j.db")
like "$J" '"ok":true' "--json: ok"
like "$J" '"tables":\[\{"table":"api_keys","rows":2,"sha256":"[0-9a-f]{64}"\}' "--json: rows and a SHA-256 per table"
like "$J" '"sealed_verified":[1-9][0-9]*' "--json: the number of sealed values authenticated"
export CREDBROKER_DB=$SRC

# ---- refusals: nothing written, the source unchanged ----
SUM_A=$(sha256sum <"$A")
OUT=$("$CB" store migrate --to "$A" 2>&1); rc=$?
is "$rc" 1 "a target that exists is refused (exit 1)"
like "$OUT" "already exists" "... saying so"
is "$(sha256sum <"$A")" "$SUM_A" "... and is left byte-identical"
OUT=$(CREDBROKER_MASTER_KEY=$(openssl rand -hex 32) "$CB" store migrate --to "$TMP/wrongkey.db" 2>&1); rc=$?
is "$rc" 4 "a wrong master key is refused (exit 4)"
like "$OUT" "master key does not match" "... saying so"
ok "$([ ! -e "$TMP/wrongkey.db" ]; echo $?)" "... and no target is created"
OUT=$(env -u CREDBROKER_MASTER_KEY "$CB" store migrate --to "$TMP/nokey.db" 2>&1); rc=$?
is "$rc" 4 "no master key (a locked source) is refused (exit 4)"
ok "$([ ! -e "$TMP/nokey.db" ]; echo $?)" "... and no target is created"
expect_exit 2 "store migrate without --to is a usage error" "$CB" store migrate
expect_exit 2 "the source itself as target is a usage error" "$CB" store migrate --to "$SRC"
for u in "postgresql://broker:Sekr1tPw9@127.0.0.1/x" "postgres://broker@127.0.0.1/x?sslmode=disable&password=Sekr1tPw9"; do
  OUT=$("$CB" store migrate --to "$u" 2>&1); rc=$?
  is "$rc" 2 "a target URL with a password in it is refused (exit 2): ${u%%Sekr1t*}..."
  like "$OUT" "PGPASSWORD" "... saying where the password goes"
  unlike "$OUT" "Sekr1tPw9" "... without echoing it"
done
is "$(sha256sum <"$SRC")" "$SUM" "the source is still byte-identical after the refusals"

# a rotation in progress (a journal row) is refused: the copy would carry a half-done rotation
cp "$SRC" "$TMP/busy.db"; chmod 600 "$TMP/busy.db"
sqlite3 "$TMP/busy.db" "INSERT INTO rotation_journal(credential, id, step, strategy, target_user, connection, started_at, updated_at)
                        VALUES('app-db', 'r1', 'set', 'single-user', 'app', 'app', 1, 1)"
OUT=$(CREDBROKER_DB="$TMP/busy.db" "$CB" store migrate --to "$TMP/busy-copy.db" 2>&1); rc=$?
is "$rc" 1 "a store with a rotation in progress is refused (exit 1)"
like "$OUT" "rotation of 'app-db' is in progress \(step set\).*rotate --resume" "... naming it and what to do"
ok "$([ ! -e "$TMP/busy-copy.db" ]; echo $?)" "... and no target is created"

# the copy follows the schema: a column the target's schema lacks is refused, never dropped
cp "$SRC" "$TMP/extra.db"; chmod 600 "$TMP/extra.db"
sqlite3 "$TMP/extra.db" "ALTER TABLE connections ADD COLUMN future_enc BLOB; UPDATE connections SET future_enc = x'01'"
OUT=$(CREDBROKER_DB="$TMP/extra.db" "$CB" store migrate --to "$TMP/extra-copy.db" 2>&1); rc=$?
is "$rc" 1 "a source column the target schema lacks is refused (exit 1)"
like "$OUT" "target table connections has no column future_enc" "... naming the table and column"
ok "$([ ! -e "$TMP/extra-copy.db" ]; echo $?)" "... and no target is left behind"

# a copy that does not verify is rolled back (test hook: one value tampered in flight)
for t in connections.url_enc@app secrets.value_enc meta.v@dek_wrapped meta.v@sealed:audit_head audit.hash api_keys.hash; do
  OUT=$(CREDBROKER_TEST_MIGRATE_TAMPER=$t "$CB" store migrate --to "$TMP/tampered.db" 2>&1); rc=$?
  is "$rc" 1 "tampered $t in flight: exit 1"
  like "$OUT" "rolled back|does not authenticate|tampered" "... with a clear reason: $(printf '%s' "$OUT" | tail -1)"
  ok "$(ls "$TMP"/tampered.db* >/dev/null 2>&1; [ $? -ne 0 ]; echo $?)" "... and no target file is left"
  rm -f "$TMP"/tampered.db*
done
OUT=$(CREDBROKER_TEST_MIGRATE_TAMPER=connections.url_enc@app "$CB" store migrate --to "$TMP/tampered.db" 2>&1)
like "$OUT" "FAIL connections app.url: does not authenticate" "a tampered sealed value is named (table, row, column)"
is "$(sha256sum <"$SRC")" "$SUM" "the source is byte-identical after every refusal and rollback"

# ---- SQLite -> PostgreSQL -> SQLite ----
PGSTORE_URL="postgresql://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable"
pg_sql "CREATE SCHEMA IF NOT EXISTS cb_mig" >/dev/null
OUT=$(PGPASSWORD=$PG_ADMIN_PW CREDBROKER_DB_SCHEMA=cb_mig "$CB" store migrate --to "$PGSTORE_URL" 2>&1); rc=$?
if [[ "$OUT" == *"not supported by this build"* ]]; then
  skip "SQLite -> PostgreSQL -> SQLite: this build has no PostgreSQL store backend yet"
else
  is "$rc" 0 "store migrate --to postgresql:// exits 0"
  like "$OUT" "\(postgresql\) in one transaction" "... into the PostgreSQL store"
  P="$TMP/back.db"
  OUT=$(PGPASSWORD=$PG_ADMIN_PW CREDBROKER_DB_SCHEMA=cb_mig CREDBROKER_DB=$PGSTORE_URL "$CB" store migrate --to "$P" 2>&1); rc=$?
  is "$rc" 0 "store migrate from PostgreSQL back to a file exits 0"
  row_dump "$P" >"$TMP/p.rows"
  is "$(rows_same "$TMP/src.rows" "$TMP/p.rows" 2 bytes)" same "round trip: every row's bytes identical, plus two store.migrate entries"
  check "verify is clean on the PostgreSQL store" env PGPASSWORD="$PG_ADMIN_PW" CREDBROKER_DB_SCHEMA=cb_mig CREDBROKER_DB="$PGSTORE_URL" "$CB" verify
  check "audit verify is clean on the PostgreSQL store" env PGPASSWORD="$PG_ADMIN_PW" CREDBROKER_DB_SCHEMA=cb_mig CREDBROKER_DB="$PGSTORE_URL" "$CB" audit verify
  check "verify is clean on the round-tripped file" env CREDBROKER_DB="$P" "$CB" verify
  check "audit verify is clean on the round-tripped file" env CREDBROKER_DB="$P" "$CB" audit verify
  is "$(sha256sum <"$SRC")" "$SUM" "the source file is byte-identical after the migration to PostgreSQL"
  # the key made before the move authenticates on a serve of the PostgreSQL store
  PORT=$(free_port)
  PGPASSWORD=$PG_ADMIN_PW CREDBROKER_DB_SCHEMA=cb_mig CREDBROKER_DB=$PGSTORE_URL "$CB" serve --listen "127.0.0.1:$PORT" \
    >/dev/null 2>"$TMP/serve-pg.err" &
  SPID=$!; on_exit "kill $SPID"
  if wait_port "$PORT" 15; then
    like "$(python3 "$CB_ROOT/tests/lib/mcp_http_call.py" "$PORT" "$KEY1" connections_list '{}')" '"app"' \
      "an API key made before the move authenticates on serve of the PostgreSQL store"
    like "$(python3 "$CB_ROOT/tests/lib/mcp_http_call.py" "$PORT" "$KEY2" connections_list '{}')" '"http_status": 401' \
      "... and the revoked one is refused there"
  else
    fail "serve of the PostgreSQL store did not start"; diag "$(tail -5 "$TMP/serve-pg.err")"
  fi
  kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
  HASH_PG=$(pg_sql "SELECT md5(string_agg(k || coalesce(encode(v, 'hex'), ''), ',' ORDER BY k)) FROM cb_mig.meta")
  OUT=$(PGPASSWORD=$PG_ADMIN_PW CREDBROKER_DB_SCHEMA=cb_mig "$CB" store migrate --to "$PGSTORE_URL" 2>&1); rc=$?
  is "$rc" 1 "a PostgreSQL schema that already holds a store is refused"
  like "$OUT" "not empty" "... saying so"
  is "$(pg_sql "SELECT md5(string_agg(k || coalesce(encode(v, 'hex'), ''), ',' ORDER BY k)) FROM cb_mig.meta")" "$HASH_PG" \
     "... and left as it was"
  OUT=$(CREDBROKER_TEST_MIGRATE_TAMPER=connections.url_enc@app PGPASSWORD=$PG_ADMIN_PW CREDBROKER_DB_SCHEMA=cb_mig2 \
        "$CB" store migrate --to "$PGSTORE_URL" 2>&1); rc=$?
  is "$rc" 1 "a copy into PostgreSQL with a value tampered in flight: exit 1"
  like "$OUT" "do not authenticate after the copy; rolled back" "... rolled back"
  is "$(pg_sql "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'cb_mig2'")" 0 "... no table left in the target schema"
fi
done_testing
