/* Store unit tests: creation and modes, wrong keys, sealed rows bound to their place,
 * atomic re-encryption, plaintext migration, verification. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "store/audit.h"
#include "store/crypto.h"
#include "store/store.h"

static char dir[64], path[128];
static const char *KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
static const char *KEY2 = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

static int setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/cbstoreXXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(path, sizeof path, "%s/s.db", dir);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static cb_store *open_with(const char *key)
{
    cb_store *s = NULL;
    cb_error e = {0};
    assert_int_equal(store_open(path, &s, &e), 0);
    int rc = store_unlock(s, key, &e);
    if (rc) {
        store_close(s);
        return NULL;
    }
    return s;
}

static void test_create_mode_and_keys(void **st)
{
    (void)st;
    cb_error e = {0};
    assert_int_equal(store_create(path, KEY, &e), 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* never clobbers */
    assert_int_not_equal(store_create(path, KEY, &e), 0);
    cb_store *s = NULL;
    assert_int_equal(store_open(path, &s, &e), 0);
    assert_int_equal(store_unlock(s, KEY2, &e), CB_EKEY);
    assert_int_equal(store_unlock(s, "a passphrase of some length", &e), CB_EKEY);
    assert_int_equal(store_unlock(s, KEY, &e), 0);
    store_close(s);
    /* group/world readable is refused */
    chmod(path, 0640);
    assert_int_not_equal(store_open(path, &s, &e), 0);
    assert_non_null(strstr(e.msg, "chmod 600"));
    chmod(path, 0600);
}

static void test_passphrase_store(void **st)
{
    (void)st;
    cb_error e = {0};
    setenv("CREDBROKER_ARGON2_M_KIB", "1024", 1);
    setenv("CREDBROKER_ARGON2_T", "1", 1);
    assert_int_equal(store_create(path, "correct horse battery staple", &e), 0);
    unsetenv("CREDBROKER_ARGON2_M_KIB");
    unsetenv("CREDBROKER_ARGON2_T");
    cb_store *s = open_with("correct horse battery staple");
    assert_non_null(s);
    store_kdf k;
    store_get_kdf(s, &k);
    assert_string_equal(k.kdf, "argon2id");
    assert_int_equal(k.m_kib, 1024); /* parameters are stored, not assumed */
    store_close(s);
    assert_null(open_with("correct horse battery stapler"));
    assert_null(open_with(KEY));
}

static void test_conn_roundtrip_and_binding(void **st)
{
    (void)st;
    cb_error e = {0};
    assert_int_equal(store_create(path, KEY, &e), 0);
    cb_store *s = open_with(KEY);
    assert_int_equal(store_conn_put(s, "a", "postgres", "postgresql://u:SECRET_A@h/db", "postgresql://u:****@h/db", "d", NULL, 0, &e), 0);
    assert_int_equal(store_conn_put(s, "b", "postgres", "postgresql://u:SECRET_B@h/db", NULL, NULL, NULL, 0, &e), 0);
    assert_int_not_equal(store_conn_put(s, "a", "postgres", "x", NULL, NULL, NULL, 0, &e), 0); /* exists */
    store_conn c;
    assert_int_equal(store_conn_get(s, "a", 1, &c, &e), 0);
    assert_string_equal(c.url, "postgresql://u:SECRET_A@h/db");
    assert_true(c.encrypted);
    store_conn_free(&c);
    /* swapping ciphertexts between rows must not decrypt: AAD binds the row */
    sdb_exec(store_db(s), "UPDATE connections SET url_enc = (SELECT url_enc FROM connections WHERE name='b') WHERE name='a'");
    assert_int_not_equal(store_conn_get(s, "a", 1, &c, &e), 0);
    assert_int_equal(e.kind, CB_K_TAMPERED);
    json_t *f = json_array();
    int checked = 0;
    assert_int_equal(store_verify(s, f, &checked, &e), CB_EFINDINGS);
    assert_int_equal(json_array_size(f), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 0), "row")), "a");
    json_decref(f);
    assert_int_equal(store_conn_remove(s, "a", &e), 0);
    assert_int_not_equal(store_conn_remove(s, "a", &e), 0);
    store_close(s);
}

static void test_rekey_atomic(void **st)
{
    (void)st;
    cb_error e = {0};
    assert_int_equal(store_create(path, KEY, &e), 0);
    cb_store *s = open_with(KEY);
    for (int i = 0; i < 200; i++) {
        char n[16], u[64];
        snprintf(n, sizeof n, "c%03d", i);
        snprintf(u, sizeof u, "postgresql://u:pw%d@h/db", i);
        assert_int_equal(store_conn_put(s, n, "postgres", u, NULL, NULL, NULL, 0, &e), 0);
    }
    assert_int_equal(store_secret_put(s, "cache", "x", "v", 1, "1", NULL, &e), 0);
    /* failure injected midway: nothing changes, old key still works */
    store_test_fail_reencrypt_at = 100;
    json_t *rep = json_object();
    assert_int_not_equal(store_rekey(s, KEY2, 1, rep, &e), 0);
    assert_int_equal(json_array_size(json_object_get(rep, "failures")), 1);
    json_decref(rep);
    store_test_fail_reencrypt_at = 0;
    store_close(s);
    assert_null(open_with(KEY2));
    s = open_with(KEY);
    assert_non_null(s);
    assert_int_equal(store_key_version(s), 1);
    store_conn c;
    assert_int_equal(store_conn_get(s, "c150", 1, &c, &e), 0);
    assert_string_equal(c.url, "postgresql://u:pw150@h/db");
    store_conn_free(&c);
    /* now for real */
    rep = json_object();
    assert_int_equal(store_rekey(s, KEY2, 1, rep, &e), 0);
    assert_int_equal(json_integer_value(json_object_get(rep, "rows")), 201); /* 200 connections + 1 secret */
    json_decref(rep);
    store_close(s);
    assert_null(open_with(KEY));
    s = open_with(KEY2);
    assert_non_null(s);
    assert_int_equal(store_key_version(s), 2);
    assert_int_equal(store_conn_get(s, "c199", 1, &c, &e), 0);
    assert_string_equal(c.url, "postgresql://u:pw199@h/db");
    store_conn_free(&c);
    store_secret v;
    assert_int_equal(store_secret_get(s, "cache", "x", &v, &e), 0);
    assert_string_equal(v.value, "v");
    store_secret_free(&v);
    /* a re-wrap without re-encryption keeps the DEK and key version */
    assert_int_equal(store_rekey(s, KEY, 0, NULL, &e), 0);
    assert_int_equal(store_key_version(s), 2);
    store_close(s);
    s = open_with(KEY);
    assert_non_null(s);
    store_close(s);
}

static void test_migrate_plaintext(void **st)
{
    (void)st;
    cb_error e = {0};
    assert_int_equal(store_create(path, KEY, &e), 0);
    cb_store *s = open_with(KEY);
    /* a manual SQL insert leaves a plaintext URL */
    assert_int_equal(sdb_exec(store_db(s), "INSERT INTO connections(name, engine, url_enc, created_at, updated_at)"
                                  " VALUES('manual','postgres','postgresql://m:PLAIN@h/db',0,0)"), SDB_OK);
    json_t *f = json_array();
    int checked = 0;
    assert_int_equal(store_verify(s, f, &checked, &e), CB_EFINDINGS);
    json_decref(f);
    int n = 0;
    assert_int_equal(store_migrate_plaintext(s, &n, &e), 0);
    assert_int_equal(n, 1);
    f = json_array();
    assert_int_equal(store_verify(s, f, &checked, &e), 0);
    json_decref(f);
    store_conn c;
    assert_int_equal(store_conn_get(s, "manual", 1, &c, &e), 0);
    assert_true(c.encrypted);
    assert_string_equal(c.url, "postgresql://m:PLAIN@h/db");
    store_conn_free(&c);
    store_close(s);
}

/* description and source reference live in one sealed column bound to its row, are
 * re-encrypted and verified with the rest, and a replacement without a description keeps
 * the stored one */
static void test_sealed_metadata(void **st)
{
    (void)st;
    cb_error e = {0};
    assert_int_equal(store_create(path, KEY, &e), 0);
    cb_store *s = open_with(KEY);
    assert_non_null(s);
    assert_int_equal(store_conn_put(s, "a", "postgres", "postgresql://u:p@h/d", NULL, "rack-7 replica", "vault://kv/a#url", 0, &e), 0);
    assert_int_equal(store_conn_put(s, "b", "postgres", "postgresql://u:p@h/e", NULL, "other", NULL, 0, &e), 0);
    assert_int_equal(store_conn_put(s, "a", "postgres", "postgresql://u:q@h/d", NULL, NULL, "vault://kv/a#url", 1, &e), 0);
    sdb_stmt *q;
    assert_int_equal(sdb_prepare(store_db(s), "SELECT count(*) FROM connections WHERE description IS NOT NULL OR source_ref IS NOT NULL OR meta_enc IS NULL", &q), SDB_OK);
    assert_int_equal(sdb_step(q), SDB_ROW);
    assert_int_equal(sdb_column_int(q, 0), 0);
    sdb_finalize(q);
    json_t *rep = json_object();
    assert_int_equal(store_rekey(s, KEY2, 1, rep, &e), 0);
    json_decref(rep);
    store_conn c;
    assert_int_equal(store_conn_get(s, "a", 0, &c, &e), 0);
    assert_string_equal(c.description, "rack-7 replica");
    assert_string_equal(c.source_ref, "vault://kv/a#url");
    store_conn_free(&c);
    json_t *fails = json_array();
    int checked = 0;
    assert_int_equal(store_verify(s, fails, &checked, &e), 0);
    assert_int_equal(checked, 4);   /* two URLs, two metadata values (no sealed meta rows yet) */
    /* b's metadata moved onto a: the AAD names the row, so a no longer opens */
    sdb_exec(store_db(s), "UPDATE connections SET meta_enc = (SELECT meta_enc FROM connections WHERE name='b') WHERE name='a'");
    assert_int_not_equal(store_conn_get(s, "a", 0, &c, &e), 0);
    assert_int_equal(e.kind, CB_K_TAMPERED);
    assert_int_equal(store_verify(s, fails, &checked, &e), CB_EFINDINGS);
    assert_int_equal(json_array_size(fails), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(fails, 0), "column")), "meta");
    json_decref(fails);
    store_close(s);
}

static void test_not_a_store(void **st)
{
    (void)st;
    cb_error e = {0};
    FILE *f = fopen(path, "w");
    fputs("this is not sqlite at all, just text that is long enough to look like a header", f);
    fclose(f);
    chmod(path, 0600);
    cb_store *s = NULL;
    assert_int_not_equal(store_open(path, &s, &e), 0);
    assert_null(s);
    assert_true(strlen(e.msg) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_mode_and_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passphrase_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_roundtrip_and_binding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rekey_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_plaintext, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sealed_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
