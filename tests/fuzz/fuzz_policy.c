/* libFuzzer: policy files from a buffer (jansson + our position scanner + validation),
 * and the scanner alone, which must agree with jansson on everything jansson accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "policy/policy.h"

/* Every member jansson found must be found in the position tree, at every depth. */
static void same_shape(json_t *j, const jdoc_pos *p, int depth)
{
    if (!p) abort();
    if (depth > 64) return;
    if (json_is_object(j)) {
        if (p->nkids != json_object_size(j)) abort();
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            const jdoc_pos *m = jdoc_member(p, k);
            if (!m || strcmp(m->key, k) != 0) abort();
            same_shape(v, m, depth + 1);
        }
    } else if (json_is_array(j)) {
        if (p->nkids != json_array_size(j)) abort();
        for (size_t i = 0; i < json_array_size(j); i++) same_shape(json_array_get(j, i), jdoc_item(p, i), depth + 1);
    } else if (p->nkids) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cb_diags d = {0};
    cb_error e = {0};
    cb_policy *p = NULL;
    int rc = policy_load_buffer("fuzz.json", (const char *)data, size, &p, &d, &e);
    if (rc == 0) {
        if (!p || d.count) abort();
        /* the effective policy must load again */
        json_t *j = policy_to_json(p);
        char *t = json_dumps(j, 0);
        cb_policy *q = NULL;
        if (policy_load_buffer("again.json", t, strlen(t), &q, NULL, &e) != 0) abort();
        policy_client_may_call(p->nclients ? &p->clients[0] : NULL, "query_readonly");
        policy_client_may_use(p->nclients ? &p->clients[0] : NULL, "app");
        policy_free(q);
        free(t);
        json_decref(j);
        policy_free(p);
    } else {
        if (p || d.count == 0) abort();
        for (size_t i = 0; i < d.count; i++) {
            char *line = cb_diag_format(&d.items[i]);
            if (strchr(line, '\n')) abort();   /* one line each */
            free(line);
        }
    }
    cb_diags_free(&d);
    /* scanner vs jansson (inputs with a NUL byte are refused before jansson sees them) */
    json_error_t err;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
    if (root && !memchr(data, 0, size)) {
        jdoc_pos *pos = jdoc_scan((const char *)data, size);
        if (!pos) abort();
        same_shape(root, pos, 0);
        jdoc_pos_free(pos);
    }
    json_decref(root);
    return 0;
}
