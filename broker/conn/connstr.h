/* Connection strings: parse, redact, rewrite. Accepts postgresql:// and postgres://
 * URIs, libpq key=value strings, mysql://, sqlserver:// (and jdbc-less mssql://),
 * ADO.NET strings (Server=..;Database=..;User Id=..;Password=..), sqlite paths.
 * Every string here is untrusted input. */
#ifndef CB_CONNSTR_H
#define CB_CONNSTR_H
#include <stddef.h>
#include "util.h"

enum conn_format {
    CONN_FMT_URI = 1,     /* scheme://user:pass@host:port/db?k=v */
    CONN_FMT_KEYVALUE,    /* libpq: host=.. user=.. password='..' */
    CONN_FMT_ADO          /* Server=..;Database=..;User Id=..;Password=.. */
};

typedef struct conn_param { char *key; char *value; } conn_param;

typedef struct conn_url {
    char *engine;     /* "postgres", "sqlserver", "mysql", "sqlite" */
    int format;       /* enum conn_format: kept so a rotated URL is written back in kind */
    char *scheme;     /* URI scheme as given (postgresql, postgres, mysql, sqlserver) */
    char *host;       /* NULL = default / unix socket */
    int port;         /* 0 = default */
    char *dbname;
    char *user;
    char *password;   /* secret: wiped by conn_url_free */
    conn_param *params; /* every other option (sslmode, connect_timeout, Encrypt, ...) */
    size_t nparams;
} conn_url;

/* engine_hint may be NULL (derived from the string); when given and the string names
 * another engine, that is an error. Returns CB_ERR (kind CB_K_INVALID) on bad input,
 * with a message that never repeats the password. */
int conn_url_parse(const char *s, const char *engine_hint, conn_url *out, cb_error *e);
void conn_url_free(conn_url *u);

/* Case-insensitive option lookup ("sslmode", "TrustServerCertificate"...); NULL if absent. */
const char *conn_url_param(const conn_url *u, const char *key);
/* Sets/replaces an option. */
void conn_url_set_param(conn_url *u, const char *key, const char *value);
void conn_url_set_password(conn_url *u, const char *password);
void conn_url_set_user(conn_url *u, const char *user);

/* Serializes in the original format, password included (caller frees with cb_free_secret). */
char *conn_url_format(const conn_url *u);
/* Same with the password replaced by "****" (safe to print/log). */
char *conn_url_redacted(const conn_url *u);
/* libpq key=value conninfo (postgres only), password included: cb_free_secret. */
char *conn_url_to_libpq(const conn_url *u);
/* Redacts any connection string or URL-with-userinfo found inside free text (driver
 * error messages): returns a new string with passwords replaced by "****". */
char *conn_redact_text(const char *text, const char *password);
/* text with each of names (logins, hosts, databases) replaced where it is a whole word. */
char *conn_redact_names(const char *text, const char *const *names, size_t n);

/* Default port for the engine (5432, 1433, 3306, 0). */
int conn_default_port(const char *engine);

/* For connstr.c and connstr_format.c only: the JDBC-style sqlserver://host;k=v form,
 * kept apart from CONN_FMT_URI so that a rotated string is written back in the same
 * shape. Not in the public enum on purpose: callers treat it as "some URI". */
#define CONN_FMT_JDBC 100

#endif
