/* Rotation pure logic: step names, password policy mapping, the min_sslmode check, the
 * published value's shape, and the scheduler's catch-up rule over a real store. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rotation/password.h"
#include "policy/policy.h"
#include "rotation/rotation.h"
#include "rotation/rotation_internal.h"
#include "rotation/scheduler.h"
#include "rotation/schedule_state.h"
#include "store/store.h"

static void test_step_names(void **st)
{
    (void)st;
    const char *names[] = {"create", "set", "test", "finish"};
    for (int i = 0; i < 4; i++) {
        int n = rotation_step_from_name(names[i]);
        assert_int_equal(n, i + 1);
        assert_string_equal(rotation_step_name(n), names[i]);
    }
    assert_int_equal(rotation_step_from_name("Create"), 0);
    assert_int_equal(rotation_step_from_name(""), 0);
    assert_int_equal(rotation_step_from_name(NULL), 0);
    assert_string_equal(rotation_step_name(0), "none");
    assert_string_equal(rotation_step_name(9), "none");
}

/* another host's row: live by its heartbeat, also when that host's clock is a little
 * ahead of ours (a fleet shares a store, not a clock); our own host: by its pid */
static void test_owner_live(void **st)
{
    (void)st;
    int64_t now = cb_now(); /* the clock rotation_owner_live reads */
    assert_int_equal(rotation_owner_live(4242, "other-host.example", now), 1);
    assert_int_equal(rotation_owner_live(4242, "other-host.example", now - 60), 1);
    assert_int_equal(rotation_owner_live(4242, "other-host.example", now + 2), 1);
    assert_int_equal(rotation_owner_live(4242, "other-host.example", now - 3600), 0);
    assert_int_equal(rotation_owner_live(4242, "other-host.example", now + 3600), 0);
    assert_int_equal(rotation_owner_live(4242, "", now), 0);
    assert_int_equal(rotation_owner_live(0, "other-host.example", now), 0);
    char me[256];
    rotation_hostname(me);
    assert_int_equal(rotation_owner_live((long)getppid(), me, 0), 1);
    assert_int_equal(rotation_owner_live((long)getpid(), me, now), 0);
}

static void test_pw_policy(void **st)
{
    (void)st;
    policy_credential c = {0};
    c.name = (char *)"x";
    pw_policy p;
    cb_error e = {0};
    assert_int_equal(rotation_pw_policy(&c, &p, &e), 0);
    assert_int_equal(p.length, 32);
    assert_int_equal(p.classes, PW_ALL);
    c.password.length = 12;
    c.password.classes = POLICY_CLASS_DIGIT;
    c.password.exclude = (char *)"0123456789";
    assert_int_equal(rotation_pw_policy(&c, &p, &e), CB_EUSAGE); /* every digit excluded */
    assert_non_null(strstr(e.msg, "credential x"));
    c.password.exclude = (char *)"01";
    assert_int_equal(rotation_pw_policy(&c, &p, &e), 0);
    char *pw = NULL;
    assert_int_equal(password_generate(&p, &pw, &e), 0);
    assert_int_equal(strlen(pw), 12);
    for (char *q = pw; *q; q++) assert_true(*q >= '2' && *q <= '9');
    cb_free_secret(pw);
}

static conn_url parse(const char *s)
{
    conn_url u;
    cb_error e = {0};
    assert_int_equal(conn_url_parse(s, NULL, &u, &e), 0);
    return u;
}

static void test_sslmode(void **st)
{
    (void)st;
    cb_error e = {0};
    conn_url u = parse("postgresql://a:b@h/db");
    assert_int_equal(rotation_check_sslmode(&u, POLICY_SSL_UNSET, "c", &e), 0);
    assert_int_equal(rotation_check_sslmode(&u, POLICY_SSL_PREFER, "c", &e), 0); /* libpq default */
    assert_int_equal(rotation_check_sslmode(&u, POLICY_SSL_REQUIRE, "c", &e), CB_EUSAGE);
    assert_non_null(strstr(e.msg, "prefer (default)"));
    assert_null(strstr(e.msg, "b@"));
    conn_url_free(&u);
    u = parse("postgresql://a:b@h/db?sslmode=verify-full");
    assert_int_equal(rotation_check_sslmode(&u, POLICY_SSL_VERIFY_FULL, "c", &e), 0);
    conn_url_free(&u);
    u = parse("postgresql://a:b@h/db?sslmode=bogus");
    assert_int_equal(rotation_check_sslmode(&u, POLICY_SSL_DISABLE, "c", &e), CB_EUSAGE); /* unknown = weakest */
    conn_url_free(&u);
    u = parse("sqlserver://h:1433;databaseName=d;user=a;password=b;encrypt=false");
    assert_int_equal(rotation_check_sslmode(&u, POLICY_SSL_PREFER, "c", &e), 0);
    assert_int_equal(rotation_check_sslmode(&u, POLICY_SSL_REQUIRE, "c", &e), CB_EUSAGE);
    conn_url_free(&u);
    u = parse("sqlserver://h:1433;databaseName=d;user=a;password=b;encrypt=true");
    assert_int_equal(rotation_check_sslmode(&u, POLICY_SSL_REQUIRE, "c", &e), 0);
    conn_url_free(&u);
}

static void test_published_value(void **st)
{
    (void)st;
    conn_url u = parse("postgresql://app:s3cr%40t@db.example:6432/orders?sslmode=require");
    char *v = rotation_published_value(&u, NULL);
    json_t *o = json_loads(v, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "engine")), "postgres");
    assert_string_equal(json_string_value(json_object_get(o, "host")), "db.example");
    assert_int_equal(json_integer_value(json_object_get(o, "port")), 6432);
    assert_string_equal(json_string_value(json_object_get(o, "username")), "app");
    assert_string_equal(json_string_value(json_object_get(o, "password")), "s3cr@t");
    assert_string_equal(json_string_value(json_object_get(o, "dbname")), "orders");
    conn_url back;
    cb_error e = {0};
    assert_int_equal(conn_url_parse(json_string_value(json_object_get(o, "url")), NULL, &back, &e), 0);
    assert_string_equal(back.password, "s3cr@t");
    conn_url_free(&back);
    json_decref(o);
    cb_free_secret(v);
    v = rotation_published_value(&u, "conn");   /* publish_to ...#conn: that field holds the URL */
    o = json_loads(v, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "conn")), json_string_value(json_object_get(o, "url")));
    json_decref(o);
    cb_free_secret(v);
    conn_url_free(&u);
}

/* ---- scheduler over a real store ---- */
static char dir[64], path[128];

static void test_scheduler_catch_up(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/cbrotXXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s.db", dir);
    const char *key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    cb_error e = {0};
    assert_int_equal(store_create(path, key, &e), 0);
    cb_store *s = NULL;
    assert_int_equal(store_open(path, &s, &e), 0);
    assert_int_equal(store_unlock(s, key, &e), 0);
    const char *pol = "{\"credentials\":{\"a\":{\"connection\":\"c\",\"schedule\":\"0 3 * * *\"},\"b\":{\"connection\":\"c\"}}}";
    cb_policy *p = NULL;
    assert_int_equal(policy_load_buffer("p.json", pol, strlen(pol), &p, NULL, &e), 0);
    const policy_credential *a = policy_credential(p, "a");
    int64_t t0, t1;
    assert_int_equal(cb_parse_iso8601("2030-01-01T12:00:00Z", &t0), 0);
    assert_int_equal(cb_parse_iso8601("2030-01-09T12:00:00Z", &t1), 0);

    /* a success at t0: next run is the next 03:00 after it */
    assert_int_equal(schedule_state_record(s, a, 1, t0, "ok", &e), 0);
    setenv("CREDBROKER_NOW", "2030-01-01T13:00:00Z", 1);
    json_t *l = NULL;
    assert_int_equal(scheduler_list(s, p, &l, &e), 0);
    assert_int_equal(json_array_size(l), 2);
    json_t *ra = json_array_get(l, 0);
    assert_string_equal(json_string_value(json_object_get(ra, "next_run")), "2030-01-02T03:00:00Z");
    assert_false(json_is_true(json_object_get(ra, "due")));
    assert_true(json_is_null(json_object_get(json_array_get(l, 1), "next_run"))); /* no schedule */
    json_decref(l);

    /* eight days down: due once, from the first missed slot */
    setenv("CREDBROKER_NOW", "2030-01-09T12:00:00Z", 1);
    assert_int_equal(scheduler_list(s, p, &l, &e), 0);
    ra = json_array_get(l, 0);
    assert_true(json_is_true(json_object_get(ra, "due")));
    assert_string_equal(json_string_value(json_object_get(ra, "next_run")), "2030-01-02T03:00:00Z");
    json_decref(l);
    /* a failed run does not move the base: still due */
    assert_int_equal(schedule_state_record(s, a, 0, t1, "rotation failed", &e), 0);
    assert_int_equal(scheduler_list(s, p, &l, &e), 0);
    ra = json_array_get(l, 0);
    assert_true(json_is_true(json_object_get(ra, "due")));
    assert_string_equal(json_string_value(json_object_get(ra, "last_result")), "rotation failed");
    assert_string_equal(json_string_value(json_object_get(ra, "last_success")), "2030-01-01T12:00:00Z");
    json_decref(l);
    /* the catch-up run succeeds: not due any more, next run tomorrow 03:00 */
    assert_int_equal(schedule_state_record(s, a, 1, t1, "ok", &e), 0);
    assert_int_equal(scheduler_list(s, p, &l, &e), 0);
    ra = json_array_get(l, 0);
    assert_false(json_is_true(json_object_get(ra, "due")));
    assert_string_equal(json_string_value(json_object_get(ra, "next_run")), "2030-01-10T03:00:00Z");
    json_decref(l);
    /* scheduler_tick with nothing due runs nothing */
    json_t *rep = json_array();
    assert_int_equal(scheduler_tick(s, p, NULL, "test", rep, &e), 0);
    assert_int_equal(json_array_size(rep), 0);
    json_decref(rep);
    unsetenv("CREDBROKER_NOW");
    policy_free(p);
    store_close(s);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_names),
        cmocka_unit_test(test_owner_live),
        cmocka_unit_test(test_pw_policy),
        cmocka_unit_test(test_sslmode),
        cmocka_unit_test(test_published_value),
        cmocka_unit_test(test_scheduler_catch_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
