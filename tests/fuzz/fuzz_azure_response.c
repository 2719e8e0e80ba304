/* libFuzzer: every parser for Key Vault / Entra ID response bodies. The first byte
 * selects the parser so one corpus covers all four. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "secrets/azure_key_vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    cb_error e = {0};
    switch (data[0] % 4) {
    case 0: {
        secret_value v;
        if (azkv_parse_bundle(body, len, &v, &e) == 0 && (!v.value || strlen(v.value) > v.len)) abort();
        secret_value_free(&v);
        break;
    }
    case 1: {
        char *t = NULL;
        int64_t exp;
        if (azkv_parse_token(body, len, 1000, &t, &exp, &e) == 0 && (!t || !*t)) abort();
        cb_free_secret(t);
        break;
    }
    case 2: {
        azkv_map_error(400 + (long)(size % 200), body, len, "get v/x", &e);
        for (const char *p = e.msg; *p; p++)
            if ((unsigned char)*p < 0x20) abort(); /* error lines stay one printable line */
        break;
    }
    default: {
        json_t *arr = json_array();
        char *next = NULL;
        azkv_parse_versions_page(body, len, arr, &next, &e);
        free(next);
        json_decref(arr);
        break;
    }
    }
    return 0;
}
