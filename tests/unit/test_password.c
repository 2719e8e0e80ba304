/* Password generator: policy compliance over many samples, unsatisfiable policies,
 * the JSON policy reader, and rough uniformity of characters and positions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "rotation/password.h"

static int class_of(char ch)
{
    for (int i = 0; i < 4; i++) if (strchr(pw_class_chars[i], ch)) return i;
    return -1;
}

/* Fails unless pw satisfies p exactly. */
static void check_password(const pw_policy *p, const char *pw)
{
    assert_int_equal(strlen(pw), (size_t)p->length);
    int seen[4] = {0};
    for (const char *c = pw; *c; c++) {
        int k = class_of(*c);
        if (k < 0) fail_msg("character 0x%02x is in no class", (unsigned char)*c);
        if (!(p->classes >> k & 1)) fail_msg("character '%c' from a class not requested", *c);
        if (strchr(p->exclude, *c)) fail_msg("excluded character '%c' used", *c);
        seen[k] = 1;
    }
    for (int k = 0; k < 4; k++)
        if ((p->classes >> k & 1) && !seen[k]) fail_msg("class %d missing from a password", k);
}

static void test_default_policy(void **s)
{
    (void)s;
    pw_policy p;
    pw_policy_default(&p);
    assert_int_equal(p.length, 32);
    assert_int_equal(p.classes, PW_ALL);
    const char *must_exclude = "\"'\\@:/?#% `";
    for (const char *c = must_exclude; *c; c++) assert_non_null(strchr(p.exclude, *c));
    cb_error e = {0};
    for (int i = 0; i < 10000; i++) {
        char *pw = NULL;
        assert_int_equal(password_generate(&p, &pw, &e), 0);
        check_password(&p, pw);
        cb_free_secret(pw);
    }
}

static void test_random_policies(void **s)
{
    (void)s;
    unsigned seed = 7;
    cb_error e = {0};
    int generated = 0;
    for (int i = 0; i < 10000; i++) {
        pw_policy p;
        memset(&p, 0, sizeof p);
        p.length = PW_MIN_LENGTH + rand_r(&seed) % (PW_MAX_LENGTH - PW_MIN_LENGTH + 1);
        p.classes = 1 + (unsigned)(rand_r(&seed) % 15);
        size_t nx = (size_t)(rand_r(&seed) % 20);
        for (size_t k = 0; k < nx; k++) p.exclude[k] = (char)(33 + rand_r(&seed) % 94);
        char *pw = NULL;
        int rc = password_generate(&p, &pw, &e);
        if (rc) {  /* only a fully-excluded class may fail */
            assert_int_equal(rc, CB_EUSAGE);
            assert_non_null(strstr(e.msg, "all its characters are excluded"));
            assert_null(pw);
            continue;
        }
        check_password(&p, pw);
        cb_free_secret(pw);
        generated++;
    }
    assert_true(generated > 9000);
}

static void test_unsatisfiable(void **s)
{
    (void)s;
    pw_policy p;
    cb_error e = {0};
    char *pw = (char *)"untouched";
    pw_policy_default(&p);
    strcpy(p.exclude, pw_class_chars[3]);  /* every symbol excluded, symbols required */
    assert_int_equal(password_generate(&p, &pw, &e), CB_EUSAGE);
    assert_null(pw);
    assert_string_equal(e.msg, "password policy: class symbol is required but all its characters are excluded");
    pw_policy_default(&p);
    strcpy(p.exclude, "0123456789");
    assert_int_equal(pw_policy_check(&p, &e), CB_EUSAGE);
    assert_non_null(strstr(e.msg, "class digit"));
    p.classes = PW_LOWER | PW_UPPER | PW_SYMBOL;  /* digits not required: fine */
    assert_int_equal(password_generate(&p, &pw, &e), 0);
    check_password(&p, pw);
    cb_free_secret(pw);
    pw_policy_default(&p);
    p.length = 7;
    assert_int_equal(pw_policy_check(&p, &e), CB_EUSAGE);
    assert_non_null(strstr(e.msg, "length 7 out of range 8-256"));
    p.length = 257;
    assert_int_equal(pw_policy_check(&p, &e), CB_EUSAGE);
    p.length = 8;
    p.classes = 0;
    assert_int_equal(pw_policy_check(&p, &e), CB_EUSAGE);
    p.classes = 16;
    assert_int_equal(pw_policy_check(&p, &e), CB_EUSAGE);
    p.classes = PW_ALL;
    memset(p.exclude, 'x', sizeof p.exclude);  /* not NUL-terminated */
    assert_int_equal(pw_policy_check(&p, &e), CB_EUSAGE);
    /* Boundaries work. */
    pw_policy_default(&p);
    p.length = 8;
    assert_int_equal(password_generate(&p, &pw, &e), 0);
    check_password(&p, pw);
    cb_free_secret(pw);
    p.length = 256;
    assert_int_equal(password_generate(&p, &pw, &e), 0);
    check_password(&p, pw);
    cb_free_secret(pw);
}

static int from_json_text(const char *text, pw_policy *p, cb_error *e)
{
    json_error_t je;
    json_t *o = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!o) fail_msg("bad JSON in test: %s", je.text);
    int rc = pw_policy_from_json(o, p, e);
    json_decref(o);
    return rc;
}

static void test_policy_json(void **s)
{
    (void)s;
    pw_policy p;
    cb_error e = {0};
    /* The shape used in credbroker.json (DESIGN.md). */
    assert_int_equal(from_json_text("{\"length\":32,\"classes\":[\"lower\",\"upper\",\"digit\",\"symbol\"],\"exclude\":\"\\\"'\\\\@:/?#%\"}", &p, &e), 0);
    assert_int_equal(p.length, 32);
    assert_int_equal(p.classes, PW_ALL);
    assert_string_equal(p.exclude, "\"'\\@:/?#%");
    assert_int_equal(from_json_text("{\"length\":12,\"classes\":[\"digit\"]}", &p, &e), 0);
    assert_int_equal(p.length, 12);
    assert_int_equal(p.classes, PW_DIGIT);
    assert_string_equal(p.exclude, PW_DEFAULT_EXCLUDE);  /* missing keys keep the defaults */
    assert_int_equal(from_json_text("{\"exclude\":\"\"}", &p, &e), 0);
    assert_string_equal(p.exclude, "");
    assert_int_equal(from_json_text("{}", &p, &e), 0);
    assert_int_equal(p.length, 32);

    struct { const char *json, *msg; } bad[] = {
        {"{\"length\":32,\"colour\":\"red\"}", "unknown key 'colour'"},
        {"{\"length\":\"32\"}", "length must be an integer"},
        {"{\"length\":4}", "length 4 out of range 8-256"},
        {"{\"length\":1e3}", "length must be an integer"},
        {"{\"length\":99999999999999}", "out of range"},
        {"{\"classes\":[]}", "non-empty array"},
        {"{\"classes\":\"lower\"}", "non-empty array"},
        {"{\"classes\":[\"lower\",\"emoji\"]}", "classes[1] is not one of"},
        {"{\"classes\":[\"lower\",1]}", "classes[1] is not one of"},
        {"{\"classes\":[\"lower\",\"lower\"]}", "class lower listed twice"},
        {"{\"exclude\":5}", "exclude must be a string"},
        {"{\"classes\":[\"symbol\"],\"exclude\":\"!\\\"#$%&'()*+,-./:;<=>?@[\\\\]^_`{|}~\"}", "class symbol is required"},
        {"[1,2]", "expected a JSON object"},
        {"\"x\"", "expected a JSON object"},
        {"{\"exclude\":\"a\\u0000b\"}", "without NUL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pw_policy keep;
        pw_policy_default(&keep);
        keep.length = 99;
        pw_policy q = keep;
        e.msg[0] = 0;
        if (from_json_text(bad[i].json, &q, &e) != CB_EUSAGE) fail_msg("policy %s accepted", bad[i].json);
        if (!strstr(e.msg, bad[i].msg)) fail_msg("policy %s: message '%s' lacks '%s'", bad[i].json, e.msg, bad[i].msg);
        assert_memory_equal(&q, &keep, sizeof q);  /* nothing changed */
    }
    char longx[200];
    memset(longx, 0, sizeof longx);
    strcpy(longx, "{\"exclude\":\"");
    memset(longx + strlen(longx), 'x', 128);
    strcat(longx, "\"}");
    assert_int_equal(from_json_text(longx, &p, &e), CB_EUSAGE);
    assert_non_null(strstr(e.msg, "at most 127"));
}

/* Chi-square over one class: 26 letters, 128,000 draws. With 25 degrees of freedom the
 * statistic is ~25 +/- 7; 80 is beyond p = 1e-7, so a biased generator fails and a fair
 * one essentially never does. */
static void test_uniformity(void **s)
{
    (void)s;
    pw_policy p;
    pw_policy_default(&p);
    p.classes = PW_LOWER;
    p.length = 64;
    cb_error e = {0};
    long counts[26] = {0}, total = 0;
    for (int i = 0; i < 2000; i++) {
        char *pw = NULL;
        assert_int_equal(password_generate(&p, &pw, &e), 0);
        for (const char *c = pw; *c; c++) { counts[*c - 'a']++; total++; }
        cb_free_secret(pw);
    }
    double expect = (double)total / 26, chi = 0;
    for (int i = 0; i < 26; i++) chi += (counts[i] - expect) * (counts[i] - expect) / expect;
    print_message("# chi-square (26 letters, %ld draws): %.1f\n", total, chi);
    assert_true(chi < 80.0);

    /* A small non-power-of-two alphabet (7 symbols), 1,000,000 draws: a byte taken modulo 7
     * (256 % 7 = 4 favoured values) would give a chi-square near 180 here. */
    memset(&p, 0, sizeof p);
    p.length = 200;
    p.classes = PW_SYMBOL;
    const char *keep = "!#$%&*+";
    size_t nk = 0;
    for (const char *c = pw_class_chars[3]; *c; c++) if (!strchr(keep, *c)) p.exclude[nk++] = *c;
    long c7[7] = {0};
    total = 0;
    for (int i = 0; i < 5000; i++) {
        char *pw = NULL;
        assert_int_equal(password_generate(&p, &pw, &e), 0);
        for (const char *c = pw; *c; c++) { c7[strchr(keep, *c) - keep]++; total++; }
        cb_free_secret(pw);
    }
    expect = (double)total / 7;
    chi = 0;
    for (int i = 0; i < 7; i++) chi += (c7[i] - expect) * (c7[i] - expect) / expect;
    print_message("# chi-square (7 symbols, %ld draws): %.1f\n", total, chi);
    assert_true(chi < 45.0);  /* 6 degrees of freedom: 45 is beyond p = 1e-7 */
}

/* The guaranteed characters must not sit at fixed positions: with lower+digit and length
 * 8, position 0 is a digit with probability (1 + 6 * 10/36) / 8 = 1/3. */
static void test_positions_shuffled(void **s)
{
    (void)s;
    pw_policy p;
    pw_policy_default(&p);
    p.classes = PW_LOWER | PW_DIGIT;
    p.length = 8;
    p.exclude[0] = 0;
    cb_error e = {0};
    int first_digit = 0, last_digit = 0, n = 10000;
    for (int i = 0; i < n; i++) {
        char *pw = NULL;
        assert_int_equal(password_generate(&p, &pw, &e), 0);
        first_digit += pw[0] >= '0' && pw[0] <= '9';
        last_digit += pw[7] >= '0' && pw[7] <= '9';
        cb_free_secret(pw);
    }
    print_message("# position 0 digit rate %.3f, position 7 %.3f (expect 0.333)\n", (double)first_digit / n, (double)last_digit / n);
    assert_true(first_digit > 0.30 * n && first_digit < 0.37 * n);
    assert_true(last_digit > 0.30 * n && last_digit < 0.37 * n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_policy),
        cmocka_unit_test(test_random_policies),
        cmocka_unit_test(test_unsatisfiable),
        cmocka_unit_test(test_policy_json),
        cmocka_unit_test(test_uniformity),
        cmocka_unit_test(test_positions_shuffled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
