#!/usr/bin/env bash
# SQL Server lease family (issue 10) at the statement level against the fake TDS server:
# CREATE LOGIN / CREATE USER .. FOR LOGIN / ALTER ROLE .. ADD MEMBER, the new login logs
# in, lease_list finds it by prefix, drop ends its sessions first (a login with sessions
# cannot be dropped) and is idempotent; no password in any output or in the fake's log.
# shellcheck disable=SC1091
. "$(dirname "$0")/../lib/common.sh"
FAKE="$BUILD/fakes/fake_tds"
TOOL="$BUILD/tools/tds_tool"
if [ ! -x "$FAKE" ] || [ ! -x "$TOOL" ]; then skip_all "fake_tds or tds_tool not built"; fi
unset TDSVER
PORT=$(free_port)
LOG="$TMP/fake.log"
printf 'sa:SaPass-1:admin\napp:AppPass-1\n' >"$TMP/logins"; chmod 600 "$TMP/logins"
"$FAKE" --port "$PORT" --logins "$TMP/logins" --spid-start 60 2>>"$LOG" &
FP=$!; on_exit "kill $FP 2>/dev/null"
wait_port "$PORT" 10 || { fail "fake_tds starts"; done_testing; exit 1; }
ALL="$TMP/all.out"; : >"$ALL"
tool() { local u=$1 p=$2; shift 2; local out rc
  out=$(MSSQL_PASSWORD="$p" "$TOOL" --host 127.0.0.1 --port "$PORT" --user "$u" --db master "$@" 2>&1); rc=$?
  printf '%s\n' "$out" >>"$ALL"; printf '%s\n' "$out"; return $rc; }
LPW="Lease-$(openssl rand -hex 10)"

is "$(NEW_PASSWORD=$LPW tool sa SaPass-1 lease-create cb_analyst_0a1b2c3d mcp_readers)" ok "lease_create as the admin login"
like "$(grep -c 'stmt spid=[0-9]*: CREATE LOGIN \[cb_analyst_0a1b2c3d\] WITH PASSWORD = N.\*\*\*.' "$LOG")" '^1$' "CREATE LOGIN [..] WITH PASSWORD sent once (the fake's log redacts the literal)"
like "$(cat "$LOG")" 'CREATE USER \[cb_analyst_0a1b2c3d\] FOR LOGIN \[cb_analyst_0a1b2c3d\]' "CREATE USER .. FOR LOGIN sent"
like "$(cat "$LOG")" 'ALTER ROLE \[mcp_readers\] ADD MEMBER \[cb_analyst_0a1b2c3d\]' "ALTER ROLE <member_of> ADD MEMBER sent"
is "$(tool cb_analyst_0a1b2c3d "$LPW" test-login)" ok "the leased login logs in with its password"
like "$(tool sa SaPass-1 lease-list cb_)" '^\["cb_analyst_0a1b2c3d"\]$' "lease_list finds it by prefix (LIKE N'cb[_]%')"
like "$(NEW_PASSWORD=$LPW tool app AppPass-1 lease-create cb_x_00000000 r 2>&1)" 'Msg 15247' "a login without permission cannot create one"
like "$(NEW_PASSWORD=$LPW tool sa SaPass-1 lease-create cb_analyst_0a1b2c3d r 2>&1)" 'Msg 15025' "creating an existing login fails"
# a session of the leased login stays open while it is dropped
MSSQL_PASSWORD="$LPW" "$TOOL" --host 127.0.0.1 --port "$PORT" --user cb_analyst_0a1b2c3d --db master lock held --hold-ms 20000 >/dev/null 2>&1 &
HP=$!; on_exit "kill $HP 2>/dev/null"
for _ in $(seq 50); do grep -q 'sp_getapplock' "$LOG" && break; sleep 0.1; done
is "$(tool sa SaPass-1 lease-drop cb_analyst_0a1b2c3d)" ok "lease_drop with a session open"
like "$(cat "$LOG")" 'killed spid' "its session was killed before DROP LOGIN"
like "$(cat "$LOG")" 'DROP USER \[cb_analyst_0a1b2c3d\]' "DROP USER sent"
like "$(cat "$LOG")" 'DROP LOGIN \[cb_analyst_0a1b2c3d\]' "DROP LOGIN sent"
like "$(tool cb_analyst_0a1b2c3d "$LPW" test-login 2>&1)" 'Login failed|18456' "the dropped login cannot log in"
is "$(tool sa SaPass-1 lease-drop cb_analyst_0a1b2c3d)" ok "lease_drop again is success (idempotent)"
is "$(tool sa SaPass-1 lease-list cb_)" '[]' "no login with the prefix left"
unlike "$(cat "$ALL" "$LOG")" "$LPW" "the lease password is in no output and not in the server's log"

# ---- end to end: query_readonly over a SQL Server connection with a query_identity ----
if [ -x "$CB" ]; then
  new_store mssql
  export CREDBROKER_POLICIES="$TMP/policies" CREDBROKER_CONFIG="$TMP/credbroker.json"
  mkdir -p "$CREDBROKER_POLICIES"; echo '{}' >"$CREDBROKER_CONFIG"
  cat >"$CREDBROKER_POLICIES/p.json" <<'JSON'
{ "connections": { "mssql": { "query_identity": { "admin_connection": "mssqladmin", "member_of": ["db_datareader"] } } },
  "clients": { "local": { "tools": ["*"], "connections": ["mssql"] } } }
JSON
  printf 'Server=127.0.0.1,%s;Database=master;User Id=app;Password=AppPass-1\n' "$PORT" | "$CB" -q conn add mssql --engine sqlserver
  printf 'Server=127.0.0.1,%s;Database=master;User Id=sa;Password=SaPass-1\n' "$PORT" | "$CB" -q conn add mssqladmin --engine sqlserver
  OUT=$(printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}' \
    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"query_readonly","arguments":{"connection":"mssql","sql":"SELECT 1"}}}' |
    "$CB" mcp 2>"$TMP/mcp.err" | grep '"id":2')
  like "$OUT" '"rows":\[\[1\]\]' "query_readonly on a SQL Server connection with a query_identity"
  like "$(cat "$LOG")" "login ok user='cb_local_[0-9a-f]{8}'" "the query ran as a leased login cb_local_<8 hex>"
  like "$(cat "$LOG")" 'ALTER ROLE \[db_datareader\] ADD MEMBER \[cb_local_[0-9a-f]{8}\]' "the leased login was added to member_of"
  like "$("$CB" --json lease list)" '"connection":"mssql","login":"cb_local_[0-9a-f]{8}"' "lease list shows it"
  check "lease revoke --all" "$CB" -q lease revoke --all
  like "$(cat "$LOG")" 'DROP LOGIN \[cb_local_[0-9a-f]{8}\]' "revocation dropped the login"
  is "$(tool sa SaPass-1 lease-list cb_)" '[]' "no leased login left on the server"
  cat >"$CREDBROKER_POLICIES/p.json" <<'JSON'
{ "clients": { "local": { "tools": ["*"], "connections": ["mssql"], "session_settings": { "app.user": "${client}" } } } }
JSON
  OUT=$(printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}' \
    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"query_readonly","arguments":{"connection":"mssql","sql":"SELECT 1"}}}' |
    "$CB" mcp 2>>"$TMP/mcp.err" | grep '"id":2')
  like "$OUT" 'session_settings are not supported on SQL Server' "session_settings on SQL Server: refused, never ignored (fail closed)"
fi
unlike "$(cat "$TMP"/*.err "$ALL" 2>/dev/null)" "AddressSanitizer|LeakSanitizer|runtime error:" "no sanitizer report in any broker output"
done_testing
