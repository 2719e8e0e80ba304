/* Picks the backend a store location names (backend.h). */
#include "backend.h"
#include <stdio.h>
#include <string.h>

int sdb_is_url(const char *where)
{
    return where && (strncmp(where, "postgresql://", 13) == 0 || strncmp(where, "postgres://", 11) == 0);
}

const sdb_ops *sdb_backend_for(const char *where)
{
    return sdb_is_url(where) ? NULL : &sdb_sqlite_ops;
}

int sdb_open(const char *where, int flags, sdb **out, char *err, size_t errlen)
{
    const sdb_ops *ops = sdb_backend_for(where);
    *out = NULL;
    if (!ops) {
        snprintf(err, errlen, "a PostgreSQL store is not supported by this build");
        return SDB_ERROR;
    }
    return ops->open(where, flags, out, err, errlen);
}
