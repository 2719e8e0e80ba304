#!/usr/bin/env bash
# Cross-checks cron next-fire times in real time zones against an independent brute-force
# oracle (Python zoneinfo, minute by minute, cronie's DST rules) around DST transitions,
# including a 30-minute shift (Australia/Lord_Howe) and a southern-hemisphere zone.
# test-store: none (the cron parser and zone files only)
# shellcheck source=/dev/null
. "$(dirname "$0")/../lib/common.sh"
CLI="$BUILD/tools/cron_cli"
[ -x "$CLI" ] || { fail "driver $CLI not built"; done_testing; exit 1; }
python3 -c 'import zoneinfo; zoneinfo.ZoneInfo("Europe/Berlin")' 2>/dev/null || skip_all "python3 zoneinfo unavailable"

# The oracle writes one line per case: "expr<TAB>zone<TAB>start<TAB>t1 t2 t3".
python3 - >"$TMP/cases.tsv" <<'PY'
import random, datetime as dt
from zoneinfo import ZoneInfo
UTC = dt.timezone.utc
r = random.Random(20240331)

def field(lo, hi, k):
    a, b = sorted((r.randint(lo, hi), r.randint(lo, hi)))
    return ["*", f"*/{r.randint(2, 7)}", str(a), f"{a}-{b}", f"{a},{b}", f"{a}-{b}/{r.randint(2, 4)}"][k]

def gen(hours):
    m = field(0, 59, r.choice([0, 1, 2, 2, 4]))
    h = r.choice([field(0, 23, r.choice([0, 1, 3])), str(r.choice(hours)), f"{r.choice(hours)},{r.choice(hours)}"])
    return f"{m} {h} * * *"

def parse(f, lo, hi):
    s = set()
    for it in f.split(","):
        step = 1
        if "/" in it: it, st = it.split("/"); step = int(st)
        if it == "*": a, b = lo, hi
        elif "-" in it: a, b = map(int, it.split("-"))
        else: a = b = int(it)
        s.update(range(a, b + 1, step))
    return s

def oracle(expr, zone, start, n=3):
    fm, fh = expr.split()[:2]
    M, H = parse(fm, 0, 59), parse(fh, 0, 23)
    wild = fm[0] == "*" or fh[0] == "*"
    z = ZoneInfo(zone)
    t = start.replace(second=0) + dt.timedelta(minutes=1)
    prev = (t - dt.timedelta(minutes=1)).astimezone(z)
    out = []
    for _ in range(4 * 1440):
        loc = t.astimezone(z)
        fire = False
        if loc.minute in M and loc.hour in H:
            fire = wild or loc.fold == 0
        if not wild and not fire:
            # wall minutes skipped by a spring-forward jump run at the end of the gap
            w = prev.replace(tzinfo=None) + dt.timedelta(minutes=1)
            while w < loc.replace(tzinfo=None):
                if w.minute in M and w.hour in H: fire = True
                w += dt.timedelta(minutes=1)
        if fire:
            out.append(t.strftime("%Y-%m-%dT%H:%M:%SZ"))
            if len(out) == n: break
        prev = loc
        t += dt.timedelta(minutes=1)
    return out

transitions = [  # (zone, UTC instant of a transition, local hours around it)
    ("Europe/Berlin", "2024-03-31T01:00", [1, 2, 3]), ("Europe/Berlin", "2024-10-27T01:00", [1, 2, 3]),
    ("America/New_York", "2024-03-10T07:00", [1, 2, 3]), ("America/New_York", "2024-11-03T06:00", [0, 1, 2]),
    ("Australia/Sydney", "2024-10-05T16:00", [1, 2, 3]), ("Australia/Sydney", "2024-04-06T16:00", [1, 2, 3]),
    ("Australia/Lord_Howe", "2024-10-05T15:30", [1, 2, 3]), ("Australia/Lord_Howe", "2024-04-06T15:00", [1, 2]),
    ("America/Sao_Paulo", "2018-11-04T03:00", [23, 0, 1]), ("Europe/Berlin", "2071-10-25T01:00", [1, 2, 3]),
]
for zone, when, hours in transitions:
    center = dt.datetime.fromisoformat(when).replace(tzinfo=UTC)
    for _ in range(12):
        expr = gen(hours)
        start = center - dt.timedelta(minutes=r.randint(30, 600))
        got = oracle(expr, zone, start)
        if got:
            print(f"{expr}\t{zone}\t{start.strftime('%Y-%m-%dT%H:%M:%SZ')}\t{' '.join(got)}")
PY

n=0
while IFS=$'\t' read -r expr zone start want; do
  n=$((n+1))
  cnt=$(wc -w <<<"$want")
  got=$("$CLI" cron next "$expr" --tz "$zone" --from "$start" --count "$cnt" 2>&1 | tr '\n' ' ' | sed 's/ $//')
  is "$got" "$want" "$zone '$expr' from $start"
done <"$TMP/cases.tsv"
if [ "$n" -ge 100 ]; then pass "oracle produced $n cases"; else fail "oracle produced only $n cases"; fi
done_testing
