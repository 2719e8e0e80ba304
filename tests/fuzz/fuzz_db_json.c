/* libFuzzer: result cells written as JSON text (providers/databases/db_json.c) always
 * give valid JSON that jansson reads back; valid UTF-8 comes back byte for byte; a cut
 * never splits a character and never exceeds its budget; what db_json_is_number accepts
 * is a JSON number. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "databases/db_json.h"

static int valid_utf8(const uint8_t *p, size_t n)
{
    json_t *j = json_stringn((const char *)p, n);
    int ok = j != NULL;
    json_decref(j);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536) return 0;
    size_t budget = data[0];
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    cb_buf b;
    cb_buf_init(&b, 0);
    cb_buf_puts(&b, "[");
    db_json_string(&b, s, n);
    cb_buf_puts(&b, "]");
    json_error_t je;
    json_t *j = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &je);
    if (!j || !json_is_string(json_array_get(j, 0))) abort();
    if (valid_utf8(data + 1, n)) {
        json_t *v = json_array_get(j, 0);
        if (json_string_length(v) != n || memcmp(json_string_value(v), s, n)) abort();
    }
    json_decref(j);
    size_t k = db_utf8_cut(s, n, budget);
    if (k > n || (n > budget && k > budget)) abort();
    if (k < n && k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) abort();
    if (db_json_is_number(s, n)) {
        char *t = malloc(n + 3);
        t[0] = '[';
        memcpy(t + 1, s, n);
        t[n + 1] = ']';
        t[n + 2] = 0;
        json_t *x = json_loadb(t, n + 2, JSON_DECODE_ANY, &je);
        /* valid JSON; jansson alone refuses numbers past its integer/double range */
        if (!x && !strstr(je.text, "too big") && !strstr(je.text, "overflow")) abort();
        if (x && !json_is_number(json_array_get(x, 0))) abort();
        json_decref(x);
        free(t);
    }
    cb_buf_free(&b);
    return 0;
}
