#!/usr/bin/env bash
# Crash safety against a real PostgreSQL: the broker is killed with SIGKILL at every step
# boundary (CREDBROKER_TEST_PAUSE_AT, a test-only hook) and at 50+ random instants; after
# each kill `rotate --resume` must finish the rotation and the stored credential must log
# in. Both the admin path and the self-rotation path (where the login's own password is
# what changes) are exercised.
# shellcheck source=tests/lib/common.sh disable=SC1091
source "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/pg.sh disable=SC1091
source "$CB_ROOT/tests/lib/pg.sh"
# shellcheck source=tests/integration/rotation_lib.sh disable=SC1091
source "$CB_ROOT/tests/integration/rotation_lib.sh"
for b in "$RC" "$DBT" "$CB"; do [ -x "$b" ] || skip_all "build rotate_cli, db_tool and credbroker first"; done
command -v pg_config >/dev/null || skip_all "PostgreSQL not installed"
command -v sqlite3 >/dev/null || skip_all "sqlite3 not installed"
pg_start || skip_all "cannot start PostgreSQL"
new_store store
P1=$(openssl rand -hex 10); P2=$(openssl rand -hex 10)
pg_sql "CREATE ROLE app LOGIN PASSWORD '$P1'; CREATE ROLE selfie LOGIN PASSWORD '$P2';" >/dev/null
conn_add pgadmin "$PG_ADMIN_URL"
conn_add app "$(pg_url app "$P1")"
conn_add selfie "$(pg_url selfie "$P2")"
POL="$TMP/pol"; mkdir -p "$POL"
printf '{ "credentials": { "app-db": { "connection": "app", "admin_connection": "pgadmin" },
  "self-db": { "connection": "selfie" } } }\n' >"$POL/p.json"
conn_of() { case $1 in app-db) printf app;; self-db) printf selfie;; esac; }

# resume: rotate --resume, retried while the killed session's lock is still being released.
resume() {
  local i out rc
  for i in 1 2 3 4 5 6 7 8 9 10; do
    out=$("$RC" --policies "$POL" rotate --resume 2>&1); rc=$?
    printf '%s\n' "$out" >>"$ALL"
    [ "$rc" -ne 5 ] && break
    sleep 0.2
  done
  return "$rc"
}

POINTS="before-create after-create before-set after-set before-test after-test before-finish after-finish"
for cred in app-db self-db; do
  c=$(conn_of "$cred")
  for point in $POINTS; do
    CREDBROKER_TEST_PAUSE_AT=$point CREDBROKER_TEST_PAUSE_S=30 "$RC" --policies "$POL" rotate "$cred" >"$TMP/p.out" 2>&1 &
    pid=$!
    seen=1
    for _ in $(seq 200); do grep -q "test pause at $point" "$TMP/p.out" && { seen=0; break; }; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    cat "$TMP/p.out" >>"$ALL"
    ok "$seen" "$cred: reached $point and was killed (SIGKILL)"
    jr=$(journal_rows)
    case $point in
      before-create) is "$jr" 0 "$cred/$point: nothing journaled yet";;
      after-finish) is "$jr" 0 "$cred/$point: the journal was already cleared";;
      *) is "$jr" 1 "$cred/$point: the journal holds the interrupted rotation";;
    esac
    case $point in
      before-create|after-create|before-set)
        check "$cred/$point: the stored URL still logs in before any resume" stored_ok "$c";;
    esac
    resume; ok $? "$cred/$point: rotate --resume exits 0"
    is "$(journal_rows)" 0 "$cred/$point: the journal is empty after resume"
    check "$cred/$point: the stored credential logs in" stored_ok "$c"
  done
done

# Random instants: measure one rotation, then kill at a uniformly random time within it.
t0=$(date +%s%N); "$RC" --policies "$POL" rotate app-db >>"$ALL" 2>&1; t1=$(date +%s%N)
span=$(( (t1 - t0) / 1000000 + 20 ))
RUNS=${ROTATION_CRASH_RUNS:-60}
# At least RUNS kills; past RUNS, keep going (up to 3x) until 10 of them landed
# mid-rotation, since on a loaded machine many land before the journal is written.
good=0; interrupted=0; bad=0; i=0
for ((i = 0; i < RUNS || (interrupted < 10 && i < 3 * RUNS); i++)); do
  if ((i % 2)); then cred=self-db; else cred=app-db; fi
  c=$(conn_of "$cred")
  "$RC" --policies "$POL" rotate "$cred" >>"$ALL" 2>&1 &
  pid=$!
  ms=$((RANDOM % span))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  [ "$(journal_rows)" -gt 0 ] && interrupted=$((interrupted + 1))
  if resume && [ "$(journal_rows)" -eq 0 ] && stored_ok "$c"; then good=$((good + 1)); else bad=$((bad + 1)); diag "run $i ($cred, killed after ${ms} ms) did not end with a working credential"; fi
done
RUNS=$i
diag "random kills: $RUNS runs (kill within ${span} ms), $interrupted left a journal (killed mid-rotation), $good ended with a working stored credential"
is "$good" "$RUNS" "every one of the $RUNS randomly killed rotations ended with a working stored credential"
ok "$([ "$interrupted" -ge 10 ]; echo $?)" "at least 10 runs were killed mid-rotation ($interrupted)"
check "app: logs in at the end" stored_ok app
check "selfie: logs in at the end" stored_ok selfie
hit=0; grep -aqF -f "$PWLIST" "$ALL" && hit=1
is "$hit" 0 "no generated password in any output ($(grep -c . "$PWLIST") checked)"
is "$(grep -cE 'Sanitizer|runtime error' "$ALL")" 0 "no sanitizer report in any broker output"
done_testing
