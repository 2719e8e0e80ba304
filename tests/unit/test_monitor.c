/* Security monitor rules at their thresholds (one below: nothing; at it: a finding), on a
 * real store whose audit rows are written with audit_append at chosen times. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "monitor/monitor.h"
#include "store/audit.h"
#include "store/store.h"

static char dir[64], path[128];
static const char *KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
static const int64_t NOW = 1900000000; /* 2030-03-17 */

static void at(int64_t t)
{
    char b[32];
    cb_iso8601(t, b);
    setenv("CREDBROKER_NOW", b, 1);
}

static void row(cb_store *s, int64_t t, const char *actor, const char *action, const char *outcome, json_t *d)
{
    cb_error e = {0};
    at(t);
    assert_int_equal(audit_append(s, actor, action, NULL, outcome, d, 1, &e), 0);
    json_decref(d);
}

static int setup(void **st)
{
    snprintf(dir, sizeof dir, "/tmp/cbmonXXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(path, sizeof path, "%s/s.db", dir);
    cb_error e = {0};
    cb_store *s;
    if (store_create(path, KEY, &e) || store_open(path, &s, &e) || store_unlock(s, KEY, &e)) return -1;
    *st = s;
    return 0;
}

static int teardown(void **st)
{
    store_close(*st);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) return -1;
    unsetenv("CREDBROKER_NOW");
    return 0;
}

static int count_kind(json_t *f, const char *kind)
{
    int n = 0;
    size_t i;
    json_t *x;
    json_array_foreach(f, i, x) n += !strcmp(json_string_value(json_object_get(x, "kind")), kind);
    return n;
}

static json_t *analyze(cb_store *s, cb_policy *p, const monitor_counters *c)
{
    json_t *f = NULL;
    cb_error e = {0};
    assert_int_equal(monitor_analyze(s, p, NOW, 86400, c, &f, &e), 0);
    return f;
}

static void test_thresholds(void **st)
{
    cb_store *s = *st;
    cb_policy *p = policy_new();
    p->monitoring.auth_failures = 3;
    p->monitoring.export_rows = 100;
    p->monitoring.statement_timeouts = 2;
    /* two failed logins from 10.0.0.9: below the threshold */
    for (int i = 0; i < 2; i++)
        row(s, NOW - 60, "mcp:http", "mcp.authenticate", "denied", json_pack("{s:s,s:s}", "method", "api_key", "addr", "10.0.0.9"));
    /* an old failure outside the window does not count */
    row(s, NOW - 2 * 86400, "mcp:http", "mcp.authenticate", "denied", json_pack("{s:s}", "addr", "10.0.0.9"));
    /* 99 rows read: below; one timeout: below */
    row(s, NOW - 30, "mcp:bi", "mcp.query_readonly", "ok", json_pack("{s:i,s:i,s:s}", "rows", 99, "bytes", 10, "addr", "10.0.0.1"));
    row(s, NOW - 30, "mcp:bi", "mcp.query_readonly", "error",
        json_pack("{s:s,s:s}", "message", "ERROR: canceling statement due to statement timeout", "addr", "10.0.0.1"));
    json_t *f = analyze(s, p, NULL);
    assert_int_equal(json_array_size(f), 0);
    json_decref(f);
    /* one more of each: every rule fires, with its evidence */
    row(s, NOW - 10, "mcp:http", "mcp.authenticate", "denied", json_pack("{s:s}", "addr", "10.0.0.9"));
    row(s, NOW - 10, "mcp:bi", "mcp.query_readonly", "ok", json_pack("{s:i,s:i,s:s}", "rows", 1, "bytes", 10, "addr", "10.0.0.1"));
    row(s, NOW - 10, "mcp:bi", "mcp.query_readonly", "error", json_pack("{s:s}", "message", "statement timeout"));
    monitor_counters c = {.have = 1, .pool_saturated = 2, .pool_max = 16};
    f = analyze(s, p, &c);
    assert_int_equal(count_kind(f, "auth_failures"), 1);
    assert_int_equal(count_kind(f, "large_export"), 1);
    assert_int_equal(count_kind(f, "statement_timeout"), 1);
    assert_int_equal(count_kind(f, "pool_saturation"), 1);
    assert_int_equal(count_kind(f, "new_address"), 0); /* the client has no history before the window */
    json_t *a = json_array_get(f, 0);
    assert_string_equal(json_string_value(json_object_get(a, "kind")), "auth_failures");
    assert_string_equal(json_string_value(json_object_get(a, "subject")), "10.0.0.9");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "evidence"), "failures")), 3);
    char *k = monitor_finding_key(a);
    assert_string_equal(k, "auth_failures/10.0.0.9");
    free(k);
    json_decref(f);
    /* without server counters, no pool finding */
    f = analyze(s, p, NULL);
    assert_int_equal(count_kind(f, "pool_saturation"), 0);
    json_decref(f);
    policy_free(p);
}

static void test_rate_and_address(void **st)
{
    cb_store *s = *st;
    cb_policy *p = policy_new();
    p->monitoring.rate_factor = 4;
    p->monitoring.rate_min_calls = 5;
    /* baseline: 2 calls per hour over the 9 hours before the last one, from 10.0.0.1
     * (20 calls over 9.02 h: 2.2 per hour) */
    for (int h = 0; h < 10; h++)
        for (int i = 0; i < 2; i++)
            row(s, NOW - 3600 - h * 3600 - 60, "mcp:app", "mcp.connections_list", "ok", json_pack("{s:s}", "addr", "10.0.0.1"));
    /* last hour: 8 calls, under 4 x 2.2: not a spike */
    for (int i = 0; i < 8; i++)
        row(s, NOW - 100, "mcp:app", "mcp.connections_list", "ok", json_pack("{s:s}", "addr", "10.0.0.1"));
    json_t *f = analyze(s, p, NULL);
    assert_int_equal(count_kind(f, "call_rate_spike"), 0);
    assert_int_equal(count_kind(f, "new_address"), 0);
    json_decref(f);
    /* one more call (9 > 8.9), from an address the client never used */
    row(s, NOW - 50, "mcp:app", "mcp.connections_list", "ok", json_pack("{s:s}", "addr", "203.0.113.7"));
    f = analyze(s, p, NULL);
    assert_int_equal(count_kind(f, "call_rate_spike"), 1);
    assert_int_equal(count_kind(f, "new_address"), 1);
    size_t i;
    json_t *x;
    json_array_foreach(f, i, x) if (!strcmp(json_string_value(json_object_get(x, "kind")), "new_address"))
        assert_string_equal(json_string_value(json_object_get(x, "subject")), "app@203.0.113.7");
    json_decref(f);
    policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_thresholds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_and_address, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
