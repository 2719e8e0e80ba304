/* `credbroker mcp` when it cannot serve tools (no store, no key, no policy for 'local'):
 * an MCP client shows "0 tools" and, at best, the server's stderr. So the server still
 * answers initialize (its instructions name the problem), offers no tool, and says on
 * stderr what is missing and how to fix it: at start and on every tools/list. */
#ifndef CB_MCP_UNAVAILABLE_H
#define CB_MCP_UNAVAILABLE_H

/* Serves MCP over stdio until EOF with no tools; problem: one or more lines (what is
 * missing and the fix), logged as given. Returns 0 when stdin closed normally. */
int mcp_unavailable_serve_stdio(const char *problem, int in_fd, int out_fd);

#endif
