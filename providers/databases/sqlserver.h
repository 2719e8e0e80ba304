/* SQL Server db_target (FreeTDS db-lib) and its read-only statement guard. */
#ifndef CB_SQLSERVER_H
#define CB_SQLSERVER_H
#include <stddef.h>
#include "db_target.h"

extern const db_target sqlserver_target;

/* Conservative classifier for query_readonly: 0 when sql is one SELECT (or WITH ...
 * SELECT) statement with no write, DDL, EXEC, procedure or rowset-provider keyword;
 * -1 otherwise with a one-line reason in why (never the SQL text). SQL Server has no
 * READ ONLY transaction, so this is a filter, not the security boundary: the login
 * used must be least-privilege (db_datareader). */
int sqlserver_readonly_check(const char *sql, char *why, size_t whylen);

/* T-SQL quoting: [ident] with ']' doubled, N'literal' with '\'' doubled. malloc'd;
 * NULL if s is NULL or too long (identifiers: 128 characters). */
char *sqlserver_quote_ident(const char *s);
char *sqlserver_quote_nstring(const char *s);

#endif
