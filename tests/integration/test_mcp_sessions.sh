#!/usr/bin/env bash
# Sessions that carry nothing, one round trip per call, a pool that never thrashes, and a
# byte cap enforced while receiving (issues 10 section 2 and 12), against a real
# PostgreSQL through a raw JSON-RPC client (tests/lib/mcp_raw.py):
# - every kind of session state a statement can leave (advisory lock, setting, prepared
#   statement, cursor WITH HOLD, LISTEN, temp table, role) is gone after the call, checked
#   as superuser and through the same pooled backend (same pid: cleaned, not replaced);
# - 300 calls open no new PostgreSQL session (pg_stat_database.sessions);
# - one call is one pipeline: log_statement shows our steps around the client's
#   statement, and the server sees a single round trip's worth of syncs;
# - select repeat('x', 40000000) with a 1 MiB cap: truncated, VmHWM grows < 8 MiB;
# - the pool's per-client cap holds under 10 and under 100 parallel slow calls (backends counted; the
#   application's own login keeps working), the
#   waiting calls succeed, and past the statement timeout a call fails "busy".
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/pg.sh
source "$CB_ROOT/tests/lib/pg.sh"
CLI="$BUILD/tools/mcp_cli"
{ [ -x "$CLI" ] && [ -x "$CB" ]; } || skip_all "credbroker / mcp_cli not built"
command -v python3 >/dev/null || skip_all "python3 missing"
pg_start || skip_all "cannot start PostgreSQL"

APP_PW=$(openssl rand -hex 12)
pg_sql "CREATE ROLE app LOGIN PASSWORD '$APP_PW'; CREATE ROLE app_other NOLOGIN; GRANT app_other TO app" >/dev/null
pg_sql "CREATE DATABASE shop OWNER app" >/dev/null
pg_sql "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'); GRANT SELECT ON t TO app" shop >/dev/null
new_store sessions
export CREDBROKER_POLICIES="$TMP/policies" CREDBROKER_CONFIG="$TMP/credbroker.json"
mkdir -p "$CREDBROKER_POLICIES"
echo '{"database_pool":{"max_sessions":8,"max_sessions_per_client":3}}' >"$CREDBROKER_CONFIG"
cat >"$CREDBROKER_POLICIES/p.json" <<'JSON'
{"clients":{
  "local":{"tools":["*"],"connections":["*"],"mode":"read-write","max_bytes":1048576},
  "slow":{"tools":["query_readonly"],"connections":["db"],"statement_timeout_ms":4000},
  "hurried":{"tools":["query_readonly"],"connections":["db"],"statement_timeout_ms":1000}}}
JSON
printf '%s\n' "postgresql://app:$APP_PW@127.0.0.1:$PGPORT/shop?sslmode=disable" | "$CB" -q conn add db
export MCP_RAW_LIB="$CB_ROOT/tests/lib"

# Python prints "PASS|desc" / "FAIL|desc|diag" lines; they become TAP here.
tap_from() {
  local line seen_end=0
  while IFS= read -r line; do
    case "$line" in
      END) seen_end=1 ;;
      PASS\|*) pass "${line#PASS|}" ;;
      SKIP\|*) skip "${line#SKIP|}" ;;
      FAIL\|*) line=${line#FAIL|}; fail "${line%%|*}"; diag "${line#*|}" ;;
      *) diag "$line" ;;
    esac
  done
  [ "$seen_end" = 1 ] || fail "the checks above ran to their end (see the diagnostics)"
}

# ---- session state, sessions per call, pipeline, byte cap (stdio, client local) ----
cat >"$TMP/stdio.py" <<'PY'
import os, subprocess, sys, time
sys.path.insert(0, os.environ["MCP_RAW_LIB"])
import mcp_raw

def sql(q, db="shop"):
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", os.environ["PGSOCK"],
                           "-p", os.environ["PGPORT"], "-U", "postgres", "-d", db, "-c", q],
                          capture_output=True, text=True, check=True).stdout.strip()

def check(cond, desc, diag=""):
    print(("PASS|%s" % desc) if cond else ("FAIL|%s|%s" % (desc, diag)), flush=True)

s = mcp_raw.Stdio([os.environ["CB"], "mcp"])
def q(tool, text, params=None):
    a = {"connection": "db", "sql": text}
    if params is not None: a["params"] = params
    return mcp_raw.result(s.call(tool, a))
def scalar(text):
    err, st, t = q("query_readonly", text)
    if err or not st or not st["rows"]: return "ERR:" + t
    return st["rows"][0][0]

pid = scalar("SELECT pg_backend_pid()")
check(isinstance(pid, int), "the pooled session answers", str(pid))
# every kind of state a statement can leave behind, committed through query_execute
cases = [
    ("SELECT pg_advisory_lock(4242)", "advisory lock",
     lambda: sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", "postgres") == "0"),
    ("SELECT pg_advisory_lock_shared(4243)", "shared advisory lock",
     lambda: sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", "postgres") == "0"),
    ("SET work_mem = '77MB'", "setting (SET)", lambda: scalar("SELECT current_setting('work_mem')") != "77MB"),
    ("SELECT set_config('app.mark', 'x', false)", "setting (set_config at session level)",
     lambda: scalar("SELECT coalesce(current_setting('app.mark', true), '')") == ""),
    ("SET search_path = pg_temp, public", "search_path", lambda: scalar("SHOW search_path") == '"$user", public'),
    ("PREPARE p1 AS SELECT 1", "prepared statement", lambda: scalar("SELECT count(*) FROM pg_prepared_statements") == 0),
    ("DECLARE c1 CURSOR WITH HOLD FOR SELECT 1", "cursor WITH HOLD", lambda: scalar("SELECT count(*) FROM pg_cursors WHERE name = 'c1'") == 0),
    ("LISTEN chan1", "LISTEN", lambda: scalar("SELECT count(*) FROM pg_listening_channels()") == 0),
    ("CREATE TEMP TABLE tt1 (x int)", "temp table",
     lambda: sql("SELECT count(*) FROM pg_class WHERE relpersistence = 't'") == "0"),
    ("SET ROLE app_other", "SET ROLE", lambda: scalar("SELECT current_user") == "app"),
    ("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "session characteristics",
     lambda: scalar("SHOW default_transaction_read_only") == "off"),
]
for stmt, what, clean in cases:
    err, st, t = q("query_execute", stmt)
    check(not err, "query_execute %s ran (control)" % stmt, t)
    check(clean(), "no %s left after the call" % what)
    check(scalar("SELECT pg_backend_pid()") == pid, "%s: the same backend was cleaned and reused" % what)
# read-only: a session lock through a unicode-escaped name survives ROLLBACK unless reset
err, st, t = q("query_readonly", 'select U&"pg\\005fadvisory\\005flock"(4244)')
check(sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", "postgres") == "0",
      "query_readonly: no advisory lock left (%s)" % ("refused" if err else "ran"), t)
err, st, t = q("query_readonly", "SELECT 1 FROM nosuchtable")
check(err and "nosuchtable" in t, "an error in the statement is reported", t)
check(scalar("SELECT pg_backend_pid()") == pid and scalar("SELECT 2") == 2, "after an error the session is clean and reused")
check(scalar("SELECT current_setting('statement_timeout')") != "0", "limits are set inside the transaction")
check(scalar("SELECT current_setting('transaction_read_only')") == "on", "query_readonly runs READ ONLY")

# no new PostgreSQL session per call in steady state
time.sleep(1.1)  # let the psql sessions above reach the statistics
before = int(sql("SELECT sessions FROM pg_stat_database WHERE datname = 'shop'", "postgres"))
for i in range(300):
    q("query_readonly", "SELECT $1::int", [i])
time.sleep(1.1)  # statistics are flushed at most every second
after = int(sql("SELECT sessions FROM pg_stat_database WHERE datname = 'shop'", "postgres"))
check(after - before == 0, "300 calls open no new PostgreSQL session", "sessions %d -> %d" % (before, after))

# a value far over max_bytes (1 MiB): never received whole
def hwm(pid_):
    for l in open("/proc/%d/status" % pid_):
        if l.startswith("VmHWM:"): return int(l.split()[1])
q("query_readonly", "SELECT repeat('w', 900000)")
h0 = hwm(s.pid)
err, st, t = q("query_readonly", "SELECT repeat('x', 40000000)")
h1 = hwm(s.pid)
check(not err and st and st["truncated"] is True, "repeat('x', 40000000) with a 1 MiB cap: truncated", t[:200])
if os.environ.get("ASAN_BUILD") == "1":  # ASan's allocator and interceptors make RSS meaningless
    print("SKIP|broker peak RSS under AddressSanitizer (VmHWM %d -> %d KiB)" % (h0, h1))
else:
    check(h1 - h0 < 8192, "broker peak RSS grew by %d KiB (< 8 MiB)" % (h1 - h0), "VmHWM %d -> %d KiB" % (h0, h1))
check(scalar("SELECT 3") == 3, "the next call works (new session after the dropped one)")
err, st, t = q("query_readonly", "SELECT repeat('é', 600000) AS v, 1 AS n")
ok = not err and st["truncated"] and 0 < len(st["rows"][0][0].encode()) <= 1048576 and set(st["rows"][0][0]) == {"é"}
check(ok, "a value over the cap is cut at a character boundary, truncated set", t[:200])
err, st, t = q("query_readonly", "SELECT g, repeat('z', 1000) FROM generate_series(1, 5000) g")
check(not err and st["truncated"] and 0 < st["row_count"] < 1100, "many rows over the byte cap: truncated",
      str(st and st["row_count"]))
check(scalar("SELECT 4") == 4, "after truncation the session answers")
s.close()
print("END")
PY
ASAN_BUILD=0
[[ "$(nm -u "$CB" 2>/dev/null)" == *__asan_init* ]] && ASAN_BUILD=1
tap_from < <(CB="$CB" ASAN_BUILD=$ASAN_BUILD python3 "$TMP/stdio.py" 2>&1)

# one pipeline per call: the statement log shows our steps, in order, around the client's
pg_sql "ALTER SYSTEM SET log_statement = 'all'" >/dev/null
pg_sql "SELECT pg_reload_conf()" >/dev/null
sleep 0.3
mark="pipeline_mark_$RANDOM"
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
  "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"query_readonly\",\"arguments\":{\"connection\":\"db\",\"sql\":\"SELECT '$mark'\"}}}" \
  | "$CB" mcp >/dev/null 2>&1
sleep 0.3
pg_sql "ALTER SYSTEM RESET log_statement" >/dev/null
pg_sql "SELECT pg_reload_conf()" >/dev/null
steps=$(grep -A20 -m1 'BEGIN READ ONLY' "$PGSOCK/server.log" | grep -oE 'execute <unnamed>: (BEGIN READ ONLY|SET LOCAL [a-z_]+|SELECT 1$|SELECT .'"$mark"'|ROLLBACK|DISCARD ALL)' | sed 's/execute <unnamed>: //' | tr '\n' '|')
is "$steps" "BEGIN READ ONLY|SET LOCAL statement_timeout|SET LOCAL idle_in_transaction_session_timeout|SELECT 1|SELECT '$mark|ROLLBACK|DISCARD ALL|" "one call: BEGIN READ ONLY, limits (SET LOCAL), the snapshot, the statement, ROLLBACK, DISCARD ALL"

# ---- the pool under parallel calls (HTTP, one API key per client) ----
PORT=$(free_port)
SLOW_KEY=$("$CLI" -q apikey create slowkey --policy slow)
HURRY_KEY=$("$CLI" -q apikey create hurrykey --policy hurried)
"$CB" serve --listen "127.0.0.1:$PORT" 2>"$TMP/serve.err" &
SPID=$!
on_exit "kill $SPID 2>/dev/null"
wait_port "$PORT" 15 || fail "serve did not start"
cat >"$TMP/pool.py" <<'PY'
import os, subprocess, sys, threading, time
sys.path.insert(0, os.environ["MCP_RAW_LIB"])
import mcp_raw
url, key, n, sleep_s, want = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
out, peak, stop = [], [0], [False]
def backends():
    return int(subprocess.run(["psql", "-X", "-q", "-A", "-t", "-h", os.environ["PGSOCK"], "-p", os.environ["PGPORT"],
                               "-U", "postgres", "-d", "postgres", "-c",
                               "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND application_name <> 'psql'"],
                              capture_output=True, text=True).stdout.strip() or 0)
def watch():
    while not stop[0]:
        peak[0] = max(peak[0], backends()); time.sleep(0.05)
clients = [mcp_raw.Http(url, key) for _ in range(n)]
def one(c):
    try:
        out.append(mcp_raw.result(c.call("query_readonly", {"connection": "db", "sql": "SELECT pg_sleep(%s)" % sleep_s})))
    except Exception as ex:  # an HTTP refusal (e.g. the per-key in-flight cap) is not a backend
        rejected.append(str(ex)[:200])
rejected, app_logins = [], []
def app_login():
    # the application's own login, over TCP with its password, while the calls run
    while not stop[0]:
        r = subprocess.run(["psql", os.environ["APP_URL"], "-X", "-q", "-A", "-t", "-c", "SELECT 1"],
                           capture_output=True, text=True, timeout=20)
        app_logins.append(r.returncode == 0 and r.stdout.strip() == "1"); time.sleep(0.2)
w = threading.Thread(target=watch); w.start()
a = threading.Thread(target=app_login)
if os.environ.get("APP_URL"): a.start()
ts = [threading.Thread(target=one, args=(c,)) for c in clients]
for t in ts: t.start()
for t in ts: t.join()
stop[0] = True; w.join()
if a.is_alive() or a.ident: a.join()
ok = sum(1 for e, _, _ in out if not e)
busy = [t for e, _, t in out if e and "busy" in t]
other = [t for e, _, t in out if e and "busy" not in t]
print("peak=%d ok=%d busy=%d other=%d rejected=%d app_logins=%d/%d" % (peak[0], ok, len(busy), len(other), len(rejected),
      sum(app_logins), len(app_logins)))
if busy: print("busy_msg=" + busy[0])
if other: print("other_msg=" + other[0])
PY
res=$(python3 "$TMP/pool.py" "http://127.0.0.1:$PORT/mcp" "$SLOW_KEY" 10 0.3 ok)
diag "$res"
peak=$(sed -n 's/^peak=\([0-9]*\).*/\1/p' <<<"$res")
ok "$([ -n "$peak" ] && [ "$peak" -ge 1 ] && [ "$peak" -le 3 ]; echo $?)" "10 parallel slow calls of one client: at most 3 backends (the per-client cap), saw $peak"
like "$res" "ok=10 busy=0 other=0" "every waiting call got a session within its statement timeout"
res=$(python3 "$TMP/pool.py" "http://127.0.0.1:$PORT/mcp" "$HURRY_KEY" 8 0.7 busy)
diag "$res"
like "$res" "busy=[1-9]" "past its statement timeout a waiting call fails"
like "$res" "busy_msg=.*busy: no free database session for client 'hurried'" "with a clear busy error"
peak=$(sed -n 's/^peak=\([0-9]*\).*/\1/p' <<<"$res")
ok "$([ -n "$peak" ] && [ "$peak" -ge 1 ] && [ "$peak" -le 6 ]; echo $?)" "two clients never exceed their caps together (saw $peak backends)"
# connection exhaustion: 100 parallel slow calls from one key never open more backends than
# the client's cap, and the application's own login keeps working meanwhile (a fresh serve,
# so no other client's pooled sessions are counted; the app's own psql logins are not)
kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
"$CB" serve --listen "127.0.0.1:$PORT" 2>>"$TMP/serve.err" &
SPID=$!
wait_port "$PORT" 15 || fail "serve did not restart"
res=$(APP_URL="postgresql://app:$APP_PW@127.0.0.1:$PGPORT/shop?sslmode=disable" \
      python3 "$TMP/pool.py" "http://127.0.0.1:$PORT/mcp" "$SLOW_KEY" 100 0.2 any)
diag "$res"
peak=$(sed -n 's/^peak=\([0-9]*\).*/\1/p' <<<"$res")
ok "$([ -n "$peak" ] && [ "$peak" -ge 1 ] && [ "$peak" -le 3 ]; echo $?)" "100 parallel slow calls of one client: at most 3 backends (the per-client cap), saw $peak"
like "$res" "ok=[1-9]" "some of the 100 calls were served"
like "$res" "other=0 " "every call that was not served got a clear busy error or an HTTP refusal"
nl=$(sed -n 's/.*app_logins=\([0-9]*\)\/\([0-9]*\).*/\1 \2/p' <<<"$res")
ok "$(read -r g t <<<"$nl"; [ "${t:-0}" -ge 1 ] && [ "$g" = "$t" ]; echo $?)" "the application's own login worked every time meanwhile ($nl)"
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
done_testing
