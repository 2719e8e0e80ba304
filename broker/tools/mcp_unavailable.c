/* MCP over stdio with no tools and the reason on stderr (see mcp_unavailable.h). The
 * protocol is the real one (mcp_handle_text); only the line loop is local, to log the
 * explanation whenever the client asks for tools. */
#include "mcp_unavailable.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mcp/mcp.h"

#define UNAVAILABLE_VERSION "0.1.0"

static void say(const char *problem)
{
    const char *p = problem;
    while (*p) {
        size_t n = strcspn(p, "\n");
        fprintf(stderr, "credbroker mcp: %.*s\n", (int)n, p);
        p += n;
        if (*p) p++;
    }
    fflush(stderr);
}

static int is_tools_list(const char *line, size_t n)
{
    json_t *m = json_loadb(line, n, 0, NULL);
    const char *method = json_string_value(json_object_get(m, "method"));
    int r = method && !strcmp(method, "tools/list");
    json_decref(m);
    return r;
}

int mcp_unavailable_serve_stdio(const char *problem, int in_fd, int out_fd)
{
    signal(SIGPIPE, SIG_IGN);
    char *instr = cb_sprintf("credbroker cannot offer any tool yet: %s The server's standard error says how to fix "
                             "it; restart this server afterwards.", problem);
    for (char *q = instr; *q; q++)
        if (*q == '\n') *q = ' ';
    mcp_hooks hk = {0};
    mcp_server *s = mcp_server_new(UNAVAILABLE_VERSION, instr, &hk);
    say(problem);
    fprintf(stderr, "credbroker mcp: serving MCP with no tools until this is fixed (then restart the server)\n");
    mcp_session sess;
    memset(&sess, 0, sizeof sess);
    mcp_conn c = {.principal = "local", .transport = "stdio", .session = &sess};
    FILE *in = fdopen(dup(in_fd), "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (in && (n = getline(&line, &cap, in)) >= 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (!n) continue;
        if ((size_t)n > MCP_DEFAULT_MAX_MESSAGE) continue; /* not ours to parse */
        if (is_tools_list(line, (size_t)n)) {
            fprintf(stderr, "credbroker mcp: tools/list: no tools, because:\n");
            say(problem);
        }
        char *out = mcp_handle_text(s, &c, line, (size_t)n);
        if (out) {
            int w = cb_write_all(out_fd, out, strlen(out)) || cb_write_all(out_fd, "\n", 1);
            free(out);
            if (w) { rc = 1; break; }
        }
    }
    free(line);
    if (in) fclose(in);
    mcp_server_free(s);
    free(instr);
    return rc;
}
