#!/usr/bin/env bash
# Runs every unit test binary and integration script, prints each result, and ends
# with one aggregate line `N passed, N failed, N skipped` (the line CI reads).
# Every test speaks TAP (cmocka via CMOCKA_MESSAGE_OUTPUT=TAP, scripts via tests/lib/common.sh).
# Optional filter: tests/run.sh PATTERN runs only tests whose file name matches.
#
# Integration suites run TEST_JOBS at a time (default 2; each starts its own servers on
# free ports). A suite whose file has a line `# test-runner: exclusive` (load, latency
# or timing tests) runs afterwards, alone. One with `# test-runner: long` (minutes of
# waiting for the wall clock, little CPU: the fleet's one-minute schedules) starts first
# and does not take one of the TEST_JOBS slots. `not ok ... # TODO reason` is an expected
# failure (counted as skipped, reason shown); `ok ... # TODO` is reported as a surprise.
#
# Every integration suite runs twice: with the store in a SQLite file, then (as NAME@pg)
# with the store on PostgreSQL (CREDBROKER_TEST_STORE=postgresql, one store server for the
# run: tests/lib/pgstore.sh), same assertions. A suite that never opens a store says so
# with a line `# test-store: none (why)`, one that picks its store backend itself with
# `# test-store: own (why)`; either runs once. TEST_STORES="sqlite" (or "postgresql")
# runs one mode only.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export BUILD
FILTER=${1:-}
JOBS=${TEST_JOBS:-2}
pass=0; fail=0; skip=0; failed_names=()
pg_pass=0; pg_fail=0; pg_skip=0   # the @pg runs' share of the totals
mkdir -p "$BUILD/test-logs"; LOGDIR=$(mktemp -d "$BUILD/test-logs/run.XXXXXX")
export CREDBROKER_TEST_LOGDIR=$LOGDIR
STORES=${TEST_STORES:-sqlite postgresql}

# Tallies one finished suite from its raw output ($LOGDIR/NAME.raw, last line "# exit RC").
tally_suite() {
  local name=$1 line rc before_fail=$fail before_pass=$pass before_skip=$skip
  local raw="$LOGDIR/$name.raw" out="$LOGDIR/$name.tap"
  echo "== $name"
  : >"$out"
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$out"
    case "$line" in
      "not ok "*"# TODO"*|"not ok "*"# todo"*) skip=$((skip+1)); echo "  [todo] $name: ${line#*# }";;
      "not ok "*"# SKIP"*|"ok "*"# SKIP"*|"ok "*"# skip"*) skip=$((skip+1)); echo "  [skip] $name: ${line#*# }";;
      "ok "*"# TODO"*) pass=$((pass+1)); echo "  [todo passed] $name: $line";;
      "ok "*) pass=$((pass+1)); [ -n "${VERBOSE:-}" ] && echo "  [ ok ] $name: $line";;
      "not ok "*) fail=$((fail+1)); failed_names+=("$name: $line"); echo "  [FAIL] $name: $line";;
      "#"*) [ -n "${VERBOSE:-}" ] && echo "    $line";;
    esac
  done <"$raw"
  rc=$(tail -1 "$raw" | sed -n 's/^# exit //p')
  if [ "${rc:-1}" != "0" ] && [ $fail -eq $before_fail ]; then
    # a crash or a non-zero exit with no failing assertion is still a failure
    fail=$((fail+1)); failed_names+=("$name: exited ${rc:-?}")
    echo "  [FAIL] $name exited ${rc:-?}; stderr tail:"; tail -20 "$LOGDIR/$name.stderr" | sed 's/^/    /'
  elif [ $fail -ne $before_fail ]; then
    echo "  stderr tail:"; tail -20 "$LOGDIR/$name.stderr" | sed 's/^/    /'
  fi
  echo "   $((pass-before_pass)) passed, $((fail-before_fail)) failed, $((skip-before_skip)) skipped ($(cat "$LOGDIR/$name.secs" 2>/dev/null || echo ?) s)"
  if [[ $name == *@pg ]]; then
    pg_pass=$((pg_pass+pass-before_pass)); pg_fail=$((pg_fail+fail-before_fail)); pg_skip=$((pg_skip+skip-before_skip))
  fi
}

# Runs one suite to $LOGDIR/NAME.raw (stdout) and NAME.stderr.
# Its wall time goes to NAME.secs (the run must stay under CI's 45 minutes: the slowest
# suites are listed at the end).
exec_suite() { # name, command...
  local name=$1 t0=$SECONDS; shift
  { "$@" 2>"$LOGDIR/$name.stderr"; echo "# exit $?"; } >"$LOGDIR/$name.raw"
  echo $((SECONDS - t0)) >"$LOGDIR/$name.secs"
}

export CMOCKA_MESSAGE_OUTPUT=TAP
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  case "$t" in *.d) continue;; esac
  n=$(basename "$t")
  [ -n "$FILTER" ] && [[ "$n" != *$FILTER* ]] && continue
  if [ -n "${VALGRIND:-}" ]; then
    exec_suite "$n" valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "$t"
  else
    exec_suite "$n" "$t"
  fi
  tally_suite "$n"
done

# Each entry is FILE or FILE@pg (the same suite with the store on PostgreSQL).
parallel=(); exclusive=(); pg_parallel=(); pg_exclusive=()
for s in tests/integration/test_*.sh; do
  [ -f "$s" ] || continue
  n=$(basename "$s" .sh)
  [ -n "$FILTER" ] && [[ "$n" != *$FILTER* ]] && continue
  on_pg=0
  [[ " $STORES " == *" postgresql "* ]] && ! grep -q '^# test-store: ' "$s" && on_pg=1
  if grep -q '^# test-runner: exclusive' "$s"; then
    [[ " $STORES " == *" sqlite "* ]] && exclusive+=("$s")
    [ $on_pg = 1 ] && pg_exclusive+=("$s@pg")
  else
    [[ " $STORES " == *" sqlite "* ]] && parallel+=("$s")
    [ $on_pg = 1 ] && pg_parallel+=("$s@pg")
  fi
done
# The PostgreSQL runs follow the SQLite ones in each phase (two runs of one suite never
# overlap, and a run's log reads SQLite first).
parallel+=("${pg_parallel[@]}"); exclusive+=("${pg_exclusive[@]}")

# One store server for every @pg suite, stopped when the run ends.
if [ ${#pg_parallel[@]} -gt 0 ] || [ ${#pg_exclusive[@]} -gt 0 ]; then
  # shellcheck source=tests/lib/pgstore.sh
  source tests/lib/pgstore.sh
  PGSTORE_RUN_DIR=$(mktemp -d -t cbpgstore.XXXXXX)
  trap 'pgstore_stop "$PGSTORE_RUN_DIR"' EXIT
  trap 'exit 130' INT TERM   # so an interrupted run still stops its store server
  if pgstore_start "$PGSTORE_RUN_DIR" "$BUILD" 2>"$LOGDIR/pgstore.stderr"; then
    export CREDBROKER_TEST_PGSTORE=$PGSTORE_RUN_DIR
  else
    echo "  [warn] no PostgreSQL store server (see $LOGDIR/pgstore.stderr); each @pg suite tries its own"
  fi
fi

# suite_name FILE[@pg] -> test_x or test_x@pg; run_suite FILE[@pg] runs it (background-safe).
suite_name() { local f=${1%@pg} n; n=$(basename "$f" .sh); [ "$f" != "$1" ] && n="$n@pg"; echo "$n"; }
run_suite() {
  local n; n=$(suite_name "$1")
  if [ "${1%@pg}" != "$1" ]; then
    exec_suite "$n" env CREDBROKER_TEST_STORE=postgresql bash "${1%@pg}"
  else
    exec_suite "$n" env CREDBROKER_TEST_STORE=sqlite bash "$1"
  fi
}

# Parallel phase: at most JOBS suites at once; results are printed in file order as
# each one's turn comes (so the log reads the same whatever finished first).
declare -A pid_of=()
# the long ones first (file order otherwise); they run beside the JOBS slots
long=(); short=()
for s in "${parallel[@]}"; do
  if grep -q '^# test-runner: long' "${s%@pg}"; then long+=("$s"); else short+=("$s"); fi
done
long_pids=()
for s in "${long[@]}"; do
  n=$(suite_name "$s")
  run_suite "$s" &
  pid_of[$n]=$!; long_pids+=("$!")
done
# busy_slots: running suites that are not long ones
busy_slots() {
  local all p l=0
  all=$(jobs -rp | wc -l)
  for p in "${long_pids[@]}"; do kill -0 "$p" 2>/dev/null && l=$((l+1)); done
  echo $((all - l))
}
for s in "${short[@]}"; do
  n=$(suite_name "$s")
  while [ "$(busy_slots)" -ge "$JOBS" ]; do wait -n 2>/dev/null; done
  run_suite "$s" &
  pid_of[$n]=$!
done
for s in "${parallel[@]}"; do
  n=$(suite_name "$s")
  wait "${pid_of[$n]}" 2>/dev/null
  tally_suite "$n"
done

for s in "${exclusive[@]}"; do
  n=$(suite_name "$s")
  run_suite "$s"
  tally_suite "$n"
done

echo
if [ ${#failed_names[@]} -gt 0 ]; then
  echo "Failures:"; printf '  %s\n' "${failed_names[@]}"
fi
echo "logs: $LOGDIR"
echo "slowest suites (s):" $(for f in "$LOGDIR"/*.secs; do [ -f "$f" ] && echo "$(cat "$f") $(basename "$f" .secs)"; done |
  sort -rn | head -8 | awk '{printf "%s %s,", $2, $1}' | sed 's/,$//')
echo "whole run: $SECONDS s"
if [[ " $STORES " == *" postgresql "* ]]; then
  echo "store on SQLite (and suites run once): $((pass-pg_pass)) passed, $((fail-pg_fail)) failed, $((skip-pg_skip)) skipped"
  echo "store on PostgreSQL (@pg runs): $pg_pass passed, $pg_fail failed, $pg_skip skipped"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
