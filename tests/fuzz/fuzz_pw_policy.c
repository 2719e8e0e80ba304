/* libFuzzer: password policy JSON (pw_policy_from_json) and generation from whatever it
 * accepts; an accepted policy must always produce a compliant password. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "rotation/password.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *o = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!o) return 0;
    pw_policy p;
    cb_error e = {0};
    if (pw_policy_from_json(o, &p, &e) == 0) {
        char *pw = NULL;
        if (password_generate(&p, &pw, &e) != 0) abort();
        if (strlen(pw) != (size_t)p.length) abort();
        for (const char *c = pw; *c; c++) if (strchr(p.exclude, *c)) abort();
        cb_free_secret(pw);
    } else if (e.msg[0] == 0) {
        abort();
    }
    json_decref(o);
    return 0;
}
