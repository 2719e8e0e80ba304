/* Lease records (store/leases.c) and API-key attributes (store/apikey_attrs.c): journal
 * before the database, one live lease per (client, connection), sealed password, states,
 * login names, attribute parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "store/apikey_attrs.h"
#include "store/apikeys.h"
#include "store/leases.h"
#include "store/store.h"

static char dir[64], path[128];
static const char *KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static int setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/cbleaseXXXXXX");
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

static cb_store *open_store(void)
{
    cb_store *s = NULL;
    cb_error e = {0};
    assert_int_equal(store_open(path, &s, &e), 0);
    assert_int_equal(store_unlock(s, KEY, &e), 0);
    return s;
}

static store_lease mk(const char *id, const char *client, const char *login)
{
    store_lease l = {0};
    snprintf(l.id, sizeof l.id, "%s", id);
    l.client = (char *)client;
    l.connection = (char *)"app";
    l.login = (char *)login;
    l.admin_connection = (char *)"admin";
    l.created_at = 1000;
    l.expires_at = 4600;
    return l;
}

static void test_lifecycle(void **st)
{
    (void)st;
    cb_store *s = open_store();
    cb_error e = {0};
    store_lease l = mk("aaaa", "analyst", "cb_analyst_0000aaaa");
    assert_int_equal(lease_journal_create(s, &l, "pw-one-Secret!", &e), 0);
    /* a second live lease for the same pair is refused, and leaves nothing behind */
    store_lease l2 = mk("bbbb", "analyst", "cb_analyst_0000bbbb");
    assert_int_not_equal(lease_journal_create(s, &l2, "pw-two", &e), 0);
    assert_int_equal(e.kind, CB_K_CONFLICT);
    char *pw = NULL;
    assert_int_not_equal(lease_password(s, "bbbb", &pw, &e), 0);
    store_lease got;
    assert_int_equal(lease_get_live(s, "analyst", "app", &got, &e), 0);
    assert_string_equal(got.state, "creating");
    assert_int_equal(got.owner_pid, (int64_t)getpid());
    assert_false(lease_owner_gone(&got)); /* this process is alive */
    store_lease_free(&got);
    assert_int_equal(lease_password(s, "aaaa", &pw, &e), 0);
    assert_string_equal(pw, "pw-one-Secret!");
    cb_free_secret(pw);
    assert_int_equal(lease_set_state(s, "aaaa", "active", 9999, NULL, &e), 0);
    assert_int_equal(lease_get(s, "aaaa", &got, &e), 0);
    assert_string_equal(got.state, "active");
    assert_int_equal(got.expires_at, 9999);
    json_t *j = lease_to_json(&got);
    char *txt = json_dumps(j, 0);
    assert_null(strstr(txt, "pw-one"));
    assert_non_null(strstr(txt, "\"login\": \"cb_analyst_0000aaaa\""));
    free(txt);
    json_decref(j);
    store_lease_free(&got);
    /* revoked: no longer live, listed only with all=1, password forgotten */
    assert_int_equal(lease_set_state(s, "aaaa", "revoked", 0, NULL, &e), 0);
    assert_int_equal(lease_forget_password(s, "aaaa", &e), 0);
    assert_int_equal(lease_forget_password(s, "aaaa", &e), 0); /* idempotent */
    assert_int_not_equal(lease_get_live(s, "analyst", "app", &got, &e), 0);
    assert_int_equal(e.kind, CB_K_NOTFOUND);
    store_lease *v;
    size_t n;
    assert_int_equal(lease_list(s, 0, &v, &n, &e), 0);
    assert_int_equal(n, 0);
    free(v);
    assert_int_equal(lease_list(s, 1, &v, &n, &e), 0);
    assert_int_equal(n, 1);
    store_lease_free(&v[0]);
    free(v);
    /* now a new lease for the pair is allowed */
    assert_int_equal(lease_journal_create(s, &l2, "pw-two", &e), 0);
    assert_int_not_equal(lease_set_state(s, "nope", "active", 0, NULL, &e), 0);
    store_close(s);
}

static void test_names(void **st)
{
    (void)st;
    char login[64];
    lease_make_login("Analyst.Team-1", login);
    assert_int_equal(strncmp(login, "cb_analyst_team_1_", 18), 0);
    assert_int_equal(strlen(login), 26);
    assert_true(lease_login_is_ours(login));
    char longname[80];
    memset(longname, 'x', 64);
    longname[64] = 0;
    lease_make_login(longname, login);
    assert_true(strlen(login) <= 63); /* a PostgreSQL identifier */
    assert_true(lease_login_is_ours(login));
    assert_false(lease_login_is_ours("cb_app"));
    assert_false(lease_login_is_ours("app_0000aaaa"));
    assert_false(lease_login_is_ours("cb_x_0000AAAA"));
    assert_false(lease_login_is_ours("cb_x-0000aaaa"));
    assert_false(lease_login_is_ours(NULL));
}

static void test_attrs(void **st)
{
    (void)st;
    cb_error e = {0};
    json_t *a = json_object();
    assert_int_equal(apikey_attr_parse("user_id=42", a, &e), 0);
    assert_int_equal(apikey_attr_parse("team=red=blue", a, &e), 0);
    assert_string_equal(json_string_value(json_object_get(a, "team")), "red=blue");
    assert_int_not_equal(apikey_attr_parse("user_id=7", a, &e), 0);   /* twice */
    assert_int_not_equal(apikey_attr_parse("=7", a, &e), 0);
    assert_int_not_equal(apikey_attr_parse("noequals", a, &e), 0);
    assert_int_not_equal(apikey_attr_parse("bad-name=1", a, &e), 0);
    assert_int_not_equal(apikey_attr_parse("x=", a, &e), 0);
    assert_int_not_equal(apikey_attr_parse("x=a\nb", a, &e), 0);
    cb_store *s = open_store();
    char *tok = NULL;
    assert_int_equal(apikey_create(s, "k1", "analyst", &tok, &e), 0);
    cb_free_secret(tok);
    assert_int_equal(apikey_set_attrs(s, "k1", a, &e), 0);
    json_t *got = NULL;
    assert_int_equal(apikey_get_attrs(s, "k1", &got, &e), 0);
    assert_string_equal(json_string_value(json_object_get(got, "user_id")), "42");
    json_decref(got);
    assert_int_not_equal(apikey_get_attrs(s, "nokey", &got, &e), 0);
    assert_int_not_equal(apikey_set_attrs(s, "nokey", a, &e), 0);
    store_close(s);
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_attrs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
