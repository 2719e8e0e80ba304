/* Leased query logins on the MCP side: a connection whose policy has a query_identity is
 * queried, for each client, as a login the broker made for that (client, connection)
 * pair (never as the application's login). Row-level security context: the client's
 * session_settings resolved for the calling API key. */
#ifndef CB_MCP_LEASES_H
#define CB_MCP_LEASES_H
#include <stdint.h>
#include "mcp_app.h"

/* When `connection` has a query_identity: creates the lease of (client, connection) on
 * first use (journaled before the database is touched), renews it once half its TTL has
 * passed, and replaces u's user and password with the leased login's. hash (may be
 * NULL) is mixed with the login so a pooled session of another login is not reused.
 * Without a query_identity: does nothing. Fails closed: on any error the call must not
 * fall back to the stored login. */
int mcp_lease_apply(mcp_app *a, const char *client, const char *connection, conn_url *u, uint8_t hash[32], cb_error *e);

/* The HTTP authenticate hook records which API key produced a principal string (the
 * pointer, unique while its request lives), so a tool can find the key's attributes. */
void mcp_key_remember(const char *principal, const char *key_name);
/* The API key behind principal (NULL: stdio, bootstrap key or unknown). Copies into out. */
int mcp_key_of(const char *principal, char out[65]);

/* The client's session_settings with ${client} and ${apikey.attr.NAME} filled in:
 * *kv = name, value, ..., NULL (free with mcp_session_settings_free), NULL when none.
 * A missing attribute is an error (fail closed: the query does not run). */
int mcp_session_settings(mcp_app *a, const policy_client *c, const char *principal, char ***kv, cb_error *e);
void mcp_session_settings_free(char **kv);

/* ---- least privilege without a query_identity (mcp_least_privilege.c) ---- */
/* What the login of `connection` can do beyond reading, checked in the database as that
 * login: *findings = array of one-line strings (empty when none). PostgreSQL only
 * (other engines: empty, with a note). */
int mcp_lp_findings(mcp_app *a, const char *client, const char *connection, json_t **findings, cb_error *e);
/* requirements.mcp_least_privilege: refuses query_readonly over a connection without a
 * query_identity whose login has findings (the first is the reason). */
/* Findings {target, check "mcp_least_privilege", severity, message, fix} for every stored
 * connection (only: one; viewer: only those it may use) that some client may query
 * read-only without a query_identity (assess, security_assess). */
void mcp_lp_assess(mcp_app *a, const policy_client *viewer, const char *only, json_t *out);
int mcp_least_privilege_check(mcp_app *a, const policy_client *c, const char *connection, int write, cb_error *e);
#endif
