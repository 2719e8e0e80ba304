#!/usr/bin/env bash
# Installs every Debian and npm package the build, the tests and the benchmark need.
# `deps.sh --check` only reports (exit 1) whether something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(
  build-essential pkg-config clang libclang-rt-14-dev
  libcurl4-openssl-dev libssl-dev libsqlite3-dev sqlite3
  freetds-dev freetds-bin libpq-dev libjansson-dev libmicrohttpd-dev
  libargon2-dev libcmocka-dev
  postgresql postgresql-contrib
  mariadb-server mariadb-client libmariadb-dev
  openssl curl ca-certificates shellcheck valgrind cppcheck
  python3 python3-croniter python3-prometheus-client jq
  debhelper dpkg-dev man-db mandoc systemd zsh
)
# Node 20 and npm: the machine image's own (its npm is not Debian's "npm" package, which
# conflicts with it); Debian's are installed only when node is missing altogether.
NPM_DIRS=(tests/interop)

missing_apt() {
  local p
  for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

missing_node() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && return 0
  echo nodejs
  command -v npm >/dev/null 2>&1 || echo npm
}

missing_npm() {
  local d
  for d in "${NPM_DIRS[@]}"; do
    [ -f "$d/package.json" ] || continue
    # node_modules must exist and be at least as new as the lockfile
    if [ ! -d "$d/node_modules" ] || [ "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ]; then
      echo "$d"
    fi
  done
}

if [ "${1:-}" = "--check" ]; then
  m=$(missing_apt; missing_node; missing_npm)
  if [ -n "$m" ]; then echo "deps: missing: $(echo "$m" | tr '\n' ' ')" >&2; exit 1; fi
  exit 0
fi

apt_missing=$(missing_apt; missing_node)
if [ -n "$apt_missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "deps: installing Debian packages: $(echo "$apt_missing" | tr '\n' ' ')"
  $SUDO apt-get update -q
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $apt_missing
fi

for d in $(missing_npm); do
  echo "deps: npm ci in $d"
  (cd "$d" && npm ci --no-audit --no-fund --loglevel=error)
done

# moto_server ships with the machine image's Python; PyPI is not reachable, so we
# can only check for it. Tests that need it report themselves skipped without it.
if ! command -v moto_server >/dev/null 2>&1; then
  echo "deps: warning: moto_server not on PATH; AWS integration tests will be skipped" >&2
fi
exit 0
