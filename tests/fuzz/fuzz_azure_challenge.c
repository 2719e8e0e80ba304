/* libFuzzer: the WWW-Authenticate challenge parser (untrusted header from a vault). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "secrets/azure_key_vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *h = malloc(size + 1);
    memcpy(h, data, size);
    h[size] = 0;
    azkv_challenge c;
    cb_error e = {0};
    if (azkv_parse_challenge(h, &c, &e) == 0) {
        /* what we accept must be usable: a tenant and an https scope */
        if (!c.tenant || !*c.tenant || strncmp(c.scope, "https://", 8) != 0 || strchr(c.tenant, '/')) abort();
        azkv_resource_matches("myvault.vault.azure.net", c.scope);
        azkv_resource_matches("127.0.0.1:8443", c.scope);
        azkv_challenge_free(&c);
    } else if (c.tenant || c.scope || c.authority) {
        abort();
    }
    free(h);
    return 0;
}
