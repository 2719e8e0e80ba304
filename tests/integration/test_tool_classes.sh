#!/usr/bin/env bash
# Issue 11: a read-only client cannot misuse the tools. The shipped `local` client sees
# no admin tool; `policy check` names what "*" no longer grants; a key reference that
# could brick the store (/proc, a symlink into it, a FIFO, a group-readable file) is
# refused with the store unchanged, a good one re-keys and audits the fingerprint;
# security_assess tells a model "weak password", not the rule; the bootstrap key is
# never a stored or revoked API key; assess flags a world-readable master-key file.
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
command -v python3 >/dev/null || skip_all "python3 missing"

new_store classes
export CREDBROKER_CONFIG="$TMP/credbroker.json"
echo '{}' >"$CREDBROKER_CONFIG"
printf 'postgresql://bob:bob@127.0.0.1:1/db?sslmode=disable\n' | "$CB" -q conn add weak

# mcp_session POLICIES_DIR CALLS_JSON_LINES...: initialize + each line over stdio; prints stdout
mcp_session() {
  local dir=$1; shift
  { echo '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}'
    echo '{"jsonrpc":"2.0","method":"notifications/initialized"}'
    printf '%s\n' "$@"; } | CREDBROKER_POLICIES="$dir" timeout 30 "$CB" mcp 2>>"$TMP/mcp.err"
}
tools_of() { python3 -c '
import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("id") == 1: print(" ".join(sorted(t["name"] for t in m["result"]["tools"])))'; }
result_of() { python3 -c '
import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("id") == int(sys.argv[1]): print(json.dumps(m.get("result", m.get("error"))))' "$1"; }
LIST='{"jsonrpc":"2.0","id":1,"method":"tools/list"}'

# ---- the shipped policy ----
T=$(mcp_session "$CB_ROOT/policies" "$LIST" | tools_of)
diag "shipped local sees: $T"
like "$T" 'connections_list' "shipped local lists read-only tools"
for t in security_rotate_key security_migrate_connections_to_encrypted security_generate_secure_key credentials_rotate \
         credentials_emergency_rotate query_execute; do
  unlike " $T " " $t " "shipped local does not list $t"
done
R=$(mcp_session "$CB_ROOT/policies" '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"security_rotate_key","arguments":{"new_key_ref":"file:///proc/sys/kernel/random/uuid"}}}' | result_of 2)
like "$R" 'may not call security_rotate_key \(an admin tool' "shipped local calling security_rotate_key is denied, naming the class"

# ---- policy check explains the change for old files ----
mkdir -p "$TMP/old"
echo '{"clients":{"ops":{"tools":["*"],"connections":["*"],"mode":"read-write"}}}' >"$TMP/old/20-clients.json"
OUT=$("$CB" policy check --policies "$TMP/old" 2>&1); rc=$?
is "$rc" 0 "an old policy file still loads"
like "$OUT" "warning: .*client 'ops': \"\\*\" grants read-only tools only .*no longer granted: security_rotate_key, security_migrate_connections_to_encrypted, security_generate_secure_key, credentials_rotate, credentials_emergency_rotate" "policy check names the admin tools \"*\" no longer grants"
unlike "$OUT" 'no longer granted:.*query_execute' "query_execute stays granted to a read-write \"*\" client"
is "$("$CB" --json policy check --policies "$TMP/old" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["warnings"]))')" 1 "--json lists the warning"
OUT=$("$CB" policy check --policies "$CB_ROOT/policies" 2>&1)
unlike "$OUT" "warning" "the shipped file (\"admin\": false) was written for tool classes: no warning"
echo '{"clients":{"ops":{"tools":["*"],"admin":false}}}' >"$TMP/old/20-clients.json"
unlike "$("$CB" policy check --policies "$TMP/old" 2>&1)" "warning" "saying \"admin\" (true or false) opts in: no warning"

# ---- key references that cannot brick the store ----
mkdir -p "$TMP/adm"
echo '{"clients":{"local":{"tools":["security_rotate_key","security_assess"],"connections":["*"]}}}' >"$TMP/adm/p.json"
digest() { store_sql "select k, hex(v), key_version from meta where k in ('kcv','dek_wrapped','kdf_salt','key_version') order by k" | sha256sum; }
rotate() { mcp_session "$TMP/adm" "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"security_rotate_key\",\"arguments\":{\"new_key_ref\":\"$1\"}}}" | result_of 3; }
D0=$(digest)
R=$(rotate "file:///proc/sys/kernel/random/uuid")
like "$R" 'kernel or device file.*"isError": true' "a /proc key reference is refused"
is "$(digest)" "$D0" "the store's key is unchanged"
check "the old key still opens the store" "$CB" conn list
ln -s /proc/sys/kernel/random/uuid "$TMP/uuid-link"
R=$(rotate "file://$TMP/uuid-link")
like "$R" 'uuid-link resolves to /proc/.*"isError": true' "a symlink into /proc is refused"
mkfifo "$TMP/fifo"
R=$(rotate "file://$TMP/fifo")
like "$R" 'fifo is not a regular file.*"isError": true' "a FIFO is refused (and does not hang)"
openssl rand -hex 32 >"$TMP/newkey"; chmod 644 "$TMP/newkey"
R=$(rotate "file://$TMP/newkey")
like "$R" 'accessible by group/others \(mode 0644\).*"isError": true' "a group/world-readable key file is refused"
is "$(digest)" "$D0" "the store's key is still unchanged"
CREDBROKER_NEW_MASTER_KEY_REF="file:///proc/sys/kernel/random/uuid" "$CB" key rotate >/dev/null 2>"$TMP/cli.err"; rc=$?
isnt "$rc" 0 "credbroker key rotate refuses a /proc reference too"
is "$(digest)" "$D0" "the store is unchanged after the CLI attempt"
chmod 600 "$TMP/newkey"
FP=$(python3 -c "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1]).read().strip().encode()).hexdigest()[:16])" "$TMP/newkey")
R=$(rotate "file://$TMP/newkey")
like "$R" "\"rotated\": true.*\"key_fingerprint\": \"$FP\"" "a 0600 key file of the broker's user re-keys, reporting the fingerprint"
CREDBROKER_MASTER_KEY=$(cat "$TMP/newkey"); export CREDBROKER_MASTER_KEY
check "the store opens with the new key" "$CB" conn list
like "$("$CB" --json audit list --limit 5)" "\"action\": *\"mcp.security_rotate_key\".*\"key_fingerprint\": *\"$FP\"" "the re-key's audit record names the new key's fingerprint"

# ---- security_assess: weak, not why ----
R=$(mcp_session "$TMP/adm" '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"security_assess","arguments":{}}}' | result_of 4)
like "$R" '"check": "weak_password".*"message": "weak password"' "security_assess tells a model the password is weak"
unlike "$R" 'equals the user name|password_equals_user|shorter than|commonly used' "and not which rule it failed"
like "$("$CB" --json assess)" 'password_equals_user' "the operator's assess keeps the detail"

# ---- assess flags a world-readable master-key file ----
chmod 644 "$TMP/newkey"
like "$(CREDBROKER_MASTER_KEY='' CREDBROKER_MASTER_KEY_REF="file://$TMP/newkey" "$CB" --json assess)" '"check": *"key_file_mode".*"severity": *"high"' "assess reports a world-readable master-key file"
chmod 600 "$TMP/newkey"

# ---- the bootstrap key ----
echo '{"clients":{"local":{"tools":["connections_list"],"connections":["*"]},"analyst":{"tools":["connections_list"],"connections":[]}}}' >"$TMP/adm/p.json"
export CREDBROKER_POLICIES="$TMP/adm"
OLDK=$("$CB" -q apikey create analyst-old --policy analyst)
"$CB" -q apikey revoke analyst-old
serve_with() { # serve_with ENV=VAL...: starts serve, sets PORT/SPID, or returns 1 (exit code in SRC)
  PORT=$(free_port)
  env "$@" "$CB" serve --listen "127.0.0.1:$PORT" >/dev/null 2>"$TMP/boot.err" &
  SPID=$!
  on_exit "kill $SPID"
  wait_port "$PORT" 10
}
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"0"}}}'
code() { curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/mcp" -H 'Accept: application/json, text/event-stream' \
  -H 'Content-Type: application/json' -H "Authorization: Bearer $1" -d "$INIT"; }
serve_with CREDBROKER_API_KEY="$OLDK" || fail "serve with a revoked key in CREDBROKER_API_KEY starts"
is "$(code "$OLDK")" 401 "a revoked key exported as CREDBROKER_API_KEY is not accepted"
like "$(cat "$TMP/boot.err")" "CREDBROKER_API_KEY holds the API key 'analyst-old'.*NOT used as a bootstrap key" "and serve says why"
kill "$SPID"; wait "$SPID" 2>/dev/null
LIVE=$("$CB" -q apikey create live --policy local)
env CREDBROKER_BOOTSTRAP_API_KEY="$LIVE" timeout 10 "$CB" serve --listen "127.0.0.1:$(free_port)" >/dev/null 2>"$TMP/boot2.err"; rc=$?
is "$rc" 2 "CREDBROKER_BOOTSTRAP_API_KEY equal to a stored key: serve refuses to start (exit 2)"
like "$(cat "$TMP/boot2.err")" "equals the stored API key 'live'" "naming the key"
FRESH=$(openssl rand -hex 24)
serve_with CREDBROKER_BOOTSTRAP_API_KEY="$FRESH" || fail "serve with a fresh bootstrap key starts"
is "$(code "$FRESH")" 200 "a fresh CREDBROKER_BOOTSTRAP_API_KEY is accepted"
like "$(cat "$TMP/boot.err")" "WARNING: a bootstrap API key \(CREDBROKER_BOOTSTRAP_API_KEY\) is active for client 'local'" "serve warns while a bootstrap key is active"
kill "$SPID"; wait "$SPID" 2>/dev/null
serve_with CREDBROKER_API_KEY="$FRESH" || fail "serve with the old variable starts"
is "$(code "$FRESH")" 200 "the old name CREDBROKER_API_KEY still works"
like "$(cat "$TMP/boot.err")" "CREDBROKER_API_KEY as the server's bootstrap key is deprecated" "with a deprecation warning"
kill "$SPID"; wait "$SPID" 2>/dev/null
done_testing
