#include "assess.h"
#include "conn_assess.h"
#include "connstr.h"

void assess_add(json_t *out, const char *target, const char *check, const char *severity,
                const char *message, const char *fix)
{
    json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s,s:s}", "target", target, "check", check, "severity", severity,
                                         "message", message, "fix", fix));
}

int assess_connection(cb_store *s, const store_conn *row, json_t *out, const uint8_t *fpkey,
                      size_t fpkeylen, char fp[65], const char *migrate_fix)
{
    const char *name = row->name;
    if (fp) fp[0] = 0;
    if (!row->encrypted) assess_add(out, name, "encryption", "high", "connection string is stored unencrypted", migrate_fix);
    store_conn c;
    cb_error e = {0};
    if (store_conn_get(s, name, 1, &c, &e)) {
        assess_add(out, name, "integrity", "high", e.msg, "restore the store from a backup; run credbroker verify");
        return -1;
    }
    if (!c.url) { /* a provider-backed connection not fetched yet */
        store_conn_free(&c);
        return 0;
    }
    conn_url u;
    cb_error pe = {0};
    int rc = 0;
    if (conn_url_parse(c.url, c.engine, &u, &pe)) {
        assess_add(out, name, "parse", "medium", pe.msg, "fix the connection string: credbroker conn update");
        rc = -1;
    } else {
        json_t *f = json_array();
        conn_assess(&u, f);
        size_t j;
        json_t *o;
        json_array_foreach(f, j, o) {
            json_object_set_new(o, "target", json_string(name));
            json_array_append(out, o);
        }
        json_decref(f);
        if (fp && u.password && *u.password) conn_password_fingerprint(u.password, fpkey, fpkeylen, fp);
        conn_url_free(&u);
    }
    store_conn_free(&c);
    return rc;
}
