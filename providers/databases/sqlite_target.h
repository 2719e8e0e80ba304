/* SQLite db_target (a database file; no logins, so no rotation and no leases). */
#ifndef CB_SQLITE_TARGET_H
#define CB_SQLITE_TARGET_H
#include "db_target.h"

extern const db_target sqlite_target;

/* The authorizer query_readonly installs (exported for tests): reads, functions other
 * than load_extension, and read-only PRAGMAs; everything else SQLITE_DENY. */
int sqlite_readonly_authorizer(void *arg, int action, const char *a1, const char *a2, const char *db, const char *trigger);

#endif
