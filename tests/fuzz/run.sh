#!/usr/bin/env bash
# Runs every libFuzzer target for N seconds each, starting from its seed corpus when
# there is one (tests/fuzz/corpus/NAME, tests/fuzz/corpus_NAME or tests/fuzz/corpus-NAME).
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS. Exit 1 if any target found a crash.
# With FUZZ_RUNS=N each target instead runs exactly N inputs from FUZZ_SEED (default 1):
# deterministic, so the same tree gives the same result everywhere (what make test uses).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
dir=${1:-build/fuzz}; secs=${2:-30}
work=$(mktemp -d -t cbfuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0
for t in "$dir"/fuzz_*; do
  [ -x "$t" ] || continue
  n=$(basename "$t"); short=${n#fuzz_}
  corpus="$work/$n"; mkdir -p "$corpus"
  for seed in "tests/fuzz/corpus/$short" "tests/fuzz/corpus/$n" "tests/fuzz/corpus_$short" "tests/fuzz/corpus-$short"; do
    [ -d "$seed" ] && cp -r "$seed"/. "$corpus"/
  done
  dict=()
  [ -f "tests/fuzz/$short.dict" ] && dict=(-dict="tests/fuzz/$short.dict")
  if [ -n "${FUZZ_RUNS:-}" ]; then limit=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}"); how="(seed ${FUZZ_SEED:-1})"
  else limit=(-max_total_time="$secs"); how="in ${secs}s"; fi
  if "$t" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/$n-" "${dict[@]}" "$corpus" >"$work/$n.log" 2>&1; then
    echo "ok   $n: $(grep -o 'stat::number_of_executed_runs: *[0-9]*' "$work/$n.log" | grep -o '[0-9]*$' || grep -Eo '#[0-9]+' "$work/$n.log" | tail -1) runs $how"
  else
    failed=1
    echo "FAIL $n:"; tail -30 "$work/$n.log" | sed 's/^/    /'
    mkdir -p build/fuzz-crashes && cp "$work/$n"-* build/fuzz-crashes/ 2>/dev/null
  fi
done
exit $failed
