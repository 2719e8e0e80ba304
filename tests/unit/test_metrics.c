/* mcp/metrics.c exposition (Prometheus text 0.0.4), the monitor's duration parser and
 * the policy files' "monitoring" object. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "mcp/metrics.h"
#include "monitor/monitor.h"
#include "policy/policy.h"

static void test_counter_gauge(void **s)
{
    (void)s;
    mx_clear();
    mx_family *c = mx_register("t_calls_total", MX_COUNTER, "calls\nwith \\ newline", "tool,outcome", NULL, 0);
    assert_non_null(c);
    assert_ptr_equal(mx_register("t_calls_total", MX_COUNTER, "x", "tool,outcome", NULL, 0), c); /* idempotent */
    assert_null(mx_register("t_calls_total", MX_GAUGE, "x", "", NULL, 0));                   /* type clash */
    assert_null(mx_register("9bad", MX_GAUGE, "x", "", NULL, 0));
    mx_add(c, 1, (const char *const[]){"q", "ok"});
    mx_add(c, 2, (const char *const[]){"q", "ok"});
    mx_add(c, 1, (const char *const[]){"a\"b\\c\nd", "error"});
    assert_true(mx_get(c, (const char *const[]){"q", "ok"}) == 3);
    mx_family *g = mx_register("t_depth", MX_GAUGE, "depth", "", NULL, 0);
    mx_set(g, 2.5, NULL);
    char *t = mx_render();
    assert_non_null(strstr(t, "# HELP t_calls_total calls\\nwith \\\\ newline\n# TYPE t_calls_total counter\n"));
    assert_non_null(strstr(t, "t_calls_total{tool=\"q\",outcome=\"ok\"} 3\n"));
    assert_non_null(strstr(t, "t_calls_total{tool=\"a\\\"b\\\\c\\nd\",outcome=\"error\"} 1\n"));
    assert_non_null(strstr(t, "# TYPE t_depth gauge\nt_depth 2.5\n"));
    free(t);
    mx_reset(g);
    t = mx_render();
    assert_null(strstr(t, "t_depth 2.5"));
    free(t);
    mx_clear();
}

static void test_histogram(void **s)
{
    (void)s;
    mx_clear();
    const double b[] = {0.1, 1};
    mx_family *h = mx_register("t_seconds", MX_HISTOGRAM, "latency", "tool", b, 2);
    mx_observe(h, 0.05, (const char *const[]){"x"});
    mx_observe(h, 0.5, (const char *const[]){"x"});
    mx_observe(h, 7, (const char *const[]){"x"});
    char *t = mx_render();
    /* cumulative buckets, +Inf last, then _sum and _count */
    assert_non_null(strstr(t, "t_seconds_bucket{tool=\"x\",le=\"0.1\"} 1\n"
                              "t_seconds_bucket{tool=\"x\",le=\"1\"} 2\n"
                              "t_seconds_bucket{tool=\"x\",le=\"+Inf\"} 3\n"
                              "t_seconds_sum{tool=\"x\"} 7.55\n"
                              "t_seconds_count{tool=\"x\"} 3\n"));
    free(t);
    mx_clear();
}

static int collected;
static void collector(void *arg)
{
    collected++;
    mx_set(arg, collected, NULL);
}

static void test_collector(void **s)
{
    (void)s;
    mx_clear();
    mx_family *g = mx_register("t_live", MX_GAUGE, "live", "", NULL, 0);
    mx_add_collector(collector, g);
    char *t = mx_render();
    assert_non_null(strstr(t, "t_live 1\n"));
    free(t);
    mx_remove_collector(collector, g);
    t = mx_render();
    assert_non_null(strstr(t, "t_live 1\n")); /* not collected again */
    free(t);
    mx_clear();
}

static void test_duration(void **s)
{
    (void)s;
    int64_t t;
    assert_int_equal(monitor_parse_duration("24h", &t), 0);
    assert_int_equal(t, 86400);
    assert_int_equal(monitor_parse_duration("90s", &t), 0);
    assert_int_equal(t, 90);
    assert_int_equal(monitor_parse_duration("7d", &t), 0);
    assert_int_equal(t, 7 * 86400);
    assert_int_equal(monitor_parse_duration("3600", &t), 0);
    assert_int_equal(t, 3600);
    const char *bad[] = {"", "0h", "-1h", "1w", "h", "24 h", "+5m", "367d", "99999999999999d", "1hh", NULL};
    for (int i = 0; bad[i]; i++) assert_int_equal(monitor_parse_duration(bad[i], &t), -1);
}

static void test_policy_monitoring(void **s)
{
    (void)s;
    cb_policy *p = NULL;
    cb_error e = {0};
    const char *ok = "{\"monitoring\":{\"auth_failures\":3,\"rotation_grace_s\":60,\"webhook\":\"https://hooks.example/x\"}}";
    assert_int_equal(policy_load_buffer("m.json", ok, strlen(ok), &p, NULL, &e), 0);
    assert_int_equal(p->monitoring.auth_failures, 3);
    assert_int_equal(p->monitoring.rotation_grace_s, 60);
    assert_int_equal(p->monitoring.export_rows, 100000); /* default kept */
    assert_string_equal(p->monitoring.webhook, "https://hooks.example/x");
    policy_free(p);
    const char *unknown = "{\"monitoring\":{\"auth_failure\":3}}";
    assert_int_not_equal(policy_load_buffer("m.json", unknown, strlen(unknown), &p, NULL, &e), 0);
    assert_non_null(strstr(e.msg, "m.json:1:"));
    const char *http = "{\"monitoring\":{\"webhook\":\"http://hooks.example/x\"}}";
    assert_int_not_equal(policy_load_buffer("m.json", http, strlen(http), &p, NULL, &e), 0);
    assert_non_null(strstr(e.msg, "https://"));
    const char *range = "{\"monitoring\":{\"rate_factor\":1}}";
    assert_int_not_equal(policy_load_buffer("m.json", range, strlen(range), &p, NULL, &e), 0);
    /* two files may not both set it */
    p = policy_new();
    const char *a = "{\"monitoring\":{}}";
    assert_int_equal(policy_add_buffer(p, "a.json", a, strlen(a), NULL), 0);
    assert_int_not_equal(policy_add_buffer(p, "b.json", a, strlen(a), NULL), 0);
    policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge), cmocka_unit_test(test_histogram), cmocka_unit_test(test_collector),
        cmocka_unit_test(test_duration), cmocka_unit_test(test_policy_monitoring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
