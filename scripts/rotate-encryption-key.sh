#!/usr/bin/env bash
# Rotates the master key and re-encrypts every row under a new data key, in one
# transaction. The new key comes from CREDBROKER_NEW_MASTER_KEY(_REF) or is generated
# and shown once on the terminal. Usage: rotate-encryption-key.sh [--rewrap-only]
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
mode=--reencrypt
[ "${1:-}" = "--rewrap-only" ] && mode=
if [ -z "${CREDBROKER_NEW_MASTER_KEY:-}" ] && [ -z "${CREDBROKER_NEW_MASTER_KEY_REF:-}" ]; then
  CREDBROKER_NEW_MASTER_KEY=$("$CREDBROKER" key generate)
  export CREDBROKER_NEW_MASTER_KEY
  generated=1
fi
# shellcheck disable=SC2086
"$CREDBROKER" key rotate $mode
if [ -n "${generated:-}" ]; then
  show_on_terminal "new master key (the old one no longer opens the store)" "$CREDBROKER_NEW_MASTER_KEY" || true
fi
CREDBROKER_MASTER_KEY=${CREDBROKER_NEW_MASTER_KEY:-} "$CREDBROKER" verify -q
