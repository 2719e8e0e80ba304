/* Picks the backend a store location names (backend.h). */
#include "backend.h"
#include <stdio.h>
#include <string.h>
#include "postgres_sql.h"

int sdb_is_url(const char *where)
{
    return where && (strncmp(where, "postgresql://", 13) == 0 || strncmp(where, "postgres://", 11) == 0);
}

const sdb_ops *sdb_backend_for(const char *where)
{
    return sdb_is_url(where) ? &sdb_postgres_ops : &sdb_sqlite_ops;
}

int sdb_open(const char *where, int flags, sdb **out, char *err, size_t errlen)
{
    *out = NULL;
    return sdb_backend_for(where)->open(where, flags, out, err, errlen);
}

/* Masks user:PASSWORD@ and password=... of a URL (without libpq: this runs before any
 * connection, for -v and error messages). */
static void redact_url(const char *u, char *out, size_t n)
{
    size_t o = 0;
    const char *start = u, *p = strstr(u, "://");
    p = p ? p + 3 : u;
    const char *end = p + strcspn(p, "/?#");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@') at = q;
    const char *colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
#define OUT(s, len) do { size_t l_ = (len); if (o + l_ >= n) l_ = n - o - 1; memcpy(out + o, (s), l_); o += l_; } while (0)
    if (colon) {
        OUT(u, (size_t)(colon + 1 - u));
        OUT("****", 4);
        u = at;
    }
    for (const char *q = u; *q && o + 1 < n;) {
        /* password=VALUE in the query string */
        if (q > start && (q[-1] == '?' || q[-1] == '&') && strncmp(q, "password=", 9) == 0) {
            OUT("password=****", 13);
            q += 9 + strcspn(q + 9, "&#");
            continue;
        }
        out[o++] = *q++;
    }
#undef OUT
    out[o] = 0;
}

void sdb_describe(const char *where, char *out, size_t n)
{
    if (!n) return;
    if (!sdb_is_url(where)) {
        snprintf(out, n, "%s", where ? where : "");
        return;
    }
    char u[1024];
    redact_url(where, u, sizeof u);
    snprintf(out, n, "%s (schema %s)", u, pgsql_schema());
}
