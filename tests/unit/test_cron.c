/* Cron parser and next-fire search: the shared Vixie vectors, DST in real zones, the
 * dialect choices, and a brute-force cross-check of the field-wise search. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "rotation/cron.h"
#include "rotation/tzfile.h"

static int64_t T(const char *iso)
{
    int64_t t;
    if (cb_parse_iso8601(iso, &t) != 0) fail_msg("bad time in test: %s", iso);
    return t;
}

/* Asserts the next n fire times of expr after start in zone tz. */
static void expect_next(const char *expr, const char *tz, const char *start, int n, const char *const *want)
{
    cron_expr c;
    cb_error e = {0};
    if (cron_parse(expr, &c, &e) != 0) fail_msg("'%s' rejected: %s", expr, e.msg);
    int64_t t = T(start);
    for (int i = 0; i < n; i++) {
        if (cron_next(&c, t, tz, &t, &e) != 0) fail_msg("'%s' next #%d failed: %s", expr, i, e.msg);
        char got[32];
        cb_iso8601(t, got);
        if (strcmp(got, want[i]) != 0)
            fail_msg("'%s' tz=%s from %s #%d: got %s want %s", expr, tz ? tz : "UTC", start, i, got, want[i]);
    }
}

static void expect_invalid(const char *expr, const char *needle)
{
    cron_expr c;
    cb_error e = {0};
    int rc = cron_parse(expr, &c, &e);
    if (rc != CB_EUSAGE) fail_msg("'%s' accepted (rc %d), expected an error", expr, rc);
    assert_int_equal(e.code, CB_EUSAGE);
    if (needle && !strstr(e.msg, needle)) fail_msg("'%s': message '%s' lacks '%s'", expr, e.msg, needle);
}

static json_t *load_vectors(void)
{
    const char *env = getenv("CB_SHARED");
    char path[1024];
    const char *cands[] = {"../shared", "../../shared"};  /* repo root in /work/main or a worktree */
    json_error_t je;
    if (env && *env) {
        snprintf(path, sizeof path, "%s/testdata/cron/vixie-next.json", env);
        json_t *j = json_load_file(path, 0, &je);
        if (!j) fail_msg("CB_SHARED set but %s unreadable: %s", path, je.text);
        return j;
    }
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/testdata/cron/vixie-next.json", cands[i]);
        json_t *j = json_load_file(path, 0, &je);
        if (j) return j;
    }
    fail_msg("vixie-next.json not found (set CB_SHARED)");
    return NULL;
}

static void test_vectors(void **s)
{
    (void)s;
    json_t *d = load_vectors();
    json_t *cases = json_object_get(d, "cases");
    assert_true(json_is_array(cases));
    size_t i, checked = 0;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *want[16];
        json_t *nx = json_object_get(c, "next");
        size_t n = json_array_size(nx);
        assert_true(n > 0 && n <= 16);
        for (size_t k = 0; k < n; k++) want[k] = json_string_value(json_array_get(nx, k));
        expect_next(json_string_value(json_object_get(c, "expr")), NULL,
                    json_string_value(json_object_get(c, "start")), (int)n, want);
        checked += n;
    }
    print_message("# %zu vector cases, %zu fire times checked\n", json_array_size(cases), checked);
    assert_true(json_array_size(cases) >= 31);  /* zero cases must fail, not pass */
    assert_int_equal(checked, json_array_size(cases) * 5);
    json_t *inv = json_object_get(d, "invalid_in_vixie");
    assert_true(json_array_size(inv) >= 10);
    json_array_foreach(inv, i, c) {
        assert_false(json_is_true(json_object_get(c, "valid")));
        expect_invalid(json_string_value(json_object_get(c, "expr")), NULL);
    }
    json_decref(d);
}

static void test_error_messages(void **s)
{
    (void)s;
    cron_expr c;
    cb_error e = {0};
    assert_int_equal(cron_parse("60 * * * *", &c, &e), CB_EUSAGE);
    assert_string_equal(e.msg, "field 1 (minute): value 60 out of range 0-59");
    expect_invalid("* 24 * * *", "field 2 (hour): value 24 out of range 0-23");
    expect_invalid("* * 0 * *", "field 3 (day of month): value 0 out of range 1-31");
    expect_invalid("* * * 13 *", "field 4 (month): value 13 out of range 1-12");
    expect_invalid("* * * * 8", "field 5 (day of week): value 8 out of range 0-7");
    expect_invalid("*/61 * * * *", "step 61 out of range 1-60");
    expect_invalid("* */25 * * *", "step 25 out of range 1-24");
    expect_invalid("* * * * */9", "step 9 out of range 1-8");
    expect_invalid("*/0 * * * *", "step 0 out of range 1-60");
    assert_int_equal(cron_parse("*/60 */24 */31 */12 */8", &c, &e), 0);  /* OpenBSD's bound */
    assert_true(c.minute == 1 && c.hour == 1 && c.dom == 2 && c.month == 2 && c.dow == 1);
    expect_invalid("* * * foo *", "field 4 (month): unknown name 'foo'");
    expect_invalid("* * * * funday", "field 5 (day of week): unknown name 'funday'");
    expect_invalid("mon * * * *", "field 1 (minute): 'mon' is not a number");
    expect_invalid("*/jan * * * *", "'jan' is not a number");
    expect_invalid("1,,2 * * * *", "empty list item");
    expect_invalid("1, * * * *", "field 1 (minute): empty list item");
    expect_invalid("* * * *", "expected 5 fields");
    expect_invalid("* * * * * *", "expected 5 fields");
    expect_invalid("", "expected 5 fields");
    expect_invalid("1-2-3 * * * *", "unexpected character '-'");
    expect_invalid("* * * * 1#2", "unexpected character '#'");
    expect_invalid("L * * * *", "'L' is not a number");
    expect_invalid("? * * * *", "unexpected character '?'");
    expect_invalid("99999999999999999999 * * * *", "out of range 0-59");
    expect_invalid("@reboot", "@reboot runs once at daemon start");
    expect_invalid("@reboot2", "unknown macro '@reboot2'");
    expect_invalid("@fortnightly", "unknown macro");
    expect_invalid("@daily now", "unexpected text after @daily");
    expect_invalid("\x01\x7f * * * *", "unexpected character '?'");  /* control bytes not echoed */
    /* The message never contains the raw control bytes. */
    cron_parse("* * * \x1b[31m *", &c, &e);
    assert_null(strchr(e.msg, '\x1b'));
}

static void test_dialect_choices(void **s)
{
    (void)s;
    expect_invalid("5/10 * * * *", "a step needs a range or '*'");
    expect_invalid("10-5 * * * *", "reversed range 10-5");
    expect_invalid("10-5 * * * *", "never runs the job");
    expect_invalid("* * * * fri-sun", "reversed range 5-0");
    expect_invalid("0 0 30 2 *", "never fires");
    expect_invalid("0 0 31 4,6,9,11 *", "never fires");
    expect_invalid("0 0 30,31 feb */7", "never fires");  /* dow starts with '*' -> AND */
    /* Odd days of February that are Sundays (AND): 2024-02-11, 02-25, then 2025-02-09. */
    const char *w1[] = {"2024-02-11T00:00:00Z", "2024-02-25T00:00:00Z", "2025-02-09T00:00:00Z"};
    expect_next("0 0 1-31/2 feb */7", NULL, "2023-12-01T00:00:00Z", 3, w1);
    /* Neither day field is star: OR, so Feb 31 plus every Monday in February still fires. */
    const char *w2[] = {"2024-02-05T00:00:00Z", "2024-02-12T00:00:00Z"};
    expect_next("0 0 31 2 mon", NULL, "2024-01-01T00:00:00Z", 2, w2);
    /* Names in ranges and lists, any case; the vectors' dialect_dependent MON-FRI. */
    cron_expr a, b;
    cb_error e = {0};
    assert_int_equal(cron_parse("0 0 * * MON-FRI", &a, &e), 0);
    assert_int_equal(cron_parse("0 0 * * 1-5", &b, &e), 0);
    assert_int_equal(a.dow, b.dow);
    assert_int_equal(cron_parse("0 9 * Jan-MAR,jul mon-Fri,sun", &a, &e), 0);
    assert_int_equal(a.month, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 7));
    assert_int_equal(a.dow, 0x3fu);
    assert_int_equal(cron_parse("* * * * 5-7", &a, &e), 0);  /* 7 is Sunday */
    assert_int_equal(a.dow, (1u << 5) | (1u << 6) | 1u);
    assert_int_equal(cron_parse("* * * * */2", &a, &e), 0);  /* 0,2,4,6 */
    assert_int_equal(a.dow, 0x55u);
    assert_true(a.dow_star && a.dom_star);
    assert_int_equal(cron_parse("0 0 1 * */2", &a, &e), 0);
    assert_true(a.dow_star && !a.dom_star && !a.wild);
    assert_int_equal(cron_parse("0 */2 1-31/2 * mon", &a, &e), 0);
    assert_true(!a.dow_star && !a.dom_star && a.wild);
    assert_int_equal(cron_parse("  0\t0  *\t*  0  ", &a, &e), 0);  /* tabs and extra blanks */
}

static void test_macros(void **s)
{
    (void)s;
    static const char *pairs[][2] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"}, {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        cron_expr a, b;
        cb_error e = {0};
        assert_int_equal(cron_parse(pairs[i][0], &a, &e), 0);
        assert_int_equal(cron_parse(pairs[i][1], &b, &e), 0);
        assert_true(a.minute == b.minute && a.hour == b.hour && a.dom == b.dom && a.month == b.month && a.dow == b.dow);
        assert_int_equal(a.dom_star, b.dom_star);
        assert_int_equal(a.dow_star, b.dow_star);
    }
    expect_invalid("@DAILY", "unknown macro");  /* cronie compares macros case-sensitively */
    const char *w[] = {"2024-01-07T00:00:00Z", "2024-01-14T00:00:00Z"};
    expect_next("  @weekly  ", NULL, "2024-01-01T00:00:00Z", 2, w);
}

static void test_leap_and_calendar(void **s)
{
    (void)s;
    /* 2100 is not a leap year: an 8-year gap. */
    const char *w1[] = {"2096-02-29T00:00:00Z", "2104-02-29T00:00:00Z", "2108-02-29T00:00:00Z"};
    expect_next("0 0 29 2 *", NULL, "2095-06-01T00:00:00Z", 3, w1);
    /* Feb 29 that is a Sunday (dow starts with '*' -> AND): 2060 after 2033, then 2088, 2128. */
    const char *w2[] = {"2060-02-29T00:00:00Z", "2088-02-29T00:00:00Z", "2128-02-29T00:00:00Z"};
    expect_next("0 0 29 2 */7", NULL, "2033-01-01T00:00:00Z", 3, w2);
    const char *w3[] = {"2024-12-31T23:59:00Z", "2025-01-01T00:00:00Z"};
    expect_next("59,0 23,0 31,1 12,1 *", NULL, "2024-12-31T23:58:59Z", 2, w3);
    /* Start time range and the end of the calendar. */
    cron_expr c;
    cb_error e = {0};
    int64_t t;
    assert_int_equal(cron_parse("* * * * *", &c, &e), 0);
    assert_int_equal(cron_next(&c, 253402300800LL, NULL, &t, &e), CB_EUSAGE);
    assert_int_equal(cron_next(&c, -62135596801LL, NULL, &t, &e), CB_EUSAGE);
    assert_int_equal(cron_next(&c, T("9999-12-31T23:58:00Z"), NULL, &t, &e), 0);
    assert_int_equal(t, T("9999-12-31T23:59:00Z"));
    assert_int_equal(cron_next(&c, T("1900-02-28T23:59:00Z"), NULL, &t, &e), 0);
    assert_int_equal(t, T("1900-03-01T00:00:00Z"));  /* 1900 not leap */
    cron_expr zero = {0};
    assert_int_equal(cron_next(&zero, 0, NULL, &t, &e), CB_EUSAGE);
}

/* Section 10 spot checks of test-environment.md (they agree with Vixie rules). */
static void test_spot_checks(void **s)
{
    (void)s;
    const char *w1[] = {"2024-01-05T17:00:00Z", "2024-01-05T17:15:00Z", "2024-01-05T17:30:00Z", "2024-01-05T17:45:00Z", "2024-01-08T09:00:00Z"};
    expect_next("*/15 9-17 * * 1-5", NULL, "2024-01-05T16:50:00Z", 5, w1);
    const char *w2[] = {"2024-02-29T09:00:00Z", "2024-02-29T09:15:00Z", "2024-02-29T09:30:00Z", "2024-02-29T09:45:00Z", "2024-02-29T10:00:00Z"};
    expect_next("*/15 9-17 * * 1-5", NULL, "2024-02-28T23:59:59Z", 5, w2);
    const char *w3[] = {"2024-01-05T00:00:00Z", "2024-01-12T00:00:00Z", "2024-01-13T00:00:00Z", "2024-01-19T00:00:00Z"};
    expect_next("0 0 13 * 5", NULL, "2024-01-01T00:00:00Z", 4, w3);
}

static void test_dst_berlin(void **s)
{
    (void)s;
    /* 2024-03-31: 02:00 CET -> 03:00 CEST at 01:00Z. A fixed 02:30 job runs once at the end of the gap. */
    const char *g1[] = {"2024-03-30T01:30:00Z", "2024-03-31T01:00:00Z", "2024-04-01T00:30:00Z"};
    expect_next("30 2 * * *", "Europe/Berlin", "2024-03-30T00:00:00Z", 3, g1);
    /* Two fixed times inside the gap still run once. */
    const char *g2[] = {"2024-03-31T01:00:00Z", "2024-04-01T00:00:00Z"};
    expect_next("0,30 2 * * *", "Europe/Berlin", "2024-03-30T23:00:00Z", 2, g2);
    /* Wildcard-minute jobs follow the wall clock: 02:00 and 02:30 do not exist. */
    const char *g3[] = {"2024-03-31T00:30:00Z", "2024-03-31T01:00:00Z", "2024-03-31T01:30:00Z"};
    expect_next("*/30 * * * *", "Europe/Berlin", "2024-03-31T00:00:00Z", 3, g3);
    const char *g4[] = {"2024-04-01T00:00:00Z"};  /* `* 2` is wildcard: skipped on the gap day */
    expect_next("* 2 * * *", "Europe/Berlin", "2024-03-31T00:30:00Z", 1, g4);
    /* 2024-10-27: 03:00 CEST -> 02:00 CET at 01:00Z; 02:30 happens twice. Fixed: first only. */
    const char *o1[] = {"2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"};
    expect_next("30 2 * * *", "Europe/Berlin", "2024-10-26T12:00:00Z", 2, o1);
    /* Starting between the two occurrences does not run the second one. */
    expect_next("30 2 * * *", "Europe/Berlin", "2024-10-27T00:45:00Z", 1, o1 + 1);
    /* Wildcard: both copies of the repeated hour. */
    const char *o2[] = {"2024-10-27T00:00:00Z", "2024-10-27T00:30:00Z", "2024-10-27T01:00:00Z", "2024-10-27T01:30:00Z", "2024-10-27T02:00:00Z"};
    expect_next("*/30 * * * *", "Europe/Berlin", "2024-10-26T23:45:00Z", 5, o2);
    /* Beyond the explicit transitions of the TZif file (POSIX footer rule). */
    const char *f1[] = {"2090-03-25T02:00:00Z", "2090-03-26T01:00:00Z"};
    expect_next("0 3 * * *", "Europe/Berlin", "2090-03-25T00:00:00Z", 2, f1);
    const char *f2[] = {"2090-03-26T01:00:00Z"};  /* 2090-03-26 02:30 does not exist */
    expect_next("30 2 * * *", "Europe/Berlin", "2090-03-25T12:00:00Z", 1, f2);
}

static void test_dst_new_york(void **s)
{
    (void)s;
    /* 2024-03-10: 02:00 EST -> 03:00 EDT at 07:00Z. */
    const char *g1[] = {"2024-03-10T07:00:00Z", "2024-03-11T06:30:00Z"};
    expect_next("30 2 * * *", "America/New_York", "2024-03-09T12:00:00Z", 2, g1);
    const char *g2[] = {"2024-03-10T06:00:00Z", "2024-03-10T07:00:00Z", "2024-03-10T08:00:00Z"};
    expect_next("0 * * * *", "America/New_York", "2024-03-10T05:30:00Z", 3, g2);
    /* 2024-11-03: 02:00 EDT -> 01:00 EST at 06:00Z; 01:xx happens twice. */
    const char *o1[] = {"2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"};
    expect_next("30 1 * * *", "America/New_York", "2024-11-02T12:00:00Z", 2, o1);
    const char *o2[] = {"2024-11-03T05:00:00Z", "2024-11-03T06:00:00Z", "2024-11-03T07:00:00Z"};
    expect_next("@hourly", "America/New_York", "2024-11-03T04:30:00Z", 3, o2);
    /* A normal day: 09:00 EST = 14:00Z, 09:00 EDT = 13:00Z. */
    const char *n1[] = {"2024-01-08T14:00:00Z"};
    expect_next("0 9 * * mon", "America/New_York", "2024-01-05T00:00:00Z", 1, n1);
    const char *n2[] = {"2024-07-01T13:00:00Z"};
    expect_next("0 9 * * mon", "America/New_York", "2024-06-25T00:00:00Z", 1, n2);
    /* Southern hemisphere: Sydney springs forward 2024-10-06 02:00 AEST (16:00Z on the 5th). */
    const char *s1[] = {"2024-10-05T16:00:00Z", "2024-10-06T15:30:00Z"};
    expect_next("30 2 * * *", "Australia/Sydney", "2024-10-05T00:00:00Z", 2, s1);
}

static void test_time_zones(void **s)
{
    (void)s;
    cron_expr c;
    cb_error e = {0};
    int64_t t;
    assert_int_equal(cron_parse("0 0 * * *", &c, &e), 0);
    const char *bad[] = {"Mars/Olympus_Mons", "../../etc/passwd", "/etc/passwd", "Europe/../../etc/passwd",
                         "Europe//Berlin", "Europe/Berlin/", ".hidden", "Europe/Ber lin", "Europe", "-x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e.msg[0] = 0;
        if (cron_next(&c, 0, bad[i], &t, &e) != CB_EUSAGE) fail_msg("zone '%s' accepted", bad[i]);
        assert_true(strlen(e.msg) > 0);
    }
    assert_int_equal(cron_next(&c, T("2024-01-01T12:00:00Z"), "UTC", &t, &e), 0);
    assert_int_equal(t, T("2024-01-02T00:00:00Z"));
    assert_int_equal(cron_next(&c, T("2024-01-01T12:00:00Z"), "Etc/UTC", &t, &e), 0);
    assert_int_equal(t, T("2024-01-02T00:00:00Z"));
    assert_int_equal(cron_next(&c, T("2024-01-01T12:00:00Z"), "Asia/Kolkata", &t, &e), 0);
    assert_int_equal(t, T("2024-01-01T18:30:00Z"));
    /* Garbage TZif images are rejected, not trusted. */
    const uint8_t junk[60] = "TZif2";
    assert_null(cb_tz_parse(junk, sizeof junk, &e));
    assert_null(cb_tz_parse((const uint8_t *)"nope", 4, &e));
}

static void test_due(void **s)
{
    (void)s;
    cron_expr c;
    cb_error e = {0};
    int64_t next;
    assert_int_equal(cron_parse("0 3 * * *", &c, &e), 0);
    /* Down for four days: due once, the earliest missed run reported. */
    assert_int_equal(cron_due(&c, NULL, T("2024-01-01T03:00:05Z"), T("2024-01-05T10:00:00Z"), &next, &e), 1);
    assert_int_equal(next, T("2024-01-02T03:00:00Z"));
    /* After that run succeeds (last_success = now) it is not due again until tomorrow 03:00. */
    assert_int_equal(cron_due(&c, NULL, T("2024-01-05T10:00:00Z"), T("2024-01-05T10:00:30Z"), &next, &e), 0);
    assert_int_equal(next, T("2024-01-06T03:00:00Z"));
    /* Exactly at the fire time counts as due; one second before does not. */
    assert_int_equal(cron_due(&c, NULL, T("2024-01-01T03:00:00Z"), T("2024-01-02T03:00:00Z"), &next, &e), 1);
    assert_int_equal(cron_due(&c, NULL, T("2024-01-01T03:00:00Z"), T("2024-01-02T02:59:59Z"), &next, &e), 0);
    assert_int_equal(cron_due(&c, "Nowhere/Zone", 0, 100, &next, &e), -1);
    assert_int_equal(e.code, CB_EUSAGE);
}

/* Brute-force oracle: minute-by-minute matching with the cronie rules, over 40 days. */
static int brute_match(const cron_expr *c, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    int dm = (int)(c->dom >> tm.tm_mday & 1), wm = (int)(c->dow >> tm.tm_wday & 1);
    int day = (c->dom_star || c->dow_star) ? (dm && wm) : (dm || wm);
    return (int)(c->minute >> tm.tm_min & 1) && (int)(c->hour >> tm.tm_hour & 1) && (int)(c->month >> (tm.tm_mon + 1) & 1) && day;
}

static void rand_field(char *out, size_t cap, int lo, int hi, unsigned *seed)
{
    int k = rand_r(seed) % 5, a = lo + rand_r(seed) % (hi - lo + 1), b = lo + rand_r(seed) % (hi - lo + 1);
    if (a > b) { int t = a; a = b; b = t; }
    int st = 1 + rand_r(seed) % 7;
    switch (k) {
    case 0: snprintf(out, cap, "*"); break;
    case 1: snprintf(out, cap, "*/%d", st); break;
    case 2: snprintf(out, cap, "%d", a); break;
    case 3: snprintf(out, cap, "%d-%d/%d", a, b, st); break;
    default: snprintf(out, cap, "%d,%d-%d", a, a, b); break;
    }
}

static void test_bruteforce(void **s)
{
    (void)s;
    unsigned seed = 12345;
    int compared = 0;
    for (int i = 0; i < 150; i++) {
        char f[5][32], expr[200];
        rand_field(f[0], 32, 0, 59, &seed);
        rand_field(f[1], 32, 0, 23, &seed);
        rand_field(f[2], 32, 1, 31, &seed);
        snprintf(f[3], 32, "*");
        rand_field(f[4], 32, 0, 7, &seed);
        snprintf(expr, sizeof expr, "%s %s %s %s %s", f[0], f[1], f[2], f[3], f[4]);
        cron_expr c;
        cb_error e = {0};
        if (cron_parse(expr, &c, &e) != 0) fail_msg("generated '%s' rejected: %s", expr, e.msg);
        int64_t start = T("2024-01-20T00:00:00Z") + (int64_t)(rand_r(&seed) % 86400) * 37, got;
        if (cron_next(&c, start, NULL, &got, &e) != 0) fail_msg("'%s': %s", expr, e.msg);
        int64_t t = (start / 60 + 1) * 60, end = start + 40 * 86400LL, want = -1;
        for (; t < end; t += 60) if (brute_match(&c, t)) { want = t; break; }
        if (want < 0) { assert_true(got >= end); continue; }
        if (got != want) fail_msg("'%s' from %lld: got %lld want %lld", expr, (long long)start, (long long)got, (long long)want);
        compared++;
    }
    print_message("# %d random expressions matched the brute-force oracle\n", compared);
    assert_true(compared > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_dialect_choices),
        cmocka_unit_test(test_macros),
        cmocka_unit_test(test_leap_and_calendar),
        cmocka_unit_test(test_spot_checks),
        cmocka_unit_test(test_dst_berlin),
        cmocka_unit_test(test_dst_new_york),
        cmocka_unit_test(test_time_zones),
        cmocka_unit_test(test_due),
        cmocka_unit_test(test_bruteforce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
