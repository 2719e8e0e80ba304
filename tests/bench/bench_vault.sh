#!/usr/bin/env bash
# Vault KV v2 read x1000 against fake_vault, in one run: our client
# (build/tools/secret_tool bench: getrusage CPU per get, one provider state) next to
# node-vault 0.12.0 (process.cpuUsage per read). Client CPU only; the fake is shared.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
N=1000
FAKE="$BUILD/fakes/fake_vault"
TOOL="$BUILD/tools/secret_tool"
if [ ! -x "$FAKE" ] || [ ! -x "$TOOL" ]; then echo "bench_vault: build first" >&2; exit 1; fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
tok=bench-$(openssl rand -hex 8)
"$FAKE" --port "$port" --root-token "$tok" --seed secret/bench '{"username":"app","password":"bench-pw"}' 2>/dev/null &
fp=$!
trap 'kill $fp 2>/dev/null' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
export VAULT_ADDR="http://127.0.0.1:$port" VAULT_TOKEN="$tok"
ours=$("$TOOL" bench vault://secret/bench "$N") || { echo "bench_vault: secret_tool failed" >&2; exit 1; }
peer=$(node tests/interop/vault_node.mjs bench secret/data/bench "$N") || { echo "bench_vault: node-vault failed" >&2; exit 1; }
ratio=$(python3 -c "print(f'{$ours/$peer:.2f}')")
echo "| Vault KV v2 read x$N, client CPU/request | $ours us | $peer us (node-vault) | $ratio |"
