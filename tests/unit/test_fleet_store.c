/* What several brokers sharing a store rely on: the "scheduler" lock (one holder, gone
 * with its connection, a replaced lock file not held twice), the rotation/leader.c state
 * on top of it, and the generation counters (a revoked lease bumps "leases" in the same
 * transaction; a rolled-back change bumps nothing). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rotation/leader.h"
#include "store/leases.h"
#include "store/store.h"

static char dir[64], path[128];
static const char *KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static int setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/cbfleetXXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(path, sizeof path, "%s/s.db", dir);
    cb_error e = {0};
    return store_create(path, KEY, &e);
}

static int teardown(void **st)
{
    (void)st;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static sdb *conn(void)
{
    sdb *db = NULL;
    char err[256];
    assert_int_equal(sdb_open(path, 0, &db, err, sizeof err), SDB_OK);
    return db;
}

static void test_one_holder(void **st)
{
    (void)st;
    sdb *a = conn(), *b = conn();
    assert_int_equal(sdb_try_lock(a, "scheduler"), 1);
    assert_int_equal(sdb_try_lock(a, "scheduler"), 1);   /* still held */
    assert_int_equal(sdb_try_lock(b, "scheduler"), 0);
    assert_int_equal(sdb_try_lock(b, "other"), 1);       /* names are independent */
    sdb_close(a);                                        /* the lock goes with the connection */
    assert_int_equal(sdb_try_lock(b, "scheduler"), 1);
    sdb_unlock(b, "scheduler");
    sdb *c = conn();
    assert_int_equal(sdb_try_lock(c, "scheduler"), 1);
    sdb_close(b);
    sdb_close(c);
}

static void test_replaced_lock_file(void **st)
{
    (void)st;
    sdb *a = conn(), *b = conn();
    assert_int_equal(sdb_try_lock(a, "scheduler"), 1);
    char lp[160];
    snprintf(lp, sizeof lp, "%s.scheduler.lock", path);
    assert_int_equal(unlink(lp), 0);                     /* an operator's rm */
    assert_int_equal(sdb_try_lock(b, "scheduler"), 1);   /* b locks the new file */
    /* a no longer holds the file that is there: it must not say it leads */
    assert_int_equal(sdb_try_lock(a, "scheduler"), 0);
    sdb_close(b);
    assert_int_equal(sdb_try_lock(a, "scheduler"), 1);
    sdb_close(a);
}

static void test_leader_state(void **st)
{
    (void)st;
    sdb *other = conn();
    assert_int_equal(sdb_try_lock(other, LEADER_LOCK_NAME), 1);
    assert_int_equal(leader_open(path), 0);
    int gained = -1;
    assert_int_equal(leader_check(&gained), 0);
    assert_int_equal(gained, 0);
    assert_int_equal(leader_is(), 0);
    sdb_close(other);                                    /* the leader dies */
    assert_int_equal(leader_check(&gained), 1);
    assert_int_equal(gained, 1);
    assert_int_equal(leader_check(&gained), 1);
    assert_int_equal(gained, 0);                         /* gained once */
    assert_int_equal(leader_is(), 1);
    char want[32];
    snprintf(want, sizeof want, ":%ld", (long)getpid());
    assert_non_null(strstr(leader_self_id(), want));
    leader_close();
    assert_int_equal(leader_is(), 0);
    other = conn();
    assert_int_equal(sdb_try_lock(other, LEADER_LOCK_NAME), 1); /* released at close */
    sdb_close(other);
}

static void test_generations(void **st)
{
    (void)st;
    cb_store *s = NULL;
    cb_error e = {0};
    assert_int_equal(store_open(path, &s, &e), 0);
    assert_int_equal(store_unlock(s, KEY, &e), 0);
    sdb *watch = conn();
    assert_int_equal(store_generation(watch, "leases"), 0);
    assert_int_equal(store_generation(watch, "policy"), 0);
    assert_int_equal(store_generation(watch, "nonesuch"), -1);
    int64_t dv = sdb_data_version(watch);
    assert_int_equal(store_begin(s, &e), 0);
    assert_int_equal(store_generation_bump(s, "policy", &e), 0);
    store_rollback(s);
    assert_int_equal(store_generation(watch, "policy"), 0);  /* rolled back with its change */
    assert_int_equal(store_begin(s, &e), 0);
    assert_int_equal(store_generation_bump(s, "policy", &e), 0);
    assert_int_equal(store_commit(s, &e), 0);
    assert_true(sdb_data_version(watch) != dv);              /* the watcher's cheap check moves */
    assert_int_equal(store_generation(watch, "policy"), 1);

    store_lease l = {.id = "0123456789abcdef", .client = "c", .connection = "app", .login = "cb_c_01234567",
                     .admin_connection = "adm", .state = "creating"};
    l.created_at = cb_now();
    l.expires_at = l.created_at + 60;
    assert_int_equal(lease_journal_create(s, &l, "pw-not-real-123", &e), 0);
    assert_int_equal(lease_set_state(s, l.id, "active", 0, NULL, &e), 0);
    assert_int_equal(store_generation(watch, "leases"), 0);  /* nothing to drop yet */
    assert_int_equal(lease_set_state(s, l.id, "revoking", 0, NULL, &e), 0);
    assert_int_equal(store_generation(watch, "leases"), 1);
    assert_int_equal(store_begin(s, &e), 0);                 /* inside the caller's transaction */
    assert_int_equal(lease_set_state(s, l.id, "revoked", 0, NULL, &e), 0);
    assert_int_equal(store_generation(watch, "leases"), 1);  /* not visible before the commit */
    assert_int_equal(store_commit(s, &e), 0);
    assert_int_equal(store_generation(watch, "leases"), 2);
    assert_int_not_equal(lease_set_state(s, "nosuchlease00000", "revoked", 0, NULL, &e), 0);
    assert_int_equal(store_generation(watch, "leases"), 2);  /* a failed change bumps nothing */
    sdb_close(watch);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_holder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replaced_lock_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leader_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
