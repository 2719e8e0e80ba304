#include "sources.h"
#include <stdlib.h>
#include <string.h>
#include "connstr.h"
#include "secrets/secret_provider.h"

#define DEFAULT_TTL 300
#define DEFAULT_STALENESS 86400

typedef struct src_state {
    char *ref, *version, *last_error;
    int64_t fetched_at, last_attempt;
    int found;
} src_state;

static void state_free(src_state *st)
{
    free(st->ref); free(st->version); free(st->last_error);
    memset(st, 0, sizeof *st);
}

/* The reference and the last error (which may quote the reference or a provider's host)
 * are sealed columns; only the name, version and times are in clear. */
static void state_get(cb_store *s, const char *name, src_state *st)
{
    memset(st, 0, sizeof *st);
    sdb_stmt *q;
    if (sdb_prepare(store_db(s), "SELECT ref_enc, ref_kv, version, fetched_at, last_attempt, error_enc, error_kv"
                                 " FROM source_state WHERE name = ?", &q) != SDB_OK)
        return;
    sdb_bind_text(q, 1, name, -1);
    if (sdb_step(q) == SDB_ROW) {
        cb_error ue = {0};
        /* a reference that does not open reads as none: the cache is then never fresh */
        if (store_column_unsealed(s, q, 0, 1, "source_state", name, "ref", &st->ref, &ue) ||
            store_column_unsealed(s, q, 5, 6, "source_state", name, "last_error", &st->last_error, &ue))
            LOG_WARN("source %s: %s", name, ue.msg);
        st->found = 1;
        st->version = cb_strdup((const char *)sdb_column_text(q, 2));
        st->fetched_at = sdb_column_int64(q, 3);
        st->last_attempt = sdb_column_int64(q, 4);
    }
    sdb_finalize(q);
}

static void state_put(cb_store *s, const char *name, const char *ref, const char *version, int ok, const char *err)
{
    sdb_stmt *q;
    /* ref (NOT NULL in the old schema) is written '' */
    const char *sql = ok
        ? "INSERT INTO source_state(name, ref, ref_enc, ref_kv, version, fetched_at, last_attempt, error_enc, error_kv)"
          " VALUES(?1,'',?2,?3,?4,?5,?5,NULL,0) ON CONFLICT(name) DO UPDATE SET ref_enc=excluded.ref_enc,"
          " ref_kv=excluded.ref_kv, version=excluded.version, fetched_at=excluded.fetched_at,"
          " last_attempt=excluded.last_attempt, error_enc=NULL, error_kv=0"
        : "INSERT INTO source_state(name, ref, ref_enc, ref_kv, version, fetched_at, last_attempt, error_enc, error_kv)"
          " VALUES(?1,'',?2,?3,?4,NULL,?5,?6,?7) ON CONFLICT(name) DO UPDATE SET last_attempt=excluded.last_attempt,"
          " error_enc=excluded.error_enc, error_kv=excluded.error_kv";
    if (sdb_prepare(store_db(s), sql, &q) != SDB_OK) return;
    cb_error se = {0};
    sdb_bind_text(q, 1, name, -1);
    int bad = store_bind_sealed(s, q, 2, 3, "source_state", name, "ref", ref, &se);
    if (version && ok) sdb_bind_text(q, 4, version, -1);  /* a failed fetch has no version */
    sdb_bind_int64(q, 5, cb_now());
    if (!ok && !bad) bad = store_bind_sealed(s, q, 6, 7, "source_state", name, "last_error", err, &se);
    if (bad) LOG_WARN("source %s: %s", name, se.msg);
    else sdb_step(q);
    sdb_finalize(q);
}

int source_fetch(cb_store *s, const char *name, const char *ref, const char *engine, json_t *detail, cb_error *e)
{
    secret_value v;
    cb_error fe = {0};
    int rc = secret_fetch(ref, &v, &fe);
    int fetched = rc == 0;
    if (!rc) {
        conn_url u;
        if (conn_url_parse(v.value, engine, &u, &fe)) {
            rc = cb_fail(&fe, CB_ERR, CB_K_INVALID, "value of %s is not a valid connection string: %s", ref, fe.msg);
        } else {
            char *red = conn_url_redacted(&u);
            store_conn old;
            char *desc = NULL;
            if (store_conn_get(s, name, 0, &old, NULL) == 0) {
                desc = cb_strdup(old.description);
                store_conn_free(&old);
            }
            rc = store_conn_put(s, name, u.engine, v.value, red, desc, ref, 1, &fe);
            free(desc);
            free(red);
            conn_url_free(&u);
        }
    }
    state_put(s, name, ref, rc ? NULL : v.version, rc == 0, rc ? fe.msg : NULL);
    if (detail) {
        json_object_set_new(detail, "name", json_string(name));
        json_object_set_new(detail, "ref", json_string(ref));
        json_object_set_new(detail, "outcome", json_string(rc ? "error" : "ok"));
        if (!rc && v.version) json_object_set_new(detail, "version", json_string(v.version));
        if (rc) json_object_set_new(detail, "error", json_string(fe.msg));
    }
    if (fetched) secret_value_free(&v);
    if (rc && e) *e = fe;
    return rc;
}

void source_state_record(cb_store *s, const char *name, const char *ref, const char *version)
{
    state_put(s, name, ref, version, 1, NULL);
}

void source_state_forget(cb_store *s, const char *name)
{
    sdb_stmt *q;
    if (sdb_prepare(store_db(s), "DELETE FROM source_state WHERE name = ?", &q) != SDB_OK) return;
    sdb_bind_text(q, 1, name, -1);
    sdb_step(q);
    sdb_finalize(q);
}

static void limits_for(const cb_config *cfg, const char *name, int *ttl, int *stale, const char **engine)
{
    const config_source *src = cfg ? config_source_get(cfg, name) : NULL;
    *ttl = src ? src->ttl_s : DEFAULT_TTL;
    *stale = src ? src->max_staleness_s : DEFAULT_STALENESS;
    if (engine) *engine = src ? src->engine : NULL;
}

int conn_resolve(cb_store *s, const cb_config *cfg, const char *name, store_conn *out, int *stale, cb_error *e)
{
    if (stale) *stale = 0;
    const config_source *src = cfg ? config_source_get(cfg, name) : NULL;
    store_conn c;
    cb_error ge = {0};
    int have = store_conn_get(s, name, 0, &c, &ge) == 0;
    if (!have && !src) {
        if (e) *e = ge;
        return ge.code ? ge.code : CB_ERR;
    }
    const char *ref = src ? src->ref : (have ? c.source_ref : NULL);
    if (!ref) { /* a plain stored connection */
        store_conn_free(&c);
        return store_conn_get(s, name, 1, out, e);
    }
    char *refdup = cb_strdup(ref);
    if (have) store_conn_free(&c);
    int ttl, maxstale;
    const char *engine;
    limits_for(cfg, name, &ttl, &maxstale, &engine);
    src_state st;
    state_get(s, name, &st);
    int64_t now = cb_now();
    int64_t age = st.found && st.fetched_at ? now - st.fetched_at : -1;
    int rc;
    if (have && age >= 0 && age < ttl && st.ref && strcmp(st.ref, refdup) == 0) {
        rc = store_conn_get(s, name, 1, out, e);
    } else {
        cb_error fe = {0};
        rc = source_fetch(s, name, refdup, engine, NULL, &fe);
        if (!rc) {
            rc = store_conn_get(s, name, 1, out, e);
        } else if (have && age >= 0 && age <= maxstale && st.ref && strcmp(st.ref, refdup) == 0 &&
                   fe.kind != CB_K_INVALID) {
            /* provider outage: serve what we have, loudly, until max staleness */
            LOG_WARN("source %s: %s; serving the cached value fetched %lld s ago (max staleness %d s)", name, fe.msg,
                     (long long)age, maxstale);
            if (stale) *stale = 1;
            rc = store_conn_get(s, name, 1, out, e);
        } else if (have && age > maxstale) {
            rc = cb_fail(e, CB_ERR, CB_K_UNAVAILABLE,
                         "source %s unavailable (%s) and its cached value is %lld s old, beyond max staleness %d s: refusing to use it",
                         name, fe.msg, (long long)age, maxstale);
        } else {
            if (e) *e = fe;
        }
    }
    state_free(&st);
    free(refdup);
    return rc;
}

int sources_sync(cb_store *s, const cb_config *cfg, int force, json_t *report, cb_error *e)
{
    int failures = 0;
    for (size_t i = 0; cfg && i < cfg->nsources; i++) {
        const config_source *src = &cfg->sources[i];
        json_t *d = json_object();
        src_state st;
        state_get(s, src->name, &st);
        int64_t age = st.found && st.fetched_at ? cb_now() - st.fetched_at : -1;
        if (!force && age >= 0 && age < src->ttl_s && st.ref && strcmp(st.ref, src->ref) == 0) {
            json_object_set_new(d, "name", json_string(src->name));
            json_object_set_new(d, "ref", json_string(src->ref));
            json_object_set_new(d, "outcome", json_string("fresh"));
            json_object_set_new(d, "age_s", json_integer(age));
        } else {
            cb_error fe = {0};
            if (source_fetch(s, src->name, src->ref, src->engine, d, &fe)) {
                int servable = age >= 0 && age <= src->max_staleness_s && fe.kind != CB_K_INVALID;
                json_object_set_new(d, "outcome", json_string(servable ? "stale" : "error"));
                json_object_set_new(d, "age_s", age >= 0 ? json_integer(age) : json_null());
                if (!servable) failures++;
            }
        }
        state_free(&st);
        json_array_append_new(report, d);
    }
    /* connections added with `conn add --from-ref` are sources too (default TTL/staleness) */
    store_conn *list = NULL;
    size_t n = 0;
    if (store_conn_list(s, &list, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++) {
            store_conn *c = &list[i];
            if (c->source_ref && !config_source_get(cfg, c->name)) {
                json_t *d = json_object();
                src_state st;
                state_get(s, c->name, &st);
                int64_t age = st.found && st.fetched_at ? cb_now() - st.fetched_at : -1;
                if (!force && age >= 0 && age < DEFAULT_TTL && st.ref && strcmp(st.ref, c->source_ref) == 0) {
                    json_object_set_new(d, "name", json_string(c->name));
                    json_object_set_new(d, "ref", json_string(c->source_ref));
                    json_object_set_new(d, "outcome", json_string("fresh"));
                    json_object_set_new(d, "age_s", json_integer(age));
                } else {
                    cb_error fe = {0};
                    if (source_fetch(s, c->name, c->source_ref, c->engine, d, &fe)) {
                        int servable = age >= 0 && age <= DEFAULT_STALENESS && fe.kind != CB_K_INVALID;
                        json_object_set_new(d, "outcome", json_string(servable ? "stale" : "error"));
                        json_object_set_new(d, "age_s", age >= 0 ? json_integer(age) : json_null());
                        if (!servable) failures++;
                    }
                }
                state_free(&st);
                json_array_append_new(report, d);
            }
            store_conn_free(c);
        }
        free(list);
    }
    if (failures)
        return cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "%d source%s could not be fetched and have no usable cached value",
                       failures, failures == 1 ? "" : "s");
    return 0;
}

int sources_list(cb_store *s, const cb_config *cfg, json_t **out, cb_error *e)
{
    sdb_stmt *q;
    if (sdb_prepare(store_db(s), "SELECT name, ref_enc, ref_kv, version, fetched_at, last_attempt, error_enc, error_kv"
                                 " FROM source_state ORDER BY name", &q) != SDB_OK)
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "cache: %s", sdb_errmsg(store_db(s)));
    json_t *arr = json_array();
    int64_t now = cb_now();
    int rc = 0;
    while (!rc && sdb_step(q) == SDB_ROW) {
        const char *name = (const char *)sdb_column_text(q, 0);
        char *ref = NULL, *err = NULL;
        rc = store_column_unsealed(s, q, 1, 2, "source_state", name, "ref", &ref, e);
        if (!rc) rc = store_column_unsealed(s, q, 6, 7, "source_state", name, "last_error", &err, e);
        if (rc) {
            free(ref);
            break;
        }
        int ttl, maxstale;
        limits_for(cfg, name, &ttl, &maxstale, NULL);
        int64_t fetched = sdb_column_int64(q, 4);
        int64_t age = fetched ? now - fetched : -1;
        const char *state = age < 0 ? "failed" : age < ttl ? (err ? "stale" : "fresh") : age <= maxstale ? "stale" : "expired";
        char t[32] = "";
        if (fetched) cb_iso8601(fetched, t);
        const char *ver = (const char *)sdb_column_text(q, 3);
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s?,s:s?,s:o,s:i,s:i,s:s,s:s?}", "name", name,
                                             "ref", ref ? ref : "", "version", ver,
                                             "fetched_at", fetched ? t : NULL, "age_s", age >= 0 ? json_integer(age) : json_null(),
                                             "ttl_s", ttl, "max_staleness_s", maxstale, "state", state, "last_error", err));
        free(ref);
        free(err);
    }
    sdb_finalize(q);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}
