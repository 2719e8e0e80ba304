#!/usr/bin/env bash
# `make bench`: runs every tests/bench/bench_*.sh; each prints markdown table rows
# (| what | credbroker | peer | ratio |). Output is collected into build/bench.md.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
export BUILD
out="$BUILD/bench.md"
{
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); date: $(date -u +%Y-%m-%d)"
  echo
  echo "| benchmark | credbroker | peer | ratio |"
  echo "| --- | --- | --- | --- |"
} > "$out"
for b in tests/bench/bench_*.sh; do
  [ -f "$b" ] || continue
  echo "== $b" >&2
  bash "$b" >> "$out" || echo "| $(basename "$b" .sh) | failed | | |" >> "$out"
done
cat "$out"
