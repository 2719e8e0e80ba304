/* Text helpers of the PostgreSQL store backend that need no libpq, so they are unit-tested
 * alone: SQLite placeholders ('?', '?N') to PostgreSQL's ($N), the schema name, the
 * advisory-lock key of a schema. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "postgres_sql.h"

/* '?' takes the largest number used so far plus one, '?N' is N (SQLite's rule). What is
 * inside string literals, quoted identifiers and comments is copied untouched. */
char *pgsql_rewrite(const char *sql, int *nparams, unsigned char **used)
{
    size_t n = strlen(sql);
    /* every '?' may become "$32766": at most 6 more bytes each */
    char *out = malloc(n * 7 + 1), *o = out;
    if (!out) return NULL;
    int max = 0;
    unsigned char *seen = calloc(1, 32767);
    if (!seen) { free(out); return NULL; }
    for (const char *p = sql; *p;) {
        if (*p == '\'' || *p == '"') {
            char q = *p;
            *o++ = *p++;
            while (*p) {
                if (*p == q && p[1] == q) { *o++ = *p++; *o++ = *p++; continue; }  /* '' or "" */
                if (*p == q) break;
                *o++ = *p++;
            }
            if (*p) *o++ = *p++;
        } else if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n') *o++ = *p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            size_t len = end ? (size_t)(end + 2 - p) : strlen(p);
            memcpy(o, p, len);
            o += len;
            p += len;
        } else if (*p == '?') {
            p++;
            int idx;
            if (isdigit((unsigned char)*p)) {
                idx = 0;
                while (isdigit((unsigned char)*p) && idx < 100000) idx = idx * 10 + (*p++ - '0');
            } else {
                idx = max + 1;
            }
            if (idx < 1 || idx > 32766) { free(out); free(seen); return NULL; }
            if (idx > max) max = idx;
            seen[idx - 1] = 1;
            o += sprintf(o, "$%d", idx);
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    *nparams = max;
    if (used) *used = realloc(seen, (size_t)max + 1);
    else free(seen);
    if (used && !*used) { free(seen); free(out); return NULL; }
    return out;
}

int pgsql_schema_valid(const char *s)
{
    if (!s || !*s || strlen(s) > PGSQL_SCHEMA_MAX) return 0;
    if (!(islower((unsigned char)s[0]) || s[0] == '_')) return 0;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_')) return 0;
    /* pg_* names are reserved for system schemas */
    return strncmp(s, "pg_", 3) != 0;
}

const char *pgsql_schema(void)
{
    const char *s = getenv("CREDBROKER_DB_SCHEMA");
    return s && *s ? s : PGSQL_DEFAULT_SCHEMA;
}

/* FNV-1a of a label and the schema: one fixed key per store, so every broker of that store
 * (and only those) contends for it, and other users of the database are unlikely to. */
int64_t pgsql_lock_key(const char *schema, const char *label)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = label; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ '/') * 1099511628211ULL;
    for (const char *p = schema; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (int64_t)h;
}
