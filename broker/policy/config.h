/* credbroker.json: runtime settings (sources, listen address, origins, TLS).
 *
 * Path: --config FILE, CREDBROKER_CONFIG, else ./credbroker.json. The default file is
 * optional (absent = defaults); a path given explicitly must exist. Same error style as
 * the policy files (file:line:column diagnostics, unknown keys are errors). Shape:
 *   { "sources": { "<connection>": { "ref": "vault://...", "ttl_s": 300,
 *                                   "max_staleness_s": 86400, "engine": "postgres" } },
 *     "listen": "127.0.0.1:8787", "allowed_origins": ["http://localhost:6274"],
 *     "allowed_hosts": ["localhost:8787"], "tls": { "cert": "path", "key": "path" },
 *     "api_key_rate_limit": { "per_min": 600, "burst": 60 },
 *     "master_key_ref": "vault://secret/broker#master_key",
 *     "metrics": { "token_ref": "file:///etc/credbroker/metrics-token" },
 *     "audit": { "anchor": "file:///mnt/other-disk/credbroker.anchor" },
 *     "database_pool": { "max_sessions": 64, "max_sessions_per_client": 32 } }      */
#ifndef CB_CONFIG_H
#define CB_CONFIG_H
#include <stddef.h>
#include "jsondoc.h"
#include "util.h"

#define CONFIG_DEFAULT_PATH "credbroker.json"
#define CONFIG_DEFAULT_LISTEN "127.0.0.1:8787"
#define CONFIG_MAX_FILE_BYTES (1024 * 1024)
/* MCP database sessions: in total and per client (a client never takes the whole pool) */
#define CONFIG_POOL_MAX 64
#define CONFIG_POOL_PER_CLIENT 32

typedef struct config_source {
    char *name;            /* connection name (policy name rule) */
    char *ref;             /* secret reference holding the connection URL (validated) */
    int ttl_s;             /* cache lifetime, 0..86400, default 300 */
    int max_staleness_s;   /* serve a cached value this long when the provider fails;
                              ttl_s..2592000, default 86400 */
    char *engine;          /* "postgres" | "sqlserver" | "mysql"; NULL = from the URL scheme */
    int line, column;      /* position of the source's key */
} config_source;

/* Where a running broker finds its state, and who it acts as: filled by the CLI from
 * flags and environment, passed down so that nothing below cli/ needs the CLI. */
typedef struct cb_paths {
    const char *db_path;       /* --db / CREDBROKER_DB / ./credbroker.db */
    const char *config_path;   /* --config / CREDBROKER_CONFIG / ./credbroker.json */
    const char *policies_dir;  /* --policies / CREDBROKER_POLICIES / ./policies */
    const char *actor;         /* who runs this, for the audit log: $USER@cli */
} cb_paths;

typedef struct cb_config {
    char *file;                        /* path read, NULL when defaults */
    config_source *sources; size_t nsources;
    char *listen;                      /* as written, default CONFIG_DEFAULT_LISTEN */
    char *listen_host;                 /* without brackets for IPv6 */
    int listen_port;
    char **allowed_origins; size_t norigins;   /* "scheme://host[:port]" exactly */
    char **allowed_hosts; size_t nhosts;       /* Host header values "host[:port]" */
    char *tls_cert, *tls_key;          /* both or neither */
    int rate_per_min;                  /* api_key_rate_limit.per_min, 0 = none */
    int rate_burst;                    /* api_key_rate_limit.burst, default = per_min */
    char *master_key_ref;              /* NULL = CREDBROKER_MASTER_KEY(_REF) from env */
    char *metrics_token_ref;           /* "metrics": {"token_ref": REF}: bearer for GET /metrics; NULL = open */
    char *audit_anchor;                /* "audit": {"anchor": REF}: where the audit head is anchored; NULL = none */
    int pool_max, pool_per_client;     /* database_pool.max_sessions / .max_sessions_per_client; 0 = default */
    struct {                           /* "http": serve's limits; 0 = default (readme-hardening.md) */
        int max_connections, max_sessions, max_sessions_per_key, session_idle_s, request_deadline_s, max_batch,
            workers, auth_fail_limit, max_inflight_per_key, max_connections_per_ip;
        long long max_response_bytes;
    } http;
} cb_config;

/* Loads path (NULL = CONFIG_DEFAULT_PATH). When the file does not exist: required=0
 * gives defaults (config->file NULL), required=1 is CB_EUSAGE/CB_K_NOTFOUND.
 * Any error: CB_EUSAGE, every error in diags (may be NULL), e->msg = the first
 * "file:line:column: message" (+ "(and N more)"), *out NULL. */
int config_load(const char *path, int required, cb_config **out, cb_diags *diags, cb_error *e);
/* Parses text (fuzz entry point); name is used in diagnostics. */
int config_load_buffer(const char *name, const char *text, size_t len, cb_config **out,
                       cb_diags *diags, cb_error *e);
/* Defaults only. */
cb_config *config_defaults(void);
/* Whether the path was chosen by the user (CLI value differs from the default or
 * CREDBROKER_CONFIG is set): then a missing file is an error. */
int config_path_explicit(const char *cli_value);
/* The default the CLI chose (XDG, /etc/credbroker, $CONFIGURATION_DIRECTORY), compared by
 * config_path_explicit; CONFIG_DEFAULT_PATH until set. */
extern const char *config_default_path;

const config_source *config_source_get(const cb_config *c, const char *name);
/* Parses "host:port", "[v6]:port"; port 1..65535. *host malloc'd. */
int config_parse_listen(const char *s, char **host, int *port, const char **why);
/* Effective config as JSON (file shape, defaults filled in). */
json_t *config_to_json(const cb_config *c);
void config_free(cb_config *c);

#endif
