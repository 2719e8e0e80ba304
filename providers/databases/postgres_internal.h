/* Shared by postgres.c and postgres_lease.c only. */
#ifndef CB_POSTGRES_INTERNAL_H
#define CB_POSTGRES_INTERNAL_H
#include <libpq-fe.h>
#include "db_target.h"

#define PG_TYPE_CACHE 32

struct db_conn {
    PGconn *pg;     /* NULL after drop_session() until the next call logs in again */
    char *password; /* for redacting driver messages */
    char *conninfo; /* secret: to log in again after a dropped session */
    int ntypes;     /* type names asked of the catalog (query results) */
    int tail;       /* steps of the last call's pipeline left unread (pg_settle) */
    struct { Oid oid; char name[64]; } types[PG_TYPE_CACHE];
};

/* One-line, sanitized driver message (no password, no URL/conninfo). */
int pg_driver_fail(cb_error *e, int kind, const char *what, const char *msg, const char *pw);
/* The same for a failed result (cleared). */
int pg_res_fail(db_conn *c, PGresult *r, const char *what, cb_error *e);
/* Reads what the last call left unread in its pipeline (its ROLLBACK and DISCARD ALL,
 * already run by the server), so c can be used again; a failed one drops the session.
 * Every use of a connection that may have served a query starts with it. */
void pg_settle(db_conn *c);
/* The name of a built-in type, NULL for others (postgres_values.c). */
const char *pg_type_name(Oid t);
/* Binds a JSON array of scalars as text parameters (*vals: malloc'd, values wiped by the caller). */
int pg_bind_params(json_t *params, int *n, char ***vals, cb_error *e);
/* Runs one command (no result rows) on c. */
int pg_exec_cmd(db_conn *c, const char *sql, cb_error *e);
/* Ends every session of user except the calling one. */
int pg_terminate_user(db_conn *c, const char *user, int *count, cb_error *e);
/* The lease family (postgres_lease.c). */
int pg_lease_create(db_conn *c, const db_lease_spec *spec, const char *password, cb_error *e);
int pg_lease_renew(db_conn *c, const char *login, int64_t valid_until, cb_error *e);
int pg_lease_drop(db_conn *c, const char *login, const char *host, cb_error *e);
int pg_lease_list(db_conn *c, const char *prefix, json_t **out, cb_error *e);

#endif
