#!/usr/bin/env bash
# credbroker's MCP tools on a real MariaDB through the official SDK client over stdio
# (`credbroker mcp`): the PostgreSQL suite's assertions where the engines agree, and the
# MySQL read-only bypass catalogue with a fingerprint before/after each attempt and a
# query_execute control. See tests/interop/mcp_tools_engines.mjs.
# shellcheck source=tests/lib/common.sh disable=SC1091
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/mariadb.sh disable=SC1091
source "$CB_ROOT/tests/lib/mariadb.sh"
INTEROP="$CB_ROOT/tests/interop"
[ -x "$CB" ] || skip_all "credbroker not built"
command -v node >/dev/null || skip_all "node missing"
[ -d "$INTEROP/node_modules/@modelcontextprotocol/sdk" ] || skip_all "MCP SDK not installed in tests/interop"
command -v mariadb-install-db >/dev/null || skip_all "mariadb-server not installed (make deps)"
my_start || skip_all "cannot start mariadbd"

RO_PW=$(openssl rand -hex 12); BAD_PW="wrong-$(openssl rand -hex 8)"
my_sql "CREATE DATABASE shop;
CREATE TABLE shop.items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL, qty INT NOT NULL);
INSERT INTO shop.items (name, qty) VALUES ('apple', 1), ('pear', 5), ('plum', 9);
CREATE USER 'app_ro'@'127.0.0.1' IDENTIFIED BY '$RO_PW'; GRANT SELECT ON shop.* TO 'app_ro'@'127.0.0.1';
DELIMITER //
CREATE PROCEDURE shop.add_item() BEGIN INSERT INTO shop.items (name, qty) VALUES ('p', 1); END//
CREATE FUNCTION shop.evil() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO shop.items (name, qty) VALUES ('f', 1); RETURN 1; END//
DELIMITER ;" || { fail "fixture"; done_testing; exit 1; }
export OUTFILE="$MYDIR/files/out.txt"
cat >"$TMP/fp.sh" <<SH
#!/bin/bash
{ mariadb --no-defaults --socket='$MYDIR/sock' -uroot -N -B -e "CHECKSUM TABLE shop.items EXTENDED;
  SELECT GROUP_CONCAT(table_name ORDER BY table_name) FROM information_schema.tables WHERE table_schema='shop';
  SELECT @@global.max_connections; SELECT IS_FREE_LOCK('mcp_held');
  SELECT GROUP_CONCAT(CONCAT(user, '@', host) ORDER BY user) FROM mysql.user" || echo broken; ls '$MYDIR/files'; } | md5sum | cut -c1-32
SH
chmod 755 "$TMP/fp.sh"
export FP_CMD="$TMP/fp.sh"

new_store mcp
export CREDBROKER_POLICIES="$TMP/policies" CREDBROKER_CONFIG="$TMP/credbroker.json"
echo '{}' >"$CREDBROKER_CONFIG"
mkdir -p "$CREDBROKER_POLICIES"
cat >"$CREDBROKER_POLICIES/clients.json" <<'JSON'
{ "clients": { "local": { "tools": ["*"], "connections": ["*"], "mode": "read-write", "max_rows": 5, "statement_timeout_ms": 1000 } } }
JSON
# the read-only attempts use the admin login: the refusal must not depend on privileges
printf 'mysql://root:%s@127.0.0.1:%s/shop?ssl-mode=DISABLED&connect-timeout=5\n' "$MY_ADMIN_PW" "$MYPORT" | "$CB" -q conn add shop
printf 'mysql://app_ro:%s@127.0.0.1:%s/shop?ssl-mode=DISABLED&connect-timeout=5\n' "$BAD_PW" "$MYPORT" | "$CB" -q conn add badpw
export TRAFFIC="$TMP/traffic.log"
: >"$TRAFFIC"
(cd "$INTEROP" && node mcp_tools_engines.mjs mysql "$CB" mcp) >"$TMP/node.out" 2>&1
while IFS= read -r l; do case "$l" in PASS\ *) pass "${l#PASS }";; FAIL\ *) fail "${l#FAIL }";; *) diag "$l";; esac; done <"$TMP/node.out"
grep -q '^FAIL' "$TMP/node.out" && diag "server stderr: $(grep '^stderr' "$TRAFFIC" | tail -5)"
leak=0
for pw in "$MY_ADMIN_PW" "$RO_PW" "$BAD_PW"; do
  grep -qF -- "$pw" "$TRAFFIC" && { leak=1; diag "a password is in the MCP traffic"; }
done
is "$leak" 0 "no password in any MCP message or the server's stderr"
like "$("$CB" audit list --json 2>&1)" '"action":"mcp.query_readonly","target":"shop"' "tool calls on MariaDB are audited"
done_testing
