#!/usr/bin/env bash
# Client CPU per getSecret against fake_azure_kv: credbroker (secret_tool bench, one
# provider state, reused connection and token) next to @azure/keyvault-secrets doing the
# same 1,000 gets in one process (process.cpuUsage). Both include the first get's
# challenge and token request. Prints one markdown row.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
N=${BENCH_N:-1000}
FAKE="$BUILD/fakes/fake_azure_kv"; ST="$BUILD/tools/secret_tool"
TMP=$(mktemp -d -t cbbench.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 2 \
  -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
CSEC=$(openssl rand -hex 16)
"$FAKE" --port "$PORT" --cert "$TMP/cert.pem" --key "$TMP/key.pem" --tenant tenant-1 --client-id app-1 \
  --client-secret "$CSEC" 2>/dev/null &
PID=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
export CREDBROKER_CA_BUNDLE="$TMP/cert.pem" NODE_EXTRA_CA_CERTS="$TMP/cert.pem" AZURE_TENANT_ID=tenant-1 \
  AZURE_CLIENT_ID=app-1 AZURE_CLIENT_SECRET="$CSEC" AZURE_AUTHORITY_HOST="https://127.0.0.1:$PORT" \
  CREDBROKER_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION=1
printf 'bench-password-value' | "$ST" put "azure-kv://127.0.0.1:$PORT/bench" >/dev/null || { echo "| Azure KV getSecret x$N | failed | | |"; exit 1; }
ours=$("$ST" bench "azure-kv://127.0.0.1:$PORT/bench" "$N") || { echo "| Azure KV getSecret x$N | failed | | |"; exit 1; }
peer=$(cd tests/interop && node azure_kv_sdk.mjs bench "$PORT" tenant-1 app-1 bench "$N" 2>/dev/null) || peer=
if [ -n "$peer" ]; then
  ratio=$(python3 -c "print(f'{$ours/$peer:.2f}')")
  echo "| Azure KV getSecret x$N, client CPU/request | $ours us | $peer us (@azure/keyvault-secrets) | $ratio |"
else
  echo "| Azure KV getSecret x$N, client CPU/request | $ours us | n/a (@azure/keyvault-secrets unavailable) | |"
fi
