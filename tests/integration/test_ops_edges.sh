#!/usr/bin/env bash
# The rough edges a new user hits (issue 14), each with its fix: default paths and -v;
# master_key_ref in credbroker.json; impossible dates; control characters in URLs;
# requirements.min_sslmode for conn add (warning) and MCP queries (denial naming it);
# --from-ref connections in cache list and sync; rotate --journal --discard; serve binds
# before touching a database; a secret printed only after its audit row is committed
# (a real full disk: a small tmpfs in a private mount namespace).
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
[ -x "$CB" ] || skip_all "credbroker not built"
command -v sqlite3 >/dev/null || skip_all "sqlite3 missing"
unset CREDBROKER_CONFIG CREDBROKER_POLICIES
new_store store
POL="$TMP/pol"; mkdir -p "$POL"; export CREDBROKER_POLICIES="$POL"
printf '{ "clients": { "local": { "tools": ["*"], "connections": ["*"] } } }\n' >"$POL/20-clients.json"

# --- default paths (a user: XDG; flags and variables win) and -v ---
if command -v setpriv >/dev/null && [ "$(id -u)" -eq 0 ]; then
  U="$TMP/user"; mkdir -p "$U"; chown 61235:61235 "$U"
  KEY=$(openssl rand -hex 32)
  out=$(cd / && env -i PATH=/usr/bin:/bin HOME="$U" CREDBROKER_MASTER_KEY="$KEY" setpriv --reuid=61235 --regid=61235 --clear-groups "$CB" -v init 2>&1); rc=$?
  is "$rc" 0 "a user's init from / creates the store under ~/.local/share/credbroker"
  like "$out" "store $U/.local/share/credbroker/credbroker.db \(XDG_DATA_HOME, backend sqlite\)" "-v names the store, why and its backend"
  like "$out" "policies $U/.config/credbroker/policies \(XDG_CONFIG_HOME\)" "-v names the policy directory and why"
  is "$(stat -c %a "$U/.local/share/credbroker")" 700 "the store's directory is created private"
  if sqlite_store_only 2 "-v prints the store's file path (here a URL)"; then
    out=$(cd / && env -i PATH=/usr/bin:/bin HOME="$U" XDG_DATA_HOME="$U/data" CREDBROKER_MASTER_KEY="$KEY" setpriv --reuid=61235 --regid=61235 --clear-groups "$CB" -v --db "$U/x.db" conn list 2>&1)
    like "$out" "store $U/x.db \(--db, backend sqlite\)" "--db wins over XDG"
    out=$(cd / && env -i PATH=/usr/bin:/bin HOME="$U" CREDBROKER_DB="$U/y.db" CREDBROKER_MASTER_KEY="$KEY" setpriv --reuid=61235 --regid=61235 --clear-groups "$CB" -v conn list 2>&1)
    like "$out" "store $U/y.db \(CREDBROKER_DB, backend sqlite\)" "CREDBROKER_DB wins over XDG"
  fi
else
  skip "setpriv missing or not root: user defaults not checked"
fi
out=$(cd / && env -i PATH=/usr/bin:/bin "$CB" -v --version 2>&1 >/dev/null; env -i PATH=/usr/bin:/bin "$CB" -v cron validate '* * * * *' 2>&1 >/dev/null)
like "$out" "store /var/lib/credbroker/credbroker.db \(system default, backend sqlite\)" "as root: /var/lib/credbroker (system default)"
like "$out" "config /etc/credbroker/credbroker.json \(system default\)" "as root: /etc/credbroker/credbroker.json"

# --- master_key_ref in credbroker.json is a master key source ---
printf '%s\n' "$CREDBROKER_MASTER_KEY" >"$TMP/mk"; chmod 600 "$TMP/mk"
printf '{ "master_key_ref": "file://%s" }\n' "$TMP/mk" >"$TMP/cb.json"
check "policy check accepts master_key_ref" "$CB" --config "$TMP/cb.json" policy check
out=$(env -u CREDBROKER_MASTER_KEY "$CB" --config "$TMP/cb.json" --json conn list 2>&1); rc=$?
is "$rc" 0 "the store opens with the key from master_key_ref alone"
printf '{ "master_key_ref": "file://%s/none" }\n' "$TMP" >"$TMP/cb2.json"
out=$(env -u CREDBROKER_MASTER_KEY "$CB" --config "$TMP/cb2.json" conn list 2>&1); rc=$?
is "$rc" 4 "an unreadable master_key_ref: exit 4"
like "$out" "master_key_ref \(credbroker.json\)" "... naming master_key_ref"
out=$(CREDBROKER_MASTER_KEY=wrong-key-wrong-key "$CB" --config "$TMP/cb.json" conn list 2>&1); rc=$?
is "$rc" 4 "CREDBROKER_MASTER_KEY still wins over master_key_ref"

# --- impossible dates ---
expect_exit 2 "audit list --since 2026-02-31 is refused" "$CB" audit list --since 2026-02-31
like "$(cat "$TMP/.out")" "cannot parse '2026-02-31'" "... with the date in the message"
check "audit list --since 2024-02-29 (a leap day) is fine" "$CB" audit list --since 2024-02-29

# --- control characters in URLs ---
printf 'postgresql://app:pw@db.example.com/app\nhost=evil\n' | "$CB" conn add nl >"$TMP/.out" 2>&1; rc=$?
is "$rc" 1 "a URL with a newline inside is refused"
like "$(cat "$TMP/.out")" "control character" "... saying why"
unlike "$("$CB" conn list)" "^nl " "... and nothing is stored"

# --- min_sslmode: conn add warns, MCP queries are denied naming the requirement ---
printf 'postgresql://app:pw@127.0.0.1:1/app?sslmode=disable&connect_timeout=2\n' | "$CB" conn add weak >/dev/null 2>"$TMP/warn"
like "$(cat "$TMP/warn")" "sslmode=disable: its password and data cross the network unencrypted" "conn add warns about sslmode=disable"
printf '{ "requirements": { "min_sslmode": "require" } }\n' >"$POL/10-req.json"
printf 'postgresql://app:pw@127.0.0.1:1/app?sslmode=disable&connect_timeout=2\n' | "$CB" conn update weak >/dev/null 2>"$TMP/warn"
like "$(cat "$TMP/warn")" "connection weak has sslmode=disable, below requirements.min_sslmode=require \(.*10-req.json:1:21\)" "conn add/update names the requirement and where it is"
mcp_call() { # CONNECTION -> the tools/call result text
  python3 - "$CB" "$1" <<'PY'
import json, subprocess, sys
p = subprocess.Popen([sys.argv[1], "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
msgs = [{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "query_readonly", "arguments": {"connection": sys.argv[2], "sql": "SELECT 1"}}}]
out, _ = p.communicate("".join(json.dumps(m) + "\n" for m in msgs), timeout=30)
for line in out.splitlines():
    m = json.loads(line)
    if m.get("id") == 2:
        r = m.get("result", {})
        print(("ERROR " if r.get("isError") else "OK ") + " ".join(c.get("text", "") for c in r.get("content", [])))
PY
}
out=$(mcp_call weak)
like "$out" "^ERROR .*sslmode=disable, below requirements.min_sslmode=require" "MCP query_readonly on a connection below min_sslmode: denied, naming the requirement"
rm "$POL/10-req.json"
out=$(mcp_call weak)
unlike "$out" "min_sslmode" "... without the requirement the same call is not refused for sslmode (it tries to connect)"

# --- --from-ref connections: cache list and sync ---
printf 'postgresql://app:first@db.example.com/app\n' >"$TMP/url"; chmod 600 "$TMP/url"
check "conn add --from-ref file://" "$CB" conn add fromref --from-ref "file://$TMP/url"
like "$("$CB" cache list)" "^fromref +fresh" "a --from-ref connection is in cache list"
printf 'postgresql://app:second@db.example.com/app\n' >"$TMP/url"
out=$("$CB" sync 2>&1); rc=$?
is "$rc" 0 "sync exits 0"
like "$out" "fromref +fresh" "sync sees the --from-ref connection (fresh within the default TTL)"
out=$("$CB" sync --force 2>&1)
like "$out" "fromref +ok" "sync --force refreshes it"
like "$("$CB" conn url fromref 2>/dev/null)" "app:second@" "... the new value is stored"
check "conn remove fromref" "$CB" conn remove fromref
unlike "$("$CB" cache list)" "fromref" "a removed --from-ref connection leaves cache list"

# --- rotate --journal --discard: a credential no longer in the policy ---
jrow() { # CREDENTIAL CONNECTION
  store_sql "INSERT INTO rotation_journal(credential, id, step, strategy, target_user, connection, started_at, updated_at, owner_pid, owner_host)
    VALUES('$1', 'r-$1', 'create', 'single-user', 'app', '$2', strftime('%s','now') - 600, strftime('%s','now') - 600, 999999, '$(hostname)')"
}
jrow gone-db nowhere
like "$("$CB" rotate --journal)" "^gone-db +step=create" "the journal lists the orphan row"
out=$("$CB" rotate --resume 2>&1)
like "$out" "rotate --journal --discard" "rotate --resume tells how to drop a row whose credential left the policy"
printf '{ "credentials": { "kept-db": { "connection": "hang" } } }\n' >"$POL/30-cred.json"
expect_exit 2 "--discard of a credential still in the policy is refused" "$CB" rotate --journal --discard kept-db
expect_exit 2 "--discard of a credential without a journal row is refused" "$CB" rotate --journal --discard nothing-here
expect_exit 2 "--discard without --journal is a usage error" "$CB" rotate --discard gone-db
check "rotate --journal --discard gone-db" "$CB" rotate --journal --discard gone-db
like "$("$CB" rotate --journal)" "no rotation in progress" "the row is gone"
like "$("$CB" --json audit list --limit 1)" '"action":"rotation.discard","target":"gone-db","outcome":"ok"' "the discard is audited"
check "audit verify after the discard" "$CB" audit verify

# --- serve binds before it touches any database ---
# A real interrupted rotation (killed after create, against the throwaway PostgreSQL),
# whose connection then points at a database that accepts and never answers.
# shellcheck source=tests/lib/pg.sh
source "$CB_ROOT/tests/lib/pg.sh"
if command -v pg_config >/dev/null && pg_start; then
  HP=$(openssl rand -hex 10)
  pg_sql "CREATE ROLE hangapp LOGIN PASSWORD '$HP'" >/dev/null
  printf 'postgresql://hangapp:%s@127.0.0.1:%s/postgres?sslmode=disable&connect_timeout=5\n' "$HP" "$PGPORT" | "$CB" -q conn add hang
  CREDBROKER_TEST_PAUSE_AT=after-create CREDBROKER_TEST_PAUSE_S=30 "$CB" rotate kept-db >/dev/null 2>"$TMP/rot.err" &
  RP=$!
  for _ in $(seq 100); do grep -q "test pause at after-create" "$TMP/rot.err" && break; sleep 0.1; done
  kill -9 "$RP"; wait "$RP" 2>/dev/null
  like "$("$CB" rotate --journal)" "^kept-db +step=" "an interrupted rotation is in the journal"
  HPORT=$(free_port)
  python3 - "$HPORT" "$TMP/hang.log" <<'PY' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); s.settimeout(40)
held = []
try:
    while True:
        c, _ = s.accept(); held.append(c)          # accept, never answer: a hanging database
        open(sys.argv[2], "a").write("%f\n" % time.time())
except Exception:
    pass
PY
  HANG=$!; on_exit "kill $HANG"
  wait_port "$HPORT" 10 || fail "hanging listener started"
  printf 'postgresql://hangapp:%s@127.0.0.1:%s/postgres?sslmode=disable&connect_timeout=10\n' "$HP" "$HPORT" | "$CB" -q conn update hang
  : >"$TMP/hang.log"
  SPORT=$(free_port)
  t0=$(date +%s.%N)
  CREDBROKER_SCHEDULER_INTERVAL_S=3600 "$CB" serve --listen "127.0.0.1:$SPORT" >/dev/null 2>"$TMP/serve.err" &
  SP=$!; on_exit "kill $SP"
  if wait_port "$SPORT" 5; then
    t1=$(date +%s.%N)
    pass "serve binds while an interrupted rotation's database hangs ($(python3 -c "print(round($t1-$t0,2))") s)"
  else
    fail "serve binds while an interrupted rotation's database hangs"
  fi
  for _ in $(seq 50); do [ -s "$TMP/hang.log" ] && break; sleep 0.1; done
  [ -s "$TMP/hang.log" ]; ok $? "... and then resumes the rotation (it connects to the database after binding)"
  # SIGTERM still stops it at once while the resume hangs on the database
  t0=$(date +%s.%N); kill "$SP" 2>/dev/null; wait "$SP" 2>/dev/null; t1=$(date +%s.%N)
  ok "$(python3 -c "print(0 if $t1-$t0 < 3 else 1)")" "SIGTERM during a hanging resume stops serve within 3 s ($(python3 -c "print(round($t1-$t0,2))") s)"
  kill "$HANG" 2>/dev/null; wait "$HANG" 2>/dev/null
else
  skip "no PostgreSQL: serve-binds-first not checked"
fi
rm "$POL/30-cred.json"

# --- no unaudited secret read: a real full disk ---
if pg_store; then
  sqlite_store_only 5 "the full disk is the store file's (a PostgreSQL store's disk is the server's)"
elif [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
  cat >"$TMP/full.sh" <<'SH'
set -u
D=$1; CB=$2; REF=$3
mount -t tmpfs -o size=2m tmpfs "$D" || exit 99
export CREDBROKER_DB="$D/s.db"
"$CB" -q init && printf 'postgresql://app:DiskFullSecret@db/app\n' | "$CB" -q conn add app || exit 98
for cmd in "conn url app" "get $REF"; do
  for kb in 0 8 16 24 32 40 48 56 64 128; do
    rm -f "$D/fill"; dd if=/dev/zero of="$D/fill" bs=64k 2>/dev/null
    sz=$(stat -c %s "$D/fill"); truncate -s $((sz - kb * 1024)) "$D/fill"
    # shellcheck disable=SC2086
    out=$("$CB" $cmd 2>"$D.err"); rc=$?
    printf '%s|%s|%s|%s|%s\n' "${cmd%% *}" "$kb" "$rc" "$([ -n "$out" ] && echo printed || echo silent)" "$(tr '\n' ' ' <"$D.err")"
  done
done
rm -f "$D/fill"
"$CB" --json audit list --limit 0 >"$D.audit"
"$CB" audit verify >/dev/null 2>&1; echo "verify|$?"
umount "$D"
SH
  mkdir -p "$TMP/full"
  printf 'getSecretValue\n' >"$TMP/gsecret"; chmod 600 "$TMP/gsecret"
  unshare -m bash "$TMP/full.sh" "$TMP/full" "$CB" "file://$TMP/gsecret" >"$TMP/full.out" 2>&1
  rc=$?
  if [ "$rc" -eq 99 ]; then
    skip "cannot mount a tmpfs here: the full-disk check did not run"
  else
    printed_url=$(grep -c '^conn|.*|0|printed|' "$TMP/full.out"); printed_get=$(grep -c '^get|.*|0|printed|' "$TMP/full.out")
    bad=$(grep -Ec '^(conn|get)\|[0-9]+\|[1-9][0-9]*\|printed' "$TMP/full.out")
    is "$bad" 0 "disk full: no failed command printed a secret"
    refused=$(grep -c "the audit row could not be written" "$TMP/full.out")
    isnt "$refused" 0 "disk full: some reads were refused because their audit row could not be written ($refused)"
    ok_url=$(python3 -c 'import json,sys; print(sum(1 for x in json.load(open(sys.argv[1])) if x["action"]=="conn.url" and x["outcome"]=="ok"))' "$TMP/full.audit")
    ok_get=$(python3 -c 'import json,sys; print(sum(1 for x in json.load(open(sys.argv[1])) if x["action"]=="secret.get" and x["outcome"]=="ok"))' "$TMP/full.audit")
    is "$ok_url" "$printed_url" "every printed URL has its committed audit row ($printed_url printed)"
    is "$ok_get" "$printed_get" "every printed secret (get) has its committed audit row ($printed_get printed)"
    like "$(cat "$TMP/full.out")" "verify\|0" "the audit chain verifies after the full disk"
    diag "$(grep -c '|silent|' "$TMP/full.out") of $(grep -Ec '^(conn|get)\|' "$TMP/full.out") reads refused at 0..128 KiB free"
  fi
else
  skip "not root or no mount namespaces: the full-disk check did not run"
fi
done_testing
