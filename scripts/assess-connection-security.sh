#!/usr/bin/env bash
# Security assessment of every connection and the store; exit 3 when there are findings.
# Usage: assess-connection-security.sh [--json]
set -uo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
exec "$CREDBROKER" assess "$@"
