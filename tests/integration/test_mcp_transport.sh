#!/usr/bin/env bash
# MCP transports end to end: the official SDK client and the Inspector CLI over stdio and
# Streamable HTTP against tests/tools/mcp_testserver, plus curl checks for every HTTP
# status the transport promises (mcp.md sections 3 and 7.5) and the 2026-07-28 rules.
# test-store: none (the protocol layer's test server has no store)
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
SRV="$BUILD/tools/mcp_testserver"
INTEROP="$CB_ROOT/tests/interop"
[ -x "$SRV" ] || skip_all "mcp_testserver not built"
command -v curl >/dev/null || skip_all "curl missing"

MCP_TEST_TOKEN=$(openssl rand -hex 24)
MCP_TEST_TOKEN_LIMITED=$(openssl rand -hex 24)
export MCP_TEST_TOKEN MCP_TEST_TOKEN_LIMITED
export MCP_TEST_AUDIT="$TMP/audit.jsonl"

start_http() { # start_http NAME ARGS... : sets LAST_PORT and LAST_PID
  local name=$1; shift
  local port; port=$(free_port)
  "$SRV" http "127.0.0.1:$port" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  local pid=$!
  on_exit "kill $pid"
  wait_port "$port" 10 || { fail "$name server started"; diag "$(cat "$TMP/$name.err")"; return 1; }
  LAST_PORT=$port
  LAST_PID=$pid
}

start_http main --allow-origin https://app.example.test || { done_testing; exit 1; }
PORT_main=$LAST_PORT PID_main=$LAST_PID
URL="http://127.0.0.1:$PORT_main/mcp"
ACC='Accept: application/json, text/event-stream'
CT='Content-Type: application/json'
AUTH="Authorization: Bearer $MCP_TEST_TOKEN"
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"0"}}}'

# req ARGS... : runs curl, prints the status; headers in $TMP/h, body in $TMP/b
req() { curl -s -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' "$@"; }
hdrval() { tr -d '\r' <"$TMP/h" | awk -v n="$1" 'BEGIN{FS=": "} tolower($1)==tolower(n) {sub(/^[^:]*: /,""); print}'; }
body() { cat "$TMP/b"; }

# ---- plain HTTP rules ----
is "$(req "http://127.0.0.1:$PORT_main/healthz")" 200 "GET /healthz -> 200"
is "$(body)" '{"status":"ok"}' "/healthz body"
is "$(req "http://127.0.0.1:$PORT_main/nope" -H "$AUTH")" 404 "unknown path -> 404"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -d "$INIT")" 401 "no Authorization -> 401"
is "$(hdrval WWW-Authenticate)" 'Bearer realm="credbroker"' "401 carries WWW-Authenticate Bearer realm"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H 'Authorization: Bearer wrong-token' -d "$INIT")" 401 "bad token -> 401"
like "$(hdrval WWW-Authenticate)" 'error="invalid_token"' "bad token challenge has error=invalid_token"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "Authorization: Basic $MCP_TEST_TOKEN" -d "$INIT")" 401 "non-Bearer scheme -> 401"
unlike "$(cat "$TMP/main.err")" "$MCP_TEST_TOKEN" "token never logged"
is "$(req "$URL" -H "$AUTH")" 405 "GET /mcp -> 405"
like "$(hdrval Allow)" 'POST' "405 carries Allow"
is "$(req -X PUT "$URL" -H "$AUTH")" 405 "PUT /mcp -> 405"
is "$(req -X POST "$URL" -H 'Accept: application/json' -H "$CT" -H "$AUTH" -d "$INIT")" 406 "Accept without text/event-stream -> 406"
like "$(body)" '"code":-32000.*Not Acceptable: Client must accept both application/json and text/event-stream' "406 body as the SDK"
is "$(req -X POST "$URL" -H "$ACC" -H 'Content-Type: text/plain' -H "$AUTH" -d "$INIT")" 415 "wrong Content-Type -> 415"
is "$(req -X POST "$URL" -H "$ACC" -H 'Content-Type: application/json; charset=utf-8' -H "$AUTH" -d "$INIT")" 200 "Content-Type with charset accepted"
head -c $((4*1024*1024+10)) /dev/zero | tr '\0' ' ' >"$TMP/big.json"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" --data-binary @"$TMP/big.json")" 413 "body over 4 MiB -> 413"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H 'MCP-Protocol-Version: 1999-01-01' -d "$INIT")" 400 "unsupported MCP-Protocol-Version -> 400"
like "$(body)" 'Unsupported protocol version: 1999-01-01' "400 names the version"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H 'Origin: http://evil.example' -d "$INIT")" 403 "foreign Origin -> 403"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H 'Host: evil.example:80' -d "$INIT")" 403 "foreign Host (DNS rebinding) -> 403"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H 'Origin: http://localhost:5173' -d "$INIT")" 200 "loopback Origin allowed"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H 'Origin: https://app.example.test' -d "$INIT")" 200 "listed Origin allowed"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -d '{"jsonrpc":"2.0",')" 400 "malformed JSON -> 400"
like "$(body)" '"code":-32700' "malformed JSON -> -32700"

# ---- sessions (legacy era) ----
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -d "$INIT")" 200 "initialize -> 200"
SID=$(hdrval Mcp-Session-Id)
like "$SID" '^[0-9a-f]{64}$' "Mcp-Session-Id is 32 random bytes in hex"
like "$(hdrval Content-Type)" '^application/json' "request answered with application/json"
like "$(body)" '"protocolVersion":"2025-11-25".*"serverInfo":\{"name":"credbroker"' "initialize result"
S="Mcp-Session-Id: $SID"
V='MCP-Protocol-Version: 2025-11-25'
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H "$S" -H "$V" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}')" 202 "notification -> 202"
is "$(wc -c <"$TMP/b" | tr -d ' ')" 0 "202 has no body"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H "$S" -d '{"jsonrpc":"2.0","id":"x","result":{}}')" 202 "client response -> 202"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H "$V" -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}')" 400 "request without session -> 400"
like "$(body)" 'Mcp-Session-Id header is required' "400 says the session header is required"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H "Mcp-Session-Id: $(openssl rand -hex 32)" -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}')" 404 "unknown session -> 404"
like "$(body)" '"code":-32001' "unknown session -> -32001"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H "$S" -H "$V" -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}')" 200 "tools/list in session -> 200"
like "$(body)" '"id":2,"result":\{"tools":\[\{"name":"fail".*"name":"slow".*"name":"sum"' "tools listed in name order"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H "$S" -d '[{"jsonrpc":"2.0","id":3,"method":"ping"}]')" 400 "batch on 2025-11-25 -> 400"
like "$(body)" '"code":-32600' "batch on 2025-11-25 -> -32600"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "Authorization: Bearer $MCP_TEST_TOKEN_LIMITED" -H "$S" -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}')" 404 "session of another principal -> 404"
is "$(req -X DELETE "$URL" -H "$AUTH" -H "$S")" 204 "DELETE ends the session"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H "$S" -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}')" 404 "ended session -> 404"
is "$(req -X DELETE "$URL" -H "$AUTH" -H "$S")" 404 "DELETE of an ended session -> 404"

# 2025-03-26 session: batches allowed
req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{}}}' >/dev/null
S3="Mcp-Session-Id: $(hdrval Mcp-Session-Id)"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H "$S3" -d '[{"jsonrpc":"2.0","id":7,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"sum","arguments":{"a":1,"b":2}}}]')" 200 "batch on 2025-03-26 -> 200"
like "$(body)" '^\[\{"jsonrpc":"2.0","id":7,"result":\{\}\},\{"jsonrpc":"2.0","id":8,"result":\{"content":\[\{"type":"text","text":"\{\\"sum\\":3.0\}"\}\]\}\}\]$' "batch answers each request, text only for 2025-03-26"

# limited principal: slow is hidden and refused
LIM="Authorization: Bearer $MCP_TEST_TOKEN_LIMITED"
req -X POST "$URL" -H "$ACC" -H "$CT" -H "$LIM" -d "$INIT" >/dev/null
SL="Mcp-Session-Id: $(hdrval Mcp-Session-Id)"
req -X POST "$URL" -H "$ACC" -H "$CT" -H "$LIM" -H "$SL" -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' >/dev/null
unlike "$(body)" '"name":"slow"' "tools/list hides tools the policy denies"
req -X POST "$URL" -H "$ACC" -H "$CT" -H "$LIM" -H "$SL" -d '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"slow","arguments":{"ms":1}}}' >/dev/null
like "$(body)" '"isError":true' "denied tool call is an isError result"
like "$(body)" 'Permission denied: principal limited may not call slow' "denial text is clear"

# a slow tool call does not hold up other clients (thread per connection)
SLOW="{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"slow\",\"arguments\":{\"ms\":1500},\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}"
curl -s -o "$TMP/slow.b" -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H 'Mcp-Name: slow' -d "$SLOW" &
slow_pid=$!
sleep 0.3
t0=$(date +%s%N)
req "http://127.0.0.1:$PORT_main/healthz" >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "$([ "$ms" -lt 500 ] && echo 0 || echo 1)" "other requests are served during a slow tool call (${ms} ms)"
wait "$slow_pid"
like "$(cat "$TMP/slow.b")" '"structuredContent":\{"slept_ms":1500\}' "slow tool call completes"

# ---- 2026-07-28 stateless requests (mcp.md 1.1) ----
M='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'
NV='MCP-Protocol-Version: 2026-07-28'
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H "$NV" -H 'Mcp-Method: server/discover' -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":{$M}}")" 200 "server/discover -> 200"
like "$(body)" '"supportedVersions":\["2026-07-28","2025-11-25"' "server/discover lists versions"
like "$(body)" '"resultType":"complete"' "server/discover resultType"
is "$(hdrval Mcp-Session-Id)" "" "no session in the stateless era"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H "$NV" -H 'Mcp-Method: tools/list' -d "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{$M}}")" 200 "stateless tools/list -> 200 without initialize"
like "$(body)" '"ttlMs":[0-9]+,"cacheScope":"private"' "tools/list carries ttlMs and cacheScope"
like "$(body)" '"io.modelcontextprotocol/serverInfo":\{"name":"credbroker"' "result _meta carries serverInfo"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H "$NV" -H 'Mcp-Method: tools/call' -H 'Mcp-Name: sum' -d "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"sum\",\"arguments\":{\"a\":2,\"b\":3},$M}}")" 200 "stateless tools/call -> 200"
like "$(body)" '"structuredContent":\{"sum":5.0\}.*"resultType":"complete"' "stateless tools/call result"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H "$NV" -H 'Mcp-Method: tools/call' -H 'Mcp-Name: =?base64?c3Vt?=' -d "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"sum\",\"arguments\":{\"a\":2,\"b\":3},$M}}")" 200 "base64-encoded Mcp-Name accepted"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H "$NV" -H 'Mcp-Method: tools/call' -H 'Mcp-Name: fail' -d "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"sum\",\"arguments\":{\"a\":2,\"b\":3},$M}}")" 400 "Mcp-Name mismatch -> 400"
like "$(body)" '"code":-32020' "Mcp-Name mismatch -> -32020"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H "$NV" -H 'Mcp-Method: tools/list' -d "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"server/discover\",\"params\":{$M}}")" 400 "Mcp-Method mismatch -> 400"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H 'Mcp-Method: tools/list' -d "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\",\"params\":{$M}}")" 400 "missing MCP-Protocol-Version -> 400"
like "$(body)" '"code":-32020' "missing MCP-Protocol-Version -> -32020"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H "$NV" -H 'Mcp-Method: tools/list' -d '{"jsonrpc":"2.0","id":5,"method":"tools/list"}')" 400 "2026-07-28 header without _meta -> 400"
like "$(body)" '"id":5,"error":\{"code":-32020' "2026-07-28 header without _meta -> -32020"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H "$NV" -H 'Mcp-Method: resources/list' -d "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"resources/list\",\"params\":{$M}}")" 404 "unknown method -> 404"
like "$(body)" '"code":-32601' "unknown method -> -32601"
is "$(req -X POST "$URL" -H "$ACC" -H "$CT" -H "$AUTH" -H 'MCP-Protocol-Version: 2099-01-01' -H 'Mcp-Method: tools/list' -d '{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01"}}}')" 400 "unsupported _meta version -> 400"
like "$(body)" '"code":-32022.*"supported":\["2026-07-28".*"requested":"2099-01-01"' "-32022 lists supported versions"

# ---- official clients over HTTP ----
cd "$INTEROP" || exit 1
if node "$INTEROP/mcp_sdk.mjs" http "$URL" >"$TMP/sdk_http.out" 2>&1; then pass "SDK client over HTTP"; else fail "SDK client over HTTP"; diag "$(grep -v '^PASS' "$TMP/sdk_http.out")"; fi
inspector() { timeout 60 npx --no-install @modelcontextprotocol/inspector --cli "$@"; }
expect_exit 0 "Inspector 2.12.0 tools/list over HTTP" inspector "$URL" --transport http --header "$AUTH" --method tools/list
like "$(cat "$TMP/.out")" '"name": "sum"' "Inspector lists sum over HTTP"
expect_exit 5 "Inspector tools/call isError over HTTP -> exit 5" inspector "$URL" --transport http --header "$AUTH" --method tools/call --tool-name fail
expect_exit 0 "Inspector tools/call sum over HTTP" inspector "$URL" --transport http --header "$AUTH" --method tools/call --tool-name sum --tool-arg a=1 --tool-arg b=2
expect_exit 3 "Inspector with a bad token -> exit 3" inspector "$URL" --transport http --header "Authorization: Bearer nope" --method tools/list

# ---- official clients over stdio ----
if node "$INTEROP/mcp_sdk.mjs" stdio "$SRV" >"$TMP/sdk_stdio.out" 2>&1; then pass "SDK client over stdio"; else fail "SDK client over stdio"; diag "$(grep -v '^PASS' "$TMP/sdk_stdio.out")"; fi
diag "$(grep 'close took' "$TMP/sdk_stdio.out")"
expect_exit 0 "Inspector tools/list over stdio" inspector "$SRV" stdio --method tools/list
expect_exit 5 "Inspector tools/call isError over stdio -> exit 5" inspector "$SRV" stdio --method tools/call --tool-name fail
expect_exit 5 "Inspector unknown tool over stdio -> exit 5" inspector "$SRV" stdio --method tools/call --tool-name nope
cd "$CB_ROOT" || exit 1
like "$(cat "$MCP_TEST_AUDIT")" '"principal":"tester","transport":"http","tool":"sum","outcome":"ok"' "audit hook records HTTP calls"
like "$(cat "$MCP_TEST_AUDIT")" '"principal":"local","transport":"stdio","tool":"fail","outcome":"error"' "audit hook records stdio calls"

# ---- stdio framing ----
python3 - "$SRV" >"$TMP/stdio.out" 2>"$TMP/stdio.err" <<'PY'
import subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
big = b'{"jsonrpc":"2.0","id":9,"method":"ping","params":{"x":"' + b"a" * (5 << 20) + b'"}}\n'
msgs = (b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}\n' + big +
        b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{}}}\n'
        b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"sum","arguments":{"a":1,"b":"x"}}}\n'
        b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"slow","arguments":{"ms":1}}}\n')
t0 = time.time()
out, err = p.communicate(msgs, timeout=20)
sys.stdout.write(out.decode())
sys.stderr.write("elapsed %.3f rc %d\n" % (time.time() - t0, p.returncode))
PY
mapfile -t L <"$TMP/stdio.out"
is "${#L[@]}" 5 "stdio: one line per response"
like "${L[0]}" '"id":1,"error":\{"code":-32600,"message":"Invalid Request: server not initialized' "request before initialize -> error"
like "${L[1]}" '"id":null,"error":\{"code":-32700,"message":"Parse error: message too large"' "over-long line -> parse error"
like "${L[2]}" '"protocolVersion":"2024-11-05"' "2024-11-05 negotiated"
like "${L[3]}" '"id":2,"error":\{"code":-32602,"message":"Invalid params: arguments.b: expected number' "2024-11-05: validation failure is -32602"
like "${L[4]}" '"id":3,"result":\{"content":\[\{"type":"text","text":"slept 1 ms"\}\]\}' "2024-11-05: no structuredContent"
like "$(cat "$TMP/stdio.err")" 'rc 0' "stdio exits 0 on EOF"

# ---- rate limit on a separate instance (it counts this address's failures) ----
start_http rl || { done_testing; exit 1; }
PORT_rl=$LAST_PORT
RURL="http://127.0.0.1:$PORT_rl/mcp"
codes=""
for _ in 1 2 3 4 5 6 7 8 9 10; do codes+="$(req -X POST "$RURL" -H "$ACC" -H "$CT" -H 'Authorization: Bearer guess' -d "$INIT") "; done
is "$codes" "401 401 401 401 401 401 401 401 401 401 " "10 bad tokens -> 401 each"
is "$(req -X POST "$RURL" -H "$ACC" -H "$CT" -H 'Authorization: Bearer guess' -d "$INIT")" 429 "11th attempt -> 429"
like "$(hdrval Retry-After)" '^[0-9]+$' "429 carries Retry-After"
# issue 11: failures are only ever held against failing requests; a token that verifies
# from the same (loopback) address is never refused because of them
is "$(req -X POST "$RURL" -H "$ACC" -H "$CT" -H "$AUTH" -d "$INIT")" 200 "a good token from an address with failures -> 200"
is "$(req -X POST "$RURL" -H "$ACC" -H "$CT" -H 'Authorization: Bearer guess' -d "$INIT")" 429 "bad token after the good one -> still 429"
is "$(req "http://127.0.0.1:$PORT_rl/healthz")" 200 "/healthz still answers"

# ---- one token cannot occupy every worker (issue 11) ----
MCP_TEST_INFLIGHT=2 start_http inflight || { done_testing; exit 1; }
IURL="http://127.0.0.1:$LAST_PORT/mcp"
ISID=$(curl -s -D - -o /dev/null -X POST "$IURL" -H "$ACC" -H "$CT" -H "$AUTH" -d "$INIT" | tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')
LAUTH="Authorization: Bearer $MCP_TEST_TOKEN_LIMITED"
LSID=$(curl -s -D - -o /dev/null -X POST "$IURL" -H "$ACC" -H "$CT" -H "$LAUTH" -d "$INIT" | tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{print $2}')
cpids=()
for i in 1 2 3 4 5; do
  curl -s -o /dev/null -w '%{http_code}\n' -X POST "$IURL" -H "$ACC" -H "$CT" -H "$AUTH" -H "Mcp-Session-Id: $ISID" -H "$V" \
    -d '{"jsonrpc":"2.0","id":'"$i"',"method":"tools/call","params":{"name":"slow","arguments":{"ms":1500}}}' >"$TMP/infl.$i" &
  cpids+=($!)
done
sleep 0.5
t0=$(date +%s%N)
is "$(req -X POST "$IURL" -H "$ACC" -H "$CT" -H "$LAUTH" -H "Mcp-Session-Id: $LSID" -H "$V" -d '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"sum","arguments":{"a":1,"b":2}}}')" 200 "another token is served while one token is at its in-flight cap"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok $(( ms < 1000 ? 0 : 1 )) "without waiting for the busy token (${ms} ms)"
wait "${cpids[@]}"
codes=$(cat "$TMP"/infl.* | sort | tr '\n' ' ')
is "$codes" "200 200 429 429 429 " "5 concurrent calls of one token with max_inflight_per_key 2: 2 run, 3 get 429"

# ---- TLS ----
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/k.pem" -out "$TMP/c.pem" -days 1 \
     -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1; then
  start_http tls --tls-cert "$TMP/c.pem" --tls-key "$TMP/k.pem"
  PORT_tls=$LAST_PORT
  is "$(req --cacert "$TMP/c.pem" "https://127.0.0.1:$PORT_tls/healthz")" 200 "TLS /healthz"
  is "$(req --cacert "$TMP/c.pem" -X POST "https://127.0.0.1:$PORT_tls/mcp" -H "$ACC" -H "$CT" -H "$AUTH" -d "$INIT")" 200 "TLS initialize"
else
  skip "openssl cannot make a test certificate"
fi

# ---- clean shutdown ----
kill -TERM "$PID_main"
t0=$(date +%s%N)
wait "$PID_main"; st=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$st" 0 "SIGTERM -> clean exit 0"
diag "shutdown took $ms ms"
done_testing
