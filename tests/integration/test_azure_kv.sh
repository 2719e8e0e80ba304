#!/usr/bin/env bash
# Azure Key Vault provider against fake_azure_kv over HTTPS, with the official Azure SDK
# for JS as the proof that the fake is faithful, plus auth paths and fault injection.
# test-store: none (secret_tool talks to the provider only)
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"

FAKE="$BUILD/fakes/fake_azure_kv"
ST="$BUILD/tools/secret_tool"
if [ ! -x "$FAKE" ] || [ ! -x "$ST" ]; then skip_all "fake_azure_kv or secret_tool not built"; fi
command -v openssl >/dev/null || skip_all "openssl missing"

mkcert() { # mkcert DIR
  mkdir -p "$1"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/key.pem" -out "$1/cert.pem" -days 2 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1
}
mkcert "$TMP/tls"
mkcert "$TMP/other"
CA="$TMP/tls/cert.pem"
CSEC=$(openssl rand -hex 16)

# start_fake VAR [args...]: starts a fake on a free port; VAR gets the port.
start_fake() {
  local var=$1 port pid; shift
  port=$(free_port)
  "$FAKE" --port "$port" --cert "${FAKE_CERT:-$TMP/tls/cert.pem}" --key "${FAKE_KEY:-$TMP/tls/key.pem}" \
    --tenant tenant-1 --client-id app-1 --client-secret "$CSEC" "$@" 2>>"$TMP/fake.log" &
  pid=$!
  on_exit "kill $pid"
  wait_port "$port" 10 || { fail "fake_azure_kv did not start"; done_testing; exit 1; }
  printf -v "$var" '%s' "$port"
}
stat_of() { # stat_of PORT KEY
  curl -s --cacert "$CA" "https://127.0.0.1:$1/_fake/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}
ms() { date +%s%3N; }

# Client credentials environment, as the Azure SDKs read it.
export CREDBROKER_CA_BUNDLE="$CA" AZURE_TENANT_ID=tenant-1 AZURE_CLIENT_ID=app-1 AZURE_CLIENT_SECRET="$CSEC"
export CREDBROKER_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION=1 CREDBROKER_HTTP_BACKOFF_MS=20
unset AZURE_KEYVAULT_API_VERSION IDENTITY_ENDPOINT IDENTITY_HEADER AZURE_POD_IDENTITY_AUTHORITY_HOST AZURE_IMDS_ENDPOINT
start_fake P --page-size 2 --federated-assertion header.payload.sig
export AZURE_AUTHORITY_HOST="https://127.0.0.1:$P"
KV="azure-kv://127.0.0.1:$P"

# --- the official SDK against the fake, and cross-reads both ways
NODE_DIR="$CB_ROOT/tests/interop"
if command -v node >/dev/null && [ -d "$NODE_DIR/node_modules/@azure/keyvault-secrets" ]; then
  sdk_run() { local c=$1; shift; (cd "$NODE_DIR" && NODE_EXTRA_CA_CERTS="$CA" node azure_kv_sdk.mjs "$c" "$P" tenant-1 app-1 "$@"); }
  out=$(sdk_run check 2>&1); st=$?
  n=$(grep -c '^ok ' <<<"$out")
  if [ $st -eq 0 ] && [ "$n" -ge 12 ]; then pass "@azure/keyvault-secrets against the fake ($n checks)"; else fail "@azure/keyvault-secrets against the fake"; diag "$out"; fi
  ver=$(printf 'from-the-sdk' | sdk_run set xsdk 2>"$TMP/err")
  like "$ver" '^[0-9a-f]{32}$' "SDK setSecret returns a version"
  is "$("$ST" get "$KV/xsdk" 2>&1)" "from-the-sdk" "value written by the SDK is read by credbroker"
  is "$("$ST" get "$KV/xsdk/$ver" 2>&1)" "from-the-sdk" "credbroker reads the SDK's version by id"
  printf 'from-credbroker' | "$ST" put "$KV/xc" >/dev/null 2>&1
  is "$(sdk_run get xc 2>&1)" "from-credbroker" "value written by credbroker is read by the SDK"
  sdk_run disable xc >/dev/null 2>&1
  out=$("$ST" get "$KV/xc" 2>&1); st=$?
  is "$st" "1" "latest version disabled by the SDK: get fails"
  like "$out" "HTTP 403 Forbidden: Operation get is not allowed on a disabled secret" "disabled secret: clear error"
else
  skip "node or @azure/keyvault-secrets not installed (SDK interop)"
fi

# --- get / put / field / versions
val='p@ss "w\ord" ünï {x}'
v1=$(printf '%s' "$val" | "$ST" put "$KV/app-db" 2>"$TMP/err")
like "$v1" '^[0-9a-f]{32}$' "put returns the new 32-hex version"
is "$("$ST" get "$KV/app-db" 2>&1)" "$val" "get returns the value with quotes, backslashes and UTF-8 intact"
printf '{"username":"app","password":"pw1","nested":{"port":5432}}' | "$ST" put "$KV/app-json" >/dev/null 2>&1
is "$("$ST" get "$KV/app-json#password" 2>&1)" "pw1" "#field extraction"
is "$("$ST" get "$KV/app-json#nested.port" 2>&1)" "5432" "#nested.field extraction"
is "$("$ST" get "$KV/app-db/$v1" 2>&1)" "$val" "get by version"
expect_exit 1 "get of a missing secret fails" "$ST" get "$KV/does-not-exist"
like "$(cat "$TMP/.out")" "SecretNotFound" "missing secret error names SecretNotFound"
expect_exit 1 "get of a missing version fails" "$ST" get "$KV/app-db/0123456789abcdef0123456789abcdef"

# --- pending + promote, describe
v2=$(printf 'rotated-pw' | "$ST" put "$KV/app-db" pending 2>"$TMP/err")
like "$v2" '^[0-9a-f]{32}$' "put pending returns a version"
SECRET_TOOL_SHOW_VERSION=1 "$ST" get "$KV/app-db" >/dev/null 2>"$TMP/ver"
like "$(cat "$TMP/ver")" "version=$v2 stages=pending" "latest version carries the pending tag"
d=$("$ST" describe "$KV/app-db" 2>&1)
is "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["pending"], d["current"], d["latest"], len(d["versions"]))' "$d")" \
   "$v2 $v1 $v2 2" "describe: pending, current and latest versions"
unlike "$d" "rotated-pw|p@ss" "describe never shows a value"
check "promote the pending version" "$ST" promote "$KV/app-db" "$v2"
d=$("$ST" describe "$KV/app-db" 2>&1)
is "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); t={v["version"]:v["tags"].get("credbroker-stage") for v in d["versions"]}; print(d["current"], t[sys.argv[2]], t[sys.argv[3]])' "$d" "$v1" "$v2")" \
   "$v2 previous current" "after promote: new version current, old one previous"
expect_exit 1 "promoting an older version is refused (Key Vault serves the newest)" "$ST" promote "$KV/app-db" "$v1"
like "$(cat "$TMP/.out")" "not the newest" "refusal says why"
for i in 1 2 3; do printf 'v%s' "$i" | "$ST" put "$KV/paged" >/dev/null 2>&1; done
d=$("$ST" describe "$KV/paged" 2>&1)
is "$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["versions"]))' "$d")" "3" "describe follows nextLink across pages"
t1=$(printf 'idem' | "$ST" put "$KV/idem" pending tok-123 2>&1)
t2=$(printf 'idem' | "$ST" put "$KV/idem" pending tok-123 2>&1)
is "$t2" "$t1" "put with the same idempotency token returns the same version"

# --- the 401 challenge: one challenge and one token for many gets, connection reuse
c0=$(stat_of "$P" challenges); k0=$(stat_of "$P" token_requests)
check "20 gets in one process" "$ST" bench "$KV/app-db" 20
is "$(( $(stat_of "$P" challenges) - c0 )) $(( $(stat_of "$P" token_requests) - k0 ))" "1 1" "one 401 challenge and one token request for 20 gets"

# --- authentication failures and checks
out=$(AZURE_CLIENT_SECRET=wrong-secret-value "$ST" get "$KV/app-db" 2>&1); st=$?
is "$st" "1" "wrong client secret fails"
like "$out" "invalid_client" "wrong client secret: Entra error code shown"
unlike "$out" "wrong-secret-value|$CSEC" "no client secret in the error"
out=$(AZURE_TENANT_ID=other-tenant "$ST" get "$KV/app-db" 2>&1)
like "$out" "AZURE_ADDITIONALLY_ALLOWED_TENANTS" "challenge tenant differing from AZURE_TENANT_ID is refused"
is "$(AZURE_TENANT_ID=other-tenant AZURE_ADDITIONALLY_ALLOWED_TENANTS='*' "$ST" get "$KV/app-db" 2>&1)" "rotated-pw" \
   "additionally allowed tenants accept the challenge tenant"
out=$(CREDBROKER_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION='' "$ST" get "$KV/app-db" 2>&1)
like "$out" "does not match vault host" "challenge resource must match the vault's domain by default"
is "$(AZURE_KEYVAULT_API_VERSION=2025-07-01 "$ST" get "$KV/app-db" 2>&1)" "rotated-pw" "api-version 2025-07-01 accepted"
out=$(AZURE_KEYVAULT_API_VERSION=9.9 "$ST" get "$KV/app-db" 2>&1)
like "$out" "HTTP 400 BadParameter.*not recognized" "unknown api-version rejected like the service"

# --- managed identity: IMDS and App Service conventions
m0=$(stat_of "$P" mi_requests)
is "$(env -u AZURE_CLIENT_SECRET -u AZURE_CLIENT_ID AZURE_POD_IDENTITY_AUTHORITY_HOST="https://127.0.0.1:$P" "$ST" get "$KV/app-db" 2>&1)" \
   "rotated-pw" "managed identity (IMDS, Metadata: true)"
is "$(( $(stat_of "$P" mi_requests) - m0 ))" "1" "IMDS endpoint was used"
out=$(env -u AZURE_CLIENT_SECRET AZURE_CLIENT_ID=unknown-mi AZURE_POD_IDENTITY_AUTHORITY_HOST="https://127.0.0.1:$P" "$ST" get "$KV/app-db" 2>&1)
like "$out" "Identity not found" "user-assigned identity is selected by AZURE_CLIENT_ID"
is "$(env -u AZURE_CLIENT_SECRET -u AZURE_CLIENT_ID IDENTITY_ENDPOINT="https://127.0.0.1:$P/msi/token" IDENTITY_HEADER=fake-identity-header "$ST" get "$KV/app-db" 2>&1)" \
   "rotated-pw" "managed identity (App Service IDENTITY_ENDPOINT + IDENTITY_HEADER)"
out=$(env -u AZURE_CLIENT_SECRET -u AZURE_CLIENT_ID IDENTITY_ENDPOINT="https://127.0.0.1:$P/msi/token" IDENTITY_HEADER=wrong "$ST" get "$KV/app-db" 2>&1)
like "$out" "App Service managed identity.*401" "App Service identity header is checked"

# --- workload identity (AKS): federated token file instead of a secret
printf 'header.payload.sig\n' > "$TMP/fed.jwt"
is "$(env -u AZURE_CLIENT_SECRET AZURE_FEDERATED_TOKEN_FILE="$TMP/fed.jwt" "$ST" get "$KV/app-db" 2>&1)" "rotated-pw" \
   "workload identity: AZURE_FEDERATED_TOKEN_FILE assertion"
printf 'other.jwt.x' > "$TMP/bad.jwt"
out=$(env -u AZURE_CLIENT_SECRET AZURE_FEDERATED_TOKEN_FILE="$TMP/bad.jwt" "$ST" get "$KV/app-db" 2>&1)
like "$out" "workload identity.*AADSTS700211" "workload identity: wrong assertion refused"

# --- faults
# each fake is its own authority: tokens are valid only where they were issued
sat() { local port=$1; shift; AZURE_AUTHORITY_HOST="https://127.0.0.1:$port" "$ST" "$@"; }
seed() { printf 'fault-value' | sat "$1" put "azure-kv://127.0.0.1:$1/f" >/dev/null 2>&1; }
start_fake F1 --fail-first 2 --fail-status 500
seed "$F1"
is "$(sat "$F1" get "azure-kv://127.0.0.1:$F1/f" 2>&1)" "fault-value" "500s are retried, then success"
is "$(stat_of "$F1" faults)" "2" "two 500 responses were served"

start_fake F3 --fail-first 1 --fail-status 429 --retry-after 1
t0=$(ms); seed "$F3"; dt=$(( $(ms) - t0 ))
is "$(sat "$F3" get "azure-kv://127.0.0.1:$F3/f" 2>&1)" "fault-value" "429 with Retry-After: write retried, value stored"
if [ "$dt" -ge 900 ] && [ "$dt" -lt 6000 ]; then pass "Retry-After: 1 honoured ($dt ms)"; else fail "Retry-After: 1 honoured ($dt ms)"; fi

start_fake F4 --fail-first 100 --fail-status 503
t0=$(ms); out=$(sat "$F4" get "azure-kv://127.0.0.1:$F4/f" 2>&1); st=$?; dt=$(( $(ms) - t0 ))
is "$st" "1" "persistent 503 fails"
like "$out" "HTTP 503 ServiceUnavailable" "persistent 503: clear message"
is "$(stat_of "$F4" faults)" "4" "persistent 503: bounded at 4 attempts"

start_fake F5 --delay-ms 3000
t0=$(ms); out=$(CREDBROKER_HTTP_TIMEOUT_MS=400 CREDBROKER_HTTP_MAX_ATTEMPTS=2 sat "$F5" get "azure-kv://127.0.0.1:$F5/f" 2>&1); st=$?; dt=$(( $(ms) - t0 ))
is "$st" "1" "slow vault beyond CREDBROKER_HTTP_TIMEOUT_MS fails"
like "$out" "[Tt]imeout|timed out" "timeout error says so"
if [ "$dt" -lt 4000 ]; then pass "timeout bounded ($dt ms)"; else fail "timeout bounded ($dt ms)"; fi

start_fake F6 --truncate
seed "$F6"
out=$(CREDBROKER_HTTP_MAX_ATTEMPTS=2 sat "$F6" get "azure-kv://127.0.0.1:$F6/f" 2>&1); st=$?
is "$st" "1" "truncated body fails cleanly"
unlike "$out" "fault-value" "truncated body: no partial value shown"
like "$out" "^azure-kv: https://127.0.0.1:$F6/secrets/f: .*partial" "truncated body: one-line error naming the vault"

start_fake F7 --non-json
out=$(sat "$F7" get "azure-kv://127.0.0.1:$F7/f" 2>&1); st=$?
is "$st" "1" "non-JSON body fails cleanly"
like "$out" "not valid JSON" "non-JSON body: clear error"

FAKE_CERT="$TMP/other/cert.pem" FAKE_KEY="$TMP/other/key.pem" start_fake F8
out=$(sat "$F8" get "azure-kv://127.0.0.1:$F8/f" 2>&1); st=$?
is "$st" "1" "untrusted certificate fails"
like "$out" "TLS verification failed" "untrusted certificate: TLS error, no fallback"
is "$(curl -s --cacert "$TMP/other/cert.pem" "https://127.0.0.1:$F8/_fake/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret_requests"])')" \
   "0" "untrusted certificate: no request reached the server"

start_fake F9 --expire-tokens-after 3
seed "$F9"
k0=$(stat_of "$F9" token_requests)
check "tokens expiring mid-run: 10 gets succeed" sat "$F9" bench "azure-kv://127.0.0.1:$F9/f" 10
k=$(( $(stat_of "$F9" token_requests) - k0 ))
if [ "$k" -ge 3 ]; then pass "client re-authenticated after token expiry ($k tokens)"; else fail "client re-authenticated after token expiry ($k tokens)"; fi

unlike "$(cat "$TMP/fake.log")" "$CSEC|fault-value|rotated-pw" "the fake logs no secrets"
done_testing
