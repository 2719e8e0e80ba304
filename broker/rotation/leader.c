/* Scheduler leadership among the brokers sharing a store (see leader.h). */
#include "leader.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "store/backend.h"
#include "util.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static sdb *db;          /* the leadership connection: the lock lives and dies with it */
static char *where;      /* the store location, to reopen after a lost connection */
static int leading;
static char self_id[300];

static void set_self_id(void)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0]) snprintf(host, sizeof host, "unknown-host");
    snprintf(self_id, sizeof self_id, "%s:%ld", host, (long)getpid());
}

/* Under mu. */
static int reopen(void)
{
    if (db) return 0;
    char err[512] = "";
    if (sdb_open(where, 0, &db, err, sizeof err) != SDB_OK) {
        db = NULL;
        LOG_WARN("scheduler leadership: cannot open the store: %s", err);
        return -1;
    }
    return 0;
}

int leader_open(const char *store_path)
{
    pthread_mutex_lock(&mu);
    set_self_id();
    free(where);
    where = cb_strdup(store_path);
    int rc = reopen();
    pthread_mutex_unlock(&mu);
    return rc;
}

void leader_close(void)
{
    pthread_mutex_lock(&mu);
    if (db) {
        if (leading) sdb_unlock(db, LEADER_LOCK_NAME);
        sdb_close(db);
    }
    db = NULL;
    if (leading) cb_log_notice("scheduler leadership released by %s (shutting down)", self_id);
    leading = 0;
    free(where);
    where = NULL;
    pthread_mutex_unlock(&mu);
}

int leader_check(int *gained)
{
    if (gained) *gained = 0;
    pthread_mutex_lock(&mu);
    int r = where && reopen() == 0 ? sdb_try_lock(db, LEADER_LOCK_NAME) : -1;
    if (r < 0 && db) {
        /* an error is a lost connection as far as we can tell: whatever the server did with
         * our lock, drop the connection (and the lock with it) before another broker takes
         * over, and try a fresh one at the next tick */
        sdb_close(db);
        db = NULL;
    }
    int now = r == 1;
    if (now && !leading) {
        cb_log_notice("scheduler leadership gained by %s: this broker runs scheduled rotations and lease expiry", self_id);
        if (gained) *gained = 1;
    } else if (!now && leading) {
        LOG_WARN("scheduler leadership lost by %s (%s): this broker now serves MCP only", self_id,
                 r < 0 ? "the store connection failed" : "another broker holds the lock");
    }
    leading = now;
    pthread_mutex_unlock(&mu);
    return now;
}

int leader_is(void)
{
    pthread_mutex_lock(&mu);
    int v = leading;
    pthread_mutex_unlock(&mu);
    return v;
}

const char *leader_self_id(void)
{
    pthread_mutex_lock(&mu);
    if (!self_id[0]) set_self_id();
    pthread_mutex_unlock(&mu);
    return self_id;
}
