/* The embedded default backend (backend.h): a SQLite file, WAL mode. The calls pass
 * straight through; what is SQLite's own is here: the pragmas a store needs,
 * BEGIN IMMEDIATE for writers, and a small cache of prepared statements (below). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "backend.h"

#define MAX_LOCKS 4
/* Idle prepared statements kept per connection. Callers prepare the same few statements
 * on every MCP call (the audit row, the API-key generation, BEGIN/COMMIT): parsing them
 * each time was a third of the server's CPU per call. A finalized statement is reset,
 * its bindings cleared, and kept here for the next prepare of the same text. */
#define STMT_CACHE 32

typedef struct {
    sdb base;
    sqlite3 *h;
    sqlite3_stmt *dv;     /* PRAGMA data_version, prepared once */
    struct { char name[32]; int fd; } locks[MAX_LOCKS];   /* held leadership locks */
    sqlite3_stmt *cache[STMT_CACHE]; /* idle: reset, no bindings */
    unsigned next_evict;
    pthread_mutex_t cache_mu; /* a handle may be shared by threads (SQLite serializes its own calls) */
} lite;

typedef struct {
    sdb_stmt base;
    sqlite3_stmt *st;
} lite_stmt;

#define L(db) ((lite *)(db))
#define S(st) (((lite_stmt *)(st))->st)

static void l_close(sdb *db)
{
    if (!db) return;
    for (int i = 0; i < MAX_LOCKS; i++)
        if (L(db)->locks[i].name[0]) close(L(db)->locks[i].fd);
    sqlite3_finalize(L(db)->dv);
    for (int i = 0; i < STMT_CACHE; i++) sqlite3_finalize(L(db)->cache[i]);
    pthread_mutex_destroy(&L(db)->cache_mu);
    sqlite3_close_v2(L(db)->h);
    free(db);
}

static int l_open(const char *path, int flags, sdb **out, char *err, size_t errlen)
{
    *out = NULL;
    lite *d = calloc(1, sizeof *d);
    if (!d) return SDB_ERROR;
    d->base.ops = &sdb_sqlite_ops;
    pthread_mutex_init(&d->cache_mu, NULL);
    int of = (flags & SDB_OPEN_READONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (sqlite3_open_v2(path, &d->h, of | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", d->h ? sqlite3_errmsg(d->h) : "out of memory");
        l_close(&d->base);
        return SDB_ERROR;
    }
    sqlite3_busy_timeout(d->h, 5000);
    /* WAL for concurrent readers; FULL sync so a journaled rotation step survives a crash
     * (a writer thread's own connection: NORMAL, which in WAL mode still survives a
     * process crash, and a larger checkpoint interval); secure_delete so old ciphertext
     * pages are zeroed, not left in free pages. */
    const char *pragmas = (flags & SDB_OPEN_SYNC_NORMAL)
        ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
          "PRAGMA wal_autocheckpoint=20000; PRAGMA secure_delete=ON;"
        : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;";
    if (!(flags & SDB_OPEN_READONLY) && sqlite3_exec(d->h, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(d->h));
        int rc = sqlite3_errcode(d->h);
        l_close(&d->base);
        return rc == SQLITE_NOTADB ? SDB_CORRUPT : rc;
    }
    *out = &d->base;
    return SDB_OK;
}

/* A statement of the cache whose text is sql (taken out: a statement is never shared), or
 * a new one. sqlite3_sql() is the first statement's text only, so a multi-statement
 * string never matches and is prepared afresh. */
static int cached_prepare(lite *d, const char *sql, sqlite3_stmt **out)
{
    pthread_mutex_lock(&d->cache_mu);
    for (int i = 0; i < STMT_CACHE; i++)
        if (d->cache[i] && strcmp(sqlite3_sql(d->cache[i]), sql) == 0) {
            *out = d->cache[i];
            d->cache[i] = NULL;
            pthread_mutex_unlock(&d->cache_mu);
            return SQLITE_OK;
        }
    pthread_mutex_unlock(&d->cache_mu);
    return sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
}

/* Returns a statement to the cache: reset (which ends its read of the file and keeps the
 * connection's error code as finalize would) and its bound values freed. */
static void cached_release(lite *d, sqlite3_stmt *st)
{
    if (!st) return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_lock(&d->cache_mu);
    int slot = -1;
    for (int i = 0; i < STMT_CACHE && slot < 0; i++)
        if (!d->cache[i]) slot = i;
    sqlite3_stmt *old = NULL;
    if (slot < 0) {
        slot = (int)(d->next_evict++ % STMT_CACHE);
        old = d->cache[slot];
    }
    d->cache[slot] = st;
    pthread_mutex_unlock(&d->cache_mu);
    sqlite3_finalize(old);
}

/* One statement (BEGIN IMMEDIATE, COMMIT, ...) goes through the cache; a script of
 * several (migrations, pragmas) through sqlite3_exec. */
static int l_exec(sdb *db, const char *sql)
{
    const char *semi = strchr(sql, ';');
    if (semi && semi[strspn(semi + 1, " \t\n") + 1]) return sqlite3_exec(L(db)->h, sql, NULL, NULL, NULL);
    sqlite3_stmt *st;
    int rc = cached_prepare(L(db), sql, &st);
    if (rc != SQLITE_OK || !st) return rc; /* !st: only whitespace or comments */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {}
    cached_release(L(db), st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int l_prepare(sdb *db, const char *sql, sdb_stmt **out)
{
    *out = NULL;
    sqlite3_stmt *st;
    int rc = cached_prepare(L(db), sql, &st);
    if (rc != SQLITE_OK) return rc;
    lite_stmt *s = calloc(1, sizeof *s);
    if (!s) {
        cached_release(L(db), st);
        return SDB_ERROR;
    }
    s->base.db = db;
    s->st = st;
    *out = &s->base;
    return SDB_OK;
}

/* Bound values are copied (SQLITE_TRANSIENT): callers may free them before the step. */
static int l_bind_text(sdb_stmt *st, int i, const char *v, int n) { return sqlite3_bind_text(S(st), i, v, n, SQLITE_TRANSIENT); }
static int l_bind_int64(sdb_stmt *st, int i, int64_t v) { return sqlite3_bind_int64(S(st), i, v); }
static int l_bind_blob(sdb_stmt *st, int i, const void *v, int n) { return sqlite3_bind_blob(S(st), i, v, n, SQLITE_TRANSIENT); }
static int l_bind_null(sdb_stmt *st, int i) { return sqlite3_bind_null(S(st), i); }

static int l_step(sdb_stmt *st)
{
    int rc = sqlite3_step(S(st));
    /* extended codes (SQLITE_CONSTRAINT_UNIQUE, ...) are not returned by step: primary only */
    return rc;
}

static int l_reset(sdb_stmt *st) { return sqlite3_reset(S(st)); }

static void l_finalize(sdb_stmt *st)
{
    cached_release(L(st->db), S(st));
    free(st);
}

static int l_column_type(sdb_stmt *st, int i)
{
    switch (sqlite3_column_type(S(st), i)) {
    case SQLITE_INTEGER: return SDB_INTEGER;
    case SQLITE_BLOB: return SDB_BLOB;
    case SQLITE_NULL: return SDB_NULL;
    default: return SDB_TEXT;   /* TEXT and FLOAT (the store has none) */
    }
}

static int64_t l_column_int64(sdb_stmt *st, int i) { return sqlite3_column_int64(S(st), i); }
static const unsigned char *l_column_text(sdb_stmt *st, int i) { return sqlite3_column_text(S(st), i); }
static const void *l_column_blob(sdb_stmt *st, int i) { return sqlite3_column_blob(S(st), i); }
static int l_column_bytes(sdb_stmt *st, int i) { return sqlite3_column_bytes(S(st), i); }
static int l_changes(sdb *db) { return sqlite3_changes(L(db)->h); }
static int l_in_transaction(sdb *db) { return !sqlite3_get_autocommit(L(db)->h); }
static int l_begin_write(sdb *db) { return l_exec(db, "BEGIN IMMEDIATE"); }

static int l_errcode(sdb *db)
{
    int ec = sqlite3_errcode(L(db)->h);
    return ec == SQLITE_NOTADB ? SDB_CORRUPT : ec == SQLITE_LOCKED ? SDB_BUSY : ec;
}

static const char *l_errmsg(sdb *db) { return sqlite3_errmsg(L(db)->h); }

static int64_t l_data_version(sdb *db)
{
    lite *d = L(db);
    if (!d->dv && sqlite3_prepare_v2(d->h, "PRAGMA data_version", -1, &d->dv, NULL) != SQLITE_OK) return -1;
    int64_t v = sqlite3_step(d->dv) == SQLITE_ROW ? sqlite3_column_int64(d->dv, 0) : -1;
    sqlite3_reset(d->dv);
    return v;
}

/* flock, not fcntl locks: an fcntl lock is the process's (any close of the file by any
 * handle drops it); an flock belongs to this open file description, so it is held
 * exactly as long as this connection, and the kernel drops it when the process dies. */
static int lock_path(lite *d, const char *name, char *path, size_t n)
{
    const char *file = sqlite3_db_filename(d->h, "main");
    if (!file || !*file) return -1;
    return snprintf(path, n, "%s.%s.lock", file, name) >= (int)n ? -1 : 0;
}

/* Still held means: our descriptor is still the file at the lock's path. A lock file
 * removed or replaced (an operator's rm, a restore) would let another broker lock a new
 * file while we hold the old one: two leaders. Then ours is dropped and the lock tried
 * afresh, so at most one of us holds the file that is there now. */
static int still_ours(lite *d, int i)
{
    char path[4096];
    struct stat a, b;
    if (lock_path(d, d->locks[i].name, path, sizeof path)) return 0;
    return fstat(d->locks[i].fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int l_try_lock(sdb *db, const char *name)
{
    lite *d = L(db);
    int slot = -1;
    for (int i = 0; i < MAX_LOCKS; i++) {
        if (strcmp(d->locks[i].name, name) == 0 && d->locks[i].name[0]) {
            if (still_ours(d, i)) return 1;
            close(d->locks[i].fd);
            d->locks[i].name[0] = 0;
        }
        if (!d->locks[i].name[0] && slot < 0) slot = i;
    }
    if (slot < 0 || strlen(name) >= sizeof d->locks[0].name) return -1;
    char path[4096];
    if (lock_path(d, name, path, sizeof path)) return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int busy = errno == EWOULDBLOCK;
        close(fd);
        return busy ? 0 : -1;
    }
    snprintf(d->locks[slot].name, sizeof d->locks[slot].name, "%s", name);
    d->locks[slot].fd = fd;
    if (!still_ours(d, slot)) { /* removed between our open and our flock: not the lock any more */
        close(fd);
        d->locks[slot].name[0] = 0;
        return 0;
    }
    return 1;
}

static void l_unlock(sdb *db, const char *name)
{
    lite *d = L(db);
    for (int i = 0; i < MAX_LOCKS; i++)
        if (d->locks[i].name[0] && strcmp(d->locks[i].name, name) == 0) {
            close(d->locks[i].fd);   /* drops the flock */
            d->locks[i].name[0] = 0;
        }
}

const sdb_ops sdb_sqlite_ops = {
    .name = "sqlite",
    .kind = SDB_KIND_SQLITE,
    .open = l_open,
    .close = l_close,
    .exec = l_exec,
    .prepare = l_prepare,
    .bind_text = l_bind_text,
    .bind_int64 = l_bind_int64,
    .bind_blob = l_bind_blob,
    .bind_null = l_bind_null,
    .step = l_step,
    .reset = l_reset,
    .finalize = l_finalize,
    .column_type = l_column_type,
    .column_int64 = l_column_int64,
    .column_text = l_column_text,
    .column_blob = l_column_blob,
    .column_bytes = l_column_bytes,
    .changes = l_changes,
    .in_transaction = l_in_transaction,
    .begin_write = l_begin_write,
    .errcode = l_errcode,
    .errmsg = l_errmsg,
    .data_version = l_data_version,
    .data_version_any_commit = 1,
    .try_lock = l_try_lock,
    .unlock = l_unlock,
};
