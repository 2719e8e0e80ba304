/* API-key attributes (see apikey_attrs.h). */
#include "apikey_attrs.h"
#include <ctype.h>
#include <string.h>
#include "store_internal.h"

int apikey_attr_parse(const char *arg, json_t *attrs, cb_error *e)
{
    const char *eq = arg ? strchr(arg, '=') : NULL;
    if (!eq || eq == arg || eq - arg > 64)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "--attr takes NAME=VALUE (NAME: 1..64 letters, digits, _)");
    for (const char *p = arg; p < eq; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "--attr: NAME may only hold letters, digits and _");
    size_t vl = strlen(eq + 1);
    if (vl == 0 || vl > 256) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "--attr: VALUE must be 1..256 characters");
    for (const char *p = eq + 1; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "--attr: VALUE holds a control character");
    char name[65];
    snprintf(name, sizeof name, "%.*s", (int)(eq - arg), arg);
    if (json_object_get(attrs, name)) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "--attr %s given twice", name);
    if (json_object_size(attrs) >= APIKEY_ATTRS_MAX) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "at most %d attributes", APIKEY_ATTRS_MAX);
    json_t *v = json_string(eq + 1);
    if (!v) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "--attr: VALUE is not valid UTF-8");
    json_object_set_new(attrs, name, v);
    return 0;
}

int apikey_set_attrs(cb_store *s, const char *name, json_t *attrs, cb_error *e)
{
    char *txt = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
    sdb_stmt *st;
    if (sdb_prepare(s->db, "UPDATE api_keys SET attrs = ?2 WHERE name = ?1", &st) != SDB_OK) {
        free(txt);
        return store_i_sqlerr(s, e, "api key");
    }
    sdb_bind_text(st, 1, name, -1);
    sdb_bind_text(st, 2, txt, -1);
    int r = sdb_step(st);
    sdb_finalize(st);
    free(txt);
    if (r != SDB_DONE) return store_i_sqlerr(s, e, "api key");
    if (sdb_changes(s->db) == 0) return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "no API key '%s'", name);
    return 0;
}

int apikey_get_attrs(cb_store *s, const char *name, json_t **out, cb_error *e)
{
    *out = NULL;
    sdb_stmt *st;
    if (sdb_prepare(s->db, "SELECT attrs FROM api_keys WHERE name = ?1", &st) != SDB_OK)
        return store_i_sqlerr(s, e, "api key");
    sdb_bind_text(st, 1, name, -1);
    int r = sdb_step(st), rc = 0;
    if (r == SDB_ROW) {
        const char *t = (const char *)sdb_column_text(st, 0);
        json_t *o = t ? json_loads(t, 0, NULL) : NULL;
        *out = json_is_object(o) ? o : (json_decref(o), json_object());
    } else if (r == SDB_DONE) {
        rc = cb_fail(e, CB_ERR, CB_K_NOTFOUND, "no API key '%s'", name);
    } else {
        rc = store_i_sqlerr(s, e, "api key");
    }
    sdb_finalize(st);
    return rc;
}
