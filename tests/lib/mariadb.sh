#!/usr/bin/env bash
# Throwaway MariaDB server for tests: its own datadir in a temporary directory, loopback,
# a free port and its own socket, normal grant tables (never --skip-grant-tables), stopped
# at exit whatever happens. Source after common.sh, then call my_start [extra mariadbd args].
# Sets: MYPORT, MYDIR (datadir parent; socket MYDIR/sock, error log MYDIR/error.log,
# general log MYDIR/general.log when started with --general-log=1), MY_ADMIN_PW,
# MY_ADMIN_URL (mysql://root:...@127.0.0.1:PORT/mysql), my_sql (function).
# shellcheck disable=SC2034
my_start() {
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || { echo "# mariadbd not installed" >&2; return 1; }
  local mariadbd=mariadbd
  command -v mariadbd >/dev/null 2>&1 || mariadbd=/usr/sbin/mariadbd
  MYPORT=$(free_port)
  MYDIR=$(mktemp -d -t mytest.XXXXXX)
  chmod 755 "$MYDIR"
  mkdir "$MYDIR/data" "$MYDIR/files"
  local user=()
  if [ "$(id -u)" -eq 0 ]; then chown -R mysql:mysql "$MYDIR"; user=(--user=mysql); fi
  mariadb-install-db --no-defaults "${user[@]}" --datadir="$MYDIR/data" --auth-root-authentication-method=normal \
     --skip-test-db --skip-name-resolve >"$MYDIR/install.log" 2>&1 || { tail -20 "$MYDIR/install.log" >&2; return 1; }
  "$mariadbd" --no-defaults "${user[@]}" --datadir="$MYDIR/data" --socket="$MYDIR/sock" --port="$MYPORT" \
     --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$MYDIR/pid" --log-error="$MYDIR/error.log" \
     --innodb-buffer-pool-size=64M --innodb-log-file-size=16M --skip-log-bin --innodb-flush-log-at-trx-commit=0 \
     --general-log-file="$MYDIR/general.log" --secure-file-priv="$MYDIR/files" --max-connections=200 \
     "$@" >"$MYDIR/stdout.log" 2>&1 &
  MYPID=$!
  on_exit "my_stop"
  local i
  for ((i=0; i<300; i++)); do
    mariadb-admin --no-defaults --socket="$MYDIR/sock" -uroot ping >/dev/null 2>&1 && break
    kill -0 "$MYPID" 2>/dev/null || { tail -20 "$MYDIR/error.log" "$MYDIR/stdout.log" >&2; return 1; }
    sleep 0.1
  done
  MY_ADMIN_PW=$(openssl rand -hex 12)
  # root@127.0.0.1 (TCP) gets a password; root@localhost keeps socket access for my_sql
  my_sql "ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$MY_ADMIN_PW'" || return 1
  MY_ADMIN_URL="mysql://root:$MY_ADMIN_PW@127.0.0.1:$MYPORT/mysql?ssl-mode=DISABLED&connect-timeout=5"
  export MYPORT MYDIR MY_ADMIN_PW MY_ADMIN_URL
}
# my_stop: shutdown, then wait for the process (mariadb-admin returns before it exits).
my_stop() {
  [ -n "${MYPID:-}" ] || return 0
  mariadb-admin --no-defaults --socket="$MYDIR/sock" -uroot shutdown >/dev/null 2>&1 || kill "$MYPID" 2>/dev/null
  local i
  for ((i=0; i<100; i++)); do kill -0 "$MYPID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$MYPID" 2>/dev/null
  rm -rf "$MYDIR"
  MYPID=
}
# my_sql "SQL" [db]: runs SQL as root over the socket, prints tab-separated rows, no header.
my_sql() { mariadb --no-defaults --socket="$MYDIR/sock" -uroot -N -B -e "$1" "${2:-mysql}"; }
