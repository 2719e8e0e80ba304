#!/usr/bin/env bash
# Rotation with publish_to against moto_server (AWSPENDING, then AWSCURRENT with
# AWSPREVIOUS kept) and the Vault fake (new KV version with CAS, then the current
# marker), and the provider going down between create and finish (through a TCP proxy
# that is stopped and restarted): one clear error, the stored credential still logs in,
# the journal kept, and rotate --resume finishes once the provider is back.
# shellcheck source=tests/lib/common.sh disable=SC1091
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/pg.sh disable=SC1091
source "$CB_ROOT/tests/lib/pg.sh"
# shellcheck source=tests/lib/moto.sh disable=SC1091
source "$CB_ROOT/tests/lib/moto.sh"
# shellcheck source=tests/integration/rotation_lib.sh disable=SC1091
source "$CB_ROOT/tests/integration/rotation_lib.sh"
ST="$BUILD/tools/secret_tool"
FV="$BUILD/fakes/fake_vault"
for b in "$RC" "$DBT" "$CB" "$ST" "$FV"; do [ -x "$b" ] || skip_all "build the tools and fakes first"; done
command -v pg_config >/dev/null || skip_all "PostgreSQL not installed"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
pg_start || skip_all "cannot start PostgreSQL"
new_store store
export CREDBROKER_HTTP_BACKOFF_MS=20
P1=$(openssl rand -hex 10); P2=$(openssl rand -hex 10); P3=$(openssl rand -hex 10)
pg_sql "CREATE ROLE app LOGIN PASSWORD '$P1'; CREATE ROLE vapp LOGIN PASSWORD '$P2'; CREATE ROLE papp LOGIN PASSWORD '$P3';" >/dev/null
conn_add pgadmin "$PG_ADMIN_URL"
conn_add app "$(pg_url app "$P1")"
conn_add vapp "$(pg_url vapp "$P2")"
conn_add papp "$(pg_url papp "$P3")"
POL="$TMP/pol"; mkdir -p "$POL"
jget() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

# --- AWS Secrets Manager (moto) ------------------------------------------------------
if moto_start; then
  curl -sS --aws-sigv4 "aws:amz:us-east-1:secretsmanager" --user "AKIDTEST:testsecret" \
    -H 'Content-Type: application/x-amz-json-1.1' -H "X-Amz-Target: secretsmanager.CreateSecret" \
    -d '{"Name":"prod/app-db","SecretString":"{\"username\":\"app\",\"password\":\"initial\"}"}' "$MOTO_URL/" >"$TMP/create.json"
  V0=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["VersionId"])' "$TMP/create.json")
  printf '{ "credentials": { "app-db": { "connection": "app", "admin_connection": "pgadmin", "publish_to": "aws-sm://prod/app-db" } } }\n' >"$POL/p.json"
  CREDBROKER_TEST_PAUSE_AT=after-create CREDBROKER_TEST_PAUSE_S=2 "$RC" --policies "$POL" --json rotate app-db >"$TMP/r.out" 2>"$TMP/r.err" &
  pid=$!
  for _ in $(seq 100); do grep -q "test pause at after-create" "$TMP/r.err" && break; sleep 0.05; done
  pend=$("$ST" get 'aws-sm://prod/app-db?stage=AWSPENDING' 2>>"$ALL")
  cur=$("$ST" get 'aws-sm://prod/app-db' 2>>"$ALL")
  is "$(jget "$cur" 'd["password"]')" initial "during the rotation AWSCURRENT is still the old value"
  is "$(jget "$pend" 'd["username"], d["engine"], d["port"]')" "('app', 'postgres', $PGPORT)" "AWSPENDING holds the new credential (AWS database secret shape)"
  wait "$pid"; rc=$?
  cat "$TMP/r.out" "$TMP/r.err" >>"$ALL"
  is "$rc" 0 "rotation with publish_to aws-sm exits 0"
  check "the stored URL logs in" stored_ok app
  NEWP=$(url_part "$(stored_url app)" password)
  cur=$("$ST" get 'aws-sm://prod/app-db' 2>>"$ALL")
  is "$(jget "$cur" 'd["password"]' 2>/dev/null)" "$NEWP" "AWSCURRENT now holds the new password"
  check "the published url field logs in" login_ok "$(jget "$cur" 'd["url"]')"
  is "$("$ST" get 'aws-sm://prod/app-db?stage=AWSPREVIOUS#password' 2>>"$ALL")" initial "AWSPREVIOUS keeps the previous value"
  is "$("$ST" get "aws-sm://prod/app-db?versionId=$V0#password" 2>>"$ALL")" initial "... the original version ($V0)"
  RID=$(jget "$(cat "$TMP/r.out")" 'd["rotations"][0]["id"]')
  is "$(jget "$(cat "$TMP/r.out")" 'd["rotations"][0]["published_version"]')" "$RID" "the ClientRequestToken (rotation id) is the new VersionId"
  d=$("$ST" describe aws-sm://prod/app-db 2>>"$ALL"); printf '%s\n' "$d" >>"$ALL"
  unlike "$d" AWSPENDING "no version keeps AWSPENDING after finish"
else
  skip "moto_server not available"
fi

# --- Azure Key Vault (fake, TLS) -------------------------------------------------------
AZ="$BUILD/fakes/fake_azure_kv"
if [ -x "$AZ" ]; then
  mkdir -p "$TMP/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/tls/key.pem" -out "$TMP/tls/cert.pem" -days 2 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1
  CSEC=$(openssl rand -hex 16)
  AP=$(free_port)
  "$AZ" --port "$AP" --cert "$TMP/tls/cert.pem" --key "$TMP/tls/key.pem" --tenant tenant-1 --client-id app-1 \
    --client-secret "$CSEC" 2>"$TMP/azure.log" &
  on_exit "kill $!"
  wait_port "$AP" 10
  export CREDBROKER_CA_BUNDLE="$TMP/tls/cert.pem" AZURE_TENANT_ID=tenant-1 AZURE_CLIENT_ID=app-1 AZURE_CLIENT_SECRET="$CSEC" \
         AZURE_AUTHORITY_HOST="https://127.0.0.1:$AP" CREDBROKER_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION=1
  KV="azure-kv://127.0.0.1:$AP/kapp-db"
  K0=$(printf '{"username":"kapp","password":"initial"}' | "$ST" put "$KV" 2>>"$ALL")
  P4=$(openssl rand -hex 10)
  pg_sql "CREATE ROLE kapp LOGIN PASSWORD '$P4'" >/dev/null
  conn_add kapp "$(pg_url kapp "$P4")"
  printf '{ "credentials": { "kapp-db": { "connection": "kapp", "admin_connection": "pgadmin", "publish_to": "%s" } } }\n' "$KV" >"$POL/p.json"
  out=$(rot --json rotate kapp-db); is "$?" 0 "rotation with publish_to azure-kv exits 0"
  KV1=$(jget "$out" 'd["rotations"][0]["published_version"]')
  check "azure: the stored URL logs in" stored_ok kapp
  is "$("$ST" get "$KV#password" 2>>"$ALL")" "$(url_part "$(stored_url kapp)" password)" "Key Vault's latest version holds the new password"
  d=$("$ST" describe "$KV" 2>>"$ALL"); printf '%s\n' "$d" >>"$ALL"
  is "$(jget "$d" 'd.get("current")')" "$KV1" "the new version is tagged current"
  is "$(jget "$d" 'd.get("pending")')" None "no version stays tagged pending"
  is "$("$ST" get "$KV/$K0#password" 2>>"$ALL")" initial "the previous version is kept"
  unset CREDBROKER_CA_BUNDLE AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_AUTHORITY_HOST
else
  skip "fake_azure_kv not built"
fi

# --- HashiCorp Vault (fake), directly and through a proxy that goes down --------------
ROOT=root-$(openssl rand -hex 8)
VPORT=$(free_port)
"$FV" --port "$VPORT" --root-token "$ROOT" 2>"$TMP/vault.log" &
on_exit "kill $!"
wait_port "$VPORT" 10 || { fail "fake_vault starts"; done_testing; exit 1; }
export VAULT_TOKEN=$ROOT VAULT_ADDR="http://127.0.0.1:$VPORT"
printf '{"username":"vapp","password":"initial"}' | "$ST" put vault://secret/app/vapp >>"$ALL" 2>&1
printf '{"username":"papp","password":"initial"}' | "$ST" put vault://secret/app/papp >>"$ALL" 2>&1
printf '{ "credentials": { "vapp-db": { "connection": "vapp", "admin_connection": "pgadmin", "publish_to": "vault://secret/app/vapp" },
  "papp-db": { "connection": "papp", "admin_connection": "pgadmin", "publish_to": "vault://secret/app/papp" } } }\n' >"$POL/p.json"
out=$(rot --json rotate vapp-db); is "$?" 0 "rotation with publish_to vault exits 0"
is "$(jget "$out" 'd["rotations"][0]["published_version"]')" 2 "the pending value was written as KV version 2 (CAS on version 1)"
check "vault: the stored URL logs in" stored_ok vapp
is "$("$ST" get 'vault://secret/app/vapp#password' 2>>"$ALL")" "$(url_part "$(stored_url vapp)" password)" "Vault's latest version holds the new password"
is "$("$ST" get 'vault://secret/app/vapp?version=1#password' 2>>"$ALL")" initial "version 1 (previous) is kept"
d=$("$ST" describe vault://secret/app/vapp 2>>"$ALL"); printf '%s\n' "$d" >>"$ALL"
like "$d" '"credbroker_current_version":"2"' "the current marker points at version 2"
unlike "$d" 'credbroker_pending_version' "no pending marker is left"

# proxy PORT TARGET: a TCP forwarder we can stop and restart (the provider "goes down").
proxy() {
  python3 - "$1" "$2" <<'PY' &
import socket, sys, threading
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1]))); ls.listen(64)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError: pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
while True:
    c, _ = ls.accept()
    try: u = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
    except OSError: c.close(); continue
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
PY
  PROXY_PID=$!
  wait_port "$1" 10
}
PPORT=$(free_port)
proxy "$PPORT" "$VPORT"
# shellcheck disable=SC2016
on_exit 'kill "$PROXY_PID"'
A0=$("$CB" audit list --limit 0 --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
VAULT_ADDR="http://127.0.0.1:$PPORT" CREDBROKER_TEST_PAUSE_AT=after-test CREDBROKER_TEST_PAUSE_S=2 \
  "$RC" --policies "$POL" rotate papp-db >"$TMP/d.out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "test pause at after-test" "$TMP/d.out" && break; sleep 0.05; done
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null
wait "$pid"; rc=$?
out=$(cat "$TMP/d.out"); printf '%s\n' "$out" >>"$ALL"
is "$rc" 1 "provider down between create and finish: exit 1"
like "$out" "rotation of papp-db stopped at finish: .*promoting version 2 in vault://secret/app/papp failed" "... one clear line naming the step"
is "$(printf '%s\n' "$out" | grep -v 'test pause' | grep -c '^credbroker: ')" 1 "... exactly one error line"
is "$(journal_rows)" 1 "the journal keeps the unfinished rotation"
check "the stored URL (already updated) logs in" stored_ok papp
A1=$("$CB" audit list --limit 0 --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
AUD=$("$CB" audit list --limit 0 --json 2>&1); printf '%s\n' "$AUD" >>"$ALL"
like "$AUD" '"target":"papp-db","outcome":"error"' "the failure is audited"
proxy "$PPORT" "$VPORT"
out=$(VAULT_ADDR="http://127.0.0.1:$PPORT" rot tick); is "$?" 0 "provider back: scheduler_tick right after the failure exits 0"
like "$out" '"report":\[\]' "... and leaves the failed rotation alone (retry pause)"
is "$(journal_rows)" 1 "... the journal still holds it"
later=$(python3 -c 'import datetime as d; print((d.datetime.now(d.timezone.utc)+d.timedelta(seconds=400)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
out=$(VAULT_ADDR="http://127.0.0.1:$PPORT" CREDBROKER_NOW=$later rot tick); is "$?" 0 "scheduler_tick after the retry pause exits 0"
like "$out" '"credential":"papp-db".*"from_step":"finish".*"outcome":"ok"' "... and finishes the rotation from step finish"
is "$(journal_rows)" 0 "the journal is empty"
check "the stored URL logs in" stored_ok papp
is "$("$ST" get 'vault://secret/app/papp#password' 2>>"$ALL")" "$(url_part "$(stored_url papp)" password)" "Vault holds the same new password"
d=$("$ST" describe vault://secret/app/papp 2>>"$ALL"); printf '%s\n' "$d" >>"$ALL"
like "$d" '"credbroker_current_version":"2"' "version 2 was promoted"
ok "$([ $((A1 - A0)) -ge 1 ]; echo $?)" "audit entries were written for the failure"

hit=0; grep -aqF -f "$PWLIST" "$ALL" "$TMP/vault.log" "$TMP/azure.log" && hit=1
is "$hit" 0 "no generated password in any output or the Vault log"
is "$(grep -cE 'Sanitizer|runtime error' "$ALL")" 0 "no sanitizer report in any broker output"
done_testing
