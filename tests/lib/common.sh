#!/usr/bin/env bash
# TAP helpers for integration tests. Source it; every helper prints `ok N - desc`
# or `not ok N - desc`; call `done_testing` at the end.
# shellcheck disable=SC2034
set -uo pipefail
CB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$CB_ROOT/$BUILD";; esac
CB="$BUILD/credbroker"
SHARED="$CB_ROOT/../shared"
_tap_n=0
_tap_fail=0
_cleanups=()

_run_cleanups() {
  local i
  for ((i=${#_cleanups[@]}-1; i>=0; i--)); do eval "${_cleanups[$i]}" >/dev/null 2>&1 || true; done
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM
on_exit() { _cleanups+=("$*"); }

# A private temporary directory, removed at exit (traversable by the postgres user).
TMP=$(mktemp -d -t cbtest.XXXXXX)
chmod 755 "$TMP"
on_exit "rm -rf '$TMP'"

diag() { printf '# %s\n' "$*" | sed '2,$s/^/# /'; }
pass() { _tap_n=$((_tap_n+1)); echo "ok $_tap_n - $*"; }
fail() { _tap_n=$((_tap_n+1)); _tap_fail=$((_tap_fail+1)); echo "not ok $_tap_n - $*"; }
skip() { _tap_n=$((_tap_n+1)); echo "ok $_tap_n # SKIP $*"; }
skip_all() { echo "1..0 # SKIP $*"; echo "ok 1 # SKIP $*"; exit 0; }
ok() { # ok CONDITION-EXIT-STATUS desc
  local st=$1; shift
  if [ "$st" -eq 0 ]; then pass "$*"; else fail "$*"; fi
}
check() { # check "desc" cmd... : passes when cmd exits 0
  local d=$1; shift
  if "$@" >"$TMP/.out" 2>&1; then pass "$d"; else fail "$d"; diag "$(tail -15 "$TMP/.out")"; fi
}
expect_exit() { # expect_exit CODE "desc" cmd...
  local want=$1 d=$2; shift 2
  "$@" >"$TMP/.out" 2>&1; local got=$?
  if [ "$got" -eq "$want" ]; then pass "$d"; else fail "$d (exit $got, want $want)"; diag "$(tail -15 "$TMP/.out")"; fi
}
is() { # is GOT WANT desc
  if [ "$1" == "$2" ]; then pass "$3"; else fail "$3"; diag "got:  '$1'"; diag "want: '$2'"; fi
}
isnt() { if [ "$1" != "$2" ]; then pass "$3"; else fail "$3"; diag "both: '$1'"; fi; }
like() { # like GOT REGEX desc
  if [[ "$1" =~ $2 ]]; then pass "$3"; else fail "$3"; diag "got: '$1'"; diag "want match: $2"; fi
}
unlike() { if [[ "$1" =~ $2 ]]; then fail "$3"; diag "got: '$1'"; diag "must not match: $2"; else pass "$3"; fi; }
done_testing() { echo "1..$_tap_n"; [ "$_tap_fail" -eq 0 ]; }

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until a TCP port on 127.0.0.1 accepts connections (max $2 seconds, default 15).
wait_port() {
  local port=$1 max=${2:-15} i
  for ((i=0; i<max*10; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# A fresh store with a random master key, for tests: sets CREDBROKER_DB and CREDBROKER_MASTER_KEY.
new_store() {
  export CREDBROKER_DB="$TMP/${1:-store}.db"
  CREDBROKER_MASTER_KEY=$(openssl rand -hex 32)
  export CREDBROKER_MASTER_KEY
  "$CB" init -q
}
