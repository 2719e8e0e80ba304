/* libFuzzer: credbroker.json from a buffer, and the listen address parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "policy/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cb_diags d = {0};
    cb_error e = {0};
    cb_config *c = NULL;
    int rc = config_load_buffer("fuzz.json", (const char *)data, size, &c, &d, &e);
    if (rc == 0) {
        if (!c || d.count) abort();
        json_t *j = config_to_json(c);
        char *t = json_dumps(j, 0);
        cb_config *c2 = NULL;
        if (config_load_buffer("again.json", t, strlen(t), &c2, NULL, &e) != 0) abort();
        config_free(c2);
        free(t);
        json_decref(j);
        config_free(c);
    } else if (c || d.count == 0) {
        abort();
    }
    cb_diags_free(&d);
    char *s = strndup((const char *)data, size < 300 ? size : 300);
    char *h = NULL;
    int port = 0;
    const char *why = NULL;
    if (config_parse_listen(s, &h, &port, &why) == 0 && (!h || port < 1 || port > 65535)) abort();
    free(h);
    free(s);
    return 0;
}
