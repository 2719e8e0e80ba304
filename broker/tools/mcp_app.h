/* credbroker's MCP product: the store, config and policies behind the protocol layer
 * (mcp.h), the policy/audit/API-key hooks, the tool set (mcp_tools*.c), and a pool of
 * database sessions. Credentials never leave this process: tools take connection names,
 * results and errors are sanitized, and every call is audited. */
#ifndef CB_MCP_APP_H
#define CB_MCP_APP_H
#include <pthread.h>
#include <jansson.h>
#include "policy/config.h"
#include "conn/connstr.h"
#include "databases/db_target.h"
#include "mcp/mcp.h"
#include "policy/policy.h"
#include "store/store.h"

/* The rotation engine, supplied by the caller (the lead sets it in main.c). emergency:
 * also terminate the user's sessions and record the incident; revoke_api_keys: revoke
 * every API key. *report: a JSON object (new reference) describing what happened, never
 * a secret. Returns 0 or fills e (a one-line, secret-free message). */
typedef int (*mcp_rotate_fn)(void *arg, const char *credential, int emergency, const char *incident,
                             const char *reason, int revoke_api_keys, const char *actor, json_t **report, cb_error *e);

/* Default rotation engine for every app opened after it is set (NULL: the
 * credentials_rotate / credentials_emergency_rotate tools are not offered). */
extern mcp_rotate_fn mcp_app_rotate_hook;
extern void *mcp_app_rotate_arg;
/* The real engine (mcp_rotation_adapter.c); arg is the cb_paths of the store to use. */
int mcp_rotation_adapter(void *arg, const char *credential, int emergency, const char *incident,
                         const char *reason, int revoke_api_keys, const char *actor, json_t **report, cb_error *e);

/* The pool of database sessions is keyed by (client, connection, login): a session that
 * served one client never serves another, nor another login. Hard caps in total and per
 * client (credbroker.json database_pool); a call that finds no free session waits up to
 * its statement timeout, then fails "busy": never an extra, unpooled connection. */
typedef struct mcp_pool_entry {
    char client[65];          /* the policy client (principal) it serves */
    char name[65];            /* connection name */
    char login[129];          /* the login it is logged in as, after resolution (and leases) */
    uint8_t url_hash[32];     /* the pooled session is only reused for the same URL */
    const db_target *t;
    db_conn *conn;            /* NULL while it is being opened (in_use set) */
    char *password;           /* secret: to sanitize this session's errors */
    int64_t resolved_ms;      /* when the URL was last checked against the store */
    int64_t used_ms;          /* last release: the least recently used idle one is evicted */
    int in_use;
    int doomed;               /* in use when its login was revoked: closed at release */
} mcp_pool_entry;

/* A pooled session is reused without re-reading the store for this long; after that the
 * URL is resolved again (rotation, provider TTL) and a changed URL drops the session. */
#define MCP_POOL_RECHECK_MS 1000

typedef struct mcp_app {
    const cb_paths *paths;      /* store, config, policies (owned by the caller) */
    cb_store *store;
    cb_config *cfg;
    cb_policy *pol;
    mcp_server *srv;
    pthread_mutex_t store_mu;   /* the store handle is shared by HTTP threads */
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;     /* a session was released */
    mcp_pool_entry *pool;       /* pool_n slots */
    int pool_n, pool_per_client;
    int pool_waiting;           /* calls waiting for a session (under pool_mu) */
    char *bootstrap_key;        /* CREDBROKER_BOOTSTRAP_API_KEY (secret; mcp_auth.c), NULL when unset */
    char *bootstrap_policy;     /* CREDBROKER_BOOTSTRAP_API_KEY_POLICY, default "local" */
    /* rate limiting per policy client (rate_limit_per_min) */
    struct { char name[65]; double tokens; int64_t last_ms; } buckets[64];
    int nbuckets;
    struct mcp_audit *audit;    /* audit writer (mcp_audit.h), started with the server */
    struct mcp_auth *auth;      /* bearer tokens (mcp_auth.c), opened for HTTP serving */
    mcp_rotate_fn rotate;       /* from mcp_app_rotate_hook at open; may be changed before serving */
    void *rotate_arg;
    struct fleet_sync *fleet;   /* changes made by other brokers or the CLI (fleet_sync.h), serve only */
    /* serve: called once the HTTP port is bound, before the first tick (NULL: nothing) */
    void (*on_listening)(void *arg);
    void *on_listening_arg;
} mcp_app;

/* Opens the store (master key from the environment), credbroker.json and the policies
 * named by paths. Malformed policy or config files are errors (exit 2); a missing policy
 * directory means an empty policy: every client is denied (fail closed). On failure e
 * holds the one-line reason and its exit code is returned. */
int mcp_app_open(const cb_paths *paths, mcp_app **out, cb_error *e);
void mcp_app_close(mcp_app *a);
/* The MCP server with every tool registered (built on first call, after rotate is set). */
mcp_server *mcp_app_server(mcp_app *a, cb_error *e);

/* Waits until every audit row queued so far is in the store. */
void mcp_app_audit_flush(mcp_app *a);
/* stdio: principal "local" until stdin closes. Returns the exit code (e set when there
 * is something to say). */
int mcp_app_serve_stdio(mcp_app *a, cb_error *e);
/* Streamable HTTP at /mcp until SIGTERM/SIGINT. listen_override / tls files (NULL = from
 * credbroker.json, else 127.0.0.1:8787 without TLS). A non-loopback address is served
 * with a loud warning. tick (may be NULL) runs every tick_interval_s seconds on the
 * calling thread (the scheduler); its return value is ignored. Returns the exit code
 * (e holds the reason). */
int mcp_app_serve_http(mcp_app *a, const char *listen_override, const char *tls_cert_file, const char *tls_key_file,
                       int (*tick)(void *arg), void *tick_arg, int tick_interval_s, cb_error *e);

/* ---- pieces shared by the tool files ---- */

/* Policy decision for principal calling tool (canonical name) with args (NULL: may the
 * principal call it at all, for tools/list). Deny by default; unknown client denied. */
int mcp_policy_authorize(const cb_policy *p, const char *principal, const char *tool, json_t *args, cb_error *e);
/* Limits for a client (policy values, defaults when c is NULL). */
void mcp_client_limits(const policy_client *c, db_limits *lim);
/* Makes a driver/provider message safe for a client: the known password (may be NULL)
 * and any URL userinfo or password= option replaced by ****, one line. malloc'd. */
char *mcp_sanitize(const char *msg, const char *password);

/* A database session of the pool for client principal on a named connection. Waits up
 * to the client's statement timeout for a free slot, then fails "busy". Fails
 * (sanitized) when the connection is unknown or its URL cannot be resolved. */
typedef struct mcp_db {
    mcp_pool_entry *slot;      /* the pool slot (always set on success) */
    const db_target *t;
    db_conn *conn;
    char *password;            /* for sanitizing errors (secret) */
    int broken;                /* set by the caller when the session failed */
} mcp_db;
/* client: the calling policy client; a connection with a query_identity runs as the
 * client's leased login (mcp_leases.c), and sessions are never shared between clients. */
int mcp_db_acquire(mcp_app *a, const char *client, const char *name, mcp_db *db, cb_error *e);
void mcp_db_release(mcp_app *a, mcp_db *db);
/* Closes every pooled session logged in as login (a revoked lease's): idle ones now, one
 * in use when its call releases it. Returns how many were found. */
int mcp_pool_drop_login(mcp_app *a, const char *login);
/* Copies the distinct logins of the pooled sessions (malloc'd strings, *n of them). */
char **mcp_pool_logins(mcp_app *a, size_t *n);
/* Resolves and parses a connection's URL (store lock taken inside). */
int mcp_conn_url(mcp_app *a, const char *name, conn_url *u, cb_error *e);

/* HTTP bearer tokens (mcp_auth.c): opens the API-key connection, keeps the hashing key in
 * memory, reads the bootstrap key from the environment. close wipes it. */
int mcp_auth_open(mcp_app *a, cb_error *e);
void mcp_auth_close(mcp_app *a);
/* 0 with *principal (policy client) and *key_name (malloc'd) for a valid token, else -1.
 * *how: "api_key" or "bootstrap_key". */
int mcp_auth_authenticate(mcp_app *a, const char *token, char **principal, char **key_name, const char **how);

/* Drops the token cache (another broker changed a key or the data key); reload_key: read
 * the API-key hashing key again through the app's store handle. */
void mcp_auth_invalidate(mcp_app *a, int reload_key);

/* Makes e's message safe for a client (mcp_sanitize) in place; returns its code. */
int mcp_sanitize_error(cb_error *e, const char *password);

/* What a tool file exports: its tools, and whether they need the rotation engine.
 * Adding a tool file is adding its set to TOOL_SETS in mcp_app.c. */
typedef struct mcp_tool_set {
    const mcp_tool *tools;
    size_t n;
    int needs_rotate;
} mcp_tool_set;
extern const mcp_tool_set mcp_tools_query, mcp_tools_security, mcp_tools_rotation, mcp_tools_audit;
extern const mcp_tool_set mcp_tools_monitor;

#endif
