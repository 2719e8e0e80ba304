/* env://VAR: reads an environment variable. Read-only: put and promote refuse. */
#include <stdlib.h>
#include <string.h>
#include "secret_provider.h"

static int env_open(void **state, cb_error *e)
{
    (void)e;
    *state = NULL;
    return 0;
}

static int env_get(void *st, const secret_ref *ref, secret_value *out, cb_error *e)
{
    (void)st;
    memset(out, 0, sizeof *out);
    const char *v = getenv(ref->path);
    if (!v) return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "environment variable %s is not set", ref->path);
    out->len = strlen(v);
    out->value = cb_strndup(v, out->len);
    return 0;
}

static int env_put(void *st, const secret_ref *ref, const char *value, const char *stage, const char *token,
                   char **version_out, cb_error *e)
{
    (void)st; (void)value; (void)stage; (void)token;
    if (version_out) *version_out = NULL;
    return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "env://%s is read-only: environment variables cannot be written", ref->path);
}

static int env_promote(void *st, const secret_ref *ref, const char *version, cb_error *e)
{
    (void)st; (void)version;
    return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "env://%s is read-only: it has no versions to promote", ref->path);
}

static int env_describe(void *st, const secret_ref *ref, json_t **out, cb_error *e)
{
    (void)st; (void)e;
    *out = json_pack("{s:s,s:s,s:b}", "provider", "env", "name", ref->path, "set", getenv(ref->path) != NULL);
    return 0;
}

static void env_close(void *st) { (void)st; }

const secret_provider env_provider = {
    .scheme = "env", .name = "Environment variable", .open = env_open, .get = env_get, .put = env_put,
    .promote = env_promote, .describe = env_describe, .close = env_close,
};
