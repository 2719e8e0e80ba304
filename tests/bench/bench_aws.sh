#!/usr/bin/env bash
# 1,000 GetSecretValue against one moto_server: client CPU per request for credbroker's
# provider (build/tools/secret_tool bench) and for boto3 in the same run.
# Prints one markdown row.
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/moto.sh
source "$CB_ROOT/tests/lib/moto.sh"
N=${BENCH_N:-1000}
export AWS_EC2_METADATA_DISABLED=true
row_fail() { echo "| AWS SM GetSecretValue x$N, client CPU/request | $1 | | |"; exit 0; }
moto_start || row_fail "moto_server not available"
curl -sS --aws-sigv4 "aws:amz:us-east-1:secretsmanager" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  -H 'Content-Type: application/x-amz-json-1.1' -H 'X-Amz-Target: secretsmanager.CreateSecret' \
  -d '{"Name":"bench/secret","SecretString":"{\"password\":\"bench-value\"}"}' "$MOTO_URL/" >/dev/null \
  || row_fail "CreateSecret failed"
ours=$("$BUILD/tools/secret_tool" bench aws-sm://bench/secret "$N") || row_fail "secret_tool bench failed"
peer=$(python3 - "$N" <<'PY'
import os, sys, time
import boto3
n = int(sys.argv[1])
c = boto3.client("secretsmanager", region_name=os.environ["AWS_REGION"],
                 endpoint_url=os.environ["AWS_ENDPOINT_URL_SECRETS_MANAGER"])
c.get_secret_value(SecretId="bench/secret")  # client set-up and first connection outside the timing, as for ours
t0 = time.process_time()
for _ in range(n):
    c.get_secret_value(SecretId="bench/secret")
print(f"{(time.process_time() - t0) * 1e6 / n:.1f}")
PY
) || row_fail "boto3 failed"
ratio=$(python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$ours" "$peer")
echo "| AWS SM GetSecretValue x$N, client CPU/request | $ours us | $peer us (boto3) | $ratio |"
