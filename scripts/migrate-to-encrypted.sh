#!/usr/bin/env bash
# Brings plaintext credentials under encryption:
#   migrate-to-encrypted.sh                      encrypts plaintext rows of our own store
#   migrate-to-encrypted.sh --from-mssqlmcp DB   imports an mssqlMCP store (MSSQL_MCP_KEY)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
if [ "${1:-}" = "--from-mssqlmcp" ]; then
  [ -n "${2:-}" ] || { echo "usage: $0 --from-mssqlmcp PATH" >&2; exit 2; }
  "$CREDBROKER" import mssqlmcp "$2"
fi
"$CREDBROKER" key migrate
"$CREDBROKER" verify
