#!/usr/bin/env bash
# `credbroker cron next|validate` through the tests/tools/cron_cli driver (the same
# cmd_cron the real binary calls): exit codes, output format, --count/--from/--tz/--json.
# test-store: none (the cron parser only)
# shellcheck source=/dev/null
. "$(dirname "$0")/../lib/common.sh"
CLI="$BUILD/tools/cron_cli"
[ -x "$CLI" ] || { fail "driver $CLI not built"; done_testing; exit 1; }

out=$("$CLI" cron next '0 22 * * 1-5' --from 2024-01-05T22:00:00Z --count 3); st=$?
is "$st" 0 "next exits 0"
is "$out" $'2024-01-08T22:00:00Z\n2024-01-09T22:00:00Z\n2024-01-10T22:00:00Z' "next: one UTC ISO 8601 time per line"

out=$("$CLI" cron next '*/15' '9-17' '*' '*' '1-5' --from=2024-01-05T16:50:00Z --count=5)
is "$out" $'2024-01-05T17:00:00Z\n2024-01-05T17:15:00Z\n2024-01-05T17:30:00Z\n2024-01-05T17:45:00Z\n2024-01-08T09:00:00Z' "fields as separate arguments, --opt=value form"

out=$("$CLI" cron next @daily --from 2024-01-01T10:30:00Z)
is "$(printf '%s\n' "$out" | wc -l)" 5 "default count is 5"

out=$("$CLI" cron next '0 0 */2 * 1' --from 2024-01-01T00:00:00Z --count 2)
is "$out" $'2024-01-15T00:00:00Z\n2024-01-29T00:00:00Z' "Vixie */2 day-of-month rule (AND)"

# Seconds are dropped from --from; an offset in --from is honoured.
out=$("$CLI" cron next '* * * * *' --from 2023-12-31T23:59:30Z --count 1)
is "$out" "2024-01-01T00:00:00Z" "seconds dropped, strictly after"
out=$("$CLI" cron next '0 * * * *' --from 2024-01-01T10:30:00+02:00 --count 1)
is "$out" "2024-01-01T09:00:00Z" "--from with a UTC offset"

# Time zones: matched on the wall clock, printed in UTC.
out=$("$CLI" cron next '30 2 * * *' --tz Europe/Berlin --from 2024-03-30T00:00:00Z --count 3)
is "$out" $'2024-03-30T01:30:00Z\n2024-03-31T01:00:00Z\n2024-04-01T00:30:00Z' "--tz Europe/Berlin across the spring-forward gap"
out=$("$CLI" cron next '30 1 * * *' --tz America/New_York --from 2024-11-02T12:00:00Z --count 2)
is "$out" $'2024-11-03T05:30:00Z\n2024-11-04T06:30:00Z' "--tz America/New_York fall-back overlap runs once"
expect_exit 2 "unknown zone is exit 2" "$CLI" cron next '0 0 * * *' --tz Mars/Base
like "$(cat "$TMP/.out")" "credbroker: --tz: unknown time zone 'Mars/Base'" "unknown zone explained"
expect_exit 2 "path-like zone is exit 2" "$CLI" cron next '0 0 * * *' --tz ../../etc/passwd

# JSON output.
out=$("$CLI" --json cron next '0 0 1 jan,jul *' --from 2024-01-01T00:00:00Z --count 2 --tz UTC)
is "$out" '{"expr":"0 0 1 jan,jul *","tz":"UTC","next":["2024-07-01T00:00:00Z","2025-01-01T00:00:00Z"]}' "--json (global flag) object"
got=$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["expr"], d["tz"], ",".join(d["next"]))')
is "$got" "0 0 1 jan,jul * UTC 2024-07-01T00:00:00Z,2025-01-01T00:00:00Z" "--json fields expr, tz, next"
got=$("$CLI" cron next '@hourly' --json --from 2024-01-01T10:30:00Z --count 1 --tz Europe/Berlin | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["tz"], d["next"][0])')
is "$got" "Europe/Berlin 2024-01-01T11:00:00Z" "--json as a command option"

# Invalid expressions: exit 2, field and reason on stderr, nothing on stdout.
"$CLI" cron next '60 * * * *' >"$TMP/o" 2>"$TMP/e"; st=$?
is "$st" 2 "out-of-range minute is exit 2"
is "$(cat "$TMP/o")" "" "nothing on stdout on error"
like "$(cat "$TMP/e")" "field 1 \(minute\): value 60 out of range 0-59" "stderr names the field and the reason"
"$CLI" cron validate '10-5 * * * *' >/dev/null 2>"$TMP/e"; st=$?
is "$st" 2 "reversed range is exit 2"
like "$(cat "$TMP/e")" "reversed range 10-5" "reversed range explained"
"$CLI" cron validate '5/10 * * * *' >/dev/null 2>"$TMP/e"
like "$(cat "$TMP/e")" "a step needs a range" "5/10 explained"
"$CLI" cron next '0 0 30 2 *' >/dev/null 2>"$TMP/e"; st=$?
is "$st" 2 "impossible date is exit 2"
like "$(cat "$TMP/e")" "never fires" "impossible date explained"
"$CLI" cron next '@reboot' >/dev/null 2>"$TMP/e"; st=$?
is "$st" 2 "@reboot is exit 2"
like "$(cat "$TMP/e")" "@reboot runs once at daemon start" "@reboot explained"
out=$("$CLI" --json cron validate '* * * *' 2>/dev/null); st=$?
is "$st" 2 "--json error exit 2"
got=$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ok"], d["exit_code"], "expected 5 fields" in d["error"])')
is "$got" "False 2 True" "--json error object"

# validate.
is "$("$CLI" cron validate '0 9 * jan-mar mon-fri')" "valid" "validate prints valid"
is "$("$CLI" --json cron validate '@weekly')" '{"expr":"@weekly","tz":"UTC","valid":true}' "validate --json"
expect_exit 0 "validate with --tz" "$CLI" cron validate '0 3 * * *' --tz Europe/Berlin

# Options.
expect_exit 2 "--count 0 rejected" "$CLI" cron next '* * * * *' --count 0
expect_exit 2 "--count 1001 rejected" "$CLI" cron next '* * * * *' --count 1001
expect_exit 2 "--count abc rejected" "$CLI" cron next '* * * * *' --count abc
expect_exit 2 "bad --from rejected" "$CLI" cron next '* * * * *' --from yesterday
expect_exit 2 "--from without value" "$CLI" cron next '* * * * *' --from
expect_exit 2 "unknown option" "$CLI" cron next '* * * * *' --frobnicate
expect_exit 2 "missing EXPR" "$CLI" cron next --count 2
expect_exit 2 "unknown subcommand" "$CLI" cron list
expect_exit 2 "no subcommand" "$CLI" cron
expect_exit 2 "validate rejects --count" "$CLI" cron validate '* * * * *' --count 2
n=$("$CLI" cron next '* * * * *' --count 1000 --from 2024-01-01T00:00:00Z | wc -l)
is "$n" 1000 "--count 1000"
"$CLI" cron --help >"$TMP/h" 2>&1; st=$?
is "$st" 0 "--help exits 0"
like "$(cat "$TMP/h")" "usage: credbroker cron next EXPR" "--help prints usage"
out=$("$CLI" cron next '* * * * *' --from 9999-12-31T23:57:00Z --count 5)
is "$out" $'9999-12-31T23:58:00Z\n9999-12-31T23:59:00Z' "stops at the end of year 9999"
expect_exit 2 "no fire time before year 10000 is exit 2" "$CLI" cron next '0 0 1 1 *' --from 9999-06-01T00:00:00Z

# Without --from the times are after now.
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
first=$("$CLI" cron next '* * * * *' --count 1)
if [[ "$first" > "$now" ]]; then pass "default --from is now"; else fail "default --from is now ($first <= $now)"; fi

done_testing
