/* The db_target interface: everything the broker core knows about a database engine.
 * One implementation per file in providers/databases/ (postgres.c, sqlserver.c),
 * registered in providers/databases/registry.c. */
#ifndef CB_DB_TARGET_H
#define CB_DB_TARGET_H
#include <stdint.h>
#include <jansson.h>
#include "util.h"
#include "conn/connstr.h"

typedef struct db_conn db_conn;   /* opaque, engine specific */

typedef struct db_limits {
    int max_rows;              /* row cap; more rows -> truncated=true */
    int statement_timeout_ms;  /* server-side timeout */
    size_t max_bytes;          /* cap on the serialized result, 0 = 1 MiB default */
    /* Settings applied inside the transaction before the statement (PostgreSQL:
     * set_config(name, value, true)), for row-level security: name, value, name, value,
     * ..., NULL. NULL = none. Engines without it refuse a non-empty list. */
    const char *const *session_settings;
} db_limits;

/* What a streamed result held (query_json), for the audit row. */
typedef struct db_query_info {
    long long row_count;
    int truncated;
    long long affected_rows;   /* -1: none reported */
} db_query_info;

/* A least-privilege login the broker creates for one (client, connection) pair: a
 * LOGIN role with no other attribute, member of the DBA's roles, valid until a time,
 * with a connection limit. */
typedef struct db_lease_spec {
    const char *login;                 /* e.g. cb_analyst_1a2b3c4d (engine-valid identifier) */
    const char *const *member_of;      /* roles granted (inherited), NULL-terminated */
    int64_t valid_until;               /* unix seconds; 0 = none (engines without it ignore) */
    int connection_limit;              /* 0 = engine default */
    const char *host;                  /* MySQL/MariaDB host part ('%' when NULL); others ignore */
} db_lease_spec;

typedef struct db_target {
    const char *engine;        /* "postgres", "sqlserver" */
    /* Connects with the URL's credentials. Errors are sanitized (no password, no URL). */
    int (*connect)(const conn_url *url, db_conn **out, cb_error *e);
    void (*close)(db_conn *c);
    /* Sets user's password; the admin connection runs it. old_password is given when a
     * login rotates itself (SQL Server OLD_PASSWORD), else NULL. Postgres hashes on the
     * client (PQencryptPasswordConn), so the plaintext never reaches the server. */
    int (*set_password)(db_conn *admin, const char *user, const char *new_password,
                        const char *old_password, cb_error *e);
    /* Logs in with url's user/password and disconnects. */
    int (*test_login)(const conn_url *url, cb_error *e);
    /* Ends every session of user except the calling one; *count = sessions ended. */
    int (*terminate_sessions)(db_conn *c, const char *user, int *count, cb_error *e);
    /* Cross-instance lock (pg_try_advisory_lock / sp_getapplock). *acquired = 0 if busy. */
    int (*lock)(db_conn *c, const char *name, int *acquired, cb_error *e);
    int (*unlock)(db_conn *c, const char *name, cb_error *e);
    /* One statement, bound params (JSON array of scalars), read-only transaction,
     * timeout and row cap. *result = {"columns":[{name,type}],"rows":[[...]],
     * "row_count":n,"truncated":bool}. */
    int (*query_readonly)(db_conn *c, const char *sql, json_t *params, const db_limits *lim,
                          json_t **result, cb_error *e);
    /* One statement that may write (policy decides who may call it). */
    int (*query_execute)(db_conn *c, const char *sql, json_t *params, const db_limits *lim,
                         json_t **result, cb_error *e);
    /* Optional (NULL: the broker falls back to query_readonly / query_execute): the same
     * call, but the result is written ONCE as JSON text into out, a complete object
     * {"columns":[...],"rows":[...],"row_count":n,"truncated":b[,"affected_rows":n]}
     * ending in '}', rows streamed from the driver without a json_t per cell. */
    int (*query_json)(db_conn *c, const char *sql, json_t *params, const db_limits *lim, int readonly,
                      cb_buf *out, db_query_info *info, cb_error *e);
    /* {"tables":[{"schema","name","columns":[{name,type,nullable}],"primary_key":[..],
     *   "foreign_keys":[{columns,references_table,references_columns}]}]} */
    int (*describe_schema)(db_conn *c, json_t **out, cb_error *e);
    /* Server version string. */
    int (*server_version)(db_conn *c, char **out, cb_error *e);

    /* ---- lease family (per-client query logins); NULL when the engine has none ----
     * All run on an admin connection. password is hashed client-side where the engine
     * allows it, so the plaintext never reaches the server's logs. */
    int (*lease_create)(db_conn *admin, const db_lease_spec *spec, const char *password, cb_error *e);
    /* Moves the expiry (ALTER ROLE ... VALID UNTIL); engines without expiry: no-op. */
    int (*lease_renew)(db_conn *admin, const char *login, int64_t valid_until, cb_error *e);
    /* Ends the login's sessions, drops what it owns, drops the login. Dropping a login
     * that does not exist is success (idempotent, for crash recovery). */
    int (*lease_drop)(db_conn *admin, const char *login, const char *host, cb_error *e);
    /* Logins whose name starts with prefix (orphan search): JSON array of names. */
    int (*lease_list)(db_conn *admin, const char *prefix, json_t **out, cb_error *e);
} db_target;

const db_target *db_target_for(const char *engine);

#endif
