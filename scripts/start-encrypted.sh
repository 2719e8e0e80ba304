#!/usr/bin/env bash
# Starts the broker on an encrypted store. Without CREDBROKER_MASTER_KEY(_REF) it generates
# a key, shows it once on the terminal with a warning, creates the store, then starts.
# Usage: start-encrypted.sh [credbroker serve options...]
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
if [ -z "${CREDBROKER_MASTER_KEY:-}" ] && [ -z "${CREDBROKER_MASTER_KEY_REF:-}" ]; then
  key=$("$CREDBROKER" key generate)
  show_on_terminal "new master key" "$key" || exit 4
  export CREDBROKER_MASTER_KEY=$key
  unset key
fi
# the store credbroker itself would use (its default paths: -v prints them)
db=${CREDBROKER_DB:-}
if [ -z "$db" ]; then
  line=$("$CREDBROKER" -v cron validate '* * * * *' 2>&1 >/dev/null | grep '^credbroker: store ' || true)
  line=${line#credbroker: store }
  db=${line%% (*}
fi
[ -n "$db" ] || { echo "start-encrypted.sh: cannot tell where the store is; set CREDBROKER_DB" >&2; exit 2; }
if [ ! -e "$db" ]; then
  "$CREDBROKER" --db "$db" init
fi
"$CREDBROKER" --db "$db" verify -q
exec "$CREDBROKER" --db "$db" serve "$@"
