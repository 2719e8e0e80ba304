/* Row-level security context: a client's session_settings resolved for the calling API
 * key, and the principal -> API key map the authenticate hook feeds (see mcp_leases.h). */
#include <stdlib.h>
#include <string.h>
#include "mcp_leases.h"
#include "store/apikey_attrs.h"

/* Keyed by the principal string's address: the hook stores an entry when it allocates a
 * principal, overwriting any entry for a reused address, so a lookup either finds the
 * key of this very request or nothing (fail closed) — never another request's key. */
#define KEYMAP_MAX 1024
static struct { const char *p; char key[65]; } keymap[KEYMAP_MAX];
static size_t keymap_next;
static pthread_mutex_t keymap_mu = PTHREAD_MUTEX_INITIALIZER;

void mcp_key_remember(const char *principal, const char *key_name)
{
    if (!principal) return;
    pthread_mutex_lock(&keymap_mu);
    size_t i;
    for (i = 0; i < KEYMAP_MAX && keymap[i].p != principal; i++) {}
    if (i == KEYMAP_MAX) i = keymap_next++ % KEYMAP_MAX;
    keymap[i].p = principal;
    snprintf(keymap[i].key, sizeof keymap[i].key, "%s", key_name ? key_name : "");
    pthread_mutex_unlock(&keymap_mu);
}

int mcp_key_of(const char *principal, char out[65])
{
    out[0] = 0;
    pthread_mutex_lock(&keymap_mu);
    for (size_t i = 0; principal && i < KEYMAP_MAX; i++)
        if (keymap[i].p == principal) {
            snprintf(out, 65, "%s", keymap[i].key);
            break;
        }
    pthread_mutex_unlock(&keymap_mu);
    return out[0] ? 0 : -1;
}

void mcp_session_settings_free(char **kv)
{
    if (!kv) return;
    for (size_t i = 0; kv[i]; i++) free(kv[i]);
    free(kv);
}

/* Fills ${client} and ${apikey.attr.NAME} (the policy parser allowed nothing else). */
static char *expand(const char *tpl, const char *client, json_t *attrs, const char *key, cb_error *e)
{
    cb_buf b;
    cb_buf_init(&b, 0);
    const char *p = tpl;
    for (const char *q; (q = strstr(p, "${"));) {
        cb_buf_append(&b, p, (size_t)(q - p));
        const char *end = strchr(q, '}');
        if (!end) break;
        size_t n = (size_t)(end - q - 2);
        const char *val = NULL;
        if (n == 6 && !strncmp(q + 2, "client", 6)) {
            val = client;
        } else if (n > 12 && !strncmp(q + 2, "apikey.attr.", 12)) {
            char name[80];
            snprintf(name, sizeof name, "%.*s", (int)(n - 12), q + 14);
            val = json_string_value(json_object_get(attrs, name));
            if (!val) {
                cb_buf_free(&b);
                if (!key) {
                    cb_fail(e, CB_ERR, CB_K_DENIED, "session setting needs API key attribute '%s': call with an API key", name);
                } else {
                    cb_fail(e, CB_ERR, CB_K_DENIED, "API key '%s' has no attribute '%s' (apikey create --attr)", key, name);
                }
                return NULL;
            }
        }
        if (val) cb_buf_append(&b, val, strlen(val));
        p = end + 1;
    }
    cb_buf_append(&b, p, strlen(p));
    return cb_buf_steal(&b);
}

int mcp_session_settings(mcp_app *a, const policy_client *c, const char *principal, char ***kv, cb_error *e)
{
    *kv = NULL;
    if (!c || !c->nsettings) return 0;
    char key[65];
    json_t *attrs = NULL;
    int have_key = mcp_key_of(principal, key) == 0;
    if (have_key) {
        cb_error ig = {0};
        pthread_mutex_lock(&a->store_mu);
        if (apikey_get_attrs(a->store, key, &attrs, &ig)) attrs = NULL;
        pthread_mutex_unlock(&a->store_mu);
    }
    char **v = cb_calloc(2 * c->nsettings + 1, sizeof *v);
    int rc = 0;
    for (size_t i = 0; i < c->nsettings && !rc; i++) {
        v[2 * i] = cb_strdup(c->setting_names[i]);
        v[2 * i + 1] = expand(c->setting_values[i], c->name, attrs, have_key ? key : NULL, e);
        if (!v[2 * i + 1]) rc = e->code ? e->code : CB_ERR;
    }
    json_decref(attrs);
    if (rc) {
        mcp_session_settings_free(v);
        return rc;
    }
    *kv = v;
    return 0;
}
