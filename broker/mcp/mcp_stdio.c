/* stdio transport: one compact JSON-RPC message per line on stdin/stdout. stdout carries
 * nothing else (logs go to stderr); EOF on stdin ends the server at once, which is how
 * official clients shut servers down. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mcp.h"

static int emit(int fd, char *line)
{
    if (!line) return 0;
    size_t n = strlen(line);
    line[n] = 0;
    int rc = cb_write_all(fd, line, n) || cb_write_all(fd, "\n", 1);
    free(line);
    return rc;
}

static int handle_line(mcp_server *s, const mcp_conn *c, int out_fd, char *p, size_t n)
{
    if (n && p[n - 1] == '\r') n--; /* tolerate CRLF */
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
    if (i == n) return 0; /* blank line */
    return emit(out_fd, mcp_handle_text(s, c, p, n));
}

int mcp_stdio_serve(mcp_server *s, int in_fd, int out_fd, size_t max_message)
{
    if (!max_message) max_message = MCP_DEFAULT_MAX_MESSAGE;
    signal(SIGPIPE, SIG_IGN); /* a gone client shows up as a write error */
    mcp_session sess;
    memset(&sess, 0, sizeof sess);
    mcp_conn c = {.principal = "local", .transport = "stdio", .session = &sess};
    size_t cap = 65536, len = 0, scan = 0;
    char *buf = cb_malloc(cap);
    int skipping = 0; /* inside an over-long line: drop bytes until its newline */
    int rc = 0;
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = cb_realloc(buf, cap);
        }
        ssize_t r = read(in_fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR) continue;
            LOG_ERROR("mcp stdio: read: %s", strerror(errno));
            rc = 1;
            break;
        }
        if (r == 0) {
            /* a final line without newline still counts */
            if (len && !skipping && handle_line(s, &c, out_fd, buf, len)) rc = 1;
            break;
        }
        len += (size_t)r;
        size_t start = 0;
        for (;;) {
            char *nl = memchr(buf + scan, '\n', len - scan);
            if (!nl) break;
            size_t end = (size_t)(nl - buf);
            if (skipping) {
                skipping = 0;
            } else if (handle_line(s, &c, out_fd, buf + start, end - start)) {
                rc = 1;
                goto out;
            }
            start = scan = end + 1;
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        scan = len;
        if (len > max_message) {
            if (!skipping) {
                LOG_WARN("mcp stdio: message over %zu bytes dropped", max_message);
                json_t *er = mcp_error_response(NULL, MCP_PARSE_ERROR, "Parse error: message too large", NULL);
                char *t = json_dumps(er, JSON_COMPACT);
                json_decref(er);
                if (emit(out_fd, t)) { rc = 1; break; }
            }
            skipping = 1;
            len = scan = 0;
        }
    }
out:
    free(buf);
    return rc;
}
