#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <stdlib.h>
#include "util.h"

static void test_hex_roundtrip(void **s)
{
    (void)s;
    uint8_t in[4] = {0x00, 0xab, 0x10, 0xff}, out[4];
    char *h = cb_hex_encode(in, 4);
    assert_string_equal(h, "00ab10ff");
    size_t n;
    assert_int_equal(cb_hex_decode(h, out, sizeof out, &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(in, out, 4);
    assert_int_equal(cb_hex_decode("0g", out, sizeof out, &n), -1);
    free(h);
}

static void test_base64(void **s)
{
    (void)s;
    uint8_t *o; size_t n;
    assert_int_equal(cb_base64_decode("aGVsbG8", &o, &n), 0);  /* unpadded */
    assert_int_equal(n, 5);
    assert_memory_equal(o, "hello", 5);
    free(o);
    assert_int_equal(cb_base64_decode("a=GV", &o, &n), -1);
    char *e = cb_base64_encode((const uint8_t *)"hello", 5);
    assert_string_equal(e, "aGVsbG8=");
    free(e);
}

static void test_iso8601(void **s)
{
    (void)s;
    int64_t t;
    assert_int_equal(cb_parse_iso8601("2024-01-05T16:50:00Z", &t), 0);
    assert_int_equal(t, 1704473400);
    assert_int_equal(cb_parse_iso8601("2024-01-05T17:50:00+01:00", &t), 0);
    assert_int_equal(t, 1704473400);
    char buf[32];
    cb_iso8601(t, buf);
    assert_string_equal(buf, "2024-01-05T16:50:00Z");
    assert_int_equal(cb_parse_iso8601("2024-13-05T16:50:00Z", &t), -1);
    assert_int_equal(cb_parse_iso8601("yesterday", &t), -1);
    /* impossible dates are refused, not normalized (2026-02-31 is not March 3) */
    assert_int_equal(cb_parse_iso8601("2026-02-31", &t), -1);
    assert_int_equal(cb_parse_iso8601("2026-02-29T00:00:00Z", &t), -1);
    assert_int_equal(cb_parse_iso8601("2026-04-31", &t), -1);
    assert_int_equal(cb_parse_iso8601("1900-02-29", &t), -1);
    assert_int_equal(cb_parse_iso8601("2026-01-05T-1:00Z", &t), -1);
    assert_int_equal(cb_parse_iso8601("2024-02-29", &t), 0);      /* leap year */
    assert_int_equal(cb_parse_iso8601("2000-02-29", &t), 0);      /* 400-year rule */
    assert_int_equal(cb_parse_iso8601("2026-12-31T23:59:59Z", &t), 0);
    assert_int_equal(cb_parse_iso8601("2026-01-05T00:00:00+15:00", &t), -1);
}

static void test_url_encode(void **s)
{
    (void)s;
    char *e = cb_url_encode("a b/c~", 0);
    assert_string_equal(e, "a%20b%2Fc~");
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_roundtrip),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_url_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
