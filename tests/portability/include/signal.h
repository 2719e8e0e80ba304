/* Stand-in for <signal.h> under the macOS check: the real header, minus the calls macOS
 * lacks (sigtimedwait, sigwaitinfo): a use not routed through util.h's compat fails. */
#ifndef CB_PORTABILITY_SIGNAL_H
#define CB_PORTABILITY_SIGNAL_H
#include_next <signal.h>
#define sigtimedwait sigtimedwait_is_linux_only__use_util_h
#define sigwaitinfo sigwaitinfo_is_linux_only
#endif
