#!/usr/bin/env bash
# The README's MCP client snippets (Claude Desktop, VS Code, Cursor), extracted from
# README.md so that this fails when the README drifts, started the way the client starts
# them: the official SDK's stdio transport, cwd "/", an environment holding only what the
# snippet sets (the driver runs under env -i). Each completes initialize + tools/list with
# the expected tools. Then `credbroker mcp` with the store, the key or the policy directory
# missing: initialize is still answered, no tool, and stderr says what is missing and how
# to fix it (also on tools/list).
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
INTEROP="$CB_ROOT/tests/interop"
NODE=$(command -v node) || skip_all "node missing"
[ -x "$CB" ] || skip_all "credbroker not built"
[ -d "$INTEROP/node_modules/@modelcontextprotocol/sdk" ] || skip_all "MCP SDK not installed in tests/interop"

# the user's home as the snippets name it (/home/me), set up as the README says
H="$TMP/home/me"
mkdir -p "$H/.config/credbroker/policies" "$H/.local/share/credbroker"
install -m 600 /dev/null "$H/.config/credbroker/master.key"
"$CB" key generate >"$H/.config/credbroker/master.key"
cp "$CB_ROOT"/policies/*.json "$H/.config/credbroker/policies/"
(unset CREDBROKER_MASTER_KEY; CREDBROKER_MASTER_KEY_REF="file://$H/.config/credbroker/master.key" \
  "$CB" -q --db "$H/.local/share/credbroker/credbroker.db" init) >"$TMP/init.out" 2>&1
ok $? "init with the file:// master key of the README"

# snippet NAME -> JSON {command,args,env} of the stdio server entry, paths made real
python3 - "$CB_ROOT/README.md" "$TMP" "$CB" "$H" <<'PY' >"$TMP/extract.out" 2>&1
import json, re, sys
readme, tmp, cb, home = sys.argv[1:]
text = open(readme).read()
for name, key in (("claude-desktop", "mcpServers"), ("vscode", "servers"), ("cursor", "mcpServers")):
    m = re.search(r"<!-- snippet:%s -->\s*```json\n(.*?)\n```" % re.escape(name), text, re.S)
    if not m:
        print("missing snippet", name); sys.exit(1)
    entry = json.loads(m.group(1))[key]["credbroker"]
    raw = json.dumps(entry)
    if "CREDBROKER_API_KEY" in m.group(1) or "CREDBROKER_MASTER_KEY\"" in raw:
        print(name, "tells the client to export a secret"); sys.exit(1)
    if not entry["command"].startswith("/"):
        print(name, "command is not absolute"); sys.exit(1)
    for k, v in entry.get("env", {}).items():
        if k in ("CREDBROKER_DB", "CREDBROKER_POLICIES") and not v.startswith("/"):
            print(name, k, "is not absolute"); sys.exit(1)
    spec = {"label": name, "command": cb if entry["command"].endswith("/credbroker") else entry["command"],
            "args": entry.get("args", []),
            "env": {k: v.replace("/home/me", home) for k, v in entry.get("env", {}).items()},
            "expect": ["connections_list", "query_readonly", "schema_describe", "audit_recent", "security_assess"]}  # issue 11: the shipped local gets read-only tools, credentials_rotate is admin
    json.dump(spec, open("%s/%s.json" % (tmp, name), "w"))
    print("extracted", name)
PY
ok $? "README has the three snippets, absolute paths, no secret to export"
diag "$(cat "$TMP/extract.out")"

run_snippet() { # SPEC.json: TAP lines from the driver
  env -i "$NODE" "$INTEROP/mcp_snippet.mjs" "$1" >"$TMP/node.out" 2>&1; local rc=$?
  while IFS= read -r l; do case "$l" in PASS\ *) pass "${l#PASS }";; FAIL\ *) fail "${l#FAIL }";; \#*) echo "$l";; *) diag "$l";; esac; done <"$TMP/node.out"
  return $rc
}
for s in claude-desktop vscode cursor; do
  if [ -f "$TMP/$s.json" ]; then run_snippet "$TMP/$s.json"; else fail "$s: snippet extracted"; fi
done

# --- never silent: what is missing, and how to fix it ---
mk_spec() { # LABEL INSTRUCTIONS_REGEX then jq-less edits via python: DROP_ENV KEY=VALUE...
  python3 - "$TMP/claude-desktop.json" "$@" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1])); label, instr = sys.argv[2], sys.argv[3]
for kv in sys.argv[4:]:
    k, _, v = kv.partition("=")
    if v: spec["env"][k] = v
    else: spec["env"].pop(k, None)
spec.update(label=label, expect=[], instructions=instr)
print(json.dumps(spec))
PY
}
if pg_store; then # the store is a schema: named with its server, where it came from, and the fix
  mk_spec "no store" "store postgresql://.* \\(schema $(store_schema "$TMP/nowhere/cb.db")\\) does not exist" "CREDBROKER_DB=$TMP/nowhere/cb.db" >"$TMP/nostore.json"
  run_snippet "$TMP/nostore.json"
  like "$(cat "$TMP/node.out")" "# stderr: credbroker mcp: 1\) store postgresql://[^ ]* \(schema $(store_schema "$TMP/nowhere/cb.db")\) does not exist \(run credbroker init\)" "no store: stderr names the store, and the fix"
  like "$(cat "$TMP/node.out")" "store postgresql://[^ ]* from CREDBROKER_DB" "... and where it came from"
else
  mk_spec "no store" "no store at .*/nowhere/cb.db" "CREDBROKER_DB=$TMP/nowhere/cb.db" >"$TMP/nostore.json"
  run_snippet "$TMP/nostore.json"
  like "$(cat "$TMP/node.out")" "# stderr: credbroker mcp: 1\) no store at $TMP/nowhere/cb.db \(store path from CREDBROKER_DB\)\. Create it with: credbroker --db" "no store: stderr names the path, where it came from and the fix"
fi
like "$(cat "$TMP/node.out")" "tools/list: no tools, because:" "... and says it again on tools/list"
mk_spec "no key" "master key is not set" "CREDBROKER_MASTER_KEY_REF=" >"$TMP/nokey.json"
run_snippet "$TMP/nokey.json"
like "$(cat "$TMP/node.out")" "# stderr: credbroker mcp: 1\) the master key is not set: .*CREDBROKER_MASTER_KEY_REF=file:///ABSOLUTE/PATH/master.key" "no key: stderr says how to give one"
printf 'not-the-key\n' >"$TMP/wrong.key"; chmod 600 "$TMP/wrong.key"
mk_spec "wrong key" "master key is wrong" "CREDBROKER_MASTER_KEY_REF=file://$TMP/wrong.key" >"$TMP/wrongkey.json"
run_snippet "$TMP/wrongkey.json"
like "$(cat "$TMP/node.out")" "does not match this store" "wrong key: stderr says the key does not match"
mk_spec "no policies" "no policy directory at .*/nowhere/policies" "CREDBROKER_POLICIES=$TMP/nowhere/policies" >"$TMP/nopol.json"
run_snippet "$TMP/nopol.json"
like "$(cat "$TMP/node.out")" "no policy directory at $TMP/nowhere/policies \(policies path from CREDBROKER_POLICIES\), so client 'local' may call no tool\. Create it with a file granting client \"local\"" "no policy directory: stderr names it and the fix"
mkdir -p "$TMP/nolocal"; printf '{ "clients": { "other": { "tools": ["*"], "connections": ["*"] } } }\n' >"$TMP/nolocal/c.json"
mk_spec "no local client" "define no client \"local\"" "CREDBROKER_POLICIES=$TMP/nolocal" >"$TMP/nolocal.json"
run_snippet "$TMP/nolocal.json"
# all three at once: every problem is listed, not just the first
# (a PostgreSQL store is looked at after the key and the policies: it is a connection)
if pg_store; then all3="1\) the master key.*2\) no policy directory.*3\) store .* does not exist"; else all3="1\) no store.*2\) the master key.*3\) no policy directory"; fi
mk_spec "nothing at all" "$all3" "CREDBROKER_DB=$TMP/x.db" \
  "CREDBROKER_MASTER_KEY_REF=" "CREDBROKER_POLICIES=$TMP/nowhere" >"$TMP/none.json"
run_snippet "$TMP/none.json"
# the exit code still tells a script what went wrong
(cd / && env -i "$CB" --db "$TMP/x.db" mcp </dev/null >/dev/null 2>&1); is $? 1 "mcp with no store exits 1 when stdin closes"
(cd / && env -i CREDBROKER_DB="$H/.local/share/credbroker/credbroker.db" "$CB" mcp </dev/null >/dev/null 2>&1); is $? 4 "mcp with no key exits 4 when stdin closes"
done_testing
