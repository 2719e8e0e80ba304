#!/usr/bin/env bash
# The wiring between the rotation engine and its long-running callers, end to end with
# the real binary and a real PostgreSQL: `serve` finishes an interrupted rotation at start
# and runs due schedules from its own loop; the MCP tools credentials_rotate and
# credentials_emergency_rotate (stdio) rotate through the engine and never show a password.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/pg.sh
. "$CB_ROOT/tests/lib/pg.sh"
# shellcheck source=tests/integration/rotation_lib.sh
. "$CB_ROOT/tests/integration/rotation_lib.sh"
pg_start || skip_all "PostgreSQL not available"
new_store store >/dev/null
POL="$TMP/policies"; mkdir -p "$POL"
export CREDBROKER_POLICIES="$POL"
pg_sql "CREATE ROLE svc LOGIN PASSWORD 'svc-initial-pw-1'; CREATE ROLE mcpu LOGIN PASSWORD 'mcp-initial-pw-2'; CREATE ROLE inc LOGIN PASSWORD 'inc-initial-pw-3'"
conn_add pgadmin "$(pg_url postgres "$PG_ADMIN_PW")"
conn_add svc "$(pg_url svc svc-initial-pw-1)"
conn_add mcpu "$(pg_url mcpu mcp-initial-pw-2)"
conn_add inc "$(pg_url inc inc-initial-pw-3)"
cat > "$POL/10-test.json" <<JSON
{ "credentials": {
    "svc":  { "connection": "svc",  "admin_connection": "pgadmin", "schedule": "* * * * *" },
    "mcpu": { "connection": "mcpu", "admin_connection": "pgadmin" },
    "inc":  { "connection": "inc",  "admin_connection": "pgadmin" } },
  "clients": { "local": { "tools": ["*"], "admin": true, "connections": ["*"], "mode": "read-only" } } }
JSON
expect_exit 0 "the test policy is valid" "$CB" policy check

# --- serve: resume at start, scheduler tick
CREDBROKER_TEST_PAUSE_AT=after-set CREDBROKER_TEST_PAUSE_S=30 "$CB" rotate svc >"$TMP/r.out" 2>&1 &
rpid=$!
for _ in $(seq 100); do grep -q 'test pause at' "$TMP/r.out" 2>/dev/null && break; sleep 0.1; done
kill -9 "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null
is "$(journal_rows)" 1 "a rotation was interrupted after set (journal row left)"
port=$(free_port)
CREDBROKER_SCHEDULER_INTERVAL_S=1 "$CB" serve --listen "127.0.0.1:$port" >"$TMP/serve.out" 2>&1 &
spid=$!
on_exit "kill $spid"
wait_port "$port" 15; ok $? "serve is listening"
for _ in $(seq 50); do [ "$(journal_rows)" = 0 ] && break; sleep 0.2; done
is "$(journal_rows)" 0 "serve finished the interrupted rotation at start"
stored_ok svc; ok $? "the stored svc credential logs in after the resume"
last=$(store_sql "select count(*) from audit where action like 'rotate%' and target='svc' and outcome='ok'")
# due at the next minute boundary (the last success is the resume, just now): wait until
# that boundary plus 20 s for the 1 s tick and the rotation itself on a loaded machine
# (a fixed 60 polls could end before the boundary was reached plus the rotation's time)
deadline=$(( ($(date +%s) / 60 + 1) * 60 + 20 ))
while :; do
  n=$(store_sql "select count(*) from audit where action like 'rotate%' and target='svc' and outcome='ok'")
  [ "$n" -gt "$last" ] && break
  [ "$(date +%s)" -ge "$deadline" ] && break
  sleep 1
done
isnt "$n" "$last" "serve's scheduler rotated the due credential (every-minute schedule)"
stored_ok svc; ok $? "the stored svc credential logs in after the scheduled rotation"
is "$(curl -s "http://127.0.0.1:$port/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" ok "healthz while the scheduler runs"
kill "$spid"; wait "$spid" 2>/dev/null

# --- MCP tools over stdio through the real engine
mcp_call() { # mcp_call TOOL JSON-ARGS: prints the tools/call result JSON
  python3 - "$CB" "$1" "$2" <<'PY'
import json, subprocess, sys
cb, tool, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
msgs = [
  {"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}},
  {"jsonrpc":"2.0","method":"notifications/initialized"},
  {"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}},
  {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":tool,"arguments":args}},
]
p = subprocess.run([cb, "mcp"], input="".join(json.dumps(m)+"\n" for m in msgs), capture_output=True, text=True, timeout=120)
out = {}
for line in p.stdout.splitlines():
    m = json.loads(line); out[m.get("id")] = m
names = [t["name"] for t in out[1]["result"]["tools"]]
print(json.dumps({"tools": names, "call": out[2], "stdout": p.stdout, "stderr": p.stderr}))
PY
}
r=$(mcp_call credentials_rotate '{"credential":"mcpu"}')
printf '%s\n' "$r" >> "$ALL"
like "$(printf '%s' "$r" | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["tools"]))')" "credentials_rotate" "tools/list offers credentials_rotate when the engine is wired"
is "$(printf '%s' "$r" | python3 -c 'import json,sys; c=json.load(sys.stdin)["call"]; print(c["result"].get("isError", False))')" False "credentials_rotate succeeds"
stored_ok mcpu; ok $? "after credentials_rotate the stored mcpu credential logs in"
expect_exit 1 "the old mcpu password is rejected" login_ok "$(pg_url mcpu mcp-initial-pw-2)"
r=$(mcp_call credentials_emergency_rotate '{"credential":"inc","incident":"INC-42","reason":"leaked in a CI log"}')
printf '%s\n' "$r" >> "$ALL"
is "$(printf '%s' "$r" | python3 -c 'import json,sys; c=json.load(sys.stdin)["call"]; print(c["result"].get("isError", False))')" False "credentials_emergency_rotate succeeds"
stored_ok inc; ok $? "after the emergency rotation the stored inc credential logs in"
like "$("$CB" audit list --limit 200)" "incident +INC-42" "the incident record is in the audit log"
r=$(mcp_call credentials_emergency_rotate '{"credential":"inc"}')
is "$(printf '%s' "$r" | python3 -c 'import json,sys; c=json.load(sys.stdin)["call"]; print(c.get("result",{}).get("isError", "error" in c))')" True "emergency rotation without incident and reason is refused"

# --- leak check: no password in any output, MCP message or audit row
snapshot
store_sql "select * from audit" >> "$ALL"
cat "$TMP/serve.out" >> "$ALL"
leaks=0
while IFS= read -r pw; do [ -n "$pw" ] && grep -qF -- "$pw" "$ALL" && leaks=$((leaks+1)); done < "$PWLIST"
is "$leaks" 0 "no stored password appears in any output, MCP message or audit row ($(wc -l < "$PWLIST") checked)"
done_testing
