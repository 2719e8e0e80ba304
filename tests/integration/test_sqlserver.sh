#!/usr/bin/env bash
# SQL Server target against the fake TDS server: the fake is first checked with
# FreeTDS tsql (an official client), then driven through tds_tool (sqlserver_target).
# Every password here is a throwaway; tsql takes -P on argv only in this test.
# test-store: none (tds_tool against the fake and the target only)
# shellcheck disable=SC1091
. "$(dirname "$0")/../lib/common.sh"

FAKE="$BUILD/fakes/fake_tds"
TOOL="$BUILD/tools/tds_tool"
if [ ! -x "$FAKE" ] || [ ! -x "$TOOL" ]; then skip_all "fake_tds or tds_tool not built"; fi
command -v tsql >/dev/null || skip_all "FreeTDS tsql not installed"
unset TDSVER   # tsql gets TDSVER=7.4; tds_tool must select 7.4 itself (DBSETLVERSION)

PORT=$(free_port)
LOG="$TMP/fake.log"
ALL="$TMP/all.out"     # every tds_tool output, checked for passwords at the end
: >"$ALL"
cat >"$TMP/logins" <<'L'
sa:SaPass-1:admin
app:AppPass-1
self:SelfPass-1
victim:VictimPass-1
L
chmod 600 "$TMP/logins"
FAKE_PID=
start_fake() {
  "$FAKE" --port "$PORT" --logins "$TMP/logins" --state-file "$TMP/state" --spid-start 60 2>>"$LOG" &
  FAKE_PID=$!
  wait_port "$PORT" 10
}
stop_fake() { [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; FAKE_PID=; }
on_exit 'stop_fake'
start_fake || { fail "fake_tds starts"; done_testing; exit 1; }
pass "fake_tds listens on 127.0.0.1:$PORT"

# tsql USER PASSWORD SQL: prints tsql's output; exit status is tsql's.
tsql_run() { printf '%s\ngo\nquit\n' "$3" | TDSVER=7.4 tsql -H 127.0.0.1 -p "$PORT" -U "$1" -P "$2" 2>&1; }
# tool USER PASSWORD ARGS...: runs tds_tool, output appended to $ALL and printed.
tool() {
  local u=$1 p=$2; shift 2
  local out rc
  out=$(MSSQL_PASSWORD="$p" "$TOOL" --host 127.0.0.1 --port "$PORT" --user "$u" --db master "$@" 2>&1); rc=$?
  printf '%s\n' "$out" >>"$ALL"
  printf '%s\n' "$out"
  return $rc
}

# --- The fake against FreeTDS tsql ---
out=$(tsql_run app AppPass-1 'select @@version'); rc=$?
is "$rc" 0 "tsql: good login exits 0"
like "$out" "Microsoft SQL Server" "tsql: select @@version returns the version row"
out=$(tsql_run app wrong-pass 'select 1'); rc=$?
isnt "$rc" 0 "tsql: bad password exits non-zero"
like "$out" "Msg 18456" "tsql: bad password prints Msg 18456"
out=$(tsql_run nobody x 'select 1'); rc=$?
isnt "$rc" 0 "tsql: unknown login exits non-zero"
out=$(tsql_run app AppPass-1 'select name, n from t')
like "$out" "hello.42" "tsql: NVARCHAR/INTN result rows decode"
out=$(tsql_run app AppPass-1 'frobnicate the thing')
like "$out" "Msg 102" "tsql: unknown statement gets a syntax error"

# --- Through sqlserver_target ---
out=$(tool app AppPass-1 test-login); is "$?" 0 "test-login with the right password"
out=$(tool app wrong-pass test-login); rc=$?
is "$rc" 1 "test-login with a wrong password fails"
like "$out" "Login failed for user 'app'" "login failure message is passed through"
out=$(tool sa SaPass-1 version); like "$out" "^Microsoft SQL Server" "server_version"
out=$(tool sa SaPass-1 --param Encrypt=true version); rc=$?
is "$rc" 1 "Encrypt=true fails closed (db-lib cannot require TLS per connection)"
like "$out" "cannot be enforced" "... with the reason"
out=$(tool sa SaPass-1 --param Encrypt=maybe version); rc=$?
is "$rc" 2 "an invalid Encrypt value is a usage error"
out=$(tool sa SaPass-1 --param "Connect Timeout=5" --param Encrypt=false version); rc=$?
is "$rc" 0 "Encrypt=false and Connect Timeout are accepted"

# Rotation by the admin login (no OLD_PASSWORD).
out=$(NEW_PASSWORD=AppPass-2 tool sa SaPass-1 set-password app); is "$?" 0 "admin rotates app"
out=$(tsql_run app AppPass-1 'select 1'); rc=$?
isnt "$rc" 0 "tsql: old password rejected after rotation"
out=$(tsql_run app AppPass-2 'select @@version'); rc=$?
is "$rc" 0 "tsql: new password accepted after rotation"
grep -q "ALTER LOGIN \[app\] WITH PASSWORD = N'\*\*\*'" "$LOG"; ok $? "fake saw ALTER LOGIN [app] WITH PASSWORD = N'...'"

# Quoting: a password with quote, bracket, semicolon and comment marker round-trips.
ODD="Q'u]o\"te;--x"
out=$(NEW_PASSWORD="$ODD" tool sa SaPass-1 set-password app); is "$?" 0 "admin sets a password with ' ] ; --"
out=$(tsql_run app "$ODD" 'select 1'); is "$?" 0 "tsql logs in with that password"
out=$(NEW_PASSWORD=AppPass-3 tool app "$ODD" set-password app); rc=$?
is "$rc" 1 "a non-admin login cannot change its password without OLD_PASSWORD"
like "$out" "Msg 15151" "... error 15151"

# Self-rotation with OLD_PASSWORD.
out=$(NEW_PASSWORD=SelfPass-2 OLD_PASSWORD=not-the-old tool self SelfPass-1 set-password self --self); rc=$?
is "$rc" 1 "self-rotation with a wrong OLD_PASSWORD fails"
like "$out" "Msg 15151" "... error 15151"
out=$(tool self SelfPass-1 test-login); is "$?" 0 "... and the password is unchanged"
out=$(NEW_PASSWORD=SelfPass-2 tool self SelfPass-1 set-password self --self); is "$?" 0 "self-rotation with the right OLD_PASSWORD"
out=$(tool self SelfPass-1 test-login); is "$?" 1 "old password refused after self-rotation"
out=$(tool self SelfPass-2 test-login); is "$?" 0 "new password accepted after self-rotation"
out=$(NEW_PASSWORD=Hijack-1 tool self SelfPass-2 set-password app); is "$?" 1 "a non-admin login cannot rotate another login"

# Restart with the state file: rotated passwords survive.
stop_fake
start_fake || fail "fake_tds restarts"
out=$(tool self SelfPass-2 test-login); is "$?" 0 "rotated password survives a restart (state file)"
out=$(tool self SelfPass-1 test-login); is "$?" 1 "original password still refused after restart"

# Terminate sessions: two tsql sessions held open through fifos.
for i in 1 2; do
  mkfifo "$TMP/fifo$i"
  TDSVER=7.4 tsql -H 127.0.0.1 -p "$PORT" -U victim -P VictimPass-1 <"$TMP/fifo$i" >"$TMP/tsql$i.out" 2>&1 &
  eval "TSQL$i=\$!"
done
exec 7>"$TMP/fifo1" 8>"$TMP/fifo2"
for _ in $(seq 50); do [ "$(grep -c "login ok user='victim'" "$LOG")" -ge 2 ] && break; sleep 0.1; done
is "$(grep -c "login ok user='victim'" "$LOG")" 2 "two victim sessions are open"
out=$(tool sa SaPass-1 terminate victim); is "$out" 2 "terminate_sessions ends both victim sessions"
out=$(tool sa SaPass-1 terminate victim); is "$out" 0 "no victim session is left"
printf 'select 1\ngo\nquit\n' >&7; printf 'select 1\ngo\nquit\n' >&8
exec 7>&- 8>&-
ended=0
for _ in $(seq 50); do
  kill -0 "$TSQL1" 2>/dev/null || kill -0 "$TSQL2" 2>/dev/null || { ended=1; break; }
  sleep 0.1
done
is "$ended" 1 "both tsql processes ended"
wait "$TSQL1" "$TSQL2" 2>/dev/null
grep -q "killed spid" "$LOG"; ok $? "fake logged the KILLs"

# Application locks: two concurrent holders, exactly one acquires.
tool sa SaPass-1 lock rot-lock --hold-ms 1500 >"$TMP/lock1" 2>&1 &
L1=$!
tool sa SaPass-1 lock rot-lock --hold-ms 1500 >"$TMP/lock2" 2>&1 &
L2=$!
wait "$L1"; r1=$?; wait "$L2"; r2=$?
is "$r1$r2" "00" "both lock calls succeed"
got=$(cat "$TMP/lock1" "$TMP/lock2" | sort | tr '\n' ' ')
is "$got" "acquired busy " "exactly one of two concurrent holders acquires"
out=$(tool sa SaPass-1 lock rot-lock); is "$out" "acquired" "the session lock is released when its session ends"
out=$(tool sa SaPass-1 lock rot-lock --unlock); is "$?" 0 "lock then unlock in one session"
out=$(tool sa SaPass-1 unlock rot-lock); rc=$?
is "$rc" 1 "unlock of a lock this session does not hold fails"
like "$out" "not held" "... with a clear message"

# Multi-packet messages both ways (4096-byte packets): a 3900-character literal is a
# 7.8 KB batch and a 7.8 KB reply.
big=$(printf 'x%.0s' $(seq 3900))
out=$(tool app "$ODD" query-ro "select N'$big'")
like "$out" '"rows":\[\["x{3900}"\]\]' "a multi-packet batch and reply round-trip (tds_tool)"
out=$(tsql_run app "$ODD" "select N'$big'")
like "$out" "x{3900}" "a multi-packet batch and reply round-trip (tsql)"

# Many concurrent connections.
pids=()
for i in $(seq 20); do tool sa SaPass-1 version >"$TMP/conc$i" 2>&1 & pids+=($!); done
bad=0
for i in $(seq 20); do wait "${pids[$((i-1))]}" || bad=$((bad+1)); grep -q "^Microsoft SQL Server" "$TMP/conc$i" || bad=$((bad+1)); done
is "$bad" 0 "20 concurrent sessions are all served"

# Read-only queries: the positive path reaches the server ...
out=$(tool app "$ODD" query-ro 'select name, n from t -- ro_ok_marker')
like "$out" '"rows":\[\["hello",42\],\["world",7\],\[null,null\]\]' "query-ro returns rows as JSON"
grep -q ro_ok_marker "$LOG"; ok $? "an accepted query reaches the server"
grep -q "BEGIN TRANSACTION" "$LOG"; ok $? "query-ro runs inside a transaction"
grep -q "ROLLBACK TRANSACTION" "$LOG"; ok $? "... that is rolled back"
out=$(tool app "$ODD" query-ro 'select name, n from t' --max-rows 2)
like "$out" '"row_count":2.*"truncated":true' "row cap truncates"
out=$(tool app "$ODD" query-ro "select 'a'';drop table x--'")
like "$out" "a';drop table x--" "a literal containing ; and keywords is not a false positive"
out=$(tool sa SaPass-1 describe); is "$out" '{"tables":[]}' "describe_schema on the fake's empty INFORMATION_SCHEMA"

# ... and every bypass attempt is refused before anything is sent.
i=0
while IFS= read -r sql; do
  i=$((i+1))
  sql=${sql//MARK/zz_bypass_$i}
  sql=${sql//NBSP/$'\xc2\xa0'}
  sql=${sql//NL/$'\n'}
  out=$(tool app "$ODD" query-ro "$sql"); rc=$?
  if [ "$rc" -eq 2 ] && [[ "$out" == *refused* ]] && ! grep -q "zz_bypass_$i" "$LOG"; then
    pass "query-ro refuses: ${sql//$'\n'/ }"
  else
    fail "query-ro refuses: ${sql//$'\n'/ } (exit $rc)"; diag "$out"
  fi
done <<'Q'
select 1; drop table MARK
select 1 ; update MARK set a = 1
insert into MARK values (1)
exec MARK
EXECUTE MARK
/**/exec MARK
select * into MARK from t
select 1 exec('MARK')
select 1 /* ; */ ; delete from MARK
select 1 -- comment NL; delete from MARK
select 1 select 2 MARK
with c as (select 1 a) delete from MARK
SELECT 1 WAITFOR DELAY '00:00:05' -- MARK
select * from openrowset('SQLNCLI', 'x', 'select 1') MARK
select * from openquery(MARK, 'select 1')
select 1 from MARK; xp_cmdshell 'dir'
select [sp_MARK] from t
select 1 /* unterminated MARK
select 'unterminated MARK
select 1NBSPdelete from MARK
SELECT NEXT VALUE FOR MARK
select 1 declare @x int set @x = 1 MARK
select 1 truncate table MARK
select 1 dbcc checkdb MARK
select 1 shutdown MARK
grant select on MARK to public
select 1 kill 51 MARK
select 1 backup database MARK to disk = 'x'
select 1 merge MARK using t on 1=1 when matched then delete;
update MARK set a = 1
Q

# --- Nothing secret in any output or log ---
leaks=0
for p in SaPass-1 AppPass-1 AppPass-2 SelfPass-1 SelfPass-2 VictimPass-1 not-the-old Hijack-1 "$ODD" "Q'u]o"; do
  if grep -qF -- "$p" "$ALL" "$LOG"; then leaks=1; diag "leaked: $p"; fi
done
is "$leaks" 0 "no password appears in tds_tool output or the fake's log"
if grep -q "Sanitizer" "$LOG"; then fail "fake_tds log has a sanitizer report"; diag "$(grep -A5 Sanitizer "$LOG" | head -20)"; else pass "fake_tds log has no sanitizer report"; fi

done_testing
