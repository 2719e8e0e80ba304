#!/usr/bin/env bash
# Every parser's libFuzzer target, built with clang (ASan+UBSan) and run from its seed
# corpus for a fixed number of inputs with a fixed seed (deterministic: the same tree gives
# the same result on every machine); a crash or sanitizer report fails the suite.
# Random, longer campaigns: make fuzz-run FUZZ_SECONDS=600.
# test-store: none (the fuzz targets only)
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
command -v clang >/dev/null || skip_all "clang not installed"
secs=${FUZZ_SMOKE_SECONDS:-4}
if ! make -C "$CB_ROOT" -s -j2 fuzz >"$TMP/build.log" 2>&1; then
  fail "make fuzz"; diag "$(tail -20 "$TMP/build.log")"; done_testing; exit 1
fi
n=0
for t in "$CB_ROOT"/build/fuzz/fuzz_*; do [ -x "$t" ] && n=$((n+1)); done
FUZZ_RUNS=${FUZZ_SMOKE_RUNS:-60000} FUZZ_SEED=${FUZZ_SMOKE_SEED:-1} \
  "$CB_ROOT/tests/fuzz/run.sh" "$CB_ROOT/build/fuzz" "$secs" >"$TMP/run.log" 2>&1
cp "$TMP/run.log" "$TMP/run.copy"
while IFS= read -r line; do
  case "$line" in
    "ok   "*) pass "${line#ok   }";;
    "FAIL "*) fail "${line#FAIL }"; diag "$(sed -n "/^FAIL ${line#FAIL }/,/^ok /p" "$TMP/run.copy" | head -25)";;
  esac
done < <(cat "$TMP/run.log")
is "$(grep -c '^ok   \|^FAIL ' "$TMP/run.log")" "$n" "every fuzz target ran ($n)"
done_testing
