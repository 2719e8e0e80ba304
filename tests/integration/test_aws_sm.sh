#!/usr/bin/env bash
# AWS Secrets Manager provider against moto_server, an IMDSv2 fake and fault-injecting
# fakes (all on 127.0.0.1), plus the SigV4 interop oracle (@smithy/signature-v4).
# test-store: none (secret_tool and aws_sm_tool talk to the provider only)
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/moto.sh
source "$CB_ROOT/tests/lib/moto.sh"

ST="$BUILD/tools/secret_tool"
AT="$BUILD/tools/aws_sm_tool"
FAKE="$CB_ROOT/tests/fakes/aws_fake.py"
{ [ -x "$ST" ] && [ -x "$AT" ]; } || skip_all "build the tools first (make check-build)"
# never reach a real metadata service; the IMDS test turns it on explicitly
export AWS_EC2_METADATA_DISABLED=true HOME="$TMP"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
moto_start || skip_all "moto_server not available"

sm() { # sm OPERATION JSON: a raw call signed by curl (independent of our signer)
  curl -sS --aws-sigv4 "aws:amz:us-east-1:secretsmanager" --user "AKIDTEST:testsecret" \
    -H 'Content-Type: application/x-amz-json-1.1' -H "X-Amz-Target: secretsmanager.$1" -d "$2" "$MOTO_URL/"
}
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# --- get ------------------------------------------------------------------------------
v1=$(sm CreateSecret '{"Name":"db/prod","SecretString":"{\"username\":\"app\",\"password\":\"p1\"}"}' | jget 'd["VersionId"]')
like "$v1" '^[0-9a-f-]{36}$' "CreateSecret through curl gives a version id"
is "$("$ST" get aws-sm://db/prod)" '{"username":"app","password":"p1"}' "get current value"
is "$("$ST" get 'aws-sm://db/prod#password')" "p1" "get #field"
v2=$(printf '{"username":"app","password":"p2"}' | "$ST" put aws-sm://db/prod)
like "$v2" '^[0-9a-f-]{36}$' "put current returns the new VersionId"
isnt "$v2" "$v1" "put made a new version"
is "$("$ST" get 'aws-sm://db/prod#password')" "p2" "put value is current"
is "$("$ST" get 'aws-sm://db/prod?stage=AWSPREVIOUS#password')" "p1" "get by stage AWSPREVIOUS"
is "$("$ST" get "aws-sm://db/prod?versionId=$v1#password")" "p1" "get by versionId"
out=$(SECRET_TOOL_SHOW_VERSION=1 "$ST" get aws-sm://db/prod 2>&1 >/dev/null)
like "$out" "version=$v2 stages=AWSCURRENT" "get reports VersionId and stages"
tok=$(python3 -c 'import uuid; print(uuid.uuid4())')
sm CreateSecret '{"Name":"bin","SecretBinary":"aGVsbG8gYmluYXJ5"}' >/dev/null
is "$("$ST" get aws-sm://bin)" "hello binary" "SecretBinary is base64-decoded"

# --- put pending + promote --------------------------------------------------------------
vp=$(printf '{"username":"app","password":"p3"}' | "$ST" put aws-sm://db/prod pending "$tok")
is "$vp" "$tok" "put pending uses the given ClientRequestToken as VersionId"
is "$("$ST" get 'aws-sm://db/prod#password')" "p2" "pending put leaves current alone"
is "$("$ST" get 'aws-sm://db/prod?stage=AWSPENDING#password')" "p3" "pending value readable by AWSPENDING"
check "promote pending" "$ST" promote aws-sm://db/prod "$vp"
desc=$("$ST" describe aws-sm://db/prod)
is "$(echo "$desc" | jget "d['versions']['$vp']")" "['AWSCURRENT']" "promoted version holds AWSCURRENT and no AWSPENDING"
is "$(echo "$desc" | jget "d['versions']['$v2']")" "['AWSPREVIOUS']" "old current became AWSPREVIOUS"
is "$(echo "$desc" | jget "sum('AWSPENDING' in s for s in d['versions'].values())")" "0" "AWSPENDING removed everywhere"
is "$("$ST" get 'aws-sm://db/prod#password')" "p3" "promoted value is current"
check "promote of the current version is a no-op" "$ST" promote aws-sm://db/prod "$vp"
expect_exit 1 "promote of an unknown version fails" "$ST" promote aws-sm://db/prod 00000000-0000-0000-0000-000000000000

# --- describe -----------------------------------------------------------------------------
is "$(echo "$desc" | jget 'd["name"], d["provider"]')" "('db/prod', 'aws-sm')" "describe: name and provider"
like "$(echo "$desc" | jget 'd["arn"]')" '^arn:aws:secretsmanager:us-east-1:[0-9]+:secret:db/prod-' "describe: ARN"
unlike "$desc" 'p1|p2|p3|password' "describe never shows a value"

# --- list with pagination -------------------------------------------------------------------
for i in 1 2 3 4 5; do sm CreateSecret "{\"Name\":\"list/s$i\",\"SecretString\":\"x\"}" >/dev/null; done
before=$(grep -c 'POST / ' "$TMP/moto.log")
names=$(CREDBROKER_AWS_SM_PAGE_SIZE=2 "$AT" list | sort | tr '\n' ' ')
after=$(grep -c 'POST / ' "$TMP/moto.log")
is "$names" "bin db/prod list/s1 list/s2 list/s3 list/s4 list/s5 " "list returns every secret across pages"
ok $(( after - before >= 4 ? 0 : 1 )) "list paged with MaxResults=2 ($((after - before)) requests)"

# --- errors ---------------------------------------------------------------------------------
expect_exit 1 "missing secret exits 1" "$ST" get aws-sm://no/such
err=$("$ST" get aws-sm://no/such 2>&1)
like "$err" "GetSecretValue 'no/such': not found \(ResourceNotFoundException" "missing secret: clear not-found message"
expect_exit 2 "malformed reference exits 2" "$ST" get 'aws-sm://'
err=$(printf 'the-secret-value' | "$ST" put aws-sm://no/such 2>&1)
unlike "$err" 'the-secret-value' "a failed put never shows the value"
err=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$ST" get aws-sm://db/prod 2>&1)
like "$err" "no AWS credentials" "no credentials: clear error"

# --- shared credentials file --------------------------------------------------------------
mkdir -p "$TMP/aws"
printf '[ci]\naws_access_key_id = AKIDFROMFILE\naws_secret_access_key = filesecret\n' > "$TMP/aws/creds"
printf '[profile ci]\nregion = us-east-1\n' > "$TMP/aws/config"
is "$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_REGION AWS_PROFILE=ci \
      AWS_SHARED_CREDENTIALS_FILE="$TMP/aws/creds" AWS_CONFIG_FILE="$TMP/aws/config" \
      "$ST" get 'aws-sm://db/prod#password')" "p3" "credentials and region from shared files"

# --- IMDSv2 -------------------------------------------------------------------------------------
IP=$(free_port)
python3 "$FAKE" imds "$IP" "$TMP/imds.log" & ipid=$!
on_exit "kill $ipid"
wait_port "$IP" 10
imds_env=(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_EC2_METADATA_DISABLED=false
          AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$IP")
like "$("${imds_env[@]}" "$AT" creds)" '^imds ASIAFAKEIMDS token [0-9]+$' "IMDSv2 credentials with token and expiration"
is "$("${imds_env[@]}" "$ST" get 'aws-sm://db/prod#password')" "p3" "get with IMDSv2 credentials"
is "$(head -1 "$TMP/imds.log" | jget 'd["method"], d["path"], d["ttl"]')" "('PUT', '/latest/api/token', '21600')" "IMDS: token first, with TTL header"
is "$(grep -c '"GET"' "$TMP/imds.log")" "4" "IMDS: role list and credentials fetched once per process"
is "$(python3 -c 'import json,sys; print(" ".join(sorted({json.loads(l)["token"] or "-" for l in open(sys.argv[1]) if "\"GET\"" in l})))' "$TMP/imds.log")" "FAKE-IMDS-TOKEN-0123456789" "IMDS: every GET carries the session token"
expect_exit 1 "IMDS unreachable: bounded failure" timeout 20 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
  AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$(free_port)" "$ST" get aws-sm://db/prod

# --- faults ---------------------------------------------------------------------------------------
fault() { # fault MODE: starts a fault fake, sets FP
  FP=$(free_port)
  python3 "$FAKE" fault "$1" "$FP" "$TMP/fault-$1.log" & local p=$!
  on_exit "kill $p"
  wait_port "$FP" 10
}
fault 500
t0=$(date +%s)
AWS_MAX_ATTEMPTS=3 AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$FP" timeout 60 "$ST" get aws-sm://f >"$TMP/o" 2>&1; rc=$?
is "$rc" "1" "HTTP 500: fails with exit 1 (no crash, no hang)"
like "$(cat "$TMP/o")" "service unavailable \(InternalServiceError, HTTP 500\)" "HTTP 500: clear unavailable error"
is "$(wc -l < "$TMP/fault-500.log")" "3" "HTTP 500: exactly AWS_MAX_ATTEMPTS attempts"
ok $(( $(date +%s) - t0 < 30 ? 0 : 1 )) "HTTP 500: retries bounded in time"

fault throttle
AWS_MAX_ATTEMPTS=2 AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$FP" timeout 60 "$ST" get aws-sm://f >"$TMP/o" 2>&1; rc=$?
is "$rc" "1" "400 ThrottlingException: retried then fails"
is "$(wc -l < "$TMP/fault-throttle.log")" "2" "400 ThrottlingException is retryable"

fault 429
t0=$(date +%s%N)
out=$(AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$FP" timeout 60 "$ST" get aws-sm://f)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$out" "after-retry" "429 with Retry-After: retried and succeeded"
is "$(wc -l < "$TMP/fault-429.log")" "2" "429: one retry"
ok $(( ms >= 900 ? 0 : 1 )) "429: Retry-After honoured (${ms} ms)"
is "$(jget 'd["target"]' < <(head -1 "$TMP/fault-429.log"))" "secretsmanager.GetSecretValue" "X-Amz-Target sent"
d1=$(sed -n 1p "$TMP/fault-429.log" | jget 'd["date"]'); d2=$(sed -n 2p "$TMP/fault-429.log" | jget 'd["date"]')
isnt "$d1" "$d2" "each attempt re-signed with a fresh X-Amz-Date"
like "$(sed -n 2p "$TMP/fault-429.log" | jget 'd["auth"]')" "^AWS4-HMAC-SHA256 Credential=AKIDTEST/[0-9]{8}/us-east-1/secretsmanager/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=[0-9a-f]{64}$" "retry carries a full SigV4 Authorization"

# --- env:// and file:// through the registry -------------------------------------------------------
is "$(CB_IT_SECRET=s3cr3t "$ST" get env://CB_IT_SECRET)" "s3cr3t" "env:// get"
expect_exit 2 "env:// put refuses" sh -c "printf x | '$ST' put env://CB_IT_SECRET"
printf 'old\n' > "$TMP/f.secret"; chmod 600 "$TMP/f.secret"
check "file:// put" sh -c "printf 'new-file-value' | '$ST' put 'file://$TMP/f.secret'"
is "$("$ST" get "file://$TMP/f.secret")" "new-file-value" "file:// get after put"
is "$(stat -c %a "$TMP/f.secret")" "600" "file:// put leaves mode 0600"
chmod 666 "$TMP/f.secret"
expect_exit 1 "file:// refuses a world-writable file" "$ST" get "file://$TMP/f.secret"

# --- SigV4 interop: @smithy/signature-v4 as the oracle -------------------------------------------
if command -v node >/dev/null 2>&1 && [ -d "$CB_ROOT/tests/interop/node_modules/@smithy/signature-v4" ]; then
  if (cd "$CB_ROOT/tests/interop" && node aws_sigv4_oracle.mjs "$BUILD/tools/sigv4_tool") >"$TMP/oracle" 2>&1; then
    pass "smithy SigV4 oracle agrees on $(grep -c '^ok' "$TMP/oracle") extra requests"
  else
    fail "smithy SigV4 oracle"; diag "$(cat "$TMP/oracle")"
  fi
else
  skip "node or tests/interop/node_modules missing"
fi

done_testing
