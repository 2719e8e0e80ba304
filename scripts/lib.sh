#!/usr/bin/env bash
# Shared by the operator scripts: finds the credbroker binary.
# shellcheck disable=SC2034
CREDBROKER=${CREDBROKER:-}
if [ -z "$CREDBROKER" ]; then
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  if [ -x "$here/../build/credbroker" ]; then CREDBROKER="$here/../build/credbroker"
  elif [ -x "$here/../../../bin/credbroker" ]; then CREDBROKER=$(cd "$here/../../../bin" && pwd)/credbroker # installed: PREFIX/share/credbroker/scripts
  elif command -v credbroker >/dev/null 2>&1; then CREDBROKER=$(command -v credbroker)
  else echo "credbroker binary not found (run make, or set CREDBROKER=/path/to/credbroker)" >&2; exit 1
  fi
fi
# Shows a secret on the controlling terminal only: never on stdout, so it cannot end
# up in a pipe, a log file or a CI transcript.
show_on_terminal() {
  local label=$1 value=$2
  if ! { : >/dev/tty; } 2>/dev/null; then
    echo "error: no terminal to show the $label on; set it yourself (credbroker key generate)" >&2
    return 1
  fi
  {
    printf '\n  *** %s (shown once; store it in your secret manager now) ***\n\n  %s\n\n' "$label" "$value"
    printf '  Anyone with this key can decrypt every stored credential. It is not saved anywhere.\n\n'
  } >/dev/tty
}
