#!/usr/bin/env bash
# Runs every unit test binary and integration script, prints each result, and ends
# with one aggregate line `N passed, N failed, N skipped` (the line CI reads).
# Every test speaks TAP (cmocka via CMOCKA_MESSAGE_OUTPUT=TAP, scripts via tests/lib/common.sh).
# Optional filter: tests/run.sh PATTERN runs only tests whose file name matches.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export BUILD
FILTER=${1:-}
pass=0; fail=0; skip=0; failed_names=()
mkdir -p "$BUILD/test-logs"; LOGDIR=$(mktemp -d "$BUILD/test-logs/run.XXXXXX")
export CREDBROKER_TEST_LOGDIR=$LOGDIR

# Reads TAP on stdin, echoes it, and updates the counters of the caller.
tally() {
  local suite=$1 line out
  out="$LOGDIR/$suite.tap"
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$out"
    case "$line" in
      "not ok "*"# SKIP"*|"ok "*"# SKIP"*|"ok "*"# skip"*) skip=$((skip+1)); echo "  [skip] $suite: ${line#*# }";;
      "not ok "*"# TODO"*) skip=$((skip+1)); echo "  [todo] $suite: ${line#not ok }";; # expected to fail (TAP TODO)
      "ok "*) pass=$((pass+1)); [ -n "${VERBOSE:-}" ] && echo "  [ ok ] $suite: $line";;
      "not ok "*) fail=$((fail+1)); failed_names+=("$suite: $line"); echo "  [FAIL] $suite: $line";;
      "#"*) [ -n "${VERBOSE:-}" ] && echo "    $line";;
    esac
  done
}

run_one() { # name, command...
  local name=$1; shift
  local before_fail=$fail before_pass=$pass before_skip=$skip rc
  echo "== $name"
  tally "$name" < <("$@" 2>"$LOGDIR/$name.stderr"; echo "# exit $?")
  rc=$(tail -1 "$LOGDIR/$name.tap" | sed -n 's/^# exit //p')
  if [ "${rc:-1}" != "0" ] && [ $fail -eq $before_fail ]; then
    # a crash or a non-zero exit with no failing assertion is still a failure
    fail=$((fail+1)); failed_names+=("$name: exited $rc")
    echo "  [FAIL] $name exited $rc; stderr tail:"; tail -20 "$LOGDIR/$name.stderr" | sed 's/^/    /'
  elif [ $fail -ne $before_fail ]; then
    echo "  stderr tail:"; tail -20 "$LOGDIR/$name.stderr" | sed 's/^/    /'
  fi
  echo "   $((pass-before_pass)) passed, $((fail-before_fail)) failed, $((skip-before_skip)) skipped"
}

export CMOCKA_MESSAGE_OUTPUT=TAP
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  case "$t" in *.d) continue;; esac
  n=$(basename "$t")
  [ -n "$FILTER" ] && [[ "$n" != *$FILTER* ]] && continue
  if [ -n "${VALGRIND:-}" ]; then
    run_one "$n" valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "$t"
  else
    run_one "$n" "$t"
  fi
done

for s in tests/integration/test_*.sh; do
  [ -f "$s" ] || continue
  n=$(basename "$s" .sh)
  [ -n "$FILTER" ] && [[ "$n" != *$FILTER* ]] && continue
  run_one "$n" bash "$s"
done

echo
if [ ${#failed_names[@]} -gt 0 ]; then
  echo "Failures:"; printf '  %s\n' "${failed_names[@]}"
fi
echo "logs: $LOGDIR"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
