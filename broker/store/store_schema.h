/* The store's schema and migrations on each backend (store_schema.c); used by store.c. */
#ifndef CB_STORE_SCHEMA_H
#define CB_STORE_SCHEMA_H
#include "backend.h"
#include "store.h"   /* STORE_SCHEMA_VERSION: the logical version both backends reach */

/* The store's schema version (0: an empty file or schema); -1 on a database error. */
int store_schema_version(sdb *db, int *v);
/* Brings a store from version `from` to STORE_SCHEMA_VERSION; inside the caller's write
 * transaction. -1 on a database error (sdb_errmsg says which). */
int store_schema_migrate(sdb *db, int from);

#endif
