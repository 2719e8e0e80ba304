/* Arbitrary bearer tokens into the API-key token parser (tokens come from HTTP headers). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "store/apikeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    char pre[9];
    if (apikey_token_prefix(s, pre) == 0) {
        /* accepted tokens have the documented shape exactly */
        if (strlen(s) != 56 || strncmp(s, APIKEY_TOKEN_PREFIX, 4) != 0 || strlen(pre) != 8 || memcmp(s + 4, pre, 8) != 0)
            abort();
    }
    free(s);
    return 0;
}
