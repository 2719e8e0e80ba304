#!/usr/bin/env bash
# Verifies that every stored value authenticates and decrypts, and that the audit chain
# is intact. Exit 0 when both are, 3 when either found a problem, 4 for a wrong key.
set -uo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
"$CREDBROKER" verify "$@"; r1=$?
"$CREDBROKER" audit verify "$@"; r2=$?
[ $r1 -ne 0 ] && exit $r1
exit $r2
