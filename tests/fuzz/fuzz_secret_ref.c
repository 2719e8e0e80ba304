/* Arbitrary strings into secret_ref_parse (references come from config, CLI and MCP). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "secrets/secret_provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    secret_ref r;
    cb_error e;
    if (secret_ref_parse(s, &r, &e) == 0) {
        /* a parsed reference always has a scheme and a path */
        if (!r.scheme || !r.path) abort();
        secret_ref_free(&r);
    } else if (e.code != CB_EUSAGE) {
        abort();
    }
    free(s);
    return 0;
}
