#!/usr/bin/env bash
# The MCP tools are engine-agnostic: the same tools against SQL Server (tests/fakes/fake_tds
# through FreeTDS), driven by the MCP Inspector CLI 2.12.0 over stdio. Wrong credentials
# are reported without the password; the password never appears in any output.
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
CLI="$BUILD/tools/mcp_cli"
FAKE="$BUILD/fakes/fake_tds"
INTEROP="$CB_ROOT/tests/interop"
{ [ -x "$CLI" ] && [ -x "$FAKE" ] && [ -x "$CB" ]; } || skip_all "mcp_cli / fake_tds not built"
[ -d "$INTEROP/node_modules/@modelcontextprotocol/inspector" ] || skip_all "MCP Inspector not installed in tests/interop"
unset TDSVER
PORT=$(free_port)
printf 'app:AppPass-Mcp-1\n' >"$TMP/logins"
chmod 600 "$TMP/logins"
"$FAKE" --port "$PORT" --logins "$TMP/logins" 2>"$TMP/fake.log" &
on_exit "kill $!"
wait_port "$PORT" 10 || { fail "fake_tds starts"; done_testing; exit 1; }
new_store mcpss
export CREDBROKER_POLICIES="$TMP/policies" CREDBROKER_CONFIG="$TMP/credbroker.json"
mkdir -p "$CREDBROKER_POLICIES"
echo '{}' >"$CREDBROKER_CONFIG"
echo '{"clients":{"local":{"tools":["*"],"connections":["*"],"max_rows":2}}}' >"$CREDBROKER_POLICIES/p.json"
printf 'Server=127.0.0.1,%s;Database=master;User Id=app;Password=AppPass-Mcp-1\n' "$PORT" | "$CB" -q conn add mssql --engine sqlserver
printf 'Server=127.0.0.1,%s;Database=master;User Id=app;Password=Wrong-Mcp-2\n' "$PORT" | "$CB" -q conn add mssql_bad --engine sqlserver
ENVS=(-e "CREDBROKER_DB=$CREDBROKER_DB" -e "CREDBROKER_MASTER_KEY=$CREDBROKER_MASTER_KEY" -e "CREDBROKER_POLICIES=$CREDBROKER_POLICIES" -e "CREDBROKER_CONFIG=$CREDBROKER_CONFIG")
insp() { (cd "$INTEROP" && npx --no-install @modelcontextprotocol/inspector --cli "${ENVS[@]}" "$CLI" mcp --method tools/call "$@" 2>&1); }
: >"$TMP/all.out"
OUT=$(insp --tool-name connections_list); rc=$?
echo "$OUT" >>"$TMP/all.out"
is "$rc" 0 "connections_list over stdio (Inspector)"
like "$OUT" '"engine": *"sqlserver"' "sqlserver connection listed with its engine"
OUT=$(insp --tool-name connection_test --tool-args-json '{"connection":"mssql"}'); rc=$?
echo "$OUT" >>"$TMP/all.out"
is "$rc" 0 "connection_test logs in to SQL Server"
like "$OUT" '"server_version"' "connection_test reports the server version"
OUT=$(insp --tool-name query_readonly --tool-args-json '{"connection":"mssql","sql":"select name, n from t"}'); rc=$?
echo "$OUT" >>"$TMP/all.out"
is "$rc" 0 "query_readonly on SQL Server"
like "$OUT" '"truncated": *true' "row cap from the policy applies (max_rows 2)"
like "$OUT" 'hello' "rows returned"
OUT=$(insp --tool-name query_readonly --tool-args-json '{"connection":"mssql","sql":"select 1; drop table t"}'); rc=$?
echo "$OUT" >>"$TMP/all.out"
is "$rc" 5 "stacked statement refused (Inspector exit 5 = isError)"
OUT=$(insp --tool-name connection_test --tool-args-json '{"connection":"mssql_bad"}'); rc=$?
echo "$OUT" >>"$TMP/all.out"
is "$rc" 5 "wrong SQL Server password is a tool error"
unlike "$(cat "$TMP/all.out")" 'AppPass-Mcp-1|Wrong-Mcp-2' "no SQL Server password in any MCP output"
unlike "$("$CB" audit list --json)" 'AppPass-Mcp-1|Wrong-Mcp-2' "no SQL Server password in the audit log"
done_testing
