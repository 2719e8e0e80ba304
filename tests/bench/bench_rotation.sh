#!/usr/bin/env bash
# Rotation benchmark: N end-to-end rotations (process start, store, policy, lock, journal,
# create/set/test/finish, audit) of a single-user credential against a local PostgreSQL,
# next to the floor a shell script gets: psql ALTER ROLE (plaintext password over the
# wire) plus one psql login with the new password, per rotation.
# shellcheck source=tests/lib/common.sh disable=SC1091
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/pg.sh disable=SC1091
source "$CB_ROOT/tests/lib/pg.sh"
N=${BENCH_ROTATIONS:-50}
RCB="$BUILD/tools/rotate_cli"
if [ ! -x "$RCB" ] || [ ! -x "$CB" ]; then echo "| rotations end to end (PostgreSQL, single-user) | not built | - | - |"; exit 0; fi
pg_start >/dev/null 2>&1 || { echo "| rotations end to end (PostgreSQL, single-user) | no PostgreSQL | - | - |"; exit 0; }
new_store store >/dev/null
P=$(openssl rand -hex 12)
pg_sql "CREATE ROLE app LOGIN PASSWORD '$P'; CREATE ROLE peer LOGIN PASSWORD '$P';" >/dev/null
printf '%s' "$PG_ADMIN_URL" | "$CB" conn add pgadmin >/dev/null
printf 'postgresql://app:%s@127.0.0.1:%s/postgres?sslmode=disable' "$P" "$PGPORT" | "$CB" conn add app >/dev/null
mkdir -p "$TMP/pol"
printf '{ "credentials": { "app-db": { "connection": "app", "admin_connection": "pgadmin" } } }\n' >"$TMP/pol/p.json"
t0=$(date +%s%N)
for ((i = 0; i < N; i++)); do "$RCB" --policies "$TMP/pol" -q rotate app-db >/dev/null || { echo "rotation $i failed" >&2; exit 1; }; done
t1=$(date +%s%N)
for ((i = 0; i < N; i++)); do
  np=$(openssl rand -hex 16)
  printf "ALTER ROLE peer PASSWORD '%s';\n" "$np" | PGPASSWORD=$PG_ADMIN_PW psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres >/dev/null
  PGPASSWORD=$np psql -X -q -h 127.0.0.1 -p "$PGPORT" -U peer -d postgres -c 'SELECT 1' >/dev/null
done
t2=$(date +%s%N)
ours=$(python3 -c "print(f'{$N / (($t1 - $t0) / 1e9):.1f}')")
peer=$(python3 -c "print(f'{$N / (($t2 - $t1) / 1e9):.1f}')")
ratio=$(python3 -c "print(f'{($t2 - $t1) / ($t1 - $t0):.2f}x')")
echo "| rotations end to end (PostgreSQL, single-user, $N runs) | $ours/s | $peer/s (psql ALTER ROLE + login) | $ratio |"
