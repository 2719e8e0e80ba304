#!/usr/bin/env bash
# scripts/install-cron.sh (idempotent line, no secret in the crontab, root-only env file,
# the installed command actually runs) and scripts/emergency-rotate.sh (report, exit code).
# Until main.c wires the commands, the scripts run the rotate_cli driver as the binary.
# shellcheck source=tests/lib/common.sh disable=SC1091
source "$(dirname "$0")/../lib/common.sh"
RC="$BUILD/tools/rotate_cli"
IC="$CB_ROOT/scripts/install-cron.sh"
ER="$CB_ROOT/scripts/emergency-rotate.sh"
for b in "$RC" "$CB"; do [ -x "$b" ] || skip_all "build rotate_cli and credbroker first"; done
new_store store
POL="$TMP/pol"; mkdir -p "$POL"
printf '{ "credentials": { "lost-db": { "connection": "nowhere", "schedule": "@daily" } } }\n' >"$POL/p.json"
TAB="$TMP/crontab"
printf 'MAILTO=""\n17 * * * * /usr/bin/true # someone else\n' >"$TAB"
ENVF="$TMP/credbroker.env"
printf 'CREDBROKER_MASTER_KEY=%s\n' "$CREDBROKER_MASTER_KEY" >"$ENVF"
chmod 644 "$ENVF"

expect_exit 2 "install-cron refuses a group/world-readable env file" "$IC" --env-file "$ENVF" --crontab-file "$TAB" --binary "$RC"
like "$(cat "$TMP/.out")" "make it 0600" "... and says how to fix it"
chmod 600 "$ENVF"
expect_exit 2 "install-cron requires a master key source" "$IC" --crontab-file "$TAB" --binary "$RC"
args=(--env-file "$ENVF" --db "$CREDBROKER_DB" --policies "$POL" --log "$TMP/rotate.log" --binary "$RC" --crontab-file "$TAB")
check "install-cron installs the line" "$IC" "${args[@]}"
check "install-cron again (idempotent)" "$IC" "${args[@]}"
is "$(grep -c 'credbroker-rotate-due' "$TAB")" 1 "exactly one credbroker line after two installs"
is "$(grep -c 'someone else' "$TAB")" 1 "other crontab lines are kept"
is "$(grep -cF "$CREDBROKER_MASTER_KEY" "$TAB")" 0 "the master key is not in the crontab"
like "$(grep credbroker-rotate-due "$TAB")" '^\* \* \* \* \* set -a; \. .*credbroker\.env; set \+a; .* -q rotate --due >>.*rotate\.log 2>&1 # credbroker-rotate-due$' "the line sources the env file and runs rotate --due"
is "$(stat -c %a "$TAB")" 600 "the crontab file is private"
# run the installed command the way cron does (sh -c, a bare environment)
cmd=$(grep credbroker-rotate-due "$TAB" | sed -e 's/^\([^ ]* \)\{5\}//' -e 's/ # credbroker-rotate-due$//')
env -i PATH=/usr/bin:/bin HOME="$TMP" sh -c "$cmd"; ok $? "the installed command runs under sh with no inherited environment"
is "$(grep -c 'not stored' "$TMP/rotate.log")" 0 "nothing was due on first sight (the schedule starts now)"
check "install-cron with --master-key-ref replaces the line" "$IC" --master-key-ref "vault://secret/broker#master_key" --binary "$RC" --crontab-file "$TAB"
is "$(grep -c 'credbroker-rotate-due' "$TAB")" 1 "still exactly one line"
like "$(grep credbroker-rotate-due "$TAB")" "CREDBROKER_MASTER_KEY_REF=vault://secret/broker#master_key " "the reference (not a secret) is in the line"
expect_exit 2 "install-cron refuses shell metacharacters" "$IC" --master-key-ref 'x;rm -rf /' --binary "$RC" --crontab-file "$TAB"
check "install-cron --remove" "$IC" --remove --crontab-file "$TAB"
is "$(grep -c 'credbroker-rotate-due' "$TAB")" 0 "the line is gone"
is "$(grep -c 'someone else' "$TAB")" 1 "the other line stays"
# an empty crontab, then one that holds only our line (grep -v printing nothing is not an error)
TAB2="$TMP/crontab-empty"; : >"$TAB2"
check "install-cron on an empty crontab" "$IC" --master-key-ref "vault://secret/broker#master_key" --binary "$RC" --crontab-file "$TAB2"
is "$(grep -c 'credbroker-rotate-due' "$TAB2")" 1 "... installs its line"
check "install-cron again on an own-line-only crontab" "$IC" --master-key-ref "vault://secret/broker#master_key" --binary "$RC" --crontab-file "$TAB2"
is "$(grep -c 'credbroker-rotate-due' "$TAB2")" 1 "... keeps exactly its line"
is "$(wc -l <"$TAB2")" 1 "... and nothing else"
check "install-cron --remove on an own-line-only crontab" "$IC" --remove --crontab-file "$TAB2"
is "$(wc -c <"$TAB2")" 0 "... leaves it empty"
rm -f "$TAB2"
check "install-cron on a crontab file that does not exist yet" "$IC" --master-key-ref "vault://secret/broker#master_key" --binary "$RC" --crontab-file "$TAB2"
is "$(grep -c 'credbroker-rotate-due' "$TAB2")" 1 "... creates it with the line"

# emergency-rotate.sh: a credential that cannot be rotated -> exit 1, report kept
cd "$TMP" || exit 1
out=$(CREDBROKER="$RC" CREDBROKER_POLICIES="$POL" "$ER" --all --incident INC-7 --reason "key leaked in CI log" 2>&1); rc=$?
is "$rc" 1 "emergency-rotate.sh exits 1 when something was not done"
like "$out" "FAILED rotate lost-db" "... the summary names what failed"
like "$out" "report: incident-INC-7.json" "... and where the report is"
is "$(stat -c %a "$TMP/incident-INC-7.json")" 600 "the report is private (0600)"
like "$(cat "$TMP/incident-INC-7.json")" '"incident":"INC-7"' "the report is the JSON incident record"
AUD=$("$CB" audit list --limit 0 --json 2>&1)
like "$AUD" '"action":"incident","target":"INC-7","outcome":"partial"' "the incident is in the audit log"
expect_exit 2 "emergency-rotate.sh without --incident is a usage error" env CREDBROKER="$RC" "$ER" --all --reason x
done_testing
