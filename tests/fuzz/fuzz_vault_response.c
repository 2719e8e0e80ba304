/* libFuzzer target: every Vault response parser on arbitrary bytes (a hostile or
 * broken server). The first byte picks the HTTP status for the error mapper. */
#include <stdint.h>
#include <stdlib.h>
#include "secrets/hashicorp_vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *b = (const char *)data;
    cb_error e = {0};
    secret_value v;
    if (vault_parse_kv_read(b, size, &v, &e) == 0) {
        secret_value_pick_field(&v, "a.b", &e);
        secret_value_free(&v);
    }
    char *ver = NULL;
    if (vault_parse_kv_write(b, size, &ver, &e) == 0) free(ver);
    long cur = 0;
    json_t *custom = NULL, *out = NULL;
    if (vault_parse_metadata(b, size, &cur, &custom, &out, &e) == 0) {
        json_decref(custom);
        json_decref(out);
    }
    char *tok = NULL;
    long ttl = 0;
    int ren = 0;
    if (vault_parse_auth(b, size, &tok, &ttl, &ren, &e) == 0) free(tok);
    vault_parse_auth(b, size, NULL, &ttl, &ren, &e);
    vault_parse_lookup(b, size, &ttl, &ren, &e);
    static const long statuses[] = {400, 403, 404, 412, 429, 500, 503, 418};
    long st = size ? statuses[data[0] % 8] : 404;
    vault_error_from_response(st, b, size, "secret/x", &e);
    return 0;
}
