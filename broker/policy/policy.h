/* Policy files: which credentials rotate how, and which MCP clients may do what.
 *
 * Files: every regular file named *.json directly in the policies directory, except
 * schema.json, *.schema.json and names starting with '.', loaded in strcmp order of
 * their names (subdirectories such as examples/ are not loaded). Each file holds an
 * object with optional "requirements", "credentials" and "clients" members. Files are
 * merged: a credential or client defined in two files, or a requirements key set in two
 * files, is an error naming both files. Unknown keys anywhere are errors.
 *
 * Errors are diagnostics "file:line:column: message" (cb_diags, see jsondoc.h); every
 * error of every file is collected, and any error means no policy at all (fail closed).
 *
 * Deny by default: a client not listed gets nothing (policy_client() returns NULL and
 * the access checks return 0 for NULL); an empty policy (no files) grants nothing. */
#ifndef CB_POLICY_H
#define CB_POLICY_H
#include <stddef.h>
#include "jsondoc.h"
#include "util.h"

#define POLICY_DEFAULT_DIR "policies"
#define POLICY_MAX_FILE_BYTES (1024 * 1024)
#define POLICY_NAME_MAX 64          /* credential, client, connection, tool names */

/* Where a definition came from (file name as given to the loader, key position). */
typedef struct policy_origin {
    char *file;
    int line, column;
} policy_origin;

typedef enum policy_strategy {
    POLICY_SINGLE_USER = 1,        /* the connection's user changes its own password */
    POLICY_ALTERNATING_USERS = 2   /* two logins; each rotation changes the idle one and swaps */
} policy_strategy;

typedef enum policy_mode {
    POLICY_READ_ONLY = 1,
    POLICY_READ_WRITE = 2
} policy_mode;

/* Password character classes (bit set). symbol = ASCII punctuation (ispunct). */
enum {
    POLICY_CLASS_LOWER = 1,
    POLICY_CLASS_UPPER = 2,
    POLICY_CLASS_DIGIT = 4,
    POLICY_CLASS_SYMBOL = 8
};

#define POLICY_PASSWORD_DEFAULT_LENGTH 32
#define POLICY_PASSWORD_DEFAULT_EXCLUDE "\"'\\@:/?#%"   /* characters that break URLs/shells */

typedef struct policy_password {
    int length;          /* 8..256, default 32 */
    unsigned classes;    /* POLICY_CLASS_* bits, non-empty; default all four */
    char *exclude;       /* printable ASCII, <= 128 chars; default POLICY_PASSWORD_DEFAULT_EXCLUDE */
} policy_password;

typedef struct policy_credential {
    char *name;
    char *connection;        /* required: the connection whose user rotates */
    char *admin_connection;  /* NULL: the user rotates itself */
    char *schedule;          /* cron expression; NULL = no schedule (manual/emergency only) */
    char *timezone;          /* IANA zone, default "UTC" */
    policy_strategy strategy;
    /* alternating-users, exactly one of: */
    char *users[2];          /* two logins on the same server, e.g. app_a, app_b */
    char *alternate_connection; /* a second stored connection holding the other login */
    policy_password password;
    char *publish_to;        /* secret reference the new credential is written to; NULL = none */
    policy_origin origin;
} policy_credential;

typedef struct policy_client {
    char *name;
    int all_tools;           /* tools: "*" */
    char **tools; size_t ntools;
    int all_connections;     /* connections: "*" */
    char **connections; size_t nconnections;
    policy_mode mode;        /* default read-only */
    int max_rows;            /* 1..100000, default 1000 */
    int statement_timeout_ms;/* 100..600000, default 5000 */
    long long max_bytes;     /* 0 = no byte cap; else 1024..1073741824 */
    int reveal;              /* security_generate_secure_key may return the key; default 0 */
    int sensitive_params;    /* audit must not record query parameter values; default 0 */
    int rate_limit_per_min;  /* 0 = none; else 1..100000 */
    /* session_settings: database settings applied (set_config(name, value, true)) before
     * the model's statement. Names are custom settings ("app.user_id"); values may hold
     * ${client} and ${apikey.attr.NAME} (the calling API key's attributes). */
    char **setting_names, **setting_values; size_t nsettings;
    policy_origin origin;
    int admin;               /* "admin": true grants every admin-class tool; default 0 */
    int admin_set;           /* "admin" present (true or false): the file knows tool classes */
} policy_client;

/* connections.NAME.query_identity: the broker leases a login of its own for each
 * (client, connection) pair, made through admin_connection (see docs/readme-least-privilege.md). */
typedef struct policy_query_identity {
    char *admin_connection;  /* required: the stored connection that may CREATE ROLE */
    char **member_of; size_t nmember_of; /* required, 1..16 role names granted to the login */
    int ttl_s;               /* 60..604800, default 3600 */
    int connection_limit;    /* 1..1000, default 4 */
} policy_query_identity;

typedef struct policy_connection {
    char *name;
    policy_query_identity *query_identity;   /* NULL: queries run as the stored login */
    policy_origin origin;
} policy_connection;
/* Tool classes. Every tool is read-only unless listed as write or admin (tool_class.c).
 * "*" grants read-only tools (and write tools to a read-write client), never admin ones:
 * those must be named one by one, or granted all at once with "admin": true. */
typedef enum policy_tool_class {
    POLICY_TOOL_READ = 0,
    POLICY_TOOL_WRITE = 1,   /* query_execute: also needs mode read-write */
    POLICY_TOOL_ADMIN = 2    /* store keys, rotations, emergency, key generation */
} policy_tool_class;
policy_tool_class policy_tool_class_of(const char *tool);
const char *policy_tool_class_name(policy_tool_class k);
/* Admin-class and write-class tool names, NULL-terminated. */
extern const char *const policy_admin_tools[];
extern const char *const policy_write_tools[];
/* The write/admin tools that c's "*" used to grant (before tool classes) and no longer
 * does; *out is a NULL-terminated array of static names (free the array, not the names).
 * Returns how many; 0 when c has no "*" or says "admin" (true or false: the file was
 * written for tool classes). For `policy check`'s migration warning. */
size_t policy_client_lost_tools(const policy_client *c, const char ***out);

/* The sslmode ladder, weakest first (libpq names). */
typedef enum policy_sslmode {
    POLICY_SSL_UNSET = 0,
    POLICY_SSL_DISABLE, POLICY_SSL_ALLOW, POLICY_SSL_PREFER,
    POLICY_SSL_REQUIRE, POLICY_SSL_VERIFY_CA, POLICY_SSL_VERIFY_FULL
} policy_sslmode;

typedef struct policy_requirements {
    policy_sslmode min_sslmode;     /* UNSET = no requirement */
    int max_connect_timeout_s;      /* 0 = unset; else 1..600 */
    int require_encryption;         /* -1 unset, 0/1 */
    int mcp_least_privilege;        /* -1 unset, 0/1: query_readonly refuses a connection assess flags */
    policy_origin min_sslmode_origin, max_connect_timeout_origin, require_encryption_origin;
    policy_origin mcp_least_privilege_origin;
} policy_requirements;

/* "monitoring": thresholds of the security monitor (monitor/monitor.h). One file may
 * set it; defaults (policy_monitoring_defaults) otherwise. */
typedef struct policy_monitoring {
    int auth_failures;          /* failed authentications per address in the window; default 10 */
    int rate_factor;            /* last hour's calls vs the client's hourly baseline; default 10 */
    int rate_min_calls;         /* ... and at least this many calls in that hour; default 100 */
    long long export_rows;      /* rows read by one client in the window; default 100000 */
    long long export_bytes;     /* bytes of results to one client in the window; default 100 MiB */
    int statement_timeouts;     /* per client in the window; default 5 */
    int denied_statements;      /* refused calls / read-only guard hits per client; default 1 */
    int rotation_grace_s;       /* a scheduled rotation is overdue this long after its slot; default 3600 */
    char *webhook;              /* https:// URL serve posts new findings to; NULL = none */
    int set;                    /* defined by a file (two files: error) */
    policy_origin origin;
} policy_monitoring;
void policy_monitoring_defaults(policy_monitoring *m);
/* Parses the "monitoring" object of one file into m (errors through c). */
void policy_monitoring_parse(jdoc_ctx *c, json_t *o, const jdoc_pos *pos, policy_monitoring *m);
json_t *policy_monitoring_json(const policy_monitoring *m);

typedef struct cb_policy {
    policy_requirements requirements;
    policy_monitoring monitoring;
    policy_credential *credentials; size_t ncredentials;
    policy_client *clients; size_t nclients;
    policy_connection *connections; size_t nconnections;
    char **files; size_t nfiles;     /* files loaded, in load order */
} cb_policy;

/* Optional cron check, set by the lead to the cron parser; NULL = schedules are only
 * checked to be non-empty strings. Must return 0 when valid, else fill e. */
extern int (*policy_schedule_validator)(const char *expr, const char *tz, cb_error *e);

/* Loads dir (NULL = POLICY_DEFAULT_DIR). Returns 0 and *out on success.
 * Missing/unreadable dir: CB_EUSAGE, kind CB_K_NOTFOUND, one diagnostic for the dir.
 * Any file error: CB_EUSAGE, kind CB_K_INVALID, every error in diags (may be NULL),
 * e->msg = first error "file:line:column: message" (+ "(and N more)"). *out stays NULL. */
int policy_load(const char *dir, cb_policy **out, cb_diags *diags, cb_error *e);

/* Incremental form used by policy_load and the fuzzer. */
cb_policy *policy_new(void);
/* Parses one file's text and merges it into p. name is used in diagnostics and for
 * the merge order bookkeeping. Returns the number of errors added (0 = merged).
 * On error p is unchanged. */
int policy_add_buffer(cb_policy *p, const char *name, const char *text, size_t len, cb_diags *diags);
/* One file into a fresh policy (the fuzz entry point). Same error contract as policy_load. */
int policy_load_buffer(const char *name, const char *text, size_t len, cb_policy **out,
                       cb_diags *diags, cb_error *e);

/* True when p grants nothing because it defines no credential and no client. */
int policy_is_empty(const cb_policy *p);

/* Lookups by exact name; NULL when absent (or p NULL). */
const policy_credential *policy_credential_get(const cb_policy *p, const char *name);
const policy_client *policy_client_get(const cb_policy *p, const char *name);
#define policy_credential(p, n) policy_credential_get((p), (n))
#define policy_client(p, n) policy_client_get((p), (n))
/* A connection's section (NULL when the policy says nothing about it). */
const policy_connection *policy_connection_get(const cb_policy *p, const char *name);
/* Its query identity, or NULL. */
const policy_query_identity *policy_query_identity_get(const cb_policy *p, const char *connection);

/* Access checks; deny (0) for NULL client or name. Tool names are compared exactly:
 * callers resolve aliases (security.rotateKey -> security_rotate_key) first. */
int policy_client_may_call(const policy_client *c, const char *tool);
int policy_client_may_use(const policy_client *c, const char *connection);

/* Effective policy as JSON in the file shape (defaults filled in); loadable again. */
json_t *policy_to_json(const cb_policy *p);

const char *policy_sslmode_name(policy_sslmode m);
const char *policy_strategy_name(policy_strategy s);
const char *policy_mode_name(policy_mode m);

void policy_free(cb_policy *p);

/* Shared name rule: 1..64 chars of [A-Za-z0-9_.-]. */
int policy_valid_name(const char *s);

#endif
