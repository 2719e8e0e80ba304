#!/usr/bin/env bash
# Checks the include graph of broker/ and providers/ against the layers of
# docs/architecture.md. Every quoted include must be either a sibling file, util.h, or
# "<folder>/<file>.h" with <folder> allowed for the including folder. Exit 1 on a breach.
# Usage: scripts/check-layers.sh [ROOT]   (default: the repository)
set -euo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT"

# folder -> folders it may include from (util.h is allowed everywhere)
allowed() {
  case "$1" in
    broker/cli)           echo "cli store rotation mcp tools policy conn secrets databases monitor";;
    broker/tools)         echo "tools mcp rotation store policy conn secrets databases monitor";;
    broker/monitor)       echo "monitor rotation store policy secrets";;
    broker/rotation)      echo "rotation store policy conn secrets databases";;
    broker/conn)          echo "conn store policy secrets";;
    broker/policy)        echo "policy secrets";;
    broker/store)         echo "store secrets";;
    broker/mcp)           echo "mcp";;
    broker)               echo "";;
    providers/secrets)    echo "secrets";;
    providers/databases)  echo "databases conn";;
    *)                    echo "?";;
  esac
}

bad=0
while IFS= read -r f; do
  dir=$(dirname "$f")
  ok=$(allowed "$dir")
  if [ "$ok" = "?" ]; then echo "layers: $f: folder $dir is not in the layer table (scripts/check-layers.sh)"; bad=1; continue; fi
  while IFS=: read -r line inc; do
    inc=${inc#*\"}; inc=${inc%%\"*}
    case "$inc" in
      util.h) continue;;
      */*/*) echo "layers: $f:$line: include \"$inc\": name one folder and one file"; bad=1; continue;;
      */*) folder=${inc%%/*};;
      *) if [ -f "$dir/$inc" ]; then continue; fi
         echo "layers: $f:$line: include \"$inc\" is not a sibling: write \"<folder>/$inc\""; bad=1; continue;;
    esac
    case " $ok " in
      *" $folder "*) ;;
      *) echo "layers: $f:$line: $dir may not include \"$inc\" (allowed: ${ok:-util.h only})"; bad=1;;
    esac
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" || true)
done < <(find broker providers -name '*.[ch]' | sort)
[ $bad -eq 0 ] && echo "layers: ok ($(find broker providers -name '*.[ch]' | wc -l) files)"
exit $bad
