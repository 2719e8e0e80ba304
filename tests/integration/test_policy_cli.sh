#!/usr/bin/env bash
# `policy check|show` through the tests/tools/policy_cli driver: exit codes, error lines,
# --json shape, the shipped policies and examples, and the schema describing them.
# test-store: none (policy files only)
# shellcheck disable=SC1091
source "$(dirname "$0")/../lib/common.sh"
PC="$BUILD/tools/policy_cli"
[ -x "$PC" ] || skip_all "policy_cli not built"
cd "$TMP" || exit 1
unset CREDBROKER_CONFIG CREDBROKER_POLICIES
POL="$CB_ROOT/policies"

# --- the shipped files ---
out=$("$PC" --policies "$POL" check 2>&1); rc=$?
is "$rc" 0 "shipped policies/ check exits 0"
like "$out" "^0 credentials, 1 clients in 2 files" "shipped policies summary (schema.json and examples/ not loaded)"
out=$("$PC" check --policies "$POL/examples" 2>&1); rc=$?
is "$rc" 0 "shipped examples check exits 0"
like "$out" "^3 credentials, 1 clients in 3 files" "examples summary"
mkdir all && cp "$POL"/*.json "$POL"/examples/*.json all/
out=$("$PC" check --policies all 2>&1); rc=$?
is "$rc" 0 "shipped policies + examples merge without conflict"
like "$out" "^3 credentials, 2 clients in 5 files" "merged summary"
j=$("$PC" --json check --policies all)
is "$(jq -c '[.ok, .errors, .credentials, .clients, .files, .config]' <<<"$j")" '[true,[],3,2,5,null]' "--json summary shape"

if python3 -c 'import jsonschema' 2>/dev/null; then
  py=$(python3 - "$POL" <<'PY'
import glob, json, sys
from jsonschema import Draft202012Validator
d = sys.argv[1]
schema = json.load(open(d + "/schema.json"))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
bad = 0
for f in sorted(glob.glob(d + "/*.json") + glob.glob(d + "/examples/*.json")):
    if f.endswith("schema.json"):
        continue
    for e in v.iter_errors(json.load(open(f))):
        print(f, e.message); bad += 1
# the schema must also reject what credbroker rejects (spot checks)
for doc in ({"credentials": {"a": {"connection": "a", "shedule": "x"}}},
            {"clients": {"c": {"max_rows": 0}}},
            {"credentials": {"a": {"connection": "a", "strategy": "alternating-users"}}},
            {"requirements": {"min_sslmode": "required"}}, {"bogus": 1}):
    if v.is_valid(doc):
        print("schema accepts", doc); bad += 1
print("ok" if bad == 0 else "bad")
PY
)
  is "$(tail -1 <<<"$py")" ok "schema.json is valid 2020-12 and describes the shipped files"; [ "$(tail -1 <<<"$py")" = ok ] || diag "$py"
else
  skip "python jsonschema not installed"
fi

# --- errors: every one as file:line:column ---
mkdir bad && cp "$POL"/*.json bad/
cat > bad/30-bad.json <<'J'
{
  "credentials": {
    "app": {
      "connection": "app",
      "shedule": "0 3 * * *",
      "password": { "length": 4 }
    }
  },
  "clients": {
    "local": { "tools": ["*"] }
  }
}
J
out=$("$PC" check --policies bad 2>&1); rc=$?
is "$rc" 2 "invalid policy exits 2"
like "$out" "bad/30-bad.json:5:7: credentials.app: unknown key \"shedule\"" "unknown key at its line:column"
like "$out" "bad/30-bad.json:6:21: credentials.app.password.length: 4 out of range 8..256" "range error at its line:column"
like "$out" "bad/30-bad.json:10:5: client \"local\" already defined in bad/20-clients.json:4:5" "duplicate names both files"
n=$(grep -cE '^bad/30-bad\.json:[0-9]+:[0-9]+: ' <<<"$out")
is "$n" 3 "every error listed, one per line"
j=$("$PC" --json check --policies bad); rc=$?
is "$rc" 2 "--json invalid exits 2"
is "$(jq -c '[.ok, (.errors|length), .credentials, .clients]' <<<"$j")" '[false,3,0,0]' "--json error summary"
is "$(jq -c '.errors[] | select(.message|test("shedule")) | [.file,.line,.column]' <<<"$j")" '["bad/30-bad.json",5,7]' "--json error object {file,line,column,message}"
is "$(jq -r '[.errors[] | keys | join(",")] | unique | join(";")' <<<"$j")" 'column,file,line,message' "every error has exactly file,line,column,message"

printf '{\n  "clients": {\n    "x": {},\n  }\n}\n' > bad/40-syntax.json
out=$("$PC" check --policies bad 2>&1)
like "$out" "bad/40-syntax.json:4:3: invalid JSON" "syntax error line:column from the parser"

out=$("$PC" check --policies "$TMP/nope" 2>&1); rc=$?
is "$rc" 2 "missing policies dir exits 2"
like "$out" "nope: policies directory: No such file or directory" "missing dir named"
j=$("$PC" --json check --policies "$TMP/nope")
is "$(jq -c '[.ok, .errors[0].line, .errors[0].column]' <<<"$j")" '[false,0,0]' "--json missing dir"

mkdir empty
out=$("$PC" check --policies empty 2>&1); rc=$?
is "$rc" 0 "empty dir is valid"
like "$out" "0 credentials, 0 clients in 0 files" "empty summary"
like "$out" "grants nothing" "empty policy warned about"
is "$("$PC" --json check --policies empty | jq -c .empty)" true "--json reports empty"

# --- the config file ---
cd "$TMP/empty" || exit 1
expect_exit 0 "absent default credbroker.json is fine" "$PC" check --policies "$POL"
expect_exit 2 "explicit --config that is missing fails" "$PC" check --policies "$POL" --config "$TMP/none.json"
CREDBROKER_CONFIG="$TMP/none.json" expect_exit 2 "CREDBROKER_CONFIG that is missing fails" "$PC" check --policies "$POL"
cat > credbroker.json <<'J'
{
  "sources": { "app": { "ref": "vault://secret/app#url", "ttl_s": 60 } },
  "listen": "127.0.0.1:8787",
  "allowed_origins": ["http://localhost:6274"]
}
J
out=$("$PC" check --policies "$POL" 2>&1); rc=$?
is "$rc" 0 "valid default credbroker.json"
like "$out" "config credbroker.json: 1 sources" "config summarized"
is "$("$PC" --json check --policies "$POL" | jq -c '[.config,.sources]')" '["credbroker.json",1]' "--json config fields"
cat > "$TMP/bad-config.json" <<'J'
{
  "sources": { "app": { "ref": "vault://secret/app#url", "tll_s": 60 } },
  "listen": "localhost:0"
}
J
out=$("$PC" check --policies "$POL" --config "$TMP/bad-config.json" 2>&1); rc=$?
is "$rc" 2 "invalid config exits 2"
like "$out" "bad-config.json:2:58: sources.app: unknown key \"tll_s\"" "config unknown key at line:column"
like "$out" "bad-config.json:3:3: listen: \"localhost:0\": port must be 1..65535" "config listen checked"
cd "$TMP" || exit 1

# --- show ---
out=$("$PC" show --policies all 2>&1); rc=$?
is "$rc" 0 "show exits 0"
like "$out" "orders-db  \(all/31-orders-alternating.json:4:5\)" "show names each definition's origin"
like "$out" "strategy alternating-users, users orders_a,orders_b" "show alternating users"
mkdir round && "$PC" --json show --policies all > round/10-all.json
out=$("$PC" check --policies round 2>&1); rc=$?
is "$rc" 0 "show --json output is itself a valid policy file"
like "$out" "^3 credentials, 2 clients in 1 files" "round trip keeps every definition"
is "$("$PC" --json show --policies round | jq -S .)" "$(jq -S . round/10-all.json)" "round trip is stable"
expect_exit 2 "show refuses an invalid policy" "$PC" show --policies bad

# --- usage ---
expect_exit 2 "no subcommand" "$PC"
expect_exit 2 "unknown subcommand" "$PC" frobnicate
expect_exit 2 "unknown option" "$PC" check --bogus
expect_exit 0 "--help" "$PC" check --help
done_testing
