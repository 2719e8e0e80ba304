/* libFuzzer: `apikey create --attr NAME=VALUE` arguments (operator input) and the policy's
 * session_settings templates, through the parser the policy loader uses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "policy/policy.h"
#include "store/apikey_attrs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    json_t *attrs = json_object();
    cb_error e = {0};
    if (apikey_attr_parse(s, attrs, &e) == 0) {
        /* accepted: exactly one attribute whose name is the text before the first '=' */
        const char *eq = strchr(s, '=');
        if (!eq || json_object_size(attrs) != 1) abort();
        char name[80];
        snprintf(name, sizeof name, "%.*s", (int)(eq - s), s);
        if (!json_is_string(json_object_get(attrs, name))) abort();
    }
    json_decref(attrs);
    /* the same bytes as a session setting value and name in a policy */
    json_t *doc = json_pack("{s:{s:{s:{s:s%}}}}", "clients", "c", "session_settings", "app.x", s, size);
    json_t *doc2 = json_pack("{s:{s:{s:{s%:s}}}}", "clients", "c", "session_settings", s, size, "v");
    for (int k = 0; k < 2; k++) {
        char *txt = json_dumps(k ? doc2 : doc, 0);
        cb_policy *p = NULL;
        if (txt && policy_load_buffer("f.json", txt, strlen(txt), &p, NULL, &e) == 0) {
            const policy_client *c = policy_client(p, "c");
            if (!c || c->nsettings != 1 || !strchr(c->setting_names[0], '.')) abort();
            policy_free(p);
        }
        free(txt);
    }
    json_decref(doc);
    json_decref(doc2);
    free(s);
    return 0;
}
