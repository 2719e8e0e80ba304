#!/usr/bin/env bash
# Packaging: `make install` into a throwaway root (binary, hardened systemd units, timer,
# man page, completions, example config and policies, operator scripts only);
# systemd-analyze verify + security (offline: this container runs no systemd as PID 1, so
# the units are checked, not started); the man page through man --warnings and mandoc -T lint; bash
# completion; the service's environment (StateDirectory, ConfigurationDirectory,
# LoadCredential) simulated for an unprivileged uid: defaults from systemd's variables,
# the master key from $CREDENTIALS_DIRECTORY and in no environment; `make deb` installed
# with dpkg -x into a throwaway root, `credbroker --version` run from it.
# test-store: none (the installed binary, make install/deb and the systemd StateDirectory default path)
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
[ -x "$CB" ] || skip_all "credbroker not built"
R="$TMP/root"
make -s -C "$CB_ROOT" BUILD="$BUILD" install DESTDIR="$R" PREFIX=/usr/local >"$TMP/install.out" 2>&1
ok $? "make install DESTDIR=... PREFIX=/usr/local"
for f in usr/local/bin/credbroker usr/local/lib/systemd/system/credbroker.service \
         usr/local/lib/systemd/system/credbroker-rotate.service usr/local/lib/systemd/system/credbroker-rotate.timer \
         usr/local/share/man/man1/credbroker.1 usr/local/share/bash-completion/completions/credbroker \
         usr/local/share/zsh/site-functions/_credbroker usr/local/share/credbroker/credbroker.json.example \
         usr/local/share/credbroker/policies/examples/40-analyst-client.json etc/credbroker/credbroker.json \
         etc/credbroker/policies/20-clients.json usr/local/share/credbroker/scripts/install-cron.sh \
         usr/local/share/credbroker/scripts/emergency-rotate.sh usr/local/share/credbroker/scripts/lib.sh; do
  [ -e "$R/$f" ] || fail "installed: /$f"
done
pass "installed: binary, units, timer, man page, completions, examples, operator scripts"
is "$(find "$R" -name demo.sh -o -name deps.sh -o -name check-layers.sh | wc -l)" 0 "demo.sh, deps.sh, check-layers.sh are not installed"
is "$("$R/usr/local/bin/credbroker" --version)" "credbroker 0.1.0" "the installed binary: --version"
"$R/usr/local/bin/credbroker" --policies "$R/etc/credbroker/policies" --config "$R/etc/credbroker/credbroker.json" policy check >"$TMP/pc.out" 2>&1
ok $? "the installed example config and policies pass policy check"
# an operator's config is never overwritten by a second install
echo '{ "listen": "127.0.0.1:9999" }' >"$R/etc/credbroker/credbroker.json"
make -s -C "$CB_ROOT" BUILD="$BUILD" install DESTDIR="$R" PREFIX=/usr/local >"$TMP/install.out" 2>&1
like "$(cat "$R/etc/credbroker/credbroker.json")" "9999" "make install again keeps /etc/credbroker/credbroker.json"
# installed operator scripts find the installed binary
out=$(env -i PATH=/usr/bin:/bin bash -c ". '$R/usr/local/share/credbroker/scripts/lib.sh'; echo \$CREDBROKER")
is "$out" "$R/usr/local/bin/credbroker" "installed lib.sh finds PREFIX/bin/credbroker"

# --- systemd units ---
UNIT="$R/usr/local/lib/systemd/system/credbroker.service"
like "$(grep ExecStart "$UNIT")" "^ExecStart=/usr/local/bin/credbroker serve$" "ExecStart is PREFIX/bin/credbroker serve"
for d in DynamicUser=yes StateDirectory=credbroker ConfigurationDirectory=credbroker \
         LoadCredential=master-key:/etc/credbroker/master.key ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes \
         MemoryDenyWriteExecute=yes SystemCallFilter=@system-service "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"; do
  grep -qxF "$d" "$UNIT" || fail "credbroker.service has $d"
done
pass "credbroker.service has the required hardening directives"
unlike "$(cat "$UNIT")" "CREDBROKER_MASTER_KEY" "the unit puts no master key in an environment"
if command -v systemd-analyze >/dev/null; then
  U="$TMP/units"; mkdir -p "$U"
  for f in "$R"/usr/local/lib/systemd/system/*; do sed "s|/usr/local/bin/credbroker|$R/usr/local/bin/credbroker|" "$f" >"$U/${f##*/}"; done
  (cd / && MANPATH="$R/usr/local/share/man" systemd-analyze verify "$U/credbroker.service" "$U/credbroker-rotate.service" \
      "$U/credbroker-rotate.timer") >"$TMP/verify.out" 2>&1
  ok $? "systemd-analyze verify: credbroker.service, credbroker-rotate.service and .timer"
  is "$(cat "$TMP/verify.out")" "" "... without a single warning"
  # the check can fail: a misspelled directive is reported
  sed 's/^ProtectSystem=strict/ProtectSystem=stric/' "$U/credbroker.service" >"$U/bad.service"
  (cd / && MANPATH="$R/usr/local/share/man" systemd-analyze verify "$U/bad.service") >"$TMP/verify.out" 2>&1
  like "$(cat "$TMP/verify.out")" "protect system" "... (a broken directive is reported)"
  for u in credbroker credbroker-rotate; do
    out=$(systemd-analyze security --offline=yes --threshold=20 "$U/$u.service" 2>&1); rc=$?
    is "$rc" 0 "systemd-analyze security $u.service: exposure at most 2.0"
    diag "$(echo "$out" | tail -1)"
  done
else
  skip "systemd-analyze not installed"
fi

# --- man page and completions ---
if command -v man >/dev/null; then
  MANWIDTH=80 man --warnings -l "$R/usr/local/share/man/man1/credbroker.1" >"$TMP/man.out" 2>"$TMP/man.err"
  ok $? "man -l credbroker.1 renders"
  is "$(cat "$TMP/man.err")" "" "man --warnings: no warning"
  like "$(cat "$TMP/man.out")" "LoadCredential" "the man page documents the service's master key"
  printf '.TH X 1\n.SH NAME\nx \\- y\n.XX bad\n' >"$TMP/bad.1"
  man --warnings -l "$TMP/bad.1" >/dev/null 2>"$TMP/man.err"
  isnt "$(cat "$TMP/man.err")" "" "... (man --warnings does report a bad page)"
else
  skip "man not installed"
fi
# mandoc's linter is stricter than man: style (long lines), macro misuse, bad escapes
if command -v mandoc >/dev/null; then
  mandoc -T lint "$R/usr/local/share/man/man1/credbroker.1" >"$TMP/lint.out" 2>&1
  ok $? "mandoc -T lint credbroker.1 passes"
  is "$(cat "$TMP/lint.out")" "" "mandoc -T lint: nothing reported"
  printf '.TH X 1\n.SH NAME\nx \\- y\n.XX bad\n' >"$TMP/bad.1"
  mandoc -T lint "$TMP/bad.1" >"$TMP/lint.out" 2>&1
  isnt "$(cat "$TMP/lint.out")" "" "... (mandoc -T lint does report a bad page)"
else
  skip "mandoc not installed"
fi
out=$(bash -c "source '$R/usr/local/share/bash-completion/completions/credbroker'
  COMP_WORDS=(credbroker ro); COMP_CWORD=1; _credbroker; echo \"\${COMPREPLY[*]}\"
  COMP_WORDS=(credbroker --db x rotate --); COMP_CWORD=4; _credbroker; echo \"\${COMPREPLY[*]}\"")
like "$out" "^rotate" "bash completion: commands"
like "$out" "--journal" "bash completion: a command's options after global ones"
if command -v zsh >/dev/null; then
  zsh -n "$R/usr/local/share/zsh/site-functions/_credbroker"; ok $? "zsh completion parses"
else
  skip "zsh not installed (zsh completion not parsed)"
fi

# --- the service's environment, simulated: what systemd gives an unprivileged DynamicUser ---
if command -v setpriv >/dev/null && [ "$(id -u)" -eq 0 ]; then
  S="$TMP/svc"; mkdir -p "$S/state" "$S/etc/policies" "$S/creds"
  cp "$CB_ROOT"/policies/*.json "$S/etc/policies/"
  "$CB" key generate >"$S/creds/master-key"; chmod 400 "$S/creds/master-key"
  chown -R 61234:61234 "$S/state" "$S/creds"; chmod 700 "$S/state"
  SVC=(env -i PATH=/usr/bin:/bin STATE_DIRECTORY="$S/state" CONFIGURATION_DIRECTORY="$S/etc" CREDENTIALS_DIRECTORY="$S/creds"
       setpriv --reuid=61234 --regid=61234 --clear-groups "$R/usr/local/bin/credbroker")
  "${SVC[@]}" -v init >"$TMP/svc.out" 2>&1
  ok $? "as the service: init with the key from \$CREDENTIALS_DIRECTORY"
  like "$(cat "$TMP/svc.out")" "store $S/state/credbroker.db \(\\\$STATE_DIRECTORY \(systemd\), backend sqlite\)" "-v names the store and where it came from"
  like "$(cat "$TMP/svc.out")" "policies $S/etc/policies \(\\\$CONFIGURATION_DIRECTORY \(systemd\)\)" "-v names the policy directory"
  [ -f "$S/state/credbroker.db" ]; ok $? "the store is in the StateDirectory"
  PORT=$(free_port)
  "${SVC[@]}" serve --listen "127.0.0.1:$PORT" >"$TMP/serve.out" 2>&1 &
  SP=$!; on_exit "kill $SP"
  if wait_port "$PORT" 15; then
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/mcp" -H 'Content-Type: application/json' -d '{}')
    is "$code" 401 "as the service: serve answers (401 without an API key)"
    KEY=$(cat "$S/creds/master-key")
    SPID=$(pgrep -P "$SP" -x credbroker || echo "$SP")
    if tr '\0' '\n' <"/proc/$SPID/environ" | grep -qF "$KEY"; then fail "the master key is not in serve's environment"; else pass "the master key is not in serve's environment"; fi
  else
    fail "as the service: serve binds"; diag "$(cat "$TMP/serve.out")"
  fi
  kill "$SP" 2>/dev/null; wait "$SP" 2>/dev/null
  # a wrong credential file is refused like a wrong key
  printf 'wrong\n' >"$S/creds/master-key"
  "${SVC[@]}" conn list >"$TMP/svc.out" 2>&1; rc=$?
  is "$rc" 4 "a wrong credential file: exit 4"
  like "$(cat "$TMP/svc.out")" "does not match this store" "... and says the key does not match"
else
  skip "setpriv missing or not root: service environment not simulated"
fi

# --- the Debian package ---
if command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null; then
  rm -f "$CB_ROOT"/build/credbroker_*.deb
  if make -s -C "$CB_ROOT" deb >"$TMP/deb.out" 2>&1; then pass "make deb"; else fail "make deb"; diag "$(tail -20 "$TMP/deb.out")"; fi
  DEB=$(find "$CB_ROOT/build" -maxdepth 1 -name 'credbroker_*.deb' | head -1)
  if [ -n "$DEB" ]; then
    dpkg -x "$DEB" "$TMP/debroot"; ok $? "dpkg -x into a throwaway root"
    is "$("$TMP/debroot/usr/bin/credbroker" --version)" "credbroker 0.1.0" "credbroker --version from the package"
    like "$(grep ExecStart "$TMP/debroot/lib/systemd/system/credbroker.service")" "^ExecStart=/usr/bin/credbroker serve$" "the package's unit runs /usr/bin/credbroker"
    for f in usr/share/man/man1/credbroker.1.gz usr/share/bash-completion/completions/credbroker \
             usr/share/zsh/vendor-completions/_credbroker lib/systemd/system/credbroker-rotate.timer \
             etc/credbroker/policies/20-clients.json usr/share/credbroker/scripts/install-cron.sh; do
      [ -e "$TMP/debroot/$f" ] || fail "package has /$f"
    done
    pass "the package has the man page, completions, timer, policies and scripts"
    like "$(dpkg-deb -f "$DEB" Depends)" "libmicrohttpd" "the package depends on its shared libraries"
    like "$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles)" "/etc/credbroker/credbroker.json" "/etc/credbroker files are conffiles"
  else
    fail "make deb produced build/credbroker_*.deb"
  fi
else
  skip "dpkg-buildpackage/debhelper not installed: make deb not tested"
fi
done_testing
