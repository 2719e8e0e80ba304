/* Sealed metadata columns: the text that names infrastructure (a connection's description
 * and source reference, a source's reference, a journal row's target user, a lease's
 * login, their errors) is sealed like the URL, so a stolen store file holds no host,
 * user, database or vault path. Here: binding and reading such a column, and sealing
 * what a store written by an older broker left in the plaintext columns. */
#include <stdlib.h>
#include <string.h>
#include "store.h"
#include "crypto.h"
#include "store_internal.h"

int store_bind_sealed(cb_store *s, sdb_stmt *st, int blob_idx, int kv_idx, const char *table, const char *rowkey,
                      const char *column, const char *text, cb_error *e)
{
    if (!text) {
        sdb_bind_null(st, blob_idx);
        sdb_bind_int64(st, kv_idx, 0);
        return 0;
    }
    if (!s->unlocked) return cb_fail(e, CB_EKEY, CB_K_DENIED, "store is locked");
    uint8_t *blob = NULL;
    size_t bl = 0;
    if (store_seal(s, table, rowkey, column, text, strlen(text), &blob, &bl))
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "encryption failed");
    sdb_bind_blob(st, blob_idx, blob, (int)bl);
    sdb_bind_int64(st, kv_idx, s->key_version);
    free(blob);
    return 0;
}

int store_column_unsealed(cb_store *s, sdb_stmt *st, int blob_col, int kv_col, const char *table, const char *rowkey,
                          const char *column, char **out, cb_error *e)
{
    *out = NULL;
    if (sdb_column_type(st, blob_col) == SDB_NULL) return 0;
    size_t pl = 0;
    char *pt = NULL;
    int rc = store_unseal(s, table, rowkey, column, sdb_column_int(st, kv_col), sdb_column_blob(st, blob_col),
                          (size_t)sdb_column_bytes(st, blob_col), &pt, &pl, e);
    if (rc) return rc;
    /* metadata, not a secret: a plain heap string the callers free() */
    *out = cb_strndup(pt, pl);
    cb_free_secret_n(pt, pl + 1);
    return 0;
}

/* Where an older broker kept metadata in clear: the plaintext column(s) of each row that
 * still has some, the sealed column they move to, and what the plaintext becomes (''
 * where the column is NOT NULL). Two plaintext columns are sealed as one JSON object
 * keyed by their names. */
typedef struct plain_meta {
    const char *table, *rowkey, *col1, *col2, *enc, *kv, *column, *dirty, *clear;
} plain_meta;
static const plain_meta PLAIN[] = {
    {"connections", "name", "description", "source_ref", "meta_enc", "meta_kv", "meta",
     "description IS NOT NULL OR source_ref IS NOT NULL", "description = NULL, source_ref = NULL"},
    {"source_state", "name", "ref", NULL, "ref_enc", "ref_kv", "ref", "ref <> ''", "ref = ''"},
    {"source_state", "name", "last_error", NULL, "error_enc", "error_kv", "last_error", "last_error IS NOT NULL",
     "last_error = NULL"},
    {"rotation_journal", "credential", "target_user", "publish_to", "meta_enc", "meta_kv", "meta",
     "target_user <> '' OR publish_to IS NOT NULL", "target_user = '', publish_to = NULL"},
    {"rotation_journal", "credential", "error", NULL, "error_enc", "error_kv", "error", "error IS NOT NULL", "error = NULL"},
    {"leases", "id", "login", NULL, "login_enc", "login_kv", "login", "login <> ''", "login = ''"},
    {"leases", "id", "error", NULL, "error_enc", "error_kv", "error", "error IS NOT NULL", "error = NULL"},
};
#define NPLAIN (sizeof PLAIN / sizeof PLAIN[0])

static int any_plain(cb_store *s)
{
    for (size_t i = 0; i < NPLAIN; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT 1 FROM %s WHERE %s LIMIT 1", PLAIN[i].table, PLAIN[i].dirty);
        sdb_stmt *q;
        if (sdb_prepare(s->db, sql, &q) != SDB_OK) continue;
        int dirty = sdb_step(q) == SDB_ROW;
        sdb_finalize(q);
        if (dirty) return 1;
    }
    return 0;
}

static char *plain_value(const plain_meta *m, sdb_stmt *q)
{
    const char *a = (const char *)sdb_column_text(q, 1);
    if (!m->col2) return a ? cb_strdup(a) : NULL;
    const char *b = (const char *)sdb_column_text(q, 2);
    json_t *o = json_pack("{s:s?,s:s?}", m->col1, a, m->col2, b);
    char *t = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return t;
}

static int seal_table(cb_store *s, const plain_meta *m, int *count, cb_error *e)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT %s, %s%s%s FROM %s WHERE %s", m->rowkey, m->col1, m->col2 ? ", " : "",
             m->col2 ? m->col2 : "", m->table, m->dirty);
    sdb_stmt *q, *u = NULL;
    if (sdb_prepare(s->db, sql, &q) != SDB_OK) return store_i_sqlerr(s, e, "sealing metadata");
    /* read every row first: the update changes what the query selects */
    char **keys = NULL, **vals = NULL;
    size_t n = 0, cap = 0;
    int r;
    while ((r = sdb_step(q)) == SDB_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            keys = cb_realloc(keys, cap * sizeof *keys);
            vals = cb_realloc(vals, cap * sizeof *vals);
        }
        keys[n] = cb_strdup((const char *)sdb_column_text(q, 0));
        vals[n++] = plain_value(m, q);
    }
    sdb_finalize(q);
    int rc = r == SDB_DONE ? 0 : store_i_sqlerr(s, e, "sealing metadata");
    snprintf(sql, sizeof sql, "UPDATE %s SET %s = ?, %s = ?, %s WHERE %s = ?", m->table, m->enc, m->kv, m->clear, m->rowkey);
    if (!rc && n && sdb_prepare(s->db, sql, &u) != SDB_OK) rc = store_i_sqlerr(s, e, "sealing metadata");
    for (size_t i = 0; i < n && !rc; i++) {
        sdb_reset(u);
        rc = store_bind_sealed(s, u, 1, 2, m->table, keys[i], m->column, vals[i], e);
        sdb_bind_text(u, 3, keys[i], -1);
        if (!rc && sdb_step(u) != SDB_DONE) rc = store_i_sqlerr(s, e, "sealing metadata");
        if (!rc) (*count)++;
    }
    sdb_finalize(u);
    for (size_t i = 0; i < n; i++) {
        free(keys[i]);
        free(vals[i]);
    }
    free(keys);
    free(vals);
    return rc;
}

int store_i_seal_plain_meta(cb_store *s, int *sealed, cb_error *e)
{
    *sealed = 0;
    /* reads only, so an up-to-date store is not written on every open */
    if (!any_plain(s)) return 0;
    int rc = store_begin(s, e);
    if (rc) return rc;
    for (size_t i = 0; i < NPLAIN && !rc; i++) rc = seal_table(s, &PLAIN[i], sealed, e);
    if (rc) {
        store_rollback(s);
        *sealed = 0;
        return rc;
    }
    return store_commit(s, e);
}
