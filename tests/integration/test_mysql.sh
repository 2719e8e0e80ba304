#!/usr/bin/env bash
# The MySQL/MariaDB engine (providers/databases/mysql.c) against a real, throwaway
# mariadbd with TLS: connection strings and assess, TLS modes against a test CA,
# read-only queries (types, bound params, row/byte caps, time limit, one statement),
# the session reset between calls, the MySQL bypass catalogue (database fingerprinted
# before/after each item, with a query_execute control that shows the detector sees a
# change), the server-side layers alone (prefilter off, least-privilege login), and the
# lease family (CREATE USER ... MAX_USER_CONNECTIONS, roles, KILL + DROP).
# test-store: none (db_tool against MariaDB only)
# shellcheck source=tests/lib/common.sh disable=SC1091
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/mariadb.sh disable=SC1091
source "$CB_ROOT/tests/lib/mariadb.sh"
DBT="$BUILD/tools/db_tool"
[ -x "$DBT" ] || skip_all "db_tool not built"
command -v mariadb-install-db >/dev/null || skip_all "mariadb-server not installed (make deps)"

# --- a test CA and a server certificate for 127.0.0.1 only ---------------------------
mkdir -p "$TMP/tls"
( cd "$TMP/tls" &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=cbtest-ca &&
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=cbtest-db &&
  printf 'subjectAltName=IP:127.0.0.1\n' >ext.cnf &&
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 -subj /CN=other-ca &&
  chmod 644 ./*.pem ./*.key ) >/dev/null 2>&1 || skip_all "openssl cannot make a test CA"
my_start --ssl-ca="$TMP/tls/ca.pem" --ssl-cert="$TMP/tls/server.pem" --ssl-key="$TMP/tls/server.key" \
  --bind-address=127.0.0.1,127.0.0.2 --innodb-lock-wait-timeout=1 || skip_all "cannot start mariadbd"
FILES="$MYDIR/files"

RO_PW=$(openssl rand -hex 12); TLS_PW=$(openssl rand -hex 12)
echo "secret-file-content-$RO_PW" >"$FILES/secret.txt"; chmod 644 "$FILES/secret.txt"
printf '7\tloaded\n' >"$FILES/data.txt"; chmod 644 "$FILES/data.txt"
my_sql "CREATE DATABASE app;
CREATE TABLE app.acct(id INT PRIMARY KEY, bal INT NOT NULL) ENGINE=InnoDB;
CREATE TABLE app.notes(id INT, s TEXT) ENGINE=MyISAM;
CREATE TABLE app.child(id INT PRIMARY KEY, acct_id INT, FOREIGN KEY (acct_id) REFERENCES app.acct(id)) ENGINE=InnoDB;
CREATE TABLE app.big(id INT PRIMARY KEY, v LONGTEXT, b LONGBLOB);
INSERT INTO app.acct VALUES (1,100),(2,200),(3,300);
INSERT INTO app.big VALUES (1, REPEAT('x', 3000000), NULL), (2, 'small', x'00ff10');
CREATE USER 'ro'@'127.0.0.1' IDENTIFIED BY '$RO_PW';
GRANT SELECT, EXECUTE ON app.* TO 'ro'@'127.0.0.1';
CREATE USER 'tls'@'%' IDENTIFIED BY '$TLS_PW' REQUIRE SSL; GRANT SELECT ON app.* TO 'tls'@'%';
CREATE ROLE app_reader; GRANT SELECT ON app.* TO app_reader;
CREATE ROLE app_writer; GRANT INSERT ON app.notes TO app_writer;
GRANT app_reader TO 'root'@'127.0.0.1' WITH ADMIN OPTION; GRANT app_writer TO 'root'@'127.0.0.1' WITH ADMIN OPTION;
DELIMITER //
CREATE PROCEDURE app.p_write() BEGIN INSERT INTO app.notes VALUES (1, 'proc'); END//
CREATE PROCEDURE app.p_commit_write() BEGIN COMMIT; INSERT INTO app.notes VALUES (2, 'after commit'); END//
CREATE FUNCTION app.f_write() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO app.notes VALUES (3, 'func'); RETURN 1; END//
DELIMITER ;" || { fail "fixture"; done_testing; exit 1; }

url() { printf 'mysql://%s:%s@%s:%s/%s?%s' "$1" "$2" "${4:-127.0.0.1}" "$MYPORT" "${5:-app}" "${3:-ssl-mode=DISABLED&connect-timeout=5}"; }
ROOT_URL=$(url root "$MY_ADMIN_PW")
RO_URL=$(url ro "$RO_PW")
dbt() { DB_URL="$1" "$DBT" mysql "${@:2}"; }
q() { DB_URL="$ROOT_URL" "$DBT" mysql "$@"; }
J() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }

# --- connection strings and assess ----------------------------------------------------
out=$(DB_URL="mariadb://u:p@db.example:3306/app?ssl-mode=VERIFY_IDENTITY&ssl-ca=/etc/ca.pem&connect-timeout=10" "$DBT" mysql parse)
like "$out" '"engine":"mysql","host":"db.example","user":"u","port":3306,"dbname":"app"' "mariadb:// parses as engine mysql"
out=$(DB_URL="mariadb://u:p@db.example/app?ssl-mode=VERIFY_IDENTITY&ssl-ca=/etc/ca.pem" "$DBT" mysql redact)
is "$out" "mariadb://u:****@db.example/app?ssl-mode=VERIFY_IDENTITY&ssl-ca=%2Fetc%2Fca.pem" "mariadb:// is written back as mariadb:// (redacted)"
out=$(DB_URL="mysql://u:p@h/app?ssl-mode=SOMETIMES" "$DBT" mysql parse 2>&1); rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "an unknown ssl-mode is refused at parse time"
like "$out" "ssl-mode must be DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY" "... with the list of values"
out=$(DB_URL="mysql://u:p@h/app?connect-timeout=soon" "$DBT" mysql parse 2>&1)
like "$out" "connect-timeout must be 1..3600 seconds" "a bad connect-timeout is refused"
A=$(DB_URL="mysql://u:Xk3\$9vQ!mZ2#pL7w@10.0.0.5/app?ssl-mode=REQUIRED&connect-timeout=10" "$DBT" mysql assess)
like "$A" '"check":"tls_verify","severity":"medium"' "assess: ssl-mode=REQUIRED accepts any certificate (medium)"
A=$(DB_URL="mysql://u:Xk3\$9vQ!mZ2#pL7w@10.0.0.5/app?ssl-mode=VERIFY_CA&ssl-ca=/x&connect-timeout=10" "$DBT" mysql assess)
like "$A" '"check":"tls_verify","severity":"low"' "assess: VERIFY_CA does not check the host name (low)"
A=$(DB_URL="mysql://u:Xk3\$9vQ!mZ2#pL7w@10.0.0.5/app?ssl-mode=VERIFY_IDENTITY&ssl-ca=/x&connect-timeout=10" "$DBT" mysql assess)
is "$A" "[]" "assess: VERIFY_IDENTITY + ssl-ca + connect-timeout + strong password: no findings"
A=$(DB_URL="mysql://u:password@10.0.0.5/app" "$DBT" mysql assess)
like "$A" '"check":"tls_mode","severity":"medium"' "assess: no ssl-mode (medium)"
like "$A" '"check":"password_common"' "assess: common password"

# --- TLS modes against the test CA ---------------------------------------------------------
CA="$TMP/tls/ca.pem"; OTHER="$TMP/tls/other.pem"
tls_url() { url tls "$TLS_PW" "ssl-mode=$1&connect-timeout=5${2:-}" "${3:-127.0.0.1}"; }
check "REQUIRED: TLS without verification logs in (user REQUIRE SSL)" dbt "$(tls_url REQUIRED)" test-login
out=$(dbt "$(tls_url PREFERRED)" query-ro "SHOW SESSION STATUS LIKE 'Ssl_version'" 2>&1)
like "$out" 'TLSv1' "PREFERRED: TLS is negotiated when the server offers it"
out=$(dbt "$(url ro "$RO_PW" "ssl-mode=DISABLED")" query-ro "SHOW SESSION STATUS LIKE 'Ssl_version'" 2>&1)
like "$out" '\["Ssl_version",""\]' "DISABLED: the session is not encrypted"
out=$(dbt "$(tls_url DISABLED)" test-login 2>&1)
ok "$([ -n "$out" ] && ! [[ "$out" =~ \"ok\":true ]]; echo $?)" "DISABLED: the REQUIRE SSL user is refused (no TLS)"
check "VERIFY_IDENTITY with the right CA and host 127.0.0.1 logs in" dbt "$(tls_url VERIFY_IDENTITY "&ssl-ca=$CA")" test-login
out=$(dbt "$(tls_url VERIFY_IDENTITY "&ssl-ca=$OTHER")" test-login 2>&1); rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "VERIFY_IDENTITY with another CA is refused"
out=$(dbt "$(tls_url VERIFY_IDENTITY "&ssl-ca=$CA" 127.0.0.2)" test-login 2>&1); rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "VERIFY_IDENTITY to 127.0.0.2 (not in the certificate) is refused"
diag "$out"
check "VERIFY_CA with the right CA to 127.0.0.2 logs in (chain checked, name not)" dbt "$(tls_url VERIFY_CA "&ssl-ca=$CA" 127.0.0.2)" test-login
out=$(dbt "$(tls_url VERIFY_CA "&ssl-ca=$OTHER")" test-login 2>&1); rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "VERIFY_CA with another CA is refused"
out=$(dbt "$(tls_url VERIFY_IDENTITY)" test-login 2>&1); rc=$?
like "$out" "needs ssl-ca" "VERIFY_IDENTITY without ssl-ca: a clear error"
out=$(MYSQL_SSL_MODE=VERIFY_IDENTITY MYSQL_SSL_CA="$OTHER" DB_URL="mysql://tls:$TLS_PW@127.0.0.1:$MYPORT/app" "$DBT" mysql test-login 2>&1); rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "MYSQL_SSL_MODE / MYSQL_SSL_CA from the environment apply when the URL has none"
out=$(MYSQL_SSL_MODE=VERIFY_IDENTITY MYSQL_SSL_CA="$CA" DB_URL="mysql://tls:$TLS_PW@127.0.0.1:$MYPORT/app" "$DBT" mysql query-ro "SHOW SESSION STATUS LIKE 'Ssl_version'" 2>&1)
like "$out" 'TLSv1' "... and the session is encrypted"

# --- read-only queries --------------------------------------------------------------------
out=$(q query-ro "SELECT id, bal, bal / 3 AS third, CAST(1.5 AS DOUBLE) AS d, NULL AS n, 'é' AS s FROM acct WHERE id = ?" '[2]')
is "$(J "$out" 'd["rows"]')" "[[2, 200, '66.6667', 1.5, None, 'é']]" "types: integers and doubles as numbers, decimals as text, NULL, UTF-8"
is "$(J "$out" '[c["type"] for c in d["columns"]]')" "['int', 'int', 'decimal', 'double', 'binary', 'varchar']" "column types"
out=$(q query-ro "SELECT ? AS v" "[\"'; DROP TABLE acct; --\"]")
is "$(J "$out" 'd["rows"][0][0]')" "'; DROP TABLE acct; --" "a bound parameter is a value, never SQL"
out=$(q query-ro "SELECT ?, ?, ?, ?" '[true, 2.5, null, -7]')
is "$(J "$out" 'd["rows"][0]')" "[1, 2.5, None, -7]" "booleans, reals, null and negative integers bind"
out=$(q query-ro "SELECT ?" '[1, 2]' 2>&1)
like "$out" "1 placeholders, 2 params given" "a parameter count mismatch is a clear error"
out=$(q query-ro "SELECT b FROM big WHERE id = 2")
is "$(J "$out" 'd["rows"][0][0]')" '\x00ff10' "binary values as \\x hex"
out=$(q query-ro "SELECT seq FROM seq_1_to_1000000" --max-rows 7)
is "$(J "$out" '(d["row_count"], d["truncated"], len(d["rows"]))')" "(7, True, 7)" "row cap: 7 rows of a million, truncated"
t0=$(date +%s%N)
out=$(q query-ro "SELECT id, v FROM big ORDER BY id" --max-bytes 100000)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$(J "$out" '(d["row_count"], d["truncated"])')" "(0, True)" "byte cap: a 3 MB value with a 100 kB cap is not returned, truncated"
ok "$([ ${#out} -lt 100000 ]; echo $?)" "... and the output stays under the cap (${#out} bytes, ${ms} ms)"
n=$(q query-ro "SELECT id, v FROM big WHERE id = 1" --max-bytes 4000000 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rows"][0][1]))')
is "$n" 3000000 "a value larger than the fetch buffer is fetched whole when within the cap"
t0=$(date +%s%N)
out=$(q query-ro "SELECT SLEEP(10)" --timeout-ms 700 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "$([ $rc -ne 0 ] && [ $ms -lt 6000 ]; echo $?)" "statement time limit: SLEEP(10) with 700 ms stops early (${ms} ms)"
like "$out" "max_statement_time exceeded" "... the server says why"
out=$(q query-ro "SELECT 1; SELECT 2" 2>&1); rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "two statements are refused"
out=$(DB_TOOL_NO_PREFILTER=1 q query-ro "SELECT 1; SELECT 2" 2>&1); rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "... also by the server without the prefilter (one prepared statement)"
out=$(q query-ro "SELECT * FROM no_such_table" 2>&1)
like "$out" "no_such_table" "an SQL error is reported"
out=$(q schema)
is "$(J "$out" '[t["name"] for t in d["tables"]]')" "['acct', 'big', 'child', 'notes']" "schema_describe from information_schema: tables"
is "$(J "$out" '[t for t in d["tables"] if t["name"]=="child"][0]["foreign_keys"][0]["references_table"]')" "app.acct" "... foreign keys"
is "$(J "$out" '[t for t in d["tables"] if t["name"]=="acct"][0]["primary_key"]')" "['id']" "... primary keys"
like "$(q version)" "MariaDB" "server version"
out=$(q query-ro "SELECT 'outfile' AS w, '/*!50000 x */' AS c, \`a;b\` FROM (SELECT 1 AS \`a;b\`) t")
is "$(J "$out" 'd["rows"][0]')" "['outfile', '/*!50000 x */', 1]" "the prefilter ignores words inside strings and quoted names"

# --- session reset between calls -------------------------------------------------------------
out=$(DB_TOOL_NO_PREFILTER=1 dbt "$RO_URL" query-ro-seq "SELECT @v := 42, GET_LOCK('cb_probe', 0)" \
  "SELECT @v, IS_FREE_LOCK('cb_probe')" "SET @@session.sql_mode = 'ANSI_QUOTES'" "SELECT @@session.sql_mode LIKE '%ANSI_QUOTES%'" \
  "HANDLER app.acct OPEN" "HANDLER app.acct READ FIRST" "SELECT @@session.tx_read_only, @@in_transaction")
L() { sed -n "${1}p" <<<"$out"; }
is "$(J "$(L 1)" 'd["rows"][0]')" "[42, 1]" "call 1 sets a user variable and takes GET_LOCK"
is "$(J "$(L 2)" 'd["rows"][0]')" "[None, 1]" "call 2: the variable is gone and the lock is free (reset)"
is "$(J "$(L 4)" 'd["rows"][0][0]')" 0 "a session setting does not survive into the next call"
like "$(L 6)" '"error"' "an open HANDLER does not survive into the next call"
is "$(J "$(L 7)" 'd["rows"][0]')" "[1, 1]" "each call runs in a READ ONLY transaction"
is "$(my_sql "SELECT IS_FREE_LOCK('cb_probe')")" 1 "another session sees the lock free"

# --- the bypass catalogue -----------------------------------------------------------------------
fp() {
  { my_sql "CHECKSUM TABLE app.acct, app.notes EXTENDED; SELECT GROUP_CONCAT(CONCAT(user,'@',host) ORDER BY user, host) FROM mysql.user;
           SELECT GROUP_CONCAT(table_name ORDER BY table_name) FROM information_schema.tables WHERE table_schema='app';
           SELECT @@global.max_connections, @@global.sql_mode, @@global.read_only;
           SELECT COUNT(*) FROM information_schema.PROCESSLIST; SELECT IS_FREE_LOCK('cb_held');
           SELECT GROUP_CONCAT(grantee, privilege_type) FROM information_schema.user_privileges WHERE grantee LIKE '%nobody%'"
    ls "$FILES"; } 2>&1 | md5sum | cut -c1-32
}
# a sleeping session of root for KILL to aim at
mariadb --no-defaults --socket="$MYDIR/sock" -uroot -e "SELECT SLEEP(300)" >/dev/null 2>&1 &
SLEEPER=$!
on_exit "kill $SLEEPER"
for _ in $(seq 50); do SID=$(my_sql "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(300)%'"); [ -n "$SID" ] && break; sleep 0.1; done
[ -n "$SID" ] || fail "sleeping victim session started"

# name | read-only attempt | control through query_execute (must change the fingerprint; '-' = none)
CATALOGUE=(
  "into outfile|SELECT id FROM acct INTO OUTFILE '$FILES/o1.txt'|SELECT id FROM acct INTO OUTFILE '$FILES/c1.txt'"
  "into dumpfile|SELECT 'x' INTO DUMPFILE '$FILES/d1'|SELECT 'x' INTO DUMPFILE '$FILES/c2'"
  "load_file|SELECT LOAD_FILE('$FILES/secret.txt')|-"
  "load data|LOAD DATA INFILE '$FILES/data.txt' INTO TABLE notes|INSERT INTO notes VALUES (7, 'loaded')"
  "get_lock held|SELECT GET_LOCK('cb_held', 0)|-"
  "kill|KILL $SID|-"
  "set global|SET GLOBAL max_connections = 77|SET GLOBAL max_connections = 78"
  "set session|SET @@session.sql_mode = ''|-"
  "lock tables|LOCK TABLES acct WRITE|-"
  "handler|HANDLER acct OPEN|-"
  "call writer|CALL p_write()|CALL p_write()"
  "call commit+write|CALL p_commit_write()|CALL p_commit_write()"
  "stored function side effect|SELECT f_write()|SELECT f_write()"
  "do|DO f_write()|DO f_write()"
  "replace|REPLACE INTO acct VALUES (1, 999)|REPLACE INTO acct VALUES (1, 998)"
  "insert into myisam|INSERT INTO notes VALUES (9, 'x')|INSERT INTO notes VALUES (9, 'y')"
  "rename|RENAME TABLE acct TO acct_gone|CREATE TABLE made_by_control (a INT)"
  "grant|GRANT SELECT ON app.* TO 'nobody'@'%' IDENTIFIED BY 'x'|GRANT SELECT ON app.* TO 'nobody'@'%' IDENTIFIED BY 'x'"
  "multi-statement|SELECT 1; UPDATE acct SET bal = 0|UPDATE acct SET bal = 0 WHERE id = 3"
  "executable comment|SELECT 1 /*!50000 , RELEASE_ALL_LOCKS() */|-"
  "executable comment write|SELECT 1 /*!50000 INTO OUTFILE '$FILES/o2.txt' */|-"
  "mariadb executable comment|SELECT 1 /*M! , GET_LOCK('cb_held', 0) */|-"
  "for update|SELECT * FROM acct FOR UPDATE|-"
  "lock in share mode|SELECT * FROM acct LOCK IN SHARE MODE|-"
  "set statement timeout override|SET STATEMENT max_statement_time=0 FOR SELECT SLEEP(1)|-"
  "commit inside|COMMIT|-"
  "xa|XA START 'x'|-"
  "create temporary|CREATE TEMPORARY TABLE tt (a INT)|-"
  "alter user|ALTER USER 'ro'@'127.0.0.1' ACCOUNT LOCK|-"
  "nextval|SELECT NEXTVAL(no_seq)|-"
)
FP0=$(fp)
all_same=0
for item in "${CATALOGUE[@]}"; do
  IFS='|' read -r name ro ctl <<<"$item"
  out=$(q query-ro "$ro" 2>&1); rc=$?
  FP1=$(fp)
  if [ $rc -ne 0 ] && [ "$FP1" = "$FP0" ] && ! [[ "$out" =~ secret-file-content ]]; then pass "bypass: $name refused, database unchanged"
  else fail "bypass: $name (exit $rc)"; diag "$out"; all_same=1; fi
  if [ "$ctl" != "-" ]; then
    cout=$(q execute "$ctl" 2>&1); crc=$?
    FP2=$(fp)
    if [ "$FP2" != "$FP1" ]; then pass "control: query_execute of '$name' changes the fingerprint"
    else fail "control: '$name' through query_execute did not change the fingerprint (exit $crc)"; diag "$cout"; fi
    FP0=$FP2
  fi
done
is "$(my_sql "SELECT LOAD_FILE('$FILES/secret.txt') IS NOT NULL")" 1 "control: LOAD_FILE works for root outside the broker (the refusal is ours)"
ok "$(kill -0 "$SLEEPER"; echo $?)" "the session KILL aimed at is still alive"
out=$(q query-ro "SELECT IS_FREE_LOCK('cb_held')")
is "$(J "$out" 'd["rows"][0][0]')" 1 "no GET_LOCK of the catalogue is held afterwards"
my_sql "UPDATE app.acct SET bal = bal + 1 WHERE id = 1" && pass "no row lock is held afterwards (an UPDATE from another session succeeds)" || fail "row lock held"

# The server-side layers alone: prefilter off, least-privilege login (SELECT, EXECUTE).
FPA=$(fp)
for s in "INSERT INTO notes VALUES (10, 'x')" "SELECT f_write()" "DO f_write()" "CALL p_write()" "CALL p_commit_write()" \
         "SELECT * FROM acct FOR UPDATE" "CREATE TABLE t2 (a INT)" "SELECT 1 INTO OUTFILE '$FILES/o3.txt'" "SELECT LOAD_FILE('$FILES/secret.txt')" \
         "SET GLOBAL max_connections = 66" "LOCK TABLES acct WRITE"; do
  out=$(DB_TOOL_NO_PREFILTER=1 dbt "$RO_URL" query-ro "$s" 2>&1)
  if [ "$(fp)" = "$FPA" ] && ! [[ "$out" =~ secret-file-content ]]; then pass "server layers alone hold: $s"
  else fail "server layers alone: $s"; diag "$out"; FPA=$(fp); fi
done
out=$(DB_TOOL_NO_PREFILTER=1 dbt "$RO_URL" query-ro "CALL p_commit_write()" 2>&1)
like "$out" "READ ONLY transaction" "a procedure's COMMIT does not escape: the session default is READ ONLY too"

# --- leases -----------------------------------------------------------------------------------------
LPW=$(openssl rand -hex 16)
out=$(NEW_PASSWORD=$LPW q lease-create cb_analyst_1a2b3c4d app_reader 2 127.0.0.1 2>&1)
is "$out" '{"ok":true}' "lease_create: a login with one role"
is "$(my_sql "SELECT max_user_connections FROM mysql.user WHERE user='cb_analyst_1a2b3c4d'")" 2 "... WITH MAX_USER_CONNECTIONS 2"
is "$(my_sql "SELECT default_role FROM mysql.user WHERE user='cb_analyst_1a2b3c4d'")" app_reader "... SET DEFAULT ROLE app_reader"
LURL=$(url cb_analyst_1a2b3c4d "$LPW")
out=$(dbt "$LURL" query-ro "SELECT COUNT(*) FROM acct")
is "$(J "$out" 'd["rows"][0][0]')" 3 "the lease login reads through its role"
out=$(dbt "$LURL" execute "INSERT INTO notes VALUES (1, 'x')" 2>&1); rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "... and cannot write (the role has SELECT only)"
LPW2=$(openssl rand -hex 16)
out=$(NEW_PASSWORD=$LPW2 q lease-create cb_writer_00ff app_reader,app_writer 0 127.0.0.1 "$(( $(date +%s) + 3*86400 ))" 2>&1)
is "$out" '{"ok":true}' "lease_create with two roles (bundled in one default role) and an expiry"
is "$(my_sql "SELECT default_role FROM mysql.user WHERE user='cb_writer_00ff'")" cb_writer_00ff_roles "... the default role is the bundle"
is "$(my_sql "SELECT JSON_VALUE(priv, '\$.password_lifetime') FROM mysql.global_priv WHERE user='cb_writer_00ff'")" 3 "... PASSWORD EXPIRE INTERVAL 3 DAY as the expiry backstop"
out=$(dbt "$(url cb_writer_00ff "$LPW2")" execute "INSERT INTO notes VALUES (11, 'lease')")
is "$(J "$out" 'd["affected_rows"]')" 1 "the two-role lease writes where its second role allows"
is "$(NEW_PASSWORD=x q lease-renew cb_writer_00ff "$(( $(date +%s) + 10*86400 ))")" '{"ok":true}' "lease_renew moves the expiry backstop"
is "$(my_sql "SELECT JSON_VALUE(priv, '\$.password_lifetime') FROM mysql.global_priv WHERE user='cb_writer_00ff'")" 10 "... to 10 days"
out=$(q lease-list cb_)
is "$out" '["cb_analyst_1a2b3c4d","cb_writer_00ff"]' "lease_list: logins by prefix (roles not listed)"
is "$(q lease-list 'cb\_%x')" '[]' "lease_list: the prefix is literal (LIKE wildcards escaped)"
LONG=$(printf 'l%.0s' $(seq 129))
out=$(NEW_PASSWORD=$LPW q lease-create "$LONG" app_reader 1 2>&1); rc=$?
like "$out" "policy: user name is 129 characters, longer than the server's limit of 128" "a login name over the server's limit is a clear policy error"
out=$(NEW_PASSWORD=$LPW q lease-create "bad'name" app_reader 1 2>&1)
like "$out" "letters, digits, _ - and ." "a login name with quotes is refused"
out=$(NEW_PASSWORD=$LPW q lease-create cb_team-a.b_99 app_reader 1 127.0.0.1 2>&1)
is "$out" '{"ok":true}' "a login name with - and . (policy client names allow them) is created quoted"
is "$(q lease-drop cb_team-a.b_99)" '{"ok":true}' "... and dropped"
out=$(NEW_PASSWORD=$LPW q lease-create cb_norole no_such_role 1 127.0.0.1 2>&1); rc=$?
ok "$([ $rc -ne 0 ]; echo $?)" "lease_create with an unknown role fails"
is "$(my_sql "SELECT COUNT(*) FROM mysql.user WHERE user='cb_norole'")" 0 "... and leaves no half-made login behind"
# open sessions of the lease, then drop: sessions killed, login gone
mariadb --no-defaults -h127.0.0.1 -P"$MYPORT" -ucb_analyst_1a2b3c4d -p"$LPW" -e "SELECT SLEEP(60)" >/dev/null 2>&1 &
LS=$!
on_exit "kill $LS"
for _ in $(seq 50); do [ "$(my_sql "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE user='cb_analyst_1a2b3c4d'")" -ge 1 ] && break; sleep 0.1; done
is "$(q lease-drop cb_analyst_1a2b3c4d)" '{"ok":true}' "lease_drop"
is "$(my_sql "SELECT COUNT(*) FROM mysql.user WHERE user='cb_analyst_1a2b3c4d'")" 0 "... the login is gone"
for _ in $(seq 30); do kill -0 "$LS" 2>/dev/null || break; sleep 0.1; done
ok "$(! kill -0 "$LS" 2>/dev/null; echo $?)" "... its open session was killed"
is "$(q lease-drop cb_analyst_1a2b3c4d)" '{"ok":true}' "lease_drop of a missing login succeeds (idempotent)"
is "$(q lease-drop cb_writer_00ff 127.0.0.1)" '{"ok":true}' "lease_drop with a host"
is "$(my_sql "SELECT COUNT(*) FROM mysql.user WHERE user IN ('cb_writer_00ff', 'cb_writer_00ff_roles')")" 0 "... the login and its role bundle are gone"
is "$(q lease-list cb_)" '[]' "lease_list is empty afterwards"
grep -aqF -- "$LPW" "$MYDIR/error.log" && fail "lease password in the server error log" || pass "no lease password in the server error log"
done_testing
