#include "apikeys.h"
#include <stdlib.h>
#include <string.h>
#include "crypto.h"

#define HMAC_META "apikey_hmac_key"
#define TOKEN_RAND 32
#define LAST_USED_EVERY_S 60

static int sqlfail(cb_store *s, cb_error *e, const char *what)
{
    return cb_fail(e, CB_ERR, CB_K_INTERNAL, "%s: %s", what, sdb_errmsg(store_db(s)));
}

/* The HMAC key; created (sealed) on first use when create is set. */
static int hmac_key(cb_store *s, int create, uint8_t out[32], cb_error *e)
{
    char *v = NULL;
    size_t n = 0;
    cb_error ge = {0};
    if (store_sealed_meta_get(s, HMAC_META, &v, &n, &ge) == 0) {
        int ok = n == 32;
        if (ok) memcpy(out, v, 32);
        cb_free_secret_n(v, n + 1);
        return ok ? 0 : cb_fail(e, CB_ERR, CB_K_TAMPERED, "API key hashing key has the wrong size");
    }
    if (ge.kind != CB_K_NOTFOUND || !create) {
        if (e) *e = ge;
        return ge.code ? ge.code : CB_ERR;
    }
    if (cb_random(out, 32)) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "the random generator failed");
    return store_sealed_meta_put(s, HMAC_META, out, 32, e);
}

static void b64url(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '=') continue;
        *w++ = *r == '+' ? '-' : *r == '/' ? '_' : *r;
    }
    *w = 0;
}

int apikey_token_prefix(const char *t, char out[9])
{
    size_t pl = strlen(APIKEY_TOKEN_PREFIX);
    if (!t || strncmp(t, APIKEY_TOKEN_PREFIX, pl) != 0) return -1;
    t += pl;
    for (int i = 0; i < 8; i++) {
        char c = t[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return -1;
        out[i] = c;
    }
    out[8] = 0;
    if (t[8] != '_') return -1;
    size_t rest = strlen(t + 9);
    if (rest != 43) return -1;
    for (const char *p = t + 9; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return -1;
    return 0;
}

int apikey_create(cb_store *s, const char *name, const char *policy, char **token, cb_error *e)
{
    *token = NULL;
    uint8_t key[32], rnd[TOKEN_RAND], pre[4], mac[32];
    if (store_begin(s, e)) return CB_ERR;
    int rc = hmac_key(s, 1, key, e);
    if (rc) goto fail;
    if (cb_random(rnd, sizeof rnd) || cb_random(pre, sizeof pre)) {
        rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "the random generator failed");
        goto fail;
    }
    char *ph = cb_hex_encode(pre, sizeof pre);
    char *rb = cb_base64_encode(rnd, sizeof rnd);
    b64url(rb);
    char *tok = cb_sprintf("%s%s_%s", APIKEY_TOKEN_PREFIX, ph, rb);
    cb_free_secret(rb);
    cb_hmac_sha256(key, sizeof key, tok, strlen(tok), mac);
    sdb_stmt *st = NULL;
    if (sdb_prepare(store_db(s), "INSERT INTO api_keys (name, policy, hash, prefix, created_at) VALUES (?,?,?,?,?)", &st) != SDB_OK) {
        rc = sqlfail(s, e, "cannot store the API key");
    } else {
        sdb_bind_text(st, 1, name, -1);
        sdb_bind_text(st, 2, policy, -1);
        sdb_bind_blob(st, 3, mac, sizeof mac);
        sdb_bind_text(st, 4, ph, -1);
        sdb_bind_int64(st, 5, cb_now());
        int sr = sdb_step(st);
        if (sr == SDB_CONSTRAINT)
            rc = cb_fail(e, CB_ERR, CB_K_CONFLICT, "an API key named '%s' already exists", name);
        else if (sr != SDB_DONE)
            rc = sqlfail(s, e, "cannot store the API key");
    }
    sdb_finalize(st);
    free(ph);
    if (!rc) rc = store_commit(s, e);
    else store_rollback(s);
    cb_wipe(key, sizeof key);
    cb_wipe(rnd, sizeof rnd);
    if (rc) {
        cb_free_secret(tok);
        return rc;
    }
    *token = tok;
    return 0;
fail:
    store_rollback(s);
    cb_wipe(key, sizeof key);
    return rc ? rc : CB_ERR;
}

static json_t *ts_or_null(sdb_stmt *st, int col)
{
    if (sdb_column_type(st, col) == SDB_NULL) return json_null();
    char t[32];
    cb_iso8601(sdb_column_int64(st, col), t);
    return json_string(t);
}

int apikey_list(cb_store *s, json_t **out, cb_error *e)
{
    *out = NULL;
    sdb_stmt *st;
    if (sdb_prepare(store_db(s), "SELECT name, policy, prefix, created_at, last_used, revoked_at FROM api_keys ORDER BY name", &st) != SDB_OK)
        return sqlfail(s, e, "cannot list API keys");
    json_t *a = json_array();
    while (sdb_step(st) == SDB_ROW) {
        const char *pre = (const char *)sdb_column_text(st, 2);
        json_array_append_new(a, json_pack("{s:s,s:s,s:s?,s:o,s:o,s:o}", "name", (const char *)sdb_column_text(st, 0),
                                           "policy", (const char *)sdb_column_text(st, 1), "prefix", pre,
                                           "created_at", ts_or_null(st, 3), "last_used", ts_or_null(st, 4),
                                           "revoked_at", ts_or_null(st, 5)));
    }
    sdb_finalize(st);
    *out = a;
    return 0;
}

int apikey_revoke(cb_store *s, const char *name, cb_error *e)
{
    sdb_stmt *st;
    if (sdb_prepare(store_db(s), "SELECT revoked_at FROM api_keys WHERE name = ?", &st) != SDB_OK)
        return sqlfail(s, e, "cannot revoke");
    sdb_bind_text(st, 1, name, -1);
    int r = sdb_step(st);
    int revoked = r == SDB_ROW && sdb_column_type(st, 0) != SDB_NULL;
    sdb_finalize(st);
    if (r != SDB_ROW) return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "no API key named '%s'", name);
    if (revoked) return cb_fail(e, CB_ERR, CB_K_CONFLICT, "API key '%s' is already revoked", name);
    if (sdb_prepare(store_db(s), "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", &st) != SDB_OK)
        return sqlfail(s, e, "cannot revoke");
    sdb_bind_int64(st, 1, cb_now());
    sdb_bind_text(st, 2, name, -1);
    r = sdb_step(st);
    sdb_finalize(st);
    return r == SDB_DONE ? 0 : sqlfail(s, e, "cannot revoke");
}

int apikey_revoke_all(cb_store *s, int *count, cb_error *e)
{
    sdb_stmt *st;
    if (sdb_prepare(store_db(s), "UPDATE api_keys SET revoked_at = ? WHERE revoked_at IS NULL", &st) !=
        SDB_OK)
        return sqlfail(s, e, "cannot revoke");
    sdb_bind_int64(st, 1, cb_now());
    int r = sdb_step(st);
    sdb_finalize(st);
    if (r != SDB_DONE) return sqlfail(s, e, "cannot revoke");
    if (count) *count = sdb_changes(store_db(s));
    return 0;
}

int apikey_verify(cb_store *s, const char *token, char **name, char **policy, cb_error *e)
{
    *name = *policy = NULL;
    char pre[9];
    uint8_t key[32], mac[32];
    /* the HMAC is computed even for malformed tokens so timing says little */
    if (hmac_key(s, 0, key, NULL)) return cb_fail(e, CB_ERR, CB_K_DENIED, "invalid API key");
    cb_hmac_sha256(key, sizeof key, token, strlen(token), mac);
    cb_wipe(key, sizeof key);
    if (apikey_token_prefix(token, pre)) return cb_fail(e, CB_ERR, CB_K_DENIED, "invalid API key");
    sdb_stmt *st;
    if (sdb_prepare(store_db(s), "SELECT name, policy, hash, revoked_at, last_used FROM api_keys WHERE prefix = ?", &st) != SDB_OK)
        return sqlfail(s, e, "cannot check the API key");
    sdb_bind_text(st, 1, pre, -1);
    int found = 0;
    int64_t last = 0;
    while (sdb_step(st) == SDB_ROW) {
        const void *h = sdb_column_blob(st, 2);
        int hl = sdb_column_bytes(st, 2);
        if (hl != 32 || !cb_ct_equal(h, mac, 32)) continue;
        if (sdb_column_type(st, 3) != SDB_NULL) break; /* revoked */
        *name = cb_strdup((const char *)sdb_column_text(st, 0));
        *policy = cb_strdup((const char *)sdb_column_text(st, 1));
        last = sdb_column_int64(st, 4);
        found = 1;
        break;
    }
    sdb_finalize(st);
    if (!found) return cb_fail(e, CB_ERR, CB_K_DENIED, "invalid API key");
    int64_t now = cb_now();
    if (now - last >= LAST_USED_EVERY_S &&
        sdb_prepare(store_db(s), "UPDATE api_keys SET last_used = ? WHERE name = ?", &st) == SDB_OK) {
        sdb_bind_int64(st, 1, now);
        sdb_bind_text(st, 2, *name, -1);
        sdb_step(st); /* best effort: a busy store must not refuse a valid key */
        sdb_finalize(st);
    }
    return 0;
}

int apikey_hmac_key_get(cb_store *s, uint8_t out[32], cb_error *e) { return hmac_key(s, 0, out, e); }

int apikey_lookup_mac(sdb *db, const char *prefix, const uint8_t mac[32], char **name, char **policy,
                      int64_t *last_used)
{
    *name = *policy = NULL;
    sdb_stmt *st;
    if (sdb_prepare(db, "SELECT name, policy, hash, revoked_at, last_used FROM api_keys WHERE prefix = ?", &st) != SDB_OK)
        return -1;
    sdb_bind_text(st, 1, prefix, -1);
    int r = -1;
    while (sdb_step(st) == SDB_ROW) {
        const void *h = sdb_column_blob(st, 2);
        if (sdb_column_bytes(st, 2) != 32 || !cb_ct_equal(h, mac, 32)) continue;
        if (sdb_column_type(st, 3) != SDB_NULL) {
            r = 1;
            break;
        }
        *name = cb_strdup((const char *)sdb_column_text(st, 0));
        *policy = cb_strdup((const char *)sdb_column_text(st, 1));
        if (last_used) *last_used = sdb_column_int64(st, 4);
        r = 0;
        break;
    }
    sdb_finalize(st);
    return r;
}

int apikey_matches_any(cb_store *s, const char *token, char **name)
{
    *name = NULL;
    uint8_t key[32], mac[32];
    if (hmac_key(s, 0, key, NULL)) return 0; /* no key was ever created */
    cb_hmac_sha256(key, sizeof key, token, strlen(token), mac);
    cb_wipe(key, sizeof key);
    sdb_stmt *st;
    if (sdb_prepare(store_db(s), "SELECT name, hash FROM api_keys", &st) != SDB_OK) return 0;
    int found = 0;
    while (!found && sdb_step(st) == SDB_ROW)
        if (sdb_column_bytes(st, 1) == 32 && cb_ct_equal(sdb_column_blob(st, 1), mac, 32)) {
            *name = cb_strdup((const char *)sdb_column_text(st, 0));
            found = 1;
        }
    sdb_finalize(st);
    return found;
}

int64_t apikey_generation(sdb *db)
{
    sdb_stmt *st;
    if (sdb_prepare(db, "SELECT v FROM meta WHERE k = 'apikeys_gen'", &st) != SDB_OK) return -1;
    int64_t g = sdb_step(st) == SDB_ROW ? sdb_column_int64(st, 0) : -1;
    sdb_finalize(st);
    return g;
}
