/* Sealed rows of the store: connections (URL sealed) and namespaced secrets. */
#include <stdlib.h>
#include <string.h>
#include "store.h"
#include "crypto.h"
#include "store_internal.h"

/* ---- connections ---- */
void store_conn_free(store_conn *c)
{
    if (!c) return;
    free(c->name); free(c->engine); free(c->description); free(c->source_ref); free(c->redacted);
    cb_free_secret(c->url);
    memset(c, 0, sizeof *c);
}

int store_conn_put(cb_store *s, const char *name, const char *engine, const char *url,
                   const char *redacted, const char *description, const char *source_ref,
                   int replace, cb_error *e)
{
    uint8_t *blob = NULL;
    size_t bl = 0;
    if (url && store_seal(s, "connections", name, "url", url, strlen(url), &blob, &bl))
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "encryption failed");
    /* connections.description, qualified: in PostgreSQL's DO UPDATE a bare column name is
     * ambiguous between the row and excluded (SQLite reads it as the row's) */
    const char *sql = replace
        ? "INSERT INTO connections(name, engine, description, url_enc, redacted, source_ref, key_version, created_at, updated_at)"
          " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?8) ON CONFLICT(name) DO UPDATE SET engine=excluded.engine,"
          " description=COALESCE(excluded.description, connections.description), url_enc=excluded.url_enc, redacted=excluded.redacted,"
          " source_ref=excluded.source_ref, key_version=excluded.key_version, updated_at=excluded.updated_at"
        : "INSERT INTO connections(name, engine, description, url_enc, redacted, source_ref, key_version, created_at, updated_at)"
          " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?8)";
    sdb_stmt *st;
    if (sdb_prepare(s->db, sql, &st) != SDB_OK) {
        free(blob);
        return store_i_sqlerr(s, e, "conn");
    }
    sdb_bind_text(st, 1, name, -1);
    sdb_bind_text(st, 2, engine, -1);
    if (description) sdb_bind_text(st, 3, description, -1);
    if (blob) sdb_bind_blob(st, 4, blob, (int)bl);
    (void)redacted; /* never stored: host, user and database stay inside the sealed URL */
    if (source_ref) sdb_bind_text(st, 6, source_ref, -1);
    sdb_bind_int64(st, 7, s->key_version);
    sdb_bind_int64(st, 8, cb_now());
    int r = sdb_step(st);
    sdb_finalize(st);
    free(blob);
    if (r == SDB_CONSTRAINT) return cb_fail(e, CB_ERR, CB_K_CONFLICT, "connection '%s' already exists (use conn update)", name);
    if (r != SDB_DONE) return store_i_sqlerr(s, e, "conn");
    return 0;
}

static char *col_text(sdb_stmt *st, int i)
{
    const unsigned char *t = sdb_column_text(st, i);
    return t ? cb_strdup((const char *)t) : NULL;
}

static void conn_from_row(sdb_stmt *st, store_conn *c)
{
    memset(c, 0, sizeof *c);
    c->name = col_text(st, 0);
    c->engine = col_text(st, 1);
    c->description = col_text(st, 2);
    c->redacted = col_text(st, 4);
    c->source_ref = col_text(st, 5);
    c->created_at = sdb_column_int64(st, 7);
    c->updated_at = sdb_column_int64(st, 8);
    c->last_used = sdb_column_int64(st, 9);
    c->last_rotated = sdb_column_int64(st, 10);
    c->encrypted = sdb_column_type(st, 3) == SDB_NULL ||
                   (sdb_column_type(st, 3) == SDB_BLOB &&
                    cb_is_sealed(sdb_column_blob(st, 3), (size_t)sdb_column_bytes(st, 3)));
}

#define CONN_COLS "name, engine, description, url_enc, redacted, source_ref, key_version, created_at, updated_at, last_used, last_rotated"

int store_conn_get(cb_store *s, const char *name, int decrypt, store_conn *out, cb_error *e)
{
    sdb_stmt *st;
    memset(out, 0, sizeof *out);
    if (sdb_prepare(s->db, "SELECT " CONN_COLS " FROM connections WHERE name = ?", &st) != SDB_OK)
        return store_i_sqlerr(s, e, "conn");
    sdb_bind_text(st, 1, name, -1);
    int r = sdb_step(st), rc = 0;
    if (r == SDB_ROW) {
        conn_from_row(st, out);
        if (decrypt && sdb_column_type(st, 3) != SDB_NULL) {
            const void *b = sdb_column_blob(st, 3);
            size_t bl = (size_t)sdb_column_bytes(st, 3);
            if (!out->encrypted) {
                out->url = cb_strndup(b, bl); /* plaintext row: served, but flagged */
            } else {
                size_t pl;
                rc = store_unseal(s, "connections", name, "url", sdb_column_int(st, 6), b, bl, &out->url, &pl, e);
            }
        }
    } else if (r == SDB_DONE) {
        rc = cb_fail(e, CB_ERR, CB_K_NOTFOUND, "no connection named '%s'", name);
    } else {
        rc = store_i_sqlerr(s, e, "conn");
    }
    sdb_finalize(st);
    if (rc) store_conn_free(out);
    return rc;
}

int store_conn_list(cb_store *s, store_conn **out, size_t *n, cb_error *e)
{
    sdb_stmt *st;
    *out = NULL;
    *n = 0;
    if (sdb_prepare(s->db, "SELECT " CONN_COLS " FROM connections ORDER BY name", &st) != SDB_OK)
        return store_i_sqlerr(s, e, "conn");
    size_t cap = 0;
    int r;
    while ((r = sdb_step(st)) == SDB_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = cb_realloc(*out, cap * sizeof **out);
        }
        conn_from_row(st, &(*out)[(*n)++]);
    }
    sdb_finalize(st);
    if (r != SDB_DONE) return store_i_sqlerr(s, e, "conn list");
    return 0;
}

int store_conn_remove(cb_store *s, const char *name, cb_error *e)
{
    sdb_stmt *st;
    if (sdb_prepare(s->db, "DELETE FROM connections WHERE name = ?", &st) != SDB_OK)
        return store_i_sqlerr(s, e, "conn");
    sdb_bind_text(st, 1, name, -1);
    int r = sdb_step(st);
    sdb_finalize(st);
    if (r != SDB_DONE) return store_i_sqlerr(s, e, "conn remove");
    if (sdb_changes(s->db) == 0) return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "no connection named '%s'", name);
    return 0;
}

int store_conn_touch(cb_store *s, const char *name, const char *field, cb_error *e)
{
    const char *sql = strcmp(field, "last_rotated") == 0
                          ? "UPDATE connections SET last_rotated = ? WHERE name = ?"
                          : "UPDATE connections SET last_used = ? WHERE name = ?";
    sdb_stmt *st;
    if (sdb_prepare(s->db, sql, &st) != SDB_OK) return store_i_sqlerr(s, e, "conn");
    sdb_bind_int64(st, 1, cb_now());
    sdb_bind_text(st, 2, name, -1);
    int r = sdb_step(st);
    sdb_finalize(st);
    return r == SDB_DONE ? 0 : store_i_sqlerr(s, e, "conn");
}

/* ---- generic secrets ---- */
void store_secret_free(store_secret *v)
{
    if (!v) return;
    free(v->ns); free(v->name); free(v->version); free(v->meta);
    if (v->value) cb_free_secret_n(v->value, v->len + 1);
    memset(v, 0, sizeof *v);
}

int store_secret_put(cb_store *s, const char *ns, const char *name, const char *value, size_t len,
                     const char *version, const char *meta_json, cb_error *e)
{
    if (strchr(ns, '/')) return cb_fail(e, CB_ERR, CB_K_INVALID, "bad namespace");
    char *rk = cb_sprintf("%s/%s", ns, name);
    uint8_t *blob = NULL;
    size_t bl = 0;
    int rc = store_seal(s, "secrets", rk, "value", value, len, &blob, &bl);
    free(rk);
    if (rc) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "encryption failed");
    sdb_stmt *st;
    if (sdb_prepare(s->db,
                           "INSERT INTO secrets(ns, name, value_enc, version, meta, key_version, fetched_at, updated_at)"
                           " VALUES(?1,?2,?3,?4,?5,?6,?7,?7) ON CONFLICT(ns, name) DO UPDATE SET value_enc=excluded.value_enc,"
                           " version=excluded.version, meta=excluded.meta, key_version=excluded.key_version,"
                           " fetched_at=excluded.fetched_at, updated_at=excluded.updated_at", &st) != SDB_OK) {
        free(blob);
        return store_i_sqlerr(s, e, "secret");
    }
    sdb_bind_text(st, 1, ns, -1);
    sdb_bind_text(st, 2, name, -1);
    sdb_bind_blob(st, 3, blob, (int)bl);
    if (version) sdb_bind_text(st, 4, version, -1);
    if (meta_json) sdb_bind_text(st, 5, meta_json, -1);
    sdb_bind_int64(st, 6, s->key_version);
    sdb_bind_int64(st, 7, cb_now());
    int r = sdb_step(st);
    sdb_finalize(st);
    free(blob);
    return r == SDB_DONE ? 0 : store_i_sqlerr(s, e, "secret");
}

int store_secret_get(cb_store *s, const char *ns, const char *name, store_secret *out, cb_error *e)
{
    memset(out, 0, sizeof *out);
    sdb_stmt *st;
    if (sdb_prepare(s->db,
                           "SELECT value_enc, version, meta, key_version, fetched_at, updated_at FROM secrets WHERE ns = ? AND name = ?", &st) != SDB_OK)
        return store_i_sqlerr(s, e, "secret");
    sdb_bind_text(st, 1, ns, -1);
    sdb_bind_text(st, 2, name, -1);
    int r = sdb_step(st), rc = 0;
    if (r == SDB_ROW) {
        char *rk = cb_sprintf("%s/%s", ns, name);
        rc = store_unseal(s, "secrets", rk, "value", sdb_column_int(st, 3), sdb_column_blob(st, 0),
                          (size_t)sdb_column_bytes(st, 0), &out->value, &out->len, e);
        free(rk);
        out->ns = cb_strdup(ns);
        out->name = cb_strdup(name);
        out->version = col_text(st, 1);
        out->meta = col_text(st, 2);
        out->fetched_at = sdb_column_int64(st, 4);
        out->updated_at = sdb_column_int64(st, 5);
    } else if (r == SDB_DONE) {
        rc = cb_fail(e, CB_ERR, CB_K_NOTFOUND, "nothing stored for %s/%s", ns, name);
    } else {
        rc = store_i_sqlerr(s, e, "secret");
    }
    sdb_finalize(st);
    if (rc) store_secret_free(out);
    return rc;
}

int store_secret_delete(cb_store *s, const char *ns, const char *name, cb_error *e)
{
    sdb_stmt *st;
    if (sdb_prepare(s->db, "DELETE FROM secrets WHERE ns = ? AND name = ?", &st) != SDB_OK)
        return store_i_sqlerr(s, e, "secret");
    sdb_bind_text(st, 1, ns, -1);
    sdb_bind_text(st, 2, name, -1);
    int r = sdb_step(st);
    sdb_finalize(st);
    return r == SDB_DONE ? 0 : store_i_sqlerr(s, e, "secret");
}

int store_secret_list(cb_store *s, const char *ns, json_t **out, cb_error *e)
{
    sdb_stmt *st;
    const char *sql = ns ? "SELECT ns, name, version, fetched_at, updated_at, meta FROM secrets WHERE ns = ? ORDER BY ns, name"
                         : "SELECT ns, name, version, fetched_at, updated_at, meta FROM secrets ORDER BY ns, name";
    if (sdb_prepare(s->db, sql, &st) != SDB_OK) return store_i_sqlerr(s, e, "secret list");
    if (ns) sdb_bind_text(st, 1, ns, -1);
    json_t *arr = json_array();
    int r;
    while ((r = sdb_step(st)) == SDB_ROW) {
        json_t *o = json_object();
        json_object_set_new(o, "ns", json_string((const char *)sdb_column_text(st, 0)));
        json_object_set_new(o, "name", json_string((const char *)sdb_column_text(st, 1)));
        const char *v = (const char *)sdb_column_text(st, 2);
        json_object_set_new(o, "version", v ? json_string(v) : json_null());
        json_object_set_new(o, "fetched_at", json_integer(sdb_column_int64(st, 3)));
        json_object_set_new(o, "updated_at", json_integer(sdb_column_int64(st, 4)));
        const char *m = (const char *)sdb_column_text(st, 5);
        json_t *mj = m ? json_loads(m, 0, NULL) : NULL;
        json_object_set_new(o, "meta", mj ? mj : json_null());
        json_array_append_new(arr, o);
    }
    sdb_finalize(st);
    if (r != SDB_DONE) {
        json_decref(arr);
        return store_i_sqlerr(s, e, "secret list");
    }
    *out = arr;
    return 0;
}
