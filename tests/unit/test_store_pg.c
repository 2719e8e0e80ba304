/* The PostgreSQL store backend against a real server: placeholders (with quotes and
 * comments), blobs with NUL bytes, NULLs, int64 extremes, a constraint error that leaves
 * the transaction usable, begin_write serializing two connections, data_version moving
 * when another connection changes an API key, no password in a URL.
 * Run bare, it re-runs itself under tests/lib/with_pg.sh (a throwaway server). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "store/backend.h"
#include "store/postgres_sql.h"
#include "store/store.h"

static const char *URL;
static const char *KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static sdb *conn(void)
{
    sdb *db = NULL;
    char err[512] = "";
    int rc = sdb_open(URL, 0, &db, err, sizeof err);
    if (rc != SDB_OK) fprintf(stderr, "open: %s\n", err);
    assert_int_equal(rc, SDB_OK);
    return db;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void test_rewrite(void **st)
{
    (void)st;
    int n = 0;
    unsigned char *used = NULL;
    char *r = pgsql_rewrite("SELECT '?''?', \"a?\", ? -- ?x\n, /* ? */ ?3, ?, E'x'", &n, &used);
    assert_string_equal(r, "SELECT '?''?', \"a?\", $1 -- ?x\n, /* ? */ $3, $4, E'x'");
    assert_int_equal(n, 4);
    assert_true(used[0] && !used[1] && used[2] && used[3]);
    free(r);
    free(used);
    assert_null(pgsql_rewrite("SELECT ?0", &n, NULL));
    assert_true(pgsql_schema_valid("credbroker_t1"));
    assert_false(pgsql_schema_valid("Bad"));
    assert_false(pgsql_schema_valid("a;drop"));
    assert_false(pgsql_schema_valid("pg_catalog"));
}

static void test_values(void **st)
{
    (void)st;
    sdb *db = conn();
    sdb_stmt *s;
    /* '?' inside literals stays; ?2 reused; NULL, NUL bytes and int64 extremes round-trip */
    assert_int_equal(sdb_prepare(db, "SELECT '?' || ?1 || 'it''s ?', ?2::bigint, ?2::bigint + 0, ?3::bytea, ?4::text, ?5::bigint", &s), SDB_OK);
    sdb_bind_text(s, 1, "x", -1);
    sdb_bind_int64(s, 2, INT64_MAX);
    static const unsigned char blob[] = {0, 1, 0, 255, 0};
    sdb_bind_blob(s, 3, blob, sizeof blob);
    sdb_bind_null(s, 4);
    sdb_bind_int64(s, 5, INT64_MIN);
    assert_int_equal(sdb_step(s), SDB_ROW);
    assert_string_equal((const char *)sdb_column_text(s, 0), "?xit's ?");
    assert_int_equal(sdb_column_type(s, 0), SDB_TEXT);
    assert_true(sdb_column_int64(s, 1) == INT64_MAX);
    assert_int_equal(sdb_column_type(s, 1), SDB_INTEGER);
    assert_int_equal(sdb_column_type(s, 3), SDB_BLOB);
    assert_int_equal(sdb_column_bytes(s, 3), (int)sizeof blob);
    assert_memory_equal(sdb_column_blob(s, 3), blob, sizeof blob);
    assert_int_equal(sdb_column_type(s, 4), SDB_NULL);
    assert_null(sdb_column_text(s, 4));
    assert_true(sdb_column_int64(s, 5) == INT64_MIN);
    assert_int_equal(sdb_step(s), SDB_DONE);
    /* reset runs it again with the bindings kept */
    assert_int_equal(sdb_reset(s), SDB_OK);
    assert_int_equal(sdb_step(s), SDB_ROW);
    assert_true(sdb_column_int64(s, 1) == INT64_MAX);
    sdb_finalize(s);
    /* a number the SQL skips may still be bound, as SQLite allows */
    assert_int_equal(sdb_prepare(db, "SELECT ?1::text || ?3::text", &s), SDB_OK);
    sdb_bind_text(s, 1, "a", -1);
    sdb_bind_text(s, 2, "unused", -1);
    sdb_bind_text(s, 3, "b", -1);
    assert_int_equal(sdb_step(s), SDB_ROW);
    assert_string_equal((const char *)sdb_column_text(s, 0), "ab");
    sdb_finalize(s);
    sdb_close(db);
}

static void test_constraint_in_tx(void **st)
{
    (void)st;
    sdb *db = conn();
    assert_int_equal(sdb_exec(db, "DROP TABLE IF EXISTS t_u; CREATE TABLE t_u (k TEXT PRIMARY KEY, v BYTEA)"), SDB_OK);
    assert_int_equal(sdb_begin_write(db), SDB_OK);
    assert_true(sdb_in_transaction(db));
    sdb_stmt *s;
    assert_int_equal(sdb_prepare(db, "INSERT INTO t_u(k, v) VALUES(?, ?)", &s), SDB_OK);
    sdb_bind_text(s, 1, "a", -1);
    sdb_bind_blob(s, 2, "\0x", 2);
    assert_int_equal(sdb_step(s), SDB_DONE);
    assert_int_equal(sdb_changes(db), 1);
    sdb_reset(s);
    assert_int_equal(sdb_step(s), SDB_CONSTRAINT);   /* duplicate key */
    assert_int_equal(sdb_errcode(db), SDB_CONSTRAINT);
    assert_null(strstr(sdb_errmsg(db), "(k)=(a)"));  /* DETAIL (row values) is not passed on */
    /* a failed exec too leaves the transaction usable */
    assert_int_not_equal(sdb_exec(db, "INSERT INTO t_u(k) VALUES('a')"), SDB_OK);
    assert_true(sdb_in_transaction(db));
    sdb_reset(s);
    sdb_bind_text(s, 1, "b", -1);
    assert_int_equal(sdb_step(s), SDB_DONE);
    sdb_finalize(s);
    assert_int_equal(sdb_exec(db, "COMMIT"), SDB_OK);
    assert_int_equal(sdb_prepare(db, "SELECT count(*) FROM t_u", &s), SDB_OK);
    assert_int_equal(sdb_step(s), SDB_ROW);
    assert_int_equal(sdb_column_int(s, 0), 2);
    sdb_finalize(s);
    assert_int_equal(sdb_prepare(db, "UPDATE t_u SET v = NULL", &s), SDB_OK);
    assert_int_equal(sdb_step(s), SDB_DONE);
    assert_int_equal(sdb_changes(db), 2);
    sdb_finalize(s);
    /* what the savepoint costs: statements in a transaction vs. in autocommit */
    int64_t t0 = now_ms();
    assert_int_equal(sdb_prepare(db, "UPDATE t_u SET v = ? WHERE k = 'a'", &s), SDB_OK);
    sdb_bind_blob(s, 1, "v", 1);
    for (int i = 0; i < 200; i++) { sdb_reset(s); sdb_step(s); }
    int64_t t1 = now_ms();
    sdb_begin_write(db);
    for (int i = 0; i < 200; i++) { sdb_reset(s); sdb_step(s); }
    sdb_exec(db, "COMMIT");
    int64_t t2 = now_ms();
    sdb_finalize(s);
    printf("# 200 updates: %lld ms in autocommit, %lld ms in one transaction (a savepoint each)\n",
           (long long)(t1 - t0), (long long)(t2 - t1));
    sdb_close(db);
}

struct waiter { sdb *db; int rc; int64_t done_ms; };
static void *wait_write(void *arg)
{
    struct waiter *w = arg;
    w->rc = sdb_begin_write(w->db);
    w->done_ms = now_ms();
    sdb_exec(w->db, "COMMIT");
    return NULL;
}

static void test_begin_write_serializes(void **st)
{
    (void)st;
    sdb *a = conn(), *b = conn();
    assert_int_equal(sdb_begin_write(a), SDB_OK);
    struct waiter w = {b, -1, 0};
    pthread_t th;
    pthread_create(&th, NULL, wait_write, &w);
    usleep(400000);
    int64_t released = now_ms();
    assert_int_equal(w.done_ms, 0);   /* still waiting for a's lock */
    assert_int_equal(sdb_exec(a, "COMMIT"), SDB_OK);
    pthread_join(th, NULL);
    assert_int_equal(w.rc, SDB_OK);
    assert_true(w.done_ms >= released);
    /* a rollback releases it too */
    assert_int_equal(sdb_begin_write(a), SDB_OK);
    assert_int_equal(sdb_exec(a, "ROLLBACK"), SDB_OK);
    assert_int_equal(sdb_begin_write(b), SDB_OK);
    assert_int_equal(sdb_exec(b, "COMMIT"), SDB_OK);
    sdb_close(a);
    sdb_close(b);
}

static void test_data_version(void **st)
{
    (void)st;
    cb_error e = {0};
    int rc = store_create(URL, KEY, &e);
    if (rc) fprintf(stderr, "create: %s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_not_equal(store_create(URL, KEY, &e), 0);
    assert_non_null(strstr(e.msg, "already exists"));
    sdb *a = conn(), *b = conn();
    int64_t v0 = sdb_data_version(b);
    assert_true(v0 >= 0);
    assert_int_equal(sdb_data_version(b), v0);   /* nothing changed */
    assert_int_equal(sdb_exec(a, "INSERT INTO api_keys(name, policy, hash, created_at) VALUES('k', 'local', '\\x00', 1)"), SDB_OK);
    int64_t v = v0;
    for (int i = 0; i < 100 && v == v0; i++) {
        usleep(10000);
        v = sdb_data_version(b);
    }
    assert_true(v > v0);
    /* the generation counter moved too, in bytea as decimal digits */
    sdb_stmt *s;
    assert_int_equal(sdb_prepare(b, "SELECT v FROM meta WHERE k = 'apikeys_gen'", &s), SDB_OK);
    assert_int_equal(sdb_step(s), SDB_ROW);
    assert_int_equal(sdb_column_int64(s, 0), 1);
    sdb_finalize(s);
    /* last_used does not make a key valid or invalid: no bump */
    assert_int_equal(sdb_exec(a, "UPDATE api_keys SET last_used = 5"), SDB_OK);
    assert_int_equal(sdb_prepare(b, "SELECT v FROM meta WHERE k = 'apikeys_gen'", &s), SDB_OK);
    assert_int_equal(sdb_step(s), SDB_ROW);
    assert_int_equal(sdb_column_int64(s, 0), 1);
    sdb_finalize(s);
    /* the audit is append-only */
    assert_int_equal(sdb_exec(a, "INSERT INTO audit(id, ts, actor, action, outcome, prev_hash, hash) VALUES(1, 1, 'a', 'b', 'ok', '\\x00', '\\x00')"), SDB_OK);
    assert_int_not_equal(sdb_exec(a, "UPDATE audit SET actor = 'x'"), SDB_OK);
    assert_int_not_equal(sdb_exec(a, "DELETE FROM audit"), SDB_OK);
    assert_int_not_equal(sdb_exec(a, "TRUNCATE audit"), SDB_OK);
    sdb_close(a);
    sdb_close(b);
    cb_store *stt = NULL;
    assert_int_equal(store_open_unlocked(URL, &stt, &e), 0);
    store_close(stt);
}

static int64_t backend_pid(sdb *db)
{
    sdb_stmt *s;
    int64_t pid = -1;
    if (sdb_prepare(db, "SELECT pg_backend_pid()", &s) == SDB_OK && sdb_step(s) == SDB_ROW) pid = sdb_column_int64(s, 0);
    sdb_finalize(s);
    return pid;
}

/* A connection ended by the server while idle (restart, failover) is reopened before the
 * next statement, and data_version moves (notifications may have been missed). */
static void test_reconnect(void **st)
{
    (void)st;
    sdb *a = conn(), *b = conn();
    int64_t pid = backend_pid(a), v0 = sdb_data_version(a);
    sdb_stmt *s;
    assert_int_equal(sdb_prepare(b, "SELECT pg_terminate_backend(CAST(? AS integer))", &s), SDB_OK);
    sdb_bind_int64(s, 1, pid);
    assert_int_equal(sdb_step(s), SDB_ROW);
    sdb_finalize(s);
    usleep(200000);
    int64_t pid2 = backend_pid(a);
    assert_true(pid2 > 0 && pid2 != pid);
    assert_true(sdb_data_version(a) > v0);
    /* the session is set up again: the store's tables are found */
    assert_int_equal(sdb_prepare(a, "SELECT count(*) FROM meta", &s), SDB_OK);
    assert_int_equal(sdb_step(s), SDB_ROW);
    sdb_finalize(s);
    sdb_close(a);
    sdb_close(b);
}

static void test_password_refused(void **st)
{
    (void)st;
    sdb *db = NULL;
    char err[512] = "";
    assert_int_not_equal(sdb_open("postgresql://u:hunter2pw@127.0.0.1:1/x", 0, &db, err, sizeof err), SDB_OK);
    assert_non_null(strstr(err, "PGPASSWORD"));
    assert_null(strstr(err, "hunter2pw"));
    assert_int_not_equal(sdb_open("postgresql://u@127.0.0.1:1/x?password=hunter2pw", 0, &db, err, sizeof err), SDB_OK);
    assert_null(strstr(err, "hunter2pw"));
    char shown[256];
    sdb_describe("postgresql://u:hunter2pw@h/x?sslmode=require&password=hunter2pw", shown, sizeof shown);
    assert_null(strstr(shown, "hunter2pw"));
    assert_non_null(strstr(shown, "u:****@h/x"));
}

int main(int argc, char **argv)
{
    (void)argc;
    URL = getenv("CREDBROKER_TEST_PG_URL");
    if (!URL || !*URL) {
        /* a real server: the helper starts one, then runs this binary again */
        execl("/bin/bash", "bash", "tests/lib/with_pg.sh", argv[0], (char *)NULL);
        printf("1..0 # SKIP no PostgreSQL (run from the repository root)\n");
        return 0;
    }
    char schema[64];
    snprintf(schema, sizeof schema, "sdbtest_%d", (int)getpid());
    setenv("CREDBROKER_DB_SCHEMA", schema, 1);
    setenv("CREDBROKER_MASTER_KEY", KEY, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rewrite),
        cmocka_unit_test(test_password_refused),
        cmocka_unit_test(test_data_version),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_constraint_in_tx),
        cmocka_unit_test(test_begin_write_serializes),
        cmocka_unit_test(test_reconnect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
