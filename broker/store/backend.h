/* The store's database behind one small interface, the way SQLite's VFS or curl's vtls
 * put theirs: broker/store/sqlite.c (the embedded default, a 0600 file) and
 * broker/store/postgres.c (a PostgreSQL database shared by a fleet of brokers) implement
 * it. Everything above it (rows, keys, audit, API keys, leases, journal, schedule state)
 * speaks only this, with SQL written once in the dialect both accept: '?' placeholders,
 * INSERT ... ON CONFLICT, RETURNING, integer seconds for time. The envelope encryption,
 * AAD and key check value live above the backend, so a sealed value moved between
 * backends still authenticates.
 *
 * The calls mirror SQLite's C API (prepare / bind / step / column / finalize) because most
 * of the store was written against it: a statement yields SDB_ROW per row, then SDB_DONE.
 * Bound values are copied. Column pointers stay valid until the next step, reset or
 * finalize of that statement. */
#ifndef CB_STORE_BACKEND_H
#define CB_STORE_BACKEND_H
#include <stddef.h>
#include <stdint.h>

typedef struct sdb sdb;
typedef struct sdb_stmt sdb_stmt;

/* Result codes (the numbers are SQLite's, so the SQLite backend passes them through). */
enum {
    SDB_OK = 0,
    SDB_ERROR = 1,
    SDB_BUSY = 5,        /* another writer holds the store; try again */
    SDB_CORRUPT = 11,    /* damaged file / not a store */
    SDB_CONSTRAINT = 19, /* unique or not-null violation */
    SDB_ROW = 100,
    SDB_DONE = 101,
};
/* Column types. */
enum { SDB_INTEGER = 1, SDB_TEXT = 3, SDB_BLOB = 4, SDB_NULL = 5 };
typedef enum { SDB_KIND_SQLITE = 1, SDB_KIND_POSTGRES = 2 } sdb_kind;

/* sdb_open flags */
#define SDB_OPEN_READONLY    0x1
#define SDB_OPEN_SYNC_NORMAL 0x2   /* a writer thread's own connection: durable across a process crash */
#define SDB_OPEN_CREATE      0x4   /* a new store: make its place (PostgreSQL: the schema; a file is made by store_create) */

typedef struct sdb_ops {
    const char *name;            /* "sqlite", "postgresql" */
    sdb_kind kind;
    int (*open)(const char *where, int flags, sdb **out, char *err, size_t errlen);
    void (*close)(sdb *db);
    int (*exec)(sdb *db, const char *sql);              /* one or more statements, no rows */
    int (*prepare)(sdb *db, const char *sql, sdb_stmt **out);
    int (*bind_text)(sdb_stmt *st, int i, const char *v, int n);   /* n < 0: strlen */
    int (*bind_int64)(sdb_stmt *st, int i, int64_t v);
    int (*bind_blob)(sdb_stmt *st, int i, const void *v, int n);
    int (*bind_null)(sdb_stmt *st, int i);
    int (*step)(sdb_stmt *st);
    int (*reset)(sdb_stmt *st);                          /* run again; bindings stay */
    void (*finalize)(sdb_stmt *st);
    int (*column_type)(sdb_stmt *st, int i);
    int64_t (*column_int64)(sdb_stmt *st, int i);
    const unsigned char *(*column_text)(sdb_stmt *st, int i);  /* NUL-terminated, NULL for NULL */
    const void *(*column_blob)(sdb_stmt *st, int i);
    int (*column_bytes)(sdb_stmt *st, int i);
    int (*changes)(sdb *db);                             /* rows changed by the last statement */
    int (*in_transaction)(sdb *db);
    /* A write transaction that serializes with every other writer of the store, in any
     * process or broker (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN + a transaction
     * advisory lock), so read-then-write code keeps SQLite's meaning on both. */
    int (*begin_write)(sdb *db);
    int (*errcode)(sdb *db);
    const char *(*errmsg)(sdb *db);
    /* A number that changes when another connection commits a change (SQLite: PRAGMA
     * data_version); -1 when the backend cannot tell cheaply (then callers re-read). */
    int64_t (*data_version)(sdb *db);
    /* 1 when data_version moves on any commit of another connection (SQLite: the broker's
     * own audit writer commits on every call), so a caller that would then read a counter
     * anyway does better to read it at once: one read transaction, not two. 0 when it
     * moves only for the changes worth reading (PostgreSQL: NOTIFYs of the counters). */
    int data_version_any_commit;
    /* Leadership among the brokers sharing this store (one scheduler for all): 1 when this
     * connection holds the named lock (just taken, or still held), 0 when another holds
     * it, -1 on error. The lock belongs to the connection: it goes with the connection or
     * the process, so a dead leader's successor takes over at its next try. SQLite: an
     * flock on "<file>.<name>.lock"; PostgreSQL: a session advisory lock. */
    int (*try_lock)(sdb *db, const char *name);
    void (*unlock)(sdb *db, const char *name);
} sdb_ops;

/* Every backend's handle starts with this. */
struct sdb {
    const sdb_ops *ops;
};
struct sdb_stmt {
    sdb *db;
};

extern const sdb_ops sdb_sqlite_ops;
extern const sdb_ops sdb_postgres_ops;

/* Which backend a store location names: postgresql:// or postgres:// URLs are PostgreSQL,
 * anything else is a SQLite file path. */
const sdb_ops *sdb_backend_for(const char *where);
int sdb_is_url(const char *where);
int sdb_open(const char *where, int flags, sdb **out, char *err, size_t errlen);
/* A store location for messages: "postgresql://app@db/x (schema credbroker)" or the path.
 * A password in a URL (refused by sdb_open) is shown as ****. */
void sdb_describe(const char *where, char *out, size_t n);

static inline void sdb_close(sdb *db) { if (db) db->ops->close(db); }
static inline sdb_kind sdb_kind_of(const sdb *db) { return db->ops->kind; }
static inline int sdb_exec(sdb *db, const char *sql) { return db->ops->exec(db, sql); }
static inline int sdb_data_version_any_commit(sdb *db) { return db->ops->data_version_any_commit; }
static inline int sdb_prepare(sdb *db, const char *sql, sdb_stmt **out) { return db->ops->prepare(db, sql, out); }
static inline int sdb_bind_text(sdb_stmt *st, int i, const char *v, int n) { return st->db->ops->bind_text(st, i, v, n); }
static inline int sdb_bind_int64(sdb_stmt *st, int i, int64_t v) { return st->db->ops->bind_int64(st, i, v); }
static inline int sdb_bind_blob(sdb_stmt *st, int i, const void *v, int n) { return st->db->ops->bind_blob(st, i, v, n); }
static inline int sdb_bind_null(sdb_stmt *st, int i) { return st->db->ops->bind_null(st, i); }
static inline int sdb_step(sdb_stmt *st) { return st->db->ops->step(st); }
static inline int sdb_reset(sdb_stmt *st) { return st->db->ops->reset(st); }
static inline void sdb_finalize(sdb_stmt *st) { if (st) st->db->ops->finalize(st); }
static inline int sdb_column_type(sdb_stmt *st, int i) { return st->db->ops->column_type(st, i); }
static inline int64_t sdb_column_int64(sdb_stmt *st, int i) { return st->db->ops->column_int64(st, i); }
static inline int sdb_column_int(sdb_stmt *st, int i) { return (int)st->db->ops->column_int64(st, i); }
static inline const unsigned char *sdb_column_text(sdb_stmt *st, int i) { return st->db->ops->column_text(st, i); }
static inline const void *sdb_column_blob(sdb_stmt *st, int i) { return st->db->ops->column_blob(st, i); }
static inline int sdb_column_bytes(sdb_stmt *st, int i) { return st->db->ops->column_bytes(st, i); }
static inline int sdb_changes(sdb *db) { return db->ops->changes(db); }
static inline int sdb_in_transaction(sdb *db) { return db->ops->in_transaction(db); }
static inline int sdb_begin_write(sdb *db) { return db->ops->begin_write(db); }
static inline int sdb_errcode(sdb *db) { return db->ops->errcode(db); }
static inline const char *sdb_errmsg(sdb *db) { return db->ops->errmsg(db); }
static inline int64_t sdb_data_version(sdb *db) { return db->ops->data_version(db); }
static inline int sdb_try_lock(sdb *db, const char *name) { return db->ops->try_lock(db, name); }
static inline void sdb_unlock(sdb *db, const char *name) { db->ops->unlock(db, name); }

#endif
