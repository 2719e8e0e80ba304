#!/usr/bin/env bash
# test-runner: exclusive (latency bounds and load: run alone, after the parallel phase)
# Issue 11: `credbroker serve` under the attacks of the issue, loopback only, every loop
# bounded and self-stopping: slow-loris (1,000 connections trickling header lines for
# 20 s) while /healthz and an authenticated tools/call are probed; 2,000 initialize from
# one key; 50 bad tokens while a valid key calls; a 30,000-entry batch. Latencies are
# printed as diag lines; the bounds are the issue's.
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
command -v python3 >/dev/null || skip_all "python3 missing"
PY="$CB_ROOT/tests/integration/http_abuse.py"
PROBE_MS=${ABUSE_PROBE_MS:-200}

new_store abuse
export CREDBROKER_POLICIES="$TMP/policies" CREDBROKER_CONFIG="$TMP/credbroker.json"
mkdir -p "$CREDBROKER_POLICIES"
echo '{}' >"$CREDBROKER_CONFIG"
cp "$CB_ROOT/policies/20-clients.json" "$CREDBROKER_POLICIES/"   # the shipped shape: local, "*"
echo '{"clients":{"low":{"tools":["connections_list"],"connections":[]}}}' >"$CREDBROKER_POLICIES/30-low.json"
KL=$("$CB" -q apikey create local-key --policy local)
KW=$("$CB" -q apikey create low-key --policy low)
PORT=$(free_port)
"$CB" serve --listen "127.0.0.1:$PORT" >"$TMP/serve.out" 2>"$TMP/serve.err" &
SPID=$!
on_exit "kill -9 $SPID"
wait_port "$PORT" 10 || { fail "serve started"; diag "$(cat "$TMP/serve.err")"; done_testing; exit 1; }
pass "serve started"

val() { # val LINE KEY: the value after KEY in a result line
  awk -v k="$2" '{for (i = 1; i < NF; i++) if ($i == k) {print $(i+1); exit}}' <<<"$1"
}

# ---- slow-loris: 1,000 connections, one header line every 5 s, held 20 s ----
R=$(timeout 60 python3 "$PY" slowloris "$PORT" "$KL" 1000 20 2>&1); diag "$R"
is "$(val "$R" opened)" 1000 "1,000 slow connections opened"
P=$(val "$R" probes)
ok $(( ${P:-0} >= 15 ? 0 : 1 )) "probed throughout the 20 s (${P:-0} probes)"
is "$(val "$R" health_ok)" "$P" "/healthz answered every probe within ${PROBE_MS} ms (max $(val "$R" health_max_ms) ms)"
is "$(val "$R" call_ok)" "$P" "authenticated tools/call answered every probe within ${PROBE_MS} ms (max $(val "$R" call_max_ms) ms)"
C=$(val "$R" closed_by_server)
ok $(( ${C:-0} >= 950 ? 0 : 1 )) "the server closed the slow connections at the request deadline ($C of 1000)"
like "$(cat "$TMP/serve.err")" "closed [0-9]+ connection\(s\) whose request did not arrive within 10 s" "deadline closures are logged"

# ---- session exhaustion: one key cannot take another key's sessions ----
R=$(timeout 120 python3 "$PY" sessions "$PORT" "$KW" "$KL" 2000 2>&1); diag "$R"
is "$(val "$R" a_codes)" "200:2000" "2,000 initialize from one key: each answered (its own oldest sessions make room)"
is "$(val "$R" b_init)" 200 "another key can still initialize"
is "$(val "$R" b_sid)" 1 "and gets a session id"

# ---- 50 bad tokens do not delay a valid key ----
R=$(timeout 60 python3 "$PY" badtokens "$PORT" "$KL" 50 2>&1); diag "$R"
B=$(val "$R" base_ms); D=$(val "$R" during_max_ms)
is "$(val "$R" during_ok)" 20 "valid key answered during 50 bad tokens"
ok "$(awk -v b="$B" -v d="$D" 'BEGIN{print (d != "" && d - b <= 50) ? 0 : 1}')" \
   "valid key not delayed by more than 50 ms (median before ${B} ms, max during ${D} ms)"
like "$(val "$R" bad_codes)" '^(401|429)(,(401|429))*$' "bad tokens get 401/429"
like "$(cat "$TMP/serve.err")" 'authentication failed from 127.0.0.1 \(key id [0-9a-f]{8}; [0-9]+ failures' "failures are logged with address and key id"

# ---- a 30,000-entry batch is refused, memory stays bounded ----
R=$(timeout 60 python3 "$PY" batch "$PORT" "$KL" 30000 "$SPID" 2>&1); diag "$R"
is "$(val "$R" status)" 400 "30,000-entry batch -> 400"
is "$(val "$R" code)" -32600 "with a JSON-RPC Invalid Request error"
RSS=$(val "$R" rss_after_kb)
if [ "${SAN:-0}" = 1 ]; then # ASan's shadow memory and quarantine: bound the growth instead
  RB=$(val "$R" rss_before_kb)
  ok $(( ${RSS:-999999} - ${RB:-0} < 102400 ? 0 : 1 )) "RSS grows by less than 100 MB (${RB} -> ${RSS} kB, sanitizer build)"
else
  ok $(( ${RSS:-999999} < 102400 ? 0 : 1 )) "RSS stays under 100 MB (${RSS} kB)"
fi
is "$(val "$R" small_ok)" 1 "a small batch still works"
kill -0 "$SPID" 2>/dev/null; ok $? "serve is still running"
kill "$SPID"; wait "$SPID" 2>/dev/null
is "$?" 0 "serve exits 0 on SIGTERM"

# ---- the limits come from credbroker.json "http" ----
echo '{"http":{"max_sessions_per_key":3,"request_deadline_s":2,"max_batch":5,"bogus":1}}' >"$CREDBROKER_CONFIG"
OUT=$("$CB" policy check 2>&1); like "$OUT" 'http: unknown key "bogus"' "an unknown http setting is an error"
echo '{"http":{"max_sessions_per_key":3,"request_deadline_s":2,"max_batch":5,"max_connections_per_ip":6}}' >"$CREDBROKER_CONFIG"
PORT=$(free_port)
"$CB" serve --listen "127.0.0.1:$PORT" >/dev/null 2>"$TMP/serve2.err" &
SPID=$!
on_exit "kill -9 $SPID"
wait_port "$PORT" 10 || fail "second serve started"
R=$(timeout 30 python3 - "$PORT" "$KW" <<'PY'
import http.client, json, socket, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
H = {'Accept': 'application/json, text/event-stream', 'Content-Type': 'application/json', 'Authorization': 'Bearer ' + key}
INIT = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "x", "version": "0"}}})
def post(body, sid=None):
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    h = dict(H)
    if sid: h.update({'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-03-26'})
    c.request('POST', '/mcp', body=body, headers=h)
    r = c.getresponse(); b = r.read(); c.close()
    return r.status, r.getheader('Mcp-Session-Id'), b
sids = [post(INIT)[1] for _ in range(4)]
first = post(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}), sids[0])[0]
last = post(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}), sids[3])[0]
batch = post(json.dumps([{"jsonrpc": "2.0", "id": i, "method": "ping"} for i in range(6)]), sids[3])
s = socket.create_connection(('127.0.0.1', port)); s.sendall(b'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n')
t0 = time.monotonic(); s.settimeout(8)
try:
    closed = s.recv(1) == b''
except OSError:
    closed = True
dl = round(time.monotonic() - t0, 1)
time.sleep(0.3)
held = [socket.create_connection(('127.0.0.1', port)) for _ in range(7)]
held[-1].settimeout(3)
try:
    refused = held[-1].recv(1) == b''
except TimeoutError:
    refused = False  # still open after 3 s: not refused
except OSError:
    refused = True
print('oldest', first, 'newest', last, 'batch6', batch[0], 'deadline_s', dl, 'closed', int(closed), 'seventh_refused', int(refused))
PY
); diag "$R"
is "$(val "$R" oldest)" 404 "max_sessions_per_key 3: a 4th session ends the key's oldest"
is "$(val "$R" newest)" 200 "the newest session works"
is "$(val "$R" batch6)" 400 "max_batch 5: a batch of 6 is refused"
is "$(val "$R" closed)" 1 "request_deadline_s 2: a trickling request is closed"
ok "$(awk -v d="$(val "$R" deadline_s)" 'BEGIN{print (d >= 1.5 && d <= 4) ? 0 : 1}')" "after about 2 s ($(val "$R" deadline_s) s)"
is "$(val "$R" seventh_refused)" 1 "max_connections_per_ip 6: a 7th connection from one address is closed"
kill "$SPID"; wait "$SPID" 2>/dev/null
done_testing
