#!/usr/bin/env bash
# `make demo`: the main job on the embedded default (a local SQLite store, no cloud
# account): create an encrypted store, add connections, assess, verify, audit.
set -euo pipefail
cd "$(dirname "$0")/.."
CB=${BUILD:-build}/credbroker
DEMO=$(mktemp -d -t credbroker-demo.XXXXXX)
trap 'rm -rf "$DEMO"' EXIT
export CREDBROKER_DB="$DEMO/credbroker.db"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step "credbroker key generate   # a 256-bit master key (kept in this shell only)"
CREDBROKER_MASTER_KEY=$("$CB" key generate); export CREDBROKER_MASTER_KEY
echo "(key generated; it is not printed)"
step "credbroker init"
"$CB" init
step "echo 'postgresql://app:…@db.internal:5432/app?sslmode=verify-full' | credbroker conn add app"
printf 'postgresql://app:%s@db.internal:5432/app?sslmode=verify-full&connect_timeout=10' "$(openssl rand -hex 16)" | "$CB" conn add app --description "application database"
step "echo 'Server=tcp:sql.corp,1433;…;TrustServerCertificate=true' | credbroker conn add erp"
printf 'Server=tcp:sql.corp,1433;Database=erp;User Id=erp;Password=Winter2024;TrustServerCertificate=true' | "$CB" conn add erp
step "credbroker conn list"
"$CB" conn list
step "credbroker conn show app    # passwords are always redacted"
"$CB" conn show app
step "sqlite3 credbroker.db 'select name, hex(substr(url_enc,1,24)) from connections'   # what is on disk"
sqlite3 "$CREDBROKER_DB" "select name, hex(substr(url_enc,1,24)) || '…' from connections"
step "credbroker assess"
"$CB" assess || echo "(exit $? : findings)"
step "credbroker verify"
"$CB" verify
step "CREDBROKER_NEW_MASTER_KEY=… credbroker key rotate --reencrypt"
NEWKEY=$("$CB" key generate)
CREDBROKER_NEW_MASTER_KEY=$NEWKEY "$CB" key rotate --reencrypt
step "credbroker conn list   # with the old key"
"$CB" conn list || echo "(exit $?: the old key no longer opens the store)"
step "credbroker audit list   # with the new key: who did what, never a secret"
CREDBROKER_MASTER_KEY=$NEWKEY "$CB" audit list
step "credbroker audit verify"
CREDBROKER_MASTER_KEY=$NEWKEY "$CB" audit verify
echo
echo "(done; the demo store in $DEMO is removed on exit)"
