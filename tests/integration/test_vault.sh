#!/usr/bin/env bash
# Vault KV v2 provider against fake_vault: node-vault interop (the fake is faithful),
# cross-client reads and writes, every auth path, staging, CAS races, errors, faults,
# TLS and token expiry. Tokens and values never appear in argv of our client.
# test-store: none (secret_tool talks to the provider only)
# shellcheck source=tests/lib/common.sh disable=SC1091
source "$(dirname "$0")/../lib/common.sh"

FAKE="$BUILD/fakes/fake_vault"
TOOL="$BUILD/tools/secret_tool"
NODE_SCRIPT="$CB_ROOT/tests/interop/vault_node.mjs"
if [ ! -x "$FAKE" ] || [ ! -x "$TOOL" ]; then skip_all "build fake_vault and secret_tool first"; fi

ROOT=root-$(openssl rand -hex 8)
ROLE=role-$(openssl rand -hex 6)
SID=sid-$(openssl rand -hex 12)
nfake=0

# start_fake VAR [fake args...]: starts a fake on a free port; sets VAR to its address
# and FAKE_LOG to its log.
start_fake() {
  local var=$1; shift
  local port; port=$(free_port)
  nfake=$((nfake+1))
  FAKE_LOG="$TMP/fake$nfake.log"
  "$FAKE" --port "$port" --root-token "$ROOT" --role-id "$ROLE" --secret-id "$SID" "$@" 2>"$FAKE_LOG" &
  local pid=$!
  on_exit "kill $pid"
  wait_port "$port" 10 || { fail "fake_vault did not start"; cat "$FAKE_LOG"; exit 1; }
  local scheme=http
  for a in "$@"; do [ "$a" = --cert ] && scheme=https; done
  printf -v "$var" '%s://127.0.0.1:%s' "$scheme" "$port"
}

# Runs our client with only the given Vault variables (nothing inherited).
vt() { env -u VAULT_TOKEN -u VAULT_ROLE_ID -u VAULT_SECRET_ID -u VAULT_SECRET_ID_FILE -u VAULT_NAMESPACE \
         -u VAULT_CACERT HOME="$TMP/nohome" CREDBROKER_HTTP_BACKOFF_MS=20 "$@"; }

start_fake A
export VAULT_ADDR=$A

# --- node-vault against the fake ----------------------------------------------------
if command -v node >/dev/null && [ -d "$CB_ROOT/tests/interop/node_modules/node-vault" ]; then
  out=$(VAULT_ROLE_ID=$ROLE VAULT_SECRET_ID=$SID node "$NODE_SCRIPT" checks 2>&1); st=$?
  ok "$st" "node-vault 0.12.0 interop checks ($(grep -c '^ok' <<<"$out") passed)"
  [ "$st" -eq 0 ] || diag "$out"
else
  skip "node or node-vault not installed"
fi

# --- token auth, get latest / version / #field --------------------------------------
v1=$(printf 'plain-%s' "$(openssl rand -hex 6)")
got=$(printf '%s' "$v1" | vt VAULT_TOKEN="$ROOT" "$TOOL" put vault://secret/app/db 2>&1)
is "$got" "1" "put with VAULT_TOKEN creates version 1"
got=$(printf '{"username":"app","password":"pw-2"}' | vt VAULT_TOKEN="$ROOT" "$TOOL" put vault://secret/app/db 2>&1)
is "$got" "2" "put of a JSON object creates version 2"
is "$(vt VAULT_TOKEN="$ROOT" "$TOOL" get vault://secret/app/db 2>&1)" '{"username":"app","password":"pw-2"}' \
   "get latest returns the fields as compact JSON"
is "$(vt VAULT_TOKEN="$ROOT" "$TOOL" get 'vault://secret/app/db?version=1' 2>&1)" "$v1" \
   "get ?version=1 returns the single \"value\" field as the plain string"
is "$(vt VAULT_TOKEN="$ROOT" "$TOOL" get 'vault://secret/app/db#password' 2>&1)" "pw-2" "#field picks a field"
ver=$(vt VAULT_TOKEN="$ROOT" SECRET_TOOL_SHOW_VERSION=1 "$TOOL" get vault://secret/app/db 2>&1 >/dev/null)
like "$ver" '^version=2 ' "get reports the KV version number"
# on the wire the plain value is stored as {"value": ...} (what other clients expect)
raw=$(curl -s -H "X-Vault-Token: $ROOT" "$A/v1/secret/data/app/db?version=1")
is "$(python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["data"]["data"],separators=(",",":")))' <<<"$raw")" \
   "{\"value\":\"$v1\"}" "a plain value is written as {\"value\": ...}"

# --- ~/.vault-token -----------------------------------------------------------------
mkdir -p "$TMP/home"
printf '%s\n' "$ROOT" >"$TMP/home/.vault-token"
chmod 600 "$TMP/home/.vault-token"
got=$(env -u VAULT_TOKEN -u VAULT_ROLE_ID -u VAULT_SECRET_ID HOME="$TMP/home" "$TOOL" get 'vault://secret/app/db#username' 2>&1)
is "$got" "app" "HOME/.vault-token is used when VAULT_TOKEN is unset"
got=$(vt "$TOOL" get vault://secret/app/db 2>&1); st=$?
[ "$st" -ne 0 ] && [[ "$got" == *"no credentials"* ]]; ok $? "without any credential: clear error (exit $st)"

# --- AppRole with the secret_id in a file -------------------------------------------
printf '%s\n' "$SID" >"$TMP/sid"
got=$(vt VAULT_ROLE_ID="$ROLE" VAULT_SECRET_ID_FILE="$TMP/sid" "$TOOL" get 'vault://secret/app/db#password' 2>&1)
is "$got" "pw-2" "AppRole login with VAULT_SECRET_ID_FILE"
printf 'wrong\n' >"$TMP/sid-bad"
got=$(vt VAULT_ROLE_ID="$ROLE" VAULT_SECRET_ID_FILE="$TMP/sid-bad" "$TOOL" get vault://secret/app/db 2>&1); st=$?
[ "$st" -ne 0 ] && [[ "$got" == *"AppRole login"* ]] && [[ "$got" != *wrong* ]]
ok $? "a wrong secret_id fails clearly and is not echoed"
grep -q "POST /v1/auth/approle/login -> 200" "$FAKE_LOG"; ok $? "the fake saw the AppRole login"

# --- staging: put pending + promote, describe ----------------------------------------
got=$(printf '{"username":"app","password":"pw-3"}' | vt VAULT_TOKEN="$ROOT" "$TOOL" put vault://secret/app/db pending 2>&1)
is "$got" "3" "put pending writes version 3 with CAS"
d=$(vt VAULT_TOKEN="$ROOT" "$TOOL" describe vault://secret/app/db 2>&1)
like "$d" '"credbroker_pending_version":"3"' "describe shows the pending marker"
like "$d" '"current_version":3' "describe shows current_version"
like "$d" '"stages":\["latest","pending"\],"version":"3"' "version 3 is labelled latest+pending"
unlike "$d" 'pw-3|pw-2|plain-' "describe never contains a value"
expect_exit 1 "promote of an older version is refused (KV v2 readers get the latest)" \
  vt VAULT_TOKEN="$ROOT" "$TOOL" promote vault://secret/app/db 2
check "promote version 3" vt VAULT_TOKEN="$ROOT" "$TOOL" promote vault://secret/app/db 3
d=$(vt VAULT_TOKEN="$ROOT" "$TOOL" describe vault://secret/app/db 2>&1)
like "$d" '"custom_metadata":\{"credbroker_current_version":"3"\}' "promote clears pending and records current"
expect_exit 1 "promote of a version that does not exist fails" vt VAULT_TOKEN="$ROOT" "$TOOL" promote vault://secret/app/db 9

# --- CAS: two writers with the same expected version, exactly one wins --------------
start_fake C --delay-ms 400 --seed secret/race '{"value":"v1"}'
pids=()
for w in a b; do
  ( printf 'writer-%s' "$w" | vt VAULT_ADDR="$C" VAULT_TOKEN="$ROOT" "$TOOL" put vault://secret/race >"$TMP/race-$w.out" 2>&1
    echo $? >"$TMP/race-$w.rc" ) &
  pids+=($!)
done
wait "${pids[@]}"
ra=$(cat "$TMP/race-a.rc") rb=$(cat "$TMP/race-b.rc")
is "$(( (ra == 0) + (rb == 0) ))" "1" "two concurrent writers at the same version: exactly one wins ($ra/$rb)"
loser=a; winner=b; [ "$ra" -eq 0 ] && { loser=b; winner=a; }
like "$(cat "$TMP/race-$loser.out")" "changed by another writer" "the loser gets a clear CAS conflict"
is "$(vt VAULT_ADDR="$C" VAULT_TOKEN="$ROOT" "$TOOL" get vault://secret/race 2>&1)" "writer-$winner" "the winner's value is current"
grep -q "POST /v1/secret/data/race -> 400" "$FAKE_LOG"; ok $? "the fake rejected the stale CAS with 400"

# --- errors: not found, deleted, denied ---------------------------------------------
got=$(vt VAULT_TOKEN="$ROOT" "$TOOL" get vault://secret/app/missing 2>&1); st=$?
[ "$st" -eq 1 ] && [[ "$got" == *"not found"* ]]; ok $? "missing secret: clear not-found ($got)"
curl -s -o /dev/null -X POST -H "X-Vault-Token: $ROOT" -d '{"versions":[1]}' "$A/v1/secret/delete/app/db"
got=$(vt VAULT_TOKEN="$ROOT" "$TOOL" get 'vault://secret/app/db?version=1' 2>&1); st=$?
[ "$st" -eq 1 ] && [[ "$got" == *"version 1 was deleted"* ]]; ok $? "deleted version: not found ($got)"
curl -s -o /dev/null -X POST -H "X-Vault-Token: $ROOT" -d '{"versions":[2]}' "$A/v1/secret/destroy/app/db"
got=$(vt VAULT_TOKEN="$ROOT" "$TOOL" get 'vault://secret/app/db?version=2' 2>&1)
like "$got" "version 2 was destroyed" "destroyed version: not found"
BADTOK=bad-$(openssl rand -hex 6)
got=$(vt VAULT_TOKEN="$BADTOK" "$TOOL" get vault://secret/app/db 2>&1); st=$?
[ "$st" -eq 1 ] && [[ "$got" == *"access denied"* ]] && [[ "$got" == *"permission denied"* ]]; ok $? "403: clear denied ($got)"
unlike "$got" "$BADTOK" "the token is not in the error"
[[ "$got" != *"not found"* ]]; ok $? "403 and 404 are told apart"

# --- namespace --------------------------------------------------------------------
printf 'in-ns' | vt VAULT_TOKEN="$ROOT" VAULT_NAMESPACE=team1/ "$TOOL" put vault://secret/nsx >/dev/null 2>&1
is "$(vt VAULT_TOKEN="$ROOT" VAULT_NAMESPACE=team1/ "$TOOL" get vault://secret/nsx 2>&1)" "in-ns" "X-Vault-Namespace is sent"
expect_exit 1 "a namespaced secret is not visible outside its namespace" vt VAULT_TOKEN="$ROOT" "$TOOL" get vault://secret/nsx

# --- cross-check with node-vault -------------------------------------------------------
if command -v node >/dev/null && [ -d "$CB_ROOT/tests/interop/node_modules/node-vault" ]; then
  VAULT_TOKEN=$ROOT node "$NODE_SCRIPT" write secret/data/cross '{"user":"n","password":"from-node"}' >/dev/null
  is "$(vt VAULT_TOKEN="$ROOT" "$TOOL" get 'vault://secret/cross#password' 2>&1)" "from-node" "node-vault writes, we read"
  printf '{"k":"from-c"}' | vt VAULT_TOKEN="$ROOT" "$TOOL" put vault://secret/cross2 >/dev/null 2>&1
  is "$(VAULT_TOKEN=$ROOT node "$NODE_SCRIPT" read secret/data/cross2 2>&1)" '{"k":"from-c"}' "we write, node-vault reads"
  printf 'plain-c' | vt VAULT_TOKEN="$ROOT" "$TOOL" put vault://secret/cross3 >/dev/null 2>&1
  is "$(VAULT_TOKEN=$ROOT node "$NODE_SCRIPT" read secret/data/cross3 2>&1)" '{"value":"plain-c"}' "a plain value reads as {value} in node-vault"
else
  skip "node-vault cross-check"
fi

# --- faults ------------------------------------------------------------------------
SEED=(--seed secret/f '{"password":"fault-ok"}')
start_fake F --fail-first 1 500 "${SEED[@]}"
is "$(vt VAULT_ADDR="$F" VAULT_TOKEN="$ROOT" "$TOOL" get 'vault://secret/f#password' 2>&1)" "fault-ok" "500 then success: retried"
is "$(grep -c 'GET /v1/secret/data/f -> ' "$FAKE_LOG")" "2" "exactly one retry after the 500"

start_fake F --fail-first 1 429 --retry-after 1 "${SEED[@]}"
t0=$(date +%s%N)
got=$(vt VAULT_ADDR="$F" VAULT_TOKEN="$ROOT" "$TOOL" get 'vault://secret/f#password' 2>&1)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$got" "fault-ok" "429 then success"
[ "$ms" -ge 950 ]; ok $? "Retry-After: 1 was honoured (${ms} ms)"

start_fake F --delay-ms 4000 "${SEED[@]}"
t0=$(date +%s%N)
got=$(vt VAULT_ADDR="$F" VAULT_TOKEN="$ROOT" CREDBROKER_HTTP_TIMEOUT_MS=400 CREDBROKER_HTTP_MAX_ATTEMPTS=2 "$TOOL" get vault://secret/f 2>&1); st=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$st" -eq 1 ] && [ "$ms" -lt 3000 ]; ok $? "a hanging server times out, bounded (${ms} ms, exit $st)"
like "$got" "[Tt]imeout|timed out" "the timeout is reported as such"

for mode in --truncate --non-json; do
  start_fake F "$mode" "${SEED[@]}"
  got=$(vt VAULT_ADDR="$F" VAULT_TOKEN="$ROOT" "$TOOL" get vault://secret/f 2>&1); st=$?
  [ "$st" -eq 1 ] && [[ "$got" == *"malformed read response for secret/f"* ]]; ok $? "$mode body: clear error, no crash (exit $st: $got)"
  unlike "$got" "fault-ok" "$mode: no value leaks into the error"
done

start_fake F --sealed "${SEED[@]}"
got=$(vt VAULT_ADDR="$F" VAULT_TOKEN="$ROOT" CREDBROKER_HTTP_MAX_ATTEMPTS=2 "$TOOL" get vault://secret/f 2>&1); st=$?
[ "$st" -eq 1 ] && [[ "$got" == *"unavailable"*"503"*"Vault is sealed"* ]]; ok $? "sealed: unavailable with Vault's message ($got)"

# --- TLS: an untrusted certificate must fail, never fall back ----------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "$TMP/tls.key" -out "$TMP/tls.crt" 2>/dev/null
start_fake T --cert "$TMP/tls.crt" --key "$TMP/tls.key" "${SEED[@]}"
got=$(vt VAULT_ADDR="$T" VAULT_TOKEN="$ROOT" "$TOOL" get vault://secret/f 2>&1); st=$?
[ "$st" -eq 1 ] && [[ "$got" == *"TLS verification failed"* ]]; ok $? "untrusted certificate: refused ($got)"
! grep -q "/v1/" "$FAKE_LOG"; ok $? "no request reached the server over the untrusted connection"
is "$(vt VAULT_ADDR="$T" VAULT_TOKEN="$ROOT" VAULT_CACERT="$TMP/tls.crt" "$TOOL" get 'vault://secret/f#password' 2>&1)" \
   "fault-ok" "with VAULT_CACERT the same server is trusted"
got=$(vt VAULT_ADDR="${T/https/http}" VAULT_TOKEN="$ROOT" CREDBROKER_HTTP_MAX_ATTEMPTS=1 "$TOOL" get vault://secret/f 2>&1); st=$?
[ "$st" -ne 0 ]; ok $? "plain HTTP to a TLS port fails (no silent downgrade)"

# --- token lifecycle ---------------------------------------------------------------------
# Non-renewable 2 s tokens, 8 reads of 0.4 s each: the token cannot be renewed, so the
# client logs in again (at 2/3 of the lease) before it expires; no read is refused.
start_fake L --token-ttl 2 --no-renew --delay-ms 400 "${SEED[@]}"
out=$(vt VAULT_ADDR="$L" VAULT_ROLE_ID="$ROLE" VAULT_SECRET_ID="$SID" "$TOOL" bench vault://secret/f 8 2>&1); st=$?
ok "$st" "non-renewable token expiring mid-run: all reads succeed ($out)"
[ "$(grep -c 'POST /v1/auth/approle/login -> 200' "$FAKE_LOG")" -ge 2 ]; ok $? "a fresh AppRole login replaced it"
! grep -q -- "-> 403" "$FAKE_LOG"; ok $? "before any request was refused"
# A token that dies unexpectedly (revoked server-side mid-run): 403 permission denied,
# one AppRole login, the same read retried.
start_fake L --delay-ms 400 "${SEED[@]}"
( sleep 1; curl -s -o /dev/null -X POST -H "X-Vault-Token: $ROOT" "$L/v1/auth/token/revoke-self" ) &
rv=$!
out=$(vt VAULT_ADDR="$L" VAULT_TOKEN="$ROOT" VAULT_ROLE_ID="$ROLE" VAULT_SECRET_ID="$SID" "$TOOL" bench vault://secret/f 8 2>&1); st=$?
wait "$rv"
ok "$st" "token revoked mid-run: all reads succeed ($out)"
grep -q "GET /v1/secret/data/f -> 403" "$FAKE_LOG"; ok $? "a read was refused with 403"
is "$(grep -c 'POST /v1/auth/approle/login -> 200' "$FAKE_LOG")" "1" "exactly one re-login"
is "$(grep -c 'GET /v1/secret/data/f -> 200' "$FAKE_LOG")" "8" "the refused read was retried (8 successful reads)"
# Without AppRole credentials, the same failure is a clear denial.
start_fake L "${SEED[@]}"
curl -s -o /dev/null -X POST -H "X-Vault-Token: $ROOT" "$L/v1/auth/token/revoke-self"
got=$(vt VAULT_ADDR="$L" VAULT_TOKEN="$ROOT" "$TOOL" get vault://secret/f 2>&1)
like "$got" "access denied" "a revoked token without AppRole: denied"
# Renewable 3 s tokens: renewed at 2/3 of the lease instead of expiring.
start_fake L --token-ttl 3 --delay-ms 400 "${SEED[@]}"
out=$(vt VAULT_ADDR="$L" VAULT_ROLE_ID="$ROLE" VAULT_SECRET_ID="$SID" "$TOOL" bench vault://secret/f 10 2>&1); st=$?
ok "$st" "renewable token over 4 s of reads"
grep -q "POST /v1/auth/token/renew-self -> 200" "$FAKE_LOG"; ok $? "renew-self was used"
is "$(grep -c 'POST /v1/auth/approle/login' "$FAKE_LOG")" "1" "no re-login needed when renewal works"
! grep -q -- "-> 403" "$FAKE_LOG"; ok $? "no request was refused"

done_testing
