#!/usr/bin/env bash
# `make demo`: the main job on the embedded default (a local SQLite store, no cloud
# account): create an encrypted store, add connections, assess, verify, audit.
set -euo pipefail
cd "$(dirname "$0")/.."
CB=${BUILD:-build}/credbroker
DEMO=$(mktemp -d -t credbroker-demo.XXXXXX)
PGDEMO=""
PG_CTL=()
cleanup() {
  if [ -n "$PGDEMO" ]; then "${PG_CTL[@]}" -D "$PGDEMO/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$PGDEMO"; fi
  rm -rf "$DEMO"
}
trap cleanup EXIT
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

# --- password rotation against a throwaway PostgreSQL (when its binaries are installed) ---
bindir=$(pg_config --bindir 2>/dev/null || true)
if [ -n "$bindir" ] && [ -x "$bindir/initdb" ] && command -v psql >/dev/null; then
  export CREDBROKER_MASTER_KEY=$NEWKEY
  ROT=("$CB")
  runas=()
  PGDEMO=$(mktemp -d -t credbroker-demo-pg.XXXXXX); chmod 755 "$PGDEMO"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$PGDEMO"; runas=(runuser -u postgres --); fi
  PG_CTL=("${runas[@]}" "$bindir/pg_ctl")
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  adminpw=$(openssl rand -hex 16); apppw=$(openssl rand -hex 16)
  printf '%s\n' "$adminpw" >"$PGDEMO/pw"; [ "$(id -u)" -eq 0 ] && chown postgres "$PGDEMO/pw"; chmod 600 "$PGDEMO/pw"
  step "initdb + pg_ctl start   # a throwaway PostgreSQL on 127.0.0.1:$port"
  "${runas[@]}" "$bindir/initdb" -D "$PGDEMO/data" -U postgres --pwfile="$PGDEMO/pw" --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --no-sync >/dev/null
  rm -f "$PGDEMO/pw"
  "${PG_CTL[@]}" -D "$PGDEMO/data" -l "$PGDEMO/server.log" -w -o "-c listen_addresses=127.0.0.1 -p $port -k $PGDEMO" start >/dev/null
  printf "CREATE ROLE demo_app LOGIN PASSWORD '%s';\n" "$apppw" | psql -X -q -h "$PGDEMO" -p "$port" -U postgres -d postgres
  echo "(role demo_app created)"
  step "credbroker conn add pg-admin / pg-app   # URLs on stdin"
  printf 'postgresql://postgres:%s@127.0.0.1:%s/postgres?sslmode=disable' "$adminpw" "$port" | "$CB" conn add pg-admin
  printf 'postgresql://demo_app:%s@127.0.0.1:%s/postgres?sslmode=disable' "$apppw" "$port" | "$CB" conn add pg-app
  mkdir -p "$DEMO/policies"
  cat >"$DEMO/policies/app.json" <<'J'
{ "credentials": { "app-db": { "connection": "pg-app", "admin_connection": "pg-admin", "strategy": "single-user",
                               "schedule": "0 3 * * *", "password": { "length": 32 } } } }
J
  step "cat policies/app.json"
  cat "$DEMO/policies/app.json"
  step "credbroker --policies policies rotate app-db"
  "${ROT[@]}" --policies "$DEMO/policies" rotate app-db
  step "psql as demo_app with the OLD password"
  PGPASSWORD=$apppw psql -X -q -h 127.0.0.1 -p "$port" -U demo_app -d postgres -c 'select 1' 2>&1 | sed 's/^/  /' || true
  step "psql as demo_app with the NEW stored password   # taken from the store, never printed"
  newpw=$("$CB" conn url pg-app | python3 -c 'import sys,urllib.parse as u; print(u.unquote(u.urlsplit(sys.stdin.read().strip()).password))')
  PGPASSWORD=$newpw psql -X -q -A -t -h 127.0.0.1 -p "$port" -U demo_app -d postgres -c 'select current_user || $$ logged in with the rotated password$$'
  unset newpw apppw adminpw
  step "credbroker conn show pg-app"
  "$CB" conn show pg-app
  step "credbroker --policies policies schedule list"
  "${ROT[@]}" --policies "$DEMO/policies" schedule list
  step "credbroker audit list   # the rotation, audited without any secret"
  "$CB" audit list | tail -3
  step "pg_ctl stop"
  "${PG_CTL[@]}" -D "$PGDEMO/data" -m fast -w stop >/dev/null && echo "(cluster stopped)"
fi
echo
echo "(done; the demo store in $DEMO is removed on exit)"
