/* recv() with a per-thread byte budget (see recv_budget.h). The broker's recv() stands in
 * for libc's (ELF symbol interposition: libpq's calls resolve to the executable's
 * definition first) and forwards to libc's unchanged unless a budget is active on this
 * thread for this very socket. */
#include "recv_budget.h"
#include <dlfcn.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>

static __thread int b_fd = -1;
static __thread size_t b_left, b_used;

void recv_budget_begin(int fd, size_t left)
{
    b_fd = fd;
    b_left = left;
    b_used = 0;
}

size_t recv_budget_end(void)
{
    b_fd = -1;
    return b_used;
}

typedef ssize_t (*recv_fn)(int, void *, size_t, int);

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    static recv_fn real;
    if (!real) {
        real = (recv_fn)dlsym(RTLD_NEXT, "recv");
        if (!real) { errno = ENOSYS; return -1; }
    }
    if (fd != b_fd || b_fd < 0) return real(fd, buf, n, flags);
    if (b_left == 0) { errno = EAGAIN; return -1; }
    if (n > b_left) n = b_left;
    ssize_t r = real(fd, buf, n, flags);
    if (r > 0 && !(flags & MSG_PEEK)) {
        b_left -= (size_t)r;
        b_used += (size_t)r;
    }
    return r;
}
