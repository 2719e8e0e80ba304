#!/usr/bin/env bash
# The layers of docs/architecture.md hold (scripts/check-layers.sh), no source file is
# over 900 lines, and the checker itself catches each kind of breach in a copy of the tree.
# test-store: none (a check of the sources' includes)
# shellcheck disable=SC1091
source "$(dirname "$0")/../lib/common.sh"
CHK="$CB_ROOT/scripts/check-layers.sh"

out=$("$CHK" 2>&1); rc=$?
is "$rc" 0 "the tree's includes follow the layers"
[ "$rc" -eq 0 ] || diag "$out"

long=$(find "$CB_ROOT/broker" "$CB_ROOT/providers" -name '*.[ch]' -exec wc -l {} + | awk '$2 != "total" && $1 > 900 {print $2" ("$1")"}')
is "$long" "" "no source file in broker/ or providers/ is over 900 lines"

# A copy of the tree with one breach at a time: the checker must name it and exit 1.
breach() { # file line desc regex
  rm -rf "$TMP/t" && mkdir -p "$TMP/t" && cp -r "$CB_ROOT/broker" "$CB_ROOT/providers" "$CB_ROOT/scripts" "$TMP/t/"
  printf '%s\n' "$2" >>"$TMP/t/$1"
  out=$("$TMP/t/scripts/check-layers.sh" "$TMP/t" 2>&1); rc=$?
  is "$rc" 1 "$3: exit 1"
  like "$out" "$4" "$3: named"
}
breach broker/mcp/mcp_server.c '#include "tools/mcp_app.h"' "mcp/ including tools/" 'mcp_server.c:[0-9]+: broker/mcp may not include "tools/mcp_app.h"'
breach broker/tools/mcp_app.c '#include "cli/cli.h"' "tools/ including a cli/ header" 'broker/tools may not include "cli/cli.h"'
breach broker/rotation/rotation.c '#include "cli/cmd_rotate.h"' "rotation/ including a cli/ header" 'may not include "cli/cmd_rotate.h"'
breach broker/store/store.c '#include "policy/policy.h"' "store/ including a layer above it" 'broker/store may not include "policy/policy.h"'
breach broker/rotation/rotation.c '#include "mcp_app.h"' "a bare include of another folder's header" 'is not a sibling'
breach providers/secrets/http.c '#include "store/store.h"' "a provider including the store" 'providers/secrets may not include "store/store.h"'
mkdir -p "$TMP/t2" && cp -r "$CB_ROOT/broker" "$CB_ROOT/providers" "$CB_ROOT/scripts" "$TMP/t2/" && mkdir -p "$TMP/t2/broker/extra" && echo 'int x;' >"$TMP/t2/broker/extra/x.c"
out=$("$TMP/t2/scripts/check-layers.sh" "$TMP/t2" 2>&1); rc=$?
is "$rc" 1 "a new folder outside the layer table is refused"
done_testing
