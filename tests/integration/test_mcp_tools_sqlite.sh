#!/usr/bin/env bash
# credbroker's MCP tools on a SQLite file through the official SDK client over stdio
# (`credbroker mcp`): the shared assertions, the SQLite bypass catalogue (sha256 of the
# file before/after each attempt, query_execute controls), and credentials_rotate
# saying that rotation does not apply. See tests/interop/mcp_tools_engines.mjs.
# shellcheck source=tests/lib/common.sh disable=SC1091
source "$(dirname "$0")/../lib/common.sh"
INTEROP="$CB_ROOT/tests/interop"
[ -x "$CB" ] || skip_all "credbroker not built"
command -v node >/dev/null || skip_all "node missing"
command -v sqlite3 >/dev/null || skip_all "sqlite3 missing"
[ -d "$INTEROP/node_modules/@modelcontextprotocol/sdk" ] || skip_all "MCP SDK not installed in tests/interop"

DB="$TMP/shop.db"
sqlite3 "$DB" "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INT NOT NULL);
INSERT INTO items (name, qty) VALUES ('apple', 1), ('pear', 5), ('plum', 9);" || { fail "fixture"; done_testing; exit 1; }
chmod 600 "$DB"
export ATTACH_FILE="$TMP/attached.db"
printf '#!/bin/bash\n{ sha256sum %q | cut -c1-64; ls %q; }\n' "$DB" "$TMP" >"$TMP/fp.sh"
chmod 755 "$TMP/fp.sh"
export FP_CMD="$TMP/fp.sh"

new_store mcp
export CREDBROKER_POLICIES="$TMP/policies" CREDBROKER_CONFIG="$TMP/credbroker.json"
echo '{}' >"$CREDBROKER_CONFIG"
mkdir -p "$CREDBROKER_POLICIES"
cat >"$CREDBROKER_POLICIES/clients.json" <<'JSON'
{ "credentials": { "litecred": { "connection": "shop" } },
  "clients": { "local": { "tools": ["*"], "admin": true, "connections": ["*"], "mode": "read-write", "max_rows": 5, "statement_timeout_ms": 1000 } } }
JSON
printf 'sqlite://%s\n' "$DB" | "$CB" -q conn add shop
export TRAFFIC="$TMP/traffic.log"
: >"$TRAFFIC"
(cd "$INTEROP" && node mcp_tools_engines.mjs sqlite "$CB" mcp) >"$TMP/node.out" 2>&1
while IFS= read -r l; do case "$l" in PASS\ *) pass "${l#PASS }";; FAIL\ *) fail "${l#FAIL }";; *) diag "$l";; esac; done <"$TMP/node.out"
grep -q '^FAIL' "$TMP/node.out" && diag "server stderr: $(grep '^stderr' "$TRAFFIC" | tail -5)"
ok "$([ ! -e "$ATTACH_FILE" ]; echo $?)" "ATTACH / VACUUM INTO created no file"
like "$("$CB" audit list --json 2>&1)" '"action":"mcp.query_readonly","target":"shop"' "tool calls on SQLite are audited"
done_testing
