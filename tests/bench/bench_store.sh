#!/usr/bin/env bash
# Store benchmark: re-encrypt 100,000 connections; per-operation get/put next to the raw
# SQLite floor (same file system, same pragmas) measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
d=$(mktemp -d -t cbbench.XXXXXX)
trap 'rm -rf "$d"' EXIT
CREDBROKER_MASTER_KEY=$(openssl rand -hex 32) "$BUILD/tools/store_tool" bench "$d/bench.db" 100000
