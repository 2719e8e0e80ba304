#!/usr/bin/env bash
# Incident response: rotates credentials now, ends their sessions, optionally revokes every
# API key, and records the incident in the audit log (credbroker emergency-rotate).
# Keeps a JSON report (mode 0600, no secrets) next to the text summary.
# Usage: emergency-rotate.sh (NAME... | --all) --incident ID --reason TEXT [--revoke-api-keys]
#          [--report FILE]   (default ./incident-ID.json)
# Exit: 0 only if everything was done; 1 if anything was not (see the report); 2 usage.
set -uo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
args=() incident="" report=""
while [ $# -gt 0 ]; do
  case $1 in
    --incident) incident=${2:-}; args+=("$1" "${2:-}"); shift 2 || break;;
    --report) report=${2:-}; shift 2 || break;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    *) args+=("$1"); shift;;
  esac
done
[ -n "$incident" ] || { echo "emergency-rotate.sh: --incident ID is required" >&2; exit 2; }
case $incident in *[!A-Za-z0-9_.-]*) safe_id=$(printf '%s' "$incident" | tr -c 'A-Za-z0-9_.-' '_');; *) safe_id=$incident;; esac
report=${report:-incident-$safe_id.json}
umask 077
"$CREDBROKER" --json emergency-rotate "${args[@]}" >"$report"
rc=$?
python3 - "$report" <<'PY' 2>/dev/null || cat "$report"
import json, sys
d = json.load(open(sys.argv[1]))
if "incident" not in d:
    print("error:", d.get("error", "failed")); sys.exit(0)
print(f"incident {d['incident']}: rotated {', '.join(d['rotated']) or 'nothing'}; "
      f"{d['sessions_ended_total']} session(s) ended" +
      (f"; {d['api_keys_revoked']} API key(s) revoked" if "api_keys_revoked" in d else ""))
for f in d["failures"]:
    print(f"FAILED {f['action']} {f['credential']}: {f['error']}")
print("all done" if d.get("ok") else "NOT everything was done")
PY
echo "report: $report"
exit "$rc"
