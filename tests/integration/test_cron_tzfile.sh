#!/usr/bin/env bash
# The TZif reader (broker/tzfile.c) against Python's zoneinfo on the same system files:
# UTC offsets of every installed zone at 760 instants from 1900 to 2102 (past the last
# explicit transition, where the POSIX footer rule takes over).
# test-store: none (zone files only)
# shellcheck source=/dev/null
. "$(dirname "$0")/../lib/common.sh"
TOOL="$BUILD/tools/tz_offsets"
[ -x "$TOOL" ] || { fail "driver $TOOL not built"; done_testing; exit 1; }
python3 -c 'import zoneinfo; zoneinfo.ZoneInfo("Europe/Berlin")' 2>/dev/null || skip_all "python3 zoneinfo unavailable"

START=-2208988800; STEP=$((86400*97+3601)); COUNT=760
python3 -c 'import zoneinfo; print("\n".join(sorted(zoneinfo.available_timezones())))' >"$TMP/zones"
"$TOOL" "$START" "$STEP" "$COUNT" <"$TMP/zones" >"$TMP/ours"
python3 - "$TMP/zones" "$START" "$STEP" "$COUNT" >"$TMP/theirs" <<'PY'
import sys, zoneinfo, datetime as dt
start, step, count = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for z in open(sys.argv[1]).read().split():
    zi = zoneinfo.ZoneInfo(z)
    offs = (int(dt.datetime.fromtimestamp(start + step * i, dt.timezone.utc).astimezone(zi).utcoffset().total_seconds()) for i in range(count))
    print(z, *offs)
PY
nz=$(wc -l <"$TMP/zones")
if [ "$nz" -ge 300 ]; then pass "$nz zones installed"; else fail "only $nz zones found"; fi
ndiff=$(diff "$TMP/ours" "$TMP/theirs" | grep -c '^<' || true)
is "$ndiff" 0 "offsets of all $nz zones agree with zoneinfo"
[ "$ndiff" -eq 0 ] || diag "$(diff "$TMP/ours" "$TMP/theirs" | head -4 | cut -c1-200)"
nerr=$(grep -c ' error ' "$TMP/ours" || true)
is "$nerr" 0 "every installed zone loads"
done_testing
