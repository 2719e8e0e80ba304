#!/usr/bin/env bash
# Cost of `cron next` (parse + first fire time) for 10,000 realistic expressions, in C
# (tests/tools/cron_bench) next to python3-croniter (Debian) in the same run; both loops
# are timed in-process (no interpreter or process start-up), best of 3. The two result
# lists are compared and the agreement is reported on stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
TOOL="$BUILD/tools/cron_bench"
[ -x "$TOOL" ] || { echo "bench_cron: $TOOL not built" >&2; exit 1; }
tmp=$(mktemp -d -t cbbench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
START=2024-01-05T16:50:00Z

# A deterministic mix of the schedules people write (no `*/S` day-of-month with a
# restricted weekday, where croniter 1.3.5 departs from Vixie, so results can be compared).
python3 - "$tmp/exprs.txt" <<'PY'
import random, sys
r = random.Random(2024)
dows = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
mons = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
def one():
    m, h, d = r.randrange(60), r.randrange(24), r.randrange(1, 29)
    k = r.randrange(14)
    return [
        f"{m} {h} * * *",
        f"*/{r.choice([5, 10, 15, 20, 30])} * * * *",
        f"{m} {h} * * 1-5",
        f"{m} {h} {d} * *",
        f"{m} {h},{(h + 12) % 24} * * *",
        f"{m} */{r.choice([2, 3, 4, 6, 8, 12])} * * *",
        f"{m} {h} * * {r.choice(dows)}",
        f"{m} {h} {d} {r.choice(mons)} *",
        f"0 0 1 */{r.choice([2, 3, 4, 6])} *",
        f"*/{r.choice([5, 15])} {r.choice(['9-17', '8-18'])} * * mon-fri",
        f"{m} {h} 1,15 * *",
        r.choice(["@daily", "@hourly", "@weekly", "@monthly", "@yearly"]),
        f"{m} {h} {d} * {r.choice(dows)}",
        f"{m} {h} * {r.choice(mons)}-{r.choice(mons[6:])} *",
    ][k]
with open(sys.argv[1], "w") as f:
    for _ in range(10000):
        f.write(one() + "\n")
PY

read -r c_ms c_ns < <("$TOOL" "$tmp/exprs.txt" "$START" 3 "$tmp/c.out")
echo "bench_cron: C ${c_ms} ms (${c_ns} ns per expression)" >&2

peer="n/a (python3-croniter not installed)"; ratio="n/a"
if /usr/bin/python3 -c 'import croniter' 2>/dev/null; then
  p_ms=$(/usr/bin/python3 - "$tmp/exprs.txt" "$tmp/py.out" <<'PY'
import sys, time, datetime
from croniter import croniter
exprs = [l.rstrip("\n") for l in open(sys.argv[1])]
start = datetime.datetime(2024, 1, 5, 16, 50, tzinfo=datetime.timezone.utc)
best, out = None, None
for _ in range(3):
    res = []
    t0 = time.perf_counter()
    for e in exprs:
        try:
            res.append(int(croniter(e, start).get_next(float)))
        except Exception:
            res.append("error")
    dt = time.perf_counter() - t0
    best = dt if best is None or dt < best else best
    out = res
with open(sys.argv[2], "w") as f:
    f.write("".join(f"{x}\n" for x in out))
print(f"{best * 1000:.2f}")
PY
)
  agree=$(paste -d' ' "$tmp/c.out" "$tmp/py.out" | awk '$1==$2' | wc -l)
  echo "bench_cron: croniter ${p_ms} ms; results agree on ${agree}/10000 expressions" >&2
  peer="${p_ms} ms (croniter $(/usr/bin/python3 -c 'import croniter; print(getattr(croniter, "__version__", "1.3.5"))' 2>/dev/null || echo ?))"
  ratio=$(awk -v a="$c_ms" -v b="$p_ms" 'BEGIN { printf "%.4f", a / b }')
fi
echo "| cron next x10,000 expressions | ${c_ms} ms | ${peer} | ${ratio} |"
