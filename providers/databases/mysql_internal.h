/* Shared by mysql.c, mysql_guard.c and mysql_lease.c only: the session and the helpers
 * the lease family runs its statements with. */
#ifndef CB_MYSQL_INTERNAL_H
#define CB_MYSQL_INTERNAL_H
#include <mysql.h>
#include "db_target.h"

#define MARIADB_USER_MAX 128 /* checked on 10.11: "should be no longer than 128" */
#define MYSQL_USER_MAX 32    /* MySQL 5.7+ */

struct db_conn {
    MYSQL *my;
    char *password; /* for redacting driver messages */
    char *url;      /* formatted URL (secret) to reconnect after a failed reset */
    int mariadb;    /* server flavour: SET STATEMENT vs max_execution_time, user name limit */
};

/* Runs one statement of ours (constant text or escaped literals), discarding any rows. */
int mydb_exec(db_conn *c, const char *sql, cb_error *e);
/* s as a quoted SQL string literal, escaped for this connection (caller frees). */
char *mydb_quote(db_conn *c, const char *s);
/* Runs one query of ours and returns its rows (mysql_free_result). */
int mydb_select(db_conn *c, const char *sql, MYSQL_RES **out, cb_error *e);
/* KILL CONNECTION of every session of user but the calling one. */
int mydb_kill_sessions(db_conn *c, const char *user, int *count, cb_error *e);
/* "policy:" error when user is longer than the server's limit. */
int mydb_user_len_ok(db_conn *c, const char *user, cb_error *e);

int my_lease_create(db_conn *c, const db_lease_spec *spec, const char *password, cb_error *e);
int my_lease_renew(db_conn *c, const char *login, int64_t valid_until, cb_error *e);
int my_lease_drop(db_conn *c, const char *login, const char *host, cb_error *e);
int my_lease_list(db_conn *c, const char *prefix, json_t **out, cb_error *e);

#endif
