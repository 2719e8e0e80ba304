/* libpq-free helpers of the PostgreSQL store backend (postgres_sql.c). */
#ifndef CB_STORE_POSTGRES_SQL_H
#define CB_STORE_POSTGRES_SQL_H
#include <stdint.h>

#define PGSQL_DEFAULT_SCHEMA "credbroker"
#define PGSQL_SCHEMA_MAX 48   /* leaves room in a 63-byte identifier for the channel name */

/* SQL with '?'/'?N' placeholders as PostgreSQL's $N (malloc'd; NULL on a bad number);
 * *nparams = the highest number used; *used (malloc'd, when used is not NULL) says for
 * each number 1..*nparams (at [n-1]) whether the SQL names it. */
char *pgsql_rewrite(const char *sql, int *nparams, unsigned char **used);
/* The store's schema: CREDBROKER_DB_SCHEMA or "credbroker" (not validated). */
const char *pgsql_schema(void);
/* 1 when s is a lower-case identifier that needs no quoting: [a-z_][a-z0-9_]*, not pg_*. */
int pgsql_schema_valid(const char *s);
/* A fixed advisory-lock key for one use (label) of one store (schema). */
int64_t pgsql_lock_key(const char *schema, const char *label);

#endif
