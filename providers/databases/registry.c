/* The table of database targets. Adding a database = one file + one line here. */
#include <string.h>
#include "db_target.h"
#include "postgres.h"
#include "sqlserver.h"
#include "mysql_target.h"
#include "sqlite_target.h"

static const db_target *const targets[] = {
    &postgres_target,
    &sqlserver_target,
    &mysql_target,
    &sqlite_target,
    NULL
};

const db_target *db_target_for(const char *engine)
{
    for (size_t i = 0; targets[i]; i++)
        if (strcmp(targets[i]->engine, engine) == 0) return targets[i];
    return NULL;
}
