/* Key management over every sealed column: master-key rotation (re-wrap, or re-encrypt
 * everything in one transaction), plaintext migration, verification, sealed metadata. */
#include <stdlib.h>
#include <string.h>
#include "store.h"
#include "crypto.h"
#include "store_internal.h"

long store_test_fail_reencrypt_at = 0;

/* Sealed columns, for rekey/verify/migrate. rowkey_sql must yield the AAD row key. */
typedef struct sealed_col {
    const char *table, *column, *value_col, *rowkey_sql, *where;
} sealed_col;
static const sealed_col SEALED[] = {
    {"connections", "url", "url_enc", "name", "url_enc IS NOT NULL"},
    {"secrets", "value", "value_enc", "ns || '/' || name", "TRUE"},
    {"meta", "v", "v", "k", "k LIKE 'sealed:%'"},
};
#define NSEALED (sizeof SEALED / sizeof SEALED[0])

/* ---- key management ---- */
static void add_failure(json_t *arr, const char *table, const char *row, const char *column, const char *err)
{
    if (!arr) return;
    json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}", "table", table, "row", row, "column", column, "error", err));
}

/* Walks every sealed value of one table. cb returns nonzero to stop. */
typedef int (*row_fn)(cb_store *s, const sealed_col *c, const char *rowkey, int kv, const void *blob,
                      size_t len, int is_blob, int64_t rowid, void *arg);
static int each_sealed(cb_store *s, const sealed_col *c, row_fn fn, void *arg, cb_error *e)
{
    char sql[512];
    /* rows are named by their AAD row key, which is unique (PostgreSQL has no rowid) */
    snprintf(sql, sizeof sql, "SELECT 0, %s, key_version, %s FROM %s WHERE %s ORDER BY 2", c->rowkey_sql,
             c->value_col, c->table, c->where);
    sdb_stmt *st;
    if (sdb_prepare(s->db, sql, &st) != SDB_OK) return store_i_sqlerr(s, e, "scan");
    int r, rc = 0;
    while ((r = sdb_step(st)) == SDB_ROW) {
        const char *rk = (const char *)sdb_column_text(st, 1);
        int is_blob = sdb_column_type(st, 3) == SDB_BLOB;
        rc = fn(s, c, rk ? rk : "", sdb_column_int(st, 2), sdb_column_blob(st, 3),
                (size_t)sdb_column_bytes(st, 3), is_blob, sdb_column_int64(st, 0), arg);
        if (rc) break;
    }
    if (!rc && r != SDB_DONE) rc = store_i_sqlerr(s, e, "scan");
    sdb_finalize(st);
    return rc;
}

struct rekey_ctx {
    uint8_t new_dek[CB_KEY_LEN];
    int new_kv;
    long rows;
    json_t *failures;
    sdb_stmt *upd;
    cb_aead *old_open, *new_seal, *new_open; /* one context per key and direction, for every row */
};

static int rekey_row(cb_store *s, const sealed_col *c, const char *rowkey, int kv, const void *blob,
                     size_t len, int is_blob, int64_t rowid, void *arg)
{
    (void)rowid;
    struct rekey_ctx *x = arg;
    x->rows++;
    char *pt = NULL;
    size_t pl = 0;
    if (!is_blob || !cb_is_sealed(blob, len)) {
        add_failure(x->failures, c->table, rowkey, c->column, "not encrypted (run key migrate first)");
        return 0;
    }
    char aad[1024];
    size_t an = store_i_aad(aad, sizeof aad, c->table, rowkey, c->column, kv);
    if (kv != s->key_version || cb_aead_open(x->old_open, aad, an, blob, len, (uint8_t **)&pt, &pl)) {
        add_failure(x->failures, c->table, rowkey, c->column, "does not authenticate under the current key");
        return 0;
    }
    an = store_i_aad(aad, sizeof aad, c->table, rowkey, c->column, x->new_kv);
    uint8_t *nb = NULL;
    size_t nl = 0;
    int ok = cb_aead_seal(x->new_seal, aad, an, pt, pl, &nb, &nl) == 0;
    /* verify the round trip before it can be committed */
    char *back = NULL;
    size_t bl = 0;
    ok = ok && cb_aead_open(x->new_open, aad, an, nb, nl, (uint8_t **)&back, &bl) == 0 && bl == pl &&
         cb_ct_equal(back, pt, pl);
    if (store_test_fail_reencrypt_at && x->rows == store_test_fail_reencrypt_at) ok = 0;
    if (back) cb_free_secret_n(back, bl + 1);
    cb_free_secret_n(pt, pl + 1);
    if (!ok) {
        free(nb);
        add_failure(x->failures, c->table, rowkey, c->column, "re-encryption did not verify");
        return 0;
    }
    sdb_reset(x->upd);
    sdb_bind_blob(x->upd, 1, nb, (int)nl);
    sdb_bind_int64(x->upd, 2, x->new_kv);
    sdb_bind_text(x->upd, 3, rowkey, -1);
    int r = sdb_step(x->upd);
    free(nb);
    if (r != SDB_DONE) add_failure(x->failures, c->table, rowkey, c->column, sdb_errmsg(s->db));
    return 0;
}

int store_rekey(cb_store *s, const char *new_master_key, int reencrypt, json_t *report, cb_error *e)
{
    if (!s->unlocked) return cb_fail(e, CB_EKEY, CB_K_DENIED, "store is locked");
    if (!new_master_key || !*new_master_key)
        return cb_fail(e, CB_EKEY, CB_K_INVALID, "no new master key: set CREDBROKER_NEW_MASTER_KEY");
    int rc = store_begin(s, e);
    if (rc) return rc;
    struct rekey_ctx x = {0};
    x.failures = json_array();
    x.new_kv = s->key_version + (reencrypt ? 1 : 0);
    if (reencrypt) {
        if (cb_random(x.new_dek, sizeof x.new_dek)) {
            rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "no randomness");
            goto fail;
        }
        x.old_open = cb_aead_new(s->dek, 0);
        x.new_seal = cb_aead_new(x.new_dek, 1);
        x.new_open = cb_aead_new(x.new_dek, 0);
        if (!x.old_open || !x.new_seal || !x.new_open) {
            rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot set up AES-GCM");
            goto fail;
        }
        for (size_t i = 0; i < NSEALED && !rc; i++) {
            char sql[256];
            snprintf(sql, sizeof sql, "UPDATE %s SET %s = ?, key_version = ? WHERE %s = ?", SEALED[i].table, SEALED[i].value_col,
                 SEALED[i].rowkey_sql);
            if (sdb_prepare(s->db, sql, &x.upd) != SDB_OK) {
                rc = store_i_sqlerr(s, e, "rekey");
                break;
            }
            rc = each_sealed(s, &SEALED[i], rekey_row, &x, e);
            sdb_finalize(x.upd);
            x.upd = NULL;
        }
        if (rc) goto fail;
        if (json_array_size(x.failures) > 0) {
            rc = cb_fail(e, CB_ERR, CB_K_TAMPERED, "%zu of %ld rows could not be re-encrypted; nothing was changed",
                         json_array_size(x.failures), x.rows);
            goto fail;
        }
    } else {
        memcpy(x.new_dek, s->dek, CB_KEY_LEN);
    }
    cb_aead_free(x.old_open);
    cb_aead_free(x.new_seal);
    cb_aead_free(x.new_open);
    x.old_open = x.new_seal = x.new_open = NULL;
    rc = store_i_write_key_meta(s, new_master_key, x.new_dek, x.new_kv, e);
    if (rc) goto fail;
    rc = store_commit(s, e);
    if (rc) goto fail_nc;
    memcpy(s->dek, x.new_dek, CB_KEY_LEN);
    s->key_version = x.new_kv;
    cb_wipe(x.new_dek, sizeof x.new_dek);
    if (report) {
        json_object_set_new(report, "rows", json_integer(x.rows));
        json_object_set_new(report, "failures", x.failures);
        json_object_set_new(report, "key_version", json_integer(x.new_kv));
    } else {
        json_decref(x.failures);
    }
    return 0;
fail:
    store_rollback(s);
fail_nc:
    cb_aead_free(x.old_open);
    cb_aead_free(x.new_seal);
    cb_aead_free(x.new_open);
    cb_wipe(x.new_dek, sizeof x.new_dek);
    if (report) {
        json_object_set_new(report, "rows", json_integer(x.rows));
        json_object_set_new(report, "failures", x.failures);
    } else {
        json_decref(x.failures);
    }
    return rc;
}

struct mig_ctx { int count; sdb_stmt *upd; int failed; };

static int migrate_row(cb_store *s, const sealed_col *c, const char *rowkey, int kv, const void *blob,
                       size_t len, int is_blob, int64_t rowid, void *arg)
{
    (void)kv, (void)rowid;
    struct mig_ctx *m = arg;
    if (is_blob && cb_is_sealed(blob, len)) return 0;
    uint8_t *nb = NULL;
    size_t nl = 0;
    if (store_seal(s, c->table, rowkey, c->column, blob, len, &nb, &nl)) {
        m->failed = 1;
        return 1;
    }
    sdb_reset(m->upd);
    sdb_bind_blob(m->upd, 1, nb, (int)nl);
    sdb_bind_int64(m->upd, 2, s->key_version);
    sdb_bind_text(m->upd, 3, rowkey, -1);
    int r = sdb_step(m->upd);
    free(nb);
    if (r != SDB_DONE) {
        m->failed = 1;
        return 1;
    }
    m->count++;
    return 0;
}

int store_migrate_plaintext(cb_store *s, int *migrated, cb_error *e)
{
    *migrated = 0;
    int rc = store_begin(s, e);
    if (rc) return rc;
    struct mig_ctx m = {0};
    for (size_t i = 0; i < NSEALED && !rc; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "UPDATE %s SET %s = ?, key_version = ? WHERE %s = ?", SEALED[i].table, SEALED[i].value_col,
                 SEALED[i].rowkey_sql);
        if (sdb_prepare(s->db, sql, &m.upd) != SDB_OK) {
            rc = store_i_sqlerr(s, e, "migrate");
            break;
        }
        rc = each_sealed(s, &SEALED[i], migrate_row, &m, e);
        sdb_finalize(m.upd);
        if (!rc && m.failed) rc = store_i_sqlerr(s, e, "migrate");
    }
    /* redacted copies of migrated connection URLs are refreshed by the caller */
    if (rc) {
        store_rollback(s);
        return rc;
    }
    rc = store_commit(s, e);
    if (!rc) *migrated = m.count;
    return rc;
}

struct verify_ctx { json_t *failures; int checked; };

static int verify_row(cb_store *s, const sealed_col *c, const char *rowkey, int kv, const void *blob,
                      size_t len, int is_blob, int64_t rowid, void *arg)
{
    (void)rowid;
    struct verify_ctx *v = arg;
    v->checked++;
    char *pt = NULL;
    size_t pl = 0;
    if (!is_blob || !cb_is_sealed(blob, len)) {
        add_failure(v->failures, c->table, rowkey, c->column, "not encrypted (run credbroker key migrate)");
    } else if (kv != s->key_version) {
        add_failure(v->failures, c->table, rowkey, c->column, "sealed under another key version");
    } else if (store_i_unseal_with(s->dek, c->table, rowkey, c->column, kv, blob, len, &pt, &pl)) {
        add_failure(v->failures, c->table, rowkey, c->column, "does not authenticate (tampered or corrupted)");
    } else {
        cb_free_secret_n(pt, pl + 1);
    }
    return 0;
}

int store_verify(cb_store *s, json_t *failures, int *checked, cb_error *e)
{
    struct verify_ctx v = {failures, 0};
    for (size_t i = 0; i < NSEALED; i++) {
        int rc = each_sealed(s, &SEALED[i], verify_row, &v, e);
        if (rc) return rc;
    }
    *checked = v.checked;
    if (json_array_size(failures) > 0)
        return cb_fail(e, CB_EFINDINGS, CB_K_TAMPERED, "%zu of %d encrypted values failed verification", json_array_size(failures), v.checked);
    return 0;
}

/* ---- sealed metadata (audit head, API key hashing key): re-encrypted with the rest ---- */
int store_sealed_meta_put(cb_store *s, const char *name, const void *value, size_t len, cb_error *e)
{
    char *k = cb_sprintf("sealed:%s", name);
    uint8_t *blob = NULL;
    size_t bl = 0;
    if (store_seal(s, "meta", k, "v", value, len, &blob, &bl)) {
        free(k);
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "encryption failed");
    }
    sdb_stmt *st;
    int rc = 0;
    if (sdb_prepare(s->db, "INSERT INTO meta(k, v, key_version) VALUES(?, ?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v, key_version = excluded.key_version", &st) != SDB_OK) {
        rc = store_i_sqlerr(s, e, "meta");
    } else {
        sdb_bind_text(st, 1, k, -1);
        sdb_bind_blob(st, 2, blob, (int)bl);
        sdb_bind_int64(st, 3, s->key_version);
        if (sdb_step(st) != SDB_DONE) rc = store_i_sqlerr(s, e, "meta");
        sdb_finalize(st);
    }
    free(blob);
    free(k);
    return rc;
}

int store_sealed_meta_get(cb_store *s, const char *name, char **value, size_t *len, cb_error *e)
{
    char *k = cb_sprintf("sealed:%s", name);
    sdb_stmt *st;
    int rc;
    *value = NULL;
    if (sdb_prepare(s->db, "SELECT v, key_version FROM meta WHERE k = ?", &st) != SDB_OK) {
        free(k);
        return store_i_sqlerr(s, e, "meta");
    }
    sdb_bind_text(st, 1, k, -1);
    int r = sdb_step(st);
    if (r == SDB_ROW) {
        rc = store_unseal(s, "meta", k, "v", sdb_column_int(st, 1), sdb_column_blob(st, 0),
                          (size_t)sdb_column_bytes(st, 0), value, len, e);
    } else if (r == SDB_DONE) {
        rc = cb_fail(e, CB_ERR, CB_K_NOTFOUND, "no %s", name);
    } else {
        rc = store_i_sqlerr(s, e, "meta");
    }
    sdb_finalize(st);
    free(k);
    return rc;
}
