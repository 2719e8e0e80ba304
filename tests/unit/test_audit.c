/* Audit chain: intact chains verify; altering, removing (middle or newest) or
 * reordering entries is detected. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "store/audit.h"
#include "store/store.h"

static char dir[64], path[128];
static const char *KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static int setup(void **st)
{
    snprintf(dir, sizeof dir, "/tmp/cbauditXXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(path, sizeof path, "%s/s.db", dir);
    cb_error e = {0};
    if (store_create(path, KEY, &e)) return -1;
    cb_store *s;
    if (store_open(path, &s, &e) || store_unlock(s, KEY, &e)) return -1;
    for (int i = 0; i < 10; i++) {
        json_t *d = json_pack("{s:i}", "n", i);
        char t[16];
        snprintf(t, sizeof t, "conn%d", i);
        if (audit_append(s, "tester@cli", "conn.add", t, "ok", d, i, &e)) return -1;
        json_decref(d);
    }
    *st = s;
    return 0;
}

static int teardown(void **st)
{
    store_close(*st);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int verify(cb_store *s)
{
    json_t *p = json_array();
    long n = 0;
    cb_error e = {0};
    int rc = audit_verify(s, p, &n, &e);
    json_decref(p);
    return rc;
}

static void exec_sql(cb_store *s, const char *sql)
{
    int rc = sdb_exec(store_db(s), sql);
    if (rc != SDB_OK) fail_msg("%s: %s", sql, sdb_errmsg(store_db(s)));
}

static void test_intact(void **st)
{
    cb_store *s = *st;
    assert_int_equal(verify(s), 0);
    json_t *l;
    cb_error e = {0};
    assert_int_equal(audit_list(s, 3, 0, &l, &e), 0);
    assert_int_equal(json_array_size(l), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 2), "target")), "conn9");
    json_decref(l);
}

static void test_append_only_triggers(void **st)
{
    cb_store *s = *st;
    assert_int_not_equal(sdb_exec(store_db(s), "UPDATE audit SET outcome='error' WHERE id=3"), SDB_OK);
    assert_int_not_equal(sdb_exec(store_db(s), "DELETE FROM audit WHERE id=3"), SDB_OK);
}

static void test_altered(void **st)
{
    cb_store *s = *st;
    exec_sql(s, "DROP TRIGGER audit_no_update; UPDATE audit SET outcome='error' WHERE id=4");
    assert_int_equal(verify(s), CB_EFINDINGS);
}

static void test_removed_middle(void **st)
{
    cb_store *s = *st;
    exec_sql(s, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id=5");
    assert_int_equal(verify(s), CB_EFINDINGS);
}

static void test_removed_newest(void **st)
{
    cb_store *s = *st;
    exec_sql(s, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id=10");
    assert_int_equal(verify(s), CB_EFINDINGS);
}

static void test_reordered(void **st)
{
    cb_store *s = *st;
    /* swap the contents of two entries (rows keep their place, ids are exchanged) */
    exec_sql(s, "DROP TRIGGER audit_no_update;"
                "UPDATE audit SET id = -1 WHERE id = 2; UPDATE audit SET id = 2 WHERE id = 3; UPDATE audit SET id = 3 WHERE id = -1;");
    assert_int_equal(verify(s), CB_EFINDINGS);
}

static void test_rewritten_chain_detected_by_head(void **st)
{
    cb_store *s = *st;
    /* an attacker without the key can recompute every hash, but not the sealed head:
     * simulate by truncating to 9 entries and also recomputing nothing else */
    exec_sql(s, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id >= 9");
    assert_int_equal(verify(s), CB_EFINDINGS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_intact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_only_triggers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_altered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reordered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewritten_chain_detected_by_head, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
