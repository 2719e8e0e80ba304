#!/usr/bin/env bash
# Provider-backed connections through the broker CLI: conn add --from-ref, sync with TTL,
# a provider outage served stale with a warning until max staleness then failing closed,
# bad provider values changing nothing, get REF (audited), cache list (never values), and
# the master key from a provider reference (aws-sm via moto, vault via the fake, file://).
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/moto.sh
. "$CB_ROOT/tests/lib/moto.sh"
export AWS_EC2_METADATA_DISABLED=true HOME="$TMP" CREDBROKER_HTTP_MAX_ATTEMPTS=2 CREDBROKER_HTTP_TIMEOUT_MS=2000
moto_start || skip_all "moto_server not available"
MOTO_PID=$(pgrep -f "moto_server -H 127.0.0.1 -p $MOTO_PORT" | head -1)
LOG="$TMP/out.log"
PW='SrcPw-7d1c-unlikely'
sm() {
  curl -sS --aws-sigv4 "aws:amz:us-east-1:secretsmanager" --user "AKIDTEST:testsecret" \
    -H 'Content-Type: application/x-amz-json-1.1' -H "X-Amz-Target: secretsmanager.$1" -d "$2" "$MOTO_URL/"
}
T0=2030-01-01T00:00:00Z
at() { CREDBROKER_NOW=$1 "${@:2}"; }
new_store >/dev/null

sm CreateSecret "{\"Name\":\"prod/app\",\"SecretString\":\"{\\\"url\\\":\\\"postgresql://app:$PW@db.internal:5432/app?sslmode=verify-full\\\"}\"}" >/dev/null
sm CreateSecret '{"Name":"prod/bad","SecretString":"this is not a connection string"}' >/dev/null
cat > "$TMP/credbroker.json" <<JSON
{ "sources": {
    "app": { "ref": "aws-sm://prod/app#url", "ttl_s": 60, "max_staleness_s": 3600, "engine": "postgres" },
    "bad": { "ref": "aws-sm://prod/bad", "ttl_s": 60, "max_staleness_s": 3600 }
} }
JSON
export CREDBROKER_CONFIG="$TMP/credbroker.json"

at $T0 "$CB" sync >"$TMP/o" 2>&1; rc=$?; cat "$TMP/o" >> "$LOG"
is "$rc" 1 "sync exits 1 when a source has no usable value"
like "$(cat "$TMP/o")" "app +ok" "sync fetched the good source"
like "$(cat "$TMP/o")" "bad +error .*not a valid connection string" "a value that is not a connection string is refused"
expect_exit 1 "nothing stored for the bad source" "$CB" conn show bad
cat > "$TMP/credbroker.json" <<JSON
{ "sources": { "app": { "ref": "aws-sm://prod/app#url", "ttl_s": 60, "max_staleness_s": 3600, "engine": "postgres" } } }
JSON
like "$(at $T0 "$CB" conn show app 2>&1)" 'postgresql://app:\*\*\*\*@db.internal' "the synced connection is stored (redacted on show)"
like "$(at $T0 "$CB" cache list 2>&1)" "app +fresh .*aws-sm://prod/app#url" "cache list: fresh, with its reference"
unlike "$(at $T0 "$CB" --json cache list 2>&1)" "$PW" "cache list never shows the value"
at 2030-01-01T00:00:30Z "$CB" sync >"$TMP/o" 2>&1
like "$(cat "$TMP/o")" "app +fresh" "within ttl_s a second sync does not refetch"

# the provider changes the value: after the TTL the broker picks it up
sm PutSecretValue "{\"SecretId\":\"prod/app\",\"SecretString\":\"{\\\"url\\\":\\\"postgresql://app:$PW-2@db.internal:5432/app?sslmode=verify-full\\\"}\"}" >/dev/null
like "$(at 2030-01-01T00:00:30Z "$CB" conn url app 2>/dev/null)" "$PW@" "within the TTL the cached URL is served"
like "$(at 2030-01-01T00:02:00Z "$CB" conn url app 2>/dev/null)" "$PW-2@" "after the TTL the new value is fetched"

# outage: stale within max staleness (with a warning), then fail closed
kill "$MOTO_PID"; sleep 0.3
at 2030-01-01T00:30:00Z "$CB" conn url app >"$TMP/o" 2>"$TMP/e"; rc=$?
is "$rc" 0 "provider down, cache within max staleness: still served"
like "$(cat "$TMP/e")" "serving the cached value" "a warning says the value is stale"
at 2030-01-01T00:30:00Z "$CB" sync >"$TMP/o" 2>&1; rc=$?
is "$rc" 0 "sync during an outage within max staleness exits 0"
like "$(cat "$TMP/o")" "app +stale" "sync reports the source as stale"
at 2030-01-01T02:00:00Z "$CB" conn url app >"$TMP/o" 2>&1; rc=$?
is "$rc" 1 "beyond max staleness the connection fails closed"
like "$(cat "$TMP/o")" "beyond max staleness" "the refusal says why"
unlike "$(cat "$TMP/o")" "$PW" "the refusal does not print the cached URL"
at 2030-01-01T02:00:00Z "$CB" sync >"$TMP/o" 2>&1; is "$?" 1 "sync beyond max staleness exits 1"
moto_start || { fail "moto restart"; done_testing; exit 1; }
MOTO_PID=$(pgrep -f "moto_server -H 127.0.0.1 -p $MOTO_PORT" | head -1)

# conn add --from-ref and get REF (a fresh moto has no secrets yet)
sm CreateSecret "{\"Name\":\"prod/rep\",\"SecretString\":\"host=10.1.1.1 user=rep password='$PW-r' dbname=rep sslmode=require\"}" >/dev/null
"$CB" conn add rep --from-ref aws-sm://prod/rep >"$TMP/o" 2>&1; ok $? "conn add --from-ref fetches and stores the URL"
cat "$TMP/o" >> "$LOG"
like "$("$CB" conn show rep)" "source: +aws-sm://prod/rep" "the connection remembers its reference"
expect_exit 2 "a malformed reference exits 2" "$CB" conn add x --from-ref 'aws-sm://'
expect_exit 2 "an unknown scheme exits 2" "$CB" get 'gcp://x/y'
expect_exit 1 "a missing secret exits 1" "$CB" get aws-sm://does/not/exist
is "$("$CB" get aws-sm://prod/rep)" "host=10.1.1.1 user=rep password='$PW-r' dbname=rep sslmode=require" "get REF prints the secret"
like "$("$CB" audit list --limit 50)" "secret.get +aws-sm://prod/rep +ok" "get REF is audited (reference, not value)"
like "$("$CB" audit list --limit 50)" "source.sync +app" "sync is audited"

# master key from a provider reference: moto, vault fake, file
KEY=$(openssl rand -hex 32)
sm CreateSecret "{\"Name\":\"broker/master\",\"SecretString\":\"{\\\"master_key\\\":\\\"$KEY\\\"}\"}" >/dev/null
( unset CREDBROKER_MASTER_KEY; export CREDBROKER_MASTER_KEY_REF='aws-sm://broker/master#master_key'
  "$CB" --db "$TMP/ref.db" init -q && printf 'postgresql://u:%s-k@h/d' "$PW" | "$CB" --db "$TMP/ref.db" conn add k -q ) >>"$LOG" 2>&1
ok $? "init and conn add with CREDBROKER_MASTER_KEY_REF (aws-sm)"
expect_exit 0 "the same key given directly opens that store" env CREDBROKER_MASTER_KEY="$KEY" "$CB" --db "$TMP/ref.db" verify
expect_exit 4 "an unreachable key reference exits 4" env -u CREDBROKER_MASTER_KEY CREDBROKER_MASTER_KEY_REF='aws-sm://broker/nope#master_key' "$CB" --db "$TMP/ref.db" conn list
expect_exit 2 "a malformed key reference exits 2" env -u CREDBROKER_MASTER_KEY CREDBROKER_MASTER_KEY_REF='aws-sm:/x' "$CB" --db "$TMP/ref.db" conn list
printf '%s\n' "$KEY" > "$TMP/master.key"; chmod 600 "$TMP/master.key"
expect_exit 0 "CREDBROKER_MASTER_KEY_REF=file:// works" env -u CREDBROKER_MASTER_KEY CREDBROKER_MASTER_KEY_REF="file://$TMP/master.key" "$CB" --db "$TMP/ref.db" verify
FV="$BUILD/fakes/fake_vault"
if [ -x "$FV" ]; then
  vport=$(free_port); ROOT=root-$(openssl rand -hex 8)
  "$FV" --port "$vport" --root-token "$ROOT" 2>"$TMP/fv.log" & on_exit "kill $!"
  wait_port "$vport" 10
  printf '{"master_key":"%s"}' "$KEY" | VAULT_ADDR="http://127.0.0.1:$vport" VAULT_TOKEN=$ROOT "$BUILD/tools/secret_tool" put vault://secret/broker >/dev/null
  expect_exit 0 "CREDBROKER_MASTER_KEY_REF=vault://secret/broker#master_key works" env -u CREDBROKER_MASTER_KEY \
    VAULT_ADDR="http://127.0.0.1:$vport" VAULT_TOKEN="$ROOT" CREDBROKER_MASTER_KEY_REF='vault://secret/broker#master_key' "$CB" --db "$TMP/ref.db" verify
fi

# leak check over everything printed and the store files
for w in "$PW@" "$PW-2" "$PW-r" "$KEY"; do
  is "$(cat "$LOG" | grep -c -F -- "$w" || true)" 0 "no '$w' in command output"
  if pg_store; then
    is "$({ store_dump; store_dump "$TMP/ref.db"; } | grep -a -c -F -- "$w" || true)" 0 "no '$w' in the stores (schemas, their files, the store server's log)"
  else
    is "$(cat "$CREDBROKER_DB"* "$TMP"/ref.db* | grep -a -c -F -- "$w" || true)" 0 "no '$w' in the store files"
  fi
done
done_testing
