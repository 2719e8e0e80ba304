#!/usr/bin/env bash
# macOS builds (Claude Desktop's main platform; CI stays Linux): every source file compiles
# with __linux__ undefined and the Linux-only headers replaced by ones that #error
# (tests/portability/include), so a Linux-only call must sit behind #ifdef __linux__.
# Also checks that the stand-ins do fire (a file including one fails).
# test-store: none (a compile check)
# shellcheck source=tests/lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
command -v cc >/dev/null || skip_all "no C compiler"
cd "$CB_ROOT" || exit 1
read -r -a PKGF <<<"$(pkg-config --cflags libcurl openssl sqlite3 libpq jansson libmicrohttpd libmariadb 2>/dev/null)"
FLAGS=(-fsyntax-only -std=c11 -D_GNU_SOURCE -Wall -Werror -U__linux__ -U__linux -Ulinux -U__gnu_linux__
       -Itests/portability/include -Ibroker -Iproviders "${PKGF[@]}")
bad=0
for f in broker/*.c broker/*/*.c providers/*/*.c; do
  if ! cc "${FLAGS[@]}" "$f" >"$TMP/cc.err" 2>&1; then bad=$((bad+1)); diag "$f: $(head -3 "$TMP/cc.err")"; fi
done
is "$bad" 0 "every source file builds without __linux__ and without Linux-only headers"
printf '#include <sys/prctl.h>\nint main(void) { return 0; }\n' >"$TMP/probe.c"
cc "${FLAGS[@]}" "$TMP/probe.c" >"$TMP/cc.err" 2>&1
isnt "$?" 0 "an unguarded Linux-only include fails this check"
like "$(cat "$TMP/cc.err")" "Linux-only" "... with the reason"
printf '#include <signal.h>\nint f(sigset_t *s) { return sigtimedwait(s, 0, 0); }\n' >"$TMP/probe2.c"
cc "${FLAGS[@]}" "$TMP/probe2.c" >"$TMP/cc.err" 2>&1
isnt "$?" 0 "sigtimedwait (not on macOS) outside util.h's compat fails this check"
# the compat sigtimedwait itself (util.c without __linux__), run here: a timeout, then a signal
cat >"$TMP/sigt.c" <<'C'
#include <errno.h>
#include <stdio.h>
#include "util.h"
int main(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    struct timespec ts = {0, 300 * 1000000L};
    siginfo_t si;
    int r1 = sigtimedwait(&set, &si, &ts), e1 = errno;
    raise(SIGUSR1);
    int r2 = sigtimedwait(&set, &si, &ts);
    printf("%d %d %d\n", r1, e1 == EAGAIN, r2 == SIGUSR1);
    return 0;
}
C
read -r -a LIBS <<<"$(pkg-config --libs openssl 2>/dev/null)"
if cc -std=c11 -D_GNU_SOURCE -U__linux__ -U__linux -Ulinux -U__gnu_linux__ -Ibroker -o "$TMP/sigt" "$TMP/sigt.c" broker/util.c \
     "${LIBS[@]}" >"$TMP/cc.err" 2>&1; then
  is "$("$TMP/sigt")" "-1 1 1" "the macOS sigtimedwait: EAGAIN after the timeout, then the pending signal"
else
  fail "the macOS sigtimedwait builds"; diag "$(head -5 "$TMP/cc.err")"
fi
done_testing
