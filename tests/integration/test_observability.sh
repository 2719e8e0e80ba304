#!/usr/bin/env bash
# Running credbroker like a service, end to end with the real binary and PostgreSQL:
# GET /metrics (checked by a real Prometheus text parser) behind its own token, /healthz
# (503 when the scheduler cannot run), RFC 3339 and JSON logs, one log line per scheduled
# rotation with the actor "serve", SIGHUP reload (a new client works, a broken policy
# keeps the old one), and the security monitor: every rule fed by real traffic, exit 3,
# the security_monitor tool, the findings series and the HTTPS webhook.
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/pg.sh
source "$CB_ROOT/tests/lib/pg.sh"
CALL="$CB_ROOT/tests/lib/mcp_http_call.py"
command -v curl >/dev/null || skip_all "curl missing"
pg_start || skip_all "PostgreSQL not available"
urlenc() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
pg_url() { printf 'postgresql://%s:%s@127.0.0.1:%s/postgres?sslmode=disable&connect_timeout=5' "$1" "$(urlenc "$2")" "$PGPORT"; }

new_store store >/dev/null
APP_PW=$(openssl rand -hex 12); SVC_PW=$(openssl rand -hex 12)
pg_sql "CREATE ROLE app LOGIN PASSWORD '$APP_PW'; CREATE ROLE svc LOGIN PASSWORD '$SVC_PW'" >/dev/null
pg_url app "$APP_PW" | "$CB" conn add app -q
pg_url svc "$SVC_PW" | "$CB" conn add svc -q
pg_url postgres "$PG_ADMIN_PW" | "$CB" conn add pgadmin -q
POL="$TMP/policies"; mkdir -p "$POL"; export CREDBROKER_POLICIES="$POL"
cat >"$POL/10-clients.json" <<'JSON'
{ "clients": {
    "local": { "tools": ["*"], "connections": ["app"], "mode": "read-only", "statement_timeout_ms": 200 },
    "ops":   { "tools": ["security_monitor", "audit_recent"], "connections": [] } } }
JSON
cat >"$POL/20-credentials.json" <<'JSON'
{ "credentials": {
    "svc":  { "connection": "svc", "admin_connection": "pgadmin", "schedule": "* * * * *" },
    "gone": { "connection": "nosuch", "admin_connection": "pgadmin", "schedule": "0 0 * * *" } } }
JSON
WPORT=$(free_port)
cat >"$POL/30-monitoring.json" <<JSON
{ "monitoring": { "auth_failures": 3, "rate_factor": 2, "rate_min_calls": 5, "export_rows": 5,
                  "statement_timeouts": 1, "denied_statements": 1, "rotation_grace_s": 60,
                  "webhook": "https://127.0.0.1:$WPORT/hook" } }
JSON
expect_exit 0 "the test policy (with monitoring) is valid" "$CB" policy check
MTOKEN=$(openssl rand -hex 20)
printf '%s\n' "$MTOKEN" >"$TMP/metrics-token"; chmod 600 "$TMP/metrics-token"
export CREDBROKER_CONFIG="$TMP/credbroker.json"
echo "{\"metrics\": {\"token_ref\": \"file://$TMP/metrics-token\"}}" >"$CREDBROKER_CONFIG"
K_LOCAL=$("$CB" apikey create k-local --policy local --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
K_OPS=$("$CB" apikey create k-ops --policy ops --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
call() { python3 "$CALL" "$@"; }
# the Prometheus parser: Debian's python3-prometheus-client (scripts/deps.sh) lives in
# the system interpreter, which may not be the python3 first on PATH
PROMPY=
for p in python3 /usr/bin/python3; do "$p" -c 'import prometheus_client' 2>/dev/null && { PROMPY=$p; break; }; done
iserr() { python3 -c 'import json,sys; r=json.load(sys.stdin); print("http" if "http_status" in r else r.get("result",{}).get("isError", False))'; }

# ---- phase A: two hours ago, from 127.0.0.1 (the clients' baseline and known address)
PAST=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)
port=$(free_port)
CREDBROKER_NOW=$PAST CREDBROKER_SCHEDULER_INTERVAL_S=3600 "$CB" --log-format json -v serve --listen "127.0.0.1:$port" \
  >"$TMP/serveA.out" 2>"$TMP/serveA.err" &
spid=$!; on_exit "kill $spid"
wait_port "$port" 15; ok $? "serve (phase A) listens"
for _ in 1 2; do call "$port" "$K_LOCAL" connections_list '{}' >/dev/null; done
kill "$spid"; wait "$spid" 2>/dev/null
is "$(python3 - "$TMP/serveA.err" <<'PY'
import json, re, sys
bad = 0
lines = [l for l in open(sys.argv[1]) if l.strip()]
for l in lines:
    try:
        o = json.loads(l)
        if set(o) != {"ts", "level", "msg"} or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["ts"]): bad += 1
    except Exception:
        bad += 1
print("ok" if lines and not bad else "bad %d of %d" % (bad, len(lines)))
PY
)" ok "--log-format json: every stderr line is {ts (RFC 3339), level, msg}"

# the schedule record: svc has been due for two minutes, gone's daily slot passed days ago
NOW=$(date +%s)
store_sql "INSERT INTO schedule_state(credential, schedule, first_seen) VALUES('svc', '* * * * *', $((NOW-120))), ('gone', '0 0 * * *', $((NOW-3*86400)))"

# ---- phase B: now, with the scheduler, the monitor and an HTTPS webhook receiver
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "$TMP/wh.key" -out "$TMP/wh.crt" >/dev/null 2>&1
python3 "$CB_ROOT/tests/fakes/webhook_receiver.py" "$WPORT" "$TMP/wh.crt" "$TMP/wh.key" "$TMP/hooks.jsonl" 1 &
wpid=$!; on_exit "kill $wpid"
wait_port "$WPORT" 10; ok $? "webhook receiver listens (HTTPS)"
port=$(free_port)
CREDBROKER_CA_BUNDLE="$TMP/wh.crt" CREDBROKER_SCHEDULER_INTERVAL_S=1 CREDBROKER_MONITOR_INTERVAL_S=1 \
  "$CB" serve --listen "127.0.0.1:$port" >"$TMP/serve.out" 2>"$TMP/serve.err" &
spid=$!; on_exit "kill $spid"
wait_port "$port" 15; ok $? "serve (phase B) listens"
BASE="http://127.0.0.1:$port"
like "$(head -1 "$TMP/serve.err")" '^credbroker: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z notice: serving MCP on' "text logs carry an RFC 3339 timestamp"

# traffic: a new address with a burst, failed logins, a large read, a timeout, a refused write
for _ in $(seq 10); do call "$port" "$K_LOCAL" connections_list '{}' 127.0.0.2 >/dev/null; done
for _ in 1 2 3; do
  is "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/mcp" -H 'Authorization: Bearer cbk_wrong_key_0000000000000000' \
        -H 'Accept: application/json, text/event-stream' -H 'Content-Type: application/json' -d '{}')" 401 "a wrong API key is refused"
done
is "$(call "$port" "$K_LOCAL" query_readonly '{"connection":"app","sql":"SELECT generate_series(1, 20) AS n"}' | iserr)" False "a 20-row read works"
is "$(call "$port" "$K_LOCAL" query_readonly '{"connection":"app","sql":"SELECT pg_sleep(2)"}' | iserr)" True "a statement over the client's timeout fails"
is "$(call "$port" "$K_LOCAL" query_execute '{"connection":"app","sql":"DELETE FROM nothing"}')" '{"http_status": 403}' "query_execute is refused to a read-only client (403)"

# the scheduler's pass: one notice per scheduled rotation, actor serve
for _ in $(seq 100); do grep -q 'scheduled rotation of svc' "$TMP/serve.err" && grep -q 'scheduled rotation of gone' "$TMP/serve.err" && break; sleep 0.2; done
like "$(cat "$TMP/serve.err")" 'notice: scheduled rotation of svc: ok \([0-9]+ ms\)' "a scheduled rotation logs one line with its outcome"
like "$(cat "$TMP/serve.err")" 'error: scheduled rotation of gone: denied after [0-9]+ ms: .*connection .nosuch. is not stored' "a failed scheduled rotation logs one line with the reason"
is "$(store_sql "select actor from audit where action like 'rotate%' and target='svc' order by id desc limit 1")" serve "scheduler work is audited as actor serve"

# ---- /metrics: its own token, a real parser, the series the issue asks for
is "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/metrics")" 401 "/metrics without its token -> 401"
is "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $K_LOCAL" "$BASE/metrics")" 401 "/metrics refuses an MCP API key"
for _ in $(seq 50); do
  curl -s -D "$TMP/mh" -H "Authorization: Bearer $MTOKEN" "$BASE/metrics" >"$TMP/metrics.txt"
  grep -q 'credbroker_security_findings{kind="auth_failures"} [1-9]' "$TMP/metrics.txt" && break; sleep 0.2
done
like "$(tr -d '\r' <"$TMP/mh" | grep -i '^content-type:')" 'text/plain; version=0.0.4; charset=utf-8' "/metrics content type is the 0.0.4 text format"
if [ -n "$PROMPY" ]; then
  parsed=$("$PROMPY" - "$TMP/metrics.txt" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
def val(name, **labels):
    for f in fams.values():
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None
checks = {
  "calls": val("credbroker_tool_calls_total", tool="connections_list", client="local", outcome="ok") == 10,
  "denied": (val("credbroker_tool_calls_total", tool="query_execute", client="local", outcome="denied") or 0) >= 1,
  "latency": val("credbroker_tool_call_duration_seconds_count", tool="query_readonly") == 2
             and val("credbroker_tool_call_duration_seconds_bucket", tool="query_readonly", le="+Inf") == 2,
  "auth": val("credbroker_auth_failures_total", reason="invalid_key") == 3,
  "pool": val("credbroker_pool_sessions", state="in_use") == 0 and val("credbroker_pool_sessions", state="idle") is not None,
  "waiting": val("credbroker_pool_waiting") == 0,
  "queue": val("credbroker_audit_queue_depth") is not None,
  "rotations": (val("credbroker_rotations_total", credential="svc", outcome="ok") or 0) >= 1
               and (val("credbroker_rotations_total", credential="gone", outcome="denied") or 0) >= 1,
  "age": 0 <= (val("credbroker_rotation_last_success_age_seconds", credential="svc") or -1) < 120,
  "next": 0 < (val("credbroker_rotation_next_run_seconds", credential="svc") or 0) <= 61,
  "overdue": val("credbroker_rotation_overdue", credential="gone") == 1 and val("credbroker_rotation_overdue", credential="svc") == 0,
  "missed": val("credbroker_schedules_missed") == 1,
  "tick": 0 <= (val("credbroker_scheduler_last_tick_age_seconds") if val("credbroker_scheduler_last_tick_age_seconds") is not None else -1) < 30,
  "findings": val("credbroker_security_findings", kind="auth_failures") == 1 and val("credbroker_security_findings", kind="pool_saturation") == 0,
  "types": fams["credbroker_tool_call_duration_seconds"].type == "histogram" and fams["credbroker_tool_calls"].type == "counter",
}
print(" ".join(k for k, v in checks.items() if not v) or "ok")
PY
  )
  is "$parsed" ok "prometheus_client parses /metrics and every series has the expected value"
else
  fail "prometheus_client is not installed (scripts/deps.sh installs python3-prometheus-client)"
fi
unlike "$(cat "$TMP/metrics.txt")" "$APP_PW|$SVC_PW|$K_LOCAL|$MTOKEN" "/metrics holds no secret"

# ---- monitor: CLI, tool, webhook
"$CB" monitor --since 1h --json >"$TMP/mon.json"; mrc=$?
is "$mrc" 3 "credbroker monitor exits 3 with findings"
kinds=$(python3 -c 'import json,sys; print(" ".join(sorted({f["kind"] for f in json.load(open(sys.argv[1]))["findings"]})))' "$TMP/mon.json")
for k in auth_failures call_rate_spike large_export new_address statement_timeout statement_denied rotation_failed rotation_overdue; do
  like " $kinds " " $k " "monitor finds $k"
done
is "$(python3 -c 'import json,sys; f=[x for x in json.load(open(sys.argv[1]))["findings"] if x["kind"]=="new_address"]; print(f[0]["subject"], f[0]["evidence"]["address"])' "$TMP/mon.json")" "local@127.0.0.2 127.0.0.2" "new_address names the client and the address"
is "$(python3 -c 'import json,sys; f=[x for x in json.load(open(sys.argv[1]))["findings"] if x["kind"]=="auth_failures"]; print(f[0]["severity"], f[0]["evidence"]["failures"])' "$TMP/mon.json")" "high 3" "auth_failures: severity and evidence"
is "$(python3 -c 'import json,sys; print(sum(f["kind"]=="new_address" for f in json.load(open(sys.argv[1]))["findings"]))' "$TMP/mon.json")" 1 "the known address 127.0.0.1 is not reported as new"
"$CB" monitor >"$TMP/mon.txt"; like "$(cat "$TMP/mon.txt")" 'high +auth_failures +3 failed authentications from 127.0.0.1' "monitor text output"
expect_exit 2 "monitor --since rejects a bad duration" "$CB" monitor --since 5x
r=$(call "$port" "$K_OPS" security_monitor '{"since":"1h"}')
is "$(printf '%s' "$r" | python3 -c 'import json,sys; r=json.load(sys.stdin)["result"]; print(r.get("isError", False), len(r["structuredContent"]["findings"]) >= 8)')" "False True" "security_monitor (ops client) returns the findings"
for _ in $(seq 50); do [ "$(wc -l <"$TMP/hooks.jsonl" 2>/dev/null || echo 0)" -ge 8 ] && break; sleep 0.2; done
hooks=$(python3 - "$TMP/hooks.jsonl" <<'PY'
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = collections.Counter((r["finding"]["kind"], r["finding"]["subject"]) for r in rows)
print(len(rows) >= 8 and all(r["source"] == "credbroker" for r in rows), max(keys.values()))
PY
)
is "$hooks" "True 1" "the webhook got each finding once (over TLS, after a 503 retry)"
unlike "$(cat "$TMP/hooks.jsonl")" "$APP_PW|$SVC_PW|$K_LOCAL|$PG_ADMIN_PW" "no secret in the webhook payloads"

# ---- SIGHUP: a new client works after reload; a broken policy keeps the old one
cat >"$POL/15-newcomer.json" <<'JSON'
{ "clients": { "newcomer": { "tools": ["connections_list"], "connections": ["app"] } } }
JSON
K_NEW=$("$CB" apikey create k-new --policy newcomer --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
isnt "${K_NEW:-}" "" "an API key for a client added after serve started"
is "$(call "$port" "$K_NEW" connections_list '{}')" '{"http_status": 401}' "serve (old policy) refuses it: 401"
kill -HUP "$spid"
for _ in $(seq 50); do grep -q 'reload done' "$TMP/serve.err" && break; sleep 0.1; done
is "$(call "$port" "$K_NEW" connections_list '{}' | iserr)" False "after SIGHUP the new client's key works"
is "$(call "$port" "$K_NEW" security_monitor '{}')" '{"http_status": 403}' "security_monitor is refused (403) to a client whose policy does not grant it"
echo '{ "clients": { "newcomer": { "tools": ["connections_list"], ' >"$POL/15-newcomer.json"
kill -HUP "$spid"
for _ in $(seq 50); do grep -q 'reload incomplete' "$TMP/serve.err" && break; sleep 0.1; done
like "$(cat "$TMP/serve.err")" 'error: reload: policies: .*15-newcomer.json:[0-9]+:[0-9]+: .*keeping the previous policy' "a broken policy file is reported with its position"
is "$(call "$port" "$K_NEW" connections_list '{}' | iserr)" False "the previous policy stays active after a failed reload"
is "$(store_sql "select group_concat(outcome) from audit where action='serve.reload' and actor='serve'")" "ok,error" "both reloads are audited"

# ---- /healthz: ok, then 503 when the scheduler cannot read its policy
for _ in $(seq 50); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 503 ] && break; sleep 0.2; done
is "$(curl -s -o "$TMP/hz" -w '%{http_code}' "$BASE/healthz")$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checks"]["store"]["ok"])' "$TMP/hz" 2>/dev/null)" 503True "/healthz: 503 while the policy is broken (store still ok)"
like "$(cat "$TMP/hz")" '"scheduler":\{"ok":false' "/healthz names the scheduler as the failing check"
rm -f "$POL/15-newcomer.json"
for _ in $(seq 50); do [ "$(curl -s -o "$TMP/hz" -w '%{http_code}' "$BASE/healthz")" = 200 ] && break; sleep 0.2; done
is "$(curl -s -o "$TMP/hz" -w '%{http_code}' "$BASE/healthz")" 200 "/healthz back to 200 once the scheduler runs again"
like "$(cat "$TMP/hz")" '"store":\{"ok":true\},"key":\{"ok":true\},"scheduler":\{"ok":true,"last_tick_age_s":[0-9.]+' "/healthz reports store, key, scheduler and the last tick's age"
leaks=0
for sec in "$APP_PW" "$SVC_PW" "$K_LOCAL" "$K_OPS" "$K_NEW" "$MTOKEN" "$PG_ADMIN_PW"; do
  [ -n "$sec" ] && grep -qF -- "$sec" "$TMP/serve.err" "$TMP/serveA.err" && leaks=$((leaks+1))
done
is "$leaks" 0 "no secret in the logs"
kill "$spid"; wait "$spid" 2>/dev/null
done_testing
