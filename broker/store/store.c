/* The store: opening (schema and migrations in store_schema.c) and unlocking (KEK, DEK, key check value),
 * metadata, and sealing with AAD. Rows live in store_rows.c, key management in
 * store_keys.c; they share store_internal.h. */
#include "store.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "crypto.h"
#include "store_internal.h"
#include "store_schema.h"
#include "secrets/secret_provider.h"

static const char KCV_LABEL[] = "credbroker key check v1";
static const char HKDF_INFO[] = "credbroker kek v1";

int store_i_sqlerr(cb_store *s, cb_error *e, const char *what)
{
    int ec = sdb_errcode(s->db);
    if (ec == SDB_CORRUPT)
        return cb_fail(e, CB_ERR, CB_K_TAMPERED, "store %s is damaged or not a credbroker store (%s)", s->shown, sdb_errmsg(s->db));
    if (ec == SDB_BUSY)
        return cb_fail(e, CB_ERR, CB_K_CONFLICT, "%s: store is busy (another credbroker is writing)", what);
    return cb_fail(e, CB_ERR, CB_K_INTERNAL, "%s: %s", what, sdb_errmsg(s->db));
}

int64_t store_generation(sdb *db, const char *name)
{
    sdb_stmt *st;
    if (sdb_prepare(db, "SELECT n FROM generations WHERE name = ?", &st) != SDB_OK) return -1;
    sdb_bind_text(st, 1, name, -1);
    int64_t g = sdb_step(st) == SDB_ROW ? sdb_column_int64(st, 0) : -1;
    sdb_finalize(st);
    return g;
}

/* Inside the caller's transaction when there is one, so the bump commits with the change. */
int store_generation_bump(cb_store *s, const char *name, cb_error *e)
{
    sdb_stmt *st;
    if (sdb_prepare(s->db, "UPDATE generations SET n = n + 1 WHERE name = ?", &st) != SDB_OK)
        return store_i_sqlerr(s, e, "generation");
    sdb_bind_text(st, 1, name, -1);
    int r = sdb_step(st);
    sdb_finalize(st);
    return r == SDB_DONE ? 0 : store_i_sqlerr(s, e, "generation");
}

sdb *store_db(cb_store *s) { return s->db; }
const char *store_path(const cb_store *s) { return s->path; }
int store_key_version(const cb_store *s) { return s->key_version; }
const char *store_key_source(const cb_store *s) { return s->key_source; }
void store_get_kdf(const cb_store *s, store_kdf *out) { *out = s->kdf; }

int store_begin(cb_store *s, cb_error *e)
{
    if (sdb_begin_write(s->db) != SDB_OK) return store_i_sqlerr(s, e, "begin");
    return 0;
}

int store_commit(cb_store *s, cb_error *e)
{
    if (sdb_exec(s->db, "COMMIT") != SDB_OK) {
        int rc = store_i_sqlerr(s, e, "commit");
        store_rollback(s);
        return rc;
    }
    return 0;
}

void store_rollback(cb_store *s)
{
    if (!!sdb_in_transaction(s->db)) sdb_exec(s->db, "ROLLBACK");
}

/* ---- meta helpers ---- */
static int meta_get(cb_store *s, const char *k, void **v, size_t *n)
{
    sdb_stmt *st;
    *v = NULL;
    *n = 0;
    if (sdb_prepare(s->db, "SELECT v FROM meta WHERE k = ?", &st) != SDB_OK) return -1;
    sdb_bind_text(st, 1, k, -1);
    int rc = -1;
    if (sdb_step(st) == SDB_ROW) {
        const void *b = sdb_column_blob(st, 0);
        int bl = sdb_column_bytes(st, 0);
        *v = cb_malloc((size_t)bl + 1);
        if (bl) memcpy(*v, b, (size_t)bl);
        ((char *)*v)[bl] = 0;
        *n = (size_t)bl;
        rc = 0;
    }
    sdb_finalize(st);
    return rc;
}

static int meta_put(cb_store *s, const char *k, const void *v, size_t n)
{
    sdb_stmt *st;
    if (sdb_prepare(s->db, "INSERT INTO meta(k, v) VALUES(?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v", &st) != SDB_OK)
        return -1;
    sdb_bind_text(st, 1, k, -1);
    sdb_bind_blob(st, 2, v, (int)n);
    int rc = sdb_step(st) == SDB_DONE ? 0 : -1;
    sdb_finalize(st);
    return rc;
}

static int meta_put_str(cb_store *s, const char *k, const char *v) { return meta_put(s, k, v, strlen(v)); }

static long meta_get_long(cb_store *s, const char *k, long dflt)
{
    void *v;
    size_t n;
    if (meta_get(s, k, &v, &n)) return dflt;
    char *end;
    long r = strtol(v, &end, 10);
    if (*end || end == (char *)v) r = dflt;
    free(v);
    return r;
}

static int meta_put_long(cb_store *s, const char *k, long v)
{
    char b[32];
    snprintf(b, sizeof b, "%ld", v);
    return meta_put_str(s, k, b);
}

/* ---- AAD ---- */
size_t store_i_aad(char *buf, size_t cap, const char *table, const char *rowkey, const char *column, int kv)
{
    int n = snprintf(buf, cap, "credbroker/v1%c%s%c%s%c%s%c%d", 0, table, 0, rowkey, 0, column, 0, kv);
    return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

int store_seal(cb_store *s, const char *table, const char *rowkey, const char *column,
               const void *pt, size_t ptlen, uint8_t **out, size_t *outlen)
{
    char aad[1024];
    size_t an = store_i_aad(aad, sizeof aad, table, rowkey, column, s->key_version);
    return cb_seal(s->dek, aad, an, pt, ptlen, out, outlen);
}

int store_i_unseal_with(const uint8_t *dek, const char *table, const char *rowkey, const char *column,
                       int kv, const void *in, size_t inlen, char **pt, size_t *ptlen)
{
    char aad[1024];
    size_t an = store_i_aad(aad, sizeof aad, table, rowkey, column, kv);
    uint8_t *p = NULL;
    if (cb_open(dek, aad, an, in, inlen, &p, ptlen)) return -1;
    *pt = (char *)p;
    return 0;
}

int store_unseal(cb_store *s, const char *table, const char *rowkey, const char *column,
                 int key_version, const void *in, size_t inlen, char **pt, size_t *ptlen, cb_error *e)
{
    if (!s->unlocked) return cb_fail(e, CB_EKEY, CB_K_DENIED, "store is locked");
    if (!cb_is_sealed(in, inlen))
        return cb_fail(e, CB_ERR, CB_K_INVALID, "%s '%s' is not encrypted (run credbroker key migrate)", table, rowkey);
    if (key_version != s->key_version ||
        store_i_unseal_with(s->dek, table, rowkey, column, key_version, in, inlen, pt, ptlen))
        return cb_fail(e, CB_ERR, CB_K_TAMPERED, "%s '%s': %s does not authenticate (tampered or corrupted)", table, rowkey, column);
    return 0;
}

/* ---- open / create / unlock ---- */
static int check_mode(const char *path, cb_error *e)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "store %s does not exist (run credbroker init)", path);
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot stat store %s: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) return cb_fail(e, CB_ERR, CB_K_INVALID, "store %s is not a regular file", path);
    if (st.st_mode & 077)
        return cb_fail(e, CB_ERR, CB_K_DENIED, "store %s is readable or writable by group/others (mode %04o); run: chmod 600 %s",
                       path, (unsigned)(st.st_mode & 07777), path);
    if (st.st_uid != geteuid())
        return cb_fail(e, CB_ERR, CB_K_DENIED, "store %s is owned by uid %u, not by the current user", path, (unsigned)st.st_uid);
    return 0;
}

static int open_db(const char *path, int flags, cb_store **out, cb_error *e)
{
    cb_store *s = cb_calloc(1, sizeof *s);
    s->path = cb_strdup(path);
    sdb_describe(path, s->shown, sizeof s->shown);
    char err[512] = "";
    int rc = sdb_open(path, flags, &s->db, err, sizeof err);
    if (rc != SDB_OK) {
        rc = rc == SDB_CORRUPT
                 ? cb_fail(e, CB_ERR, CB_K_TAMPERED, "store %s is damaged or not a credbroker store (%s)", s->shown, err)
                 : cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot open store %s: %s", s->shown, err);
        store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Metadata is sealed (the redacted form is derived from the sealed URL on read): a
 * plaintext redacted URL left in the file, by a store copied from an older broker or
 * restored from an old backup after its migration ran, is cleared on open. The check
 * reads only; the file is written only when there is something to clear. */
static int clear_plain_redacted(cb_store *s, cb_error *e)
{
    sdb_stmt *q;
    int dirty = 0;
    if (sdb_prepare(s->db, "SELECT 1 FROM connections WHERE redacted IS NOT NULL LIMIT 1", &q) == SDB_OK) {
        dirty = sdb_step(q) == SDB_ROW;
        sdb_finalize(q);
    }
    if (dirty && sdb_exec(s->db, "UPDATE connections SET redacted = NULL WHERE redacted IS NOT NULL") != SDB_OK)
        return store_i_sqlerr(s, e, "clearing plaintext metadata");
    /* SQLite's secure_delete zeroes the old row in the file; PostgreSQL keeps the old row
     * version (host, user, database in clear) in the table's file until a vacuum. VACUUM
     * FULL writes the table anew, so the plaintext leaves the store's files here too. It
     * runs outside a transaction (we are past the migration's commit), once per old store. */
    if (dirty && sdb_kind_of(s->db) == SDB_KIND_POSTGRES && sdb_exec(s->db, "VACUUM FULL connections") != SDB_OK)
        return store_i_sqlerr(s, e, "clearing plaintext metadata (vacuum)");
    return 0;
}

/* Brings an existing store to this credbroker's schema. A new store is made by
 * store_create, in the same transaction as its keys. */
static int migrate(cb_store *s, cb_error *e)
{
    int v;
    if (store_schema_version(s->db, &v)) return store_i_sqlerr(s, e, "schema");
    if (v == 0) {
        /* an empty, non-credbroker SQLite file, or a PostgreSQL schema with no store */
        if (sdb_kind_of(s->db) == SDB_KIND_POSTGRES)
            return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "store %s does not exist (run credbroker init)", s->shown);
        return cb_fail(e, CB_ERR, CB_K_INVALID, "%s is not a credbroker store (run credbroker init)", s->shown);
    }
    if (v > STORE_SCHEMA_VERSION)
        return cb_fail(e, CB_ERR, CB_K_INVALID, "store %s has schema %d, newer than this credbroker (%d)", s->shown, v,
                       STORE_SCHEMA_VERSION);
    if (v == STORE_SCHEMA_VERSION) return clear_plain_redacted(s, e);
    if (store_begin(s, e)) return e ? e->code : CB_ERR;
    /* read again under the write lock: another broker may have migrated meanwhile */
    if (store_schema_version(s->db, &v) || (v < STORE_SCHEMA_VERSION && store_schema_migrate(s->db, v))) {
        int rc = store_i_sqlerr(s, e, "migration");
        store_rollback(s);
        return rc;
    }
    int rc = store_commit(s, e);
    return rc ? rc : clear_plain_redacted(s, e);
}

int store_i_schema_version(cb_store *s)
{
    int v;
    return store_schema_version(s->db, &v) ? -1 : v;
}

int store_i_current_schema(void) { return STORE_SCHEMA_VERSION; }

/* The whole schema of a new store, inside the caller's transaction (store migrate). */
int store_i_create_schema(cb_store *s, cb_error *e)
{
    return store_schema_migrate(s->db, 0) ? store_i_sqlerr(s, e, "creating the schema") : 0;
}

static void kdf_defaults(store_kdf *k)
{
    snprintf(k->kdf, sizeof k->kdf, "argon2id");
    k->t = 3;
    k->m_kib = 65536;
    k->p = 1;
    const char *t = getenv("CREDBROKER_ARGON2_T"), *m = getenv("CREDBROKER_ARGON2_M_KIB");
    if (t && atoi(t) >= 1) k->t = (uint32_t)atoi(t);
    if (m && atoi(m) >= 8) k->m_kib = (uint32_t)atoi(m);
}

/* KEK from the master key: HKDF for 32 random bytes, Argon2id for a passphrase. */
static int derive_kek(const char *master, const uint8_t *salt, size_t saltlen, store_kdf *k, int choose,
                      uint8_t kek[CB_KEY_LEN], cb_error *e)
{
    uint8_t raw[CB_KEY_LEN];
    int is_raw = cb_master_key_raw(master, raw);
    if (choose) {
        if (is_raw) snprintf(k->kdf, sizeof k->kdf, "hkdf-sha256");
        else kdf_defaults(k);
    }
    int rc;
    if (strcmp(k->kdf, "hkdf-sha256") == 0) {
        if (!is_raw) {
            /* the store expects a raw key; a passphrase cannot match */
            cb_wipe(raw, sizeof raw);
            return cb_fail(e, CB_EKEY, CB_K_DENIED, "master key does not match this store (it expects a 32-byte key as 64 hex characters or base64)");
        }
        rc = cb_hkdf_sha256(raw, sizeof raw, salt, saltlen, HKDF_INFO, kek, CB_KEY_LEN);
    } else if (strcmp(k->kdf, "argon2id") == 0) {
        if (strlen(master) < 8) {
            cb_wipe(raw, sizeof raw);
            return cb_fail(e, CB_EKEY, CB_K_INVALID, "master key passphrase is too short (at least 8 characters; better: credbroker key generate)");
        }
        rc = cb_argon2id(master, strlen(master), salt, saltlen, k->t, k->m_kib, k->p, kek);
    } else {
        rc = -1;
    }
    cb_wipe(raw, sizeof raw);
    if (rc) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "key derivation (%s) failed", k->kdf);
    return 0;
}

static void kcv_of(const uint8_t kek[CB_KEY_LEN], uint8_t out[16])
{
    uint8_t mac[32];
    cb_hmac_sha256(kek, CB_KEY_LEN, KCV_LABEL, sizeof KCV_LABEL - 1, mac);
    memcpy(out, mac, 16);
}

/* Writes kdf params, salt, kcv and the wrapped DEK for a new KEK (inside a transaction). */
int store_i_write_key_meta(cb_store *s, const char *master, const uint8_t dek[CB_KEY_LEN], int key_version, cb_error *e)
{
    uint8_t salt[16], kek[CB_KEY_LEN], kcv[16];
    store_kdf k = {0};
    if (cb_random(salt, sizeof salt)) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "no randomness");
    int rc = derive_kek(master, salt, sizeof salt, &k, 1, kek, e);
    if (rc) return rc;
    kcv_of(kek, kcv);
    char aad[128];
    size_t an = store_i_aad(aad, sizeof aad, "meta", "dek", "wrapped", key_version);
    uint8_t *wrapped = NULL;
    size_t wl = 0;
    rc = cb_seal(kek, aad, an, dek, CB_KEY_LEN, &wrapped, &wl);
    cb_wipe(kek, sizeof kek);
    if (rc) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot wrap the data key");
    int bad = meta_put_str(s, "kdf", k.kdf) || meta_put(s, "kdf_salt", salt, sizeof salt) ||
              meta_put_long(s, "argon2_t", k.t) || meta_put_long(s, "argon2_m_kib", k.m_kib) ||
              meta_put_long(s, "argon2_p", k.p) || meta_put(s, "kcv", kcv, sizeof kcv) ||
              meta_put(s, "dek_wrapped", wrapped, wl) || meta_put_long(s, "key_version", key_version);
    free(wrapped);
    if (bad) return store_i_sqlerr(s, e, "writing key metadata");
    s->kdf = k;
    return 0;
}

/* The schema, the key metadata and created_at in one write transaction: a store exists
 * whole or not at all, and of two brokers running init on one PostgreSQL schema, one
 * wins and the other is told it already exists (as O_EXCL tells it for a file). */
static int create_in(cb_store *s, const char *master_key, cb_error *e)
{
    uint8_t dek[CB_KEY_LEN];
    if (cb_random(dek, sizeof dek)) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "no randomness");
    int rc = store_begin(s, e), v = -1;
    if (!rc && store_schema_version(s->db, &v)) rc = store_i_sqlerr(s, e, "schema");
    if (!rc && v != 0) rc = cb_fail(e, CB_ERR, CB_K_CONFLICT, "store %s already exists", s->shown);
    if (!rc && store_schema_migrate(s->db, 0)) rc = store_i_sqlerr(s, e, "init");
    if (!rc) rc = store_i_write_key_meta(s, master_key, dek, 1, e);
    if (!rc && meta_put_long(s, "created_at", (long)cb_now())) rc = store_i_sqlerr(s, e, "init");
    if (rc) store_rollback(s);
    else rc = store_commit(s, e);
    cb_wipe(dek, sizeof dek);
    return rc;
}

int store_create(const char *path, const char *master_key, cb_error *e)
{
    if (!master_key || !*master_key) return cb_fail(e, CB_EKEY, CB_K_INVALID, "no master key");
    int file = !sdb_is_url(path);
    if (file) {
        /* O_EXCL: never clobber an existing store; 0600 from the first byte */
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            if (errno == EEXIST) return cb_fail(e, CB_ERR, CB_K_CONFLICT, "store %s already exists", path);
            return cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot create store %s: %s", path, strerror(errno));
        }
        fchmod(fd, 0600);
        close(fd);
    }
    cb_store *s = NULL;
    int rc = open_db(path, SDB_OPEN_CREATE, &s, e);
    if (!rc) rc = create_in(s, master_key, e);
    store_close(s);
    if (rc && file) unlink(path);
    return rc;
}

/* A new, empty store location for store migrate: a SQLite file that must not exist yet
 * (created 0600, O_EXCL, so an existing store is never opened for writing), or a URL.
 * No schema yet: the caller creates it inside its copy transaction. */
int store_i_open_new(const char *where, cb_store **out, cb_error *e)
{
    *out = NULL;
    if (!sdb_is_url(where)) {
        int fd = open(where, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            if (errno == EEXIST)
                return cb_fail(e, CB_ERR, CB_K_CONFLICT, "target %s already exists (store migrate writes only a new store)", where);
            return cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot create target %s: %s", where, strerror(errno));
        }
        fchmod(fd, 0600);
        close(fd);
    }
    /* PostgreSQL: the schema is made if it is missing (outside the copy's transaction, so
     * a failed copy can leave an empty schema behind, never a table) */
    int rc = open_db(where, SDB_OPEN_CREATE, out, e);
    if (rc && !sdb_is_url(where)) unlink(where);
    return rc;
}

/* Read-only: no migration and no clean-up write, so a store can be read (store migrate's
 * source) without changing a byte of it. Its schema must be this credbroker's. */
int store_open_readonly(const char *path, cb_store **out, cb_error *e)
{
    *out = NULL;
    int rc = sdb_is_url(path) ? 0 : check_mode(path, e);
    if (rc) return rc;
    cb_store *s;
    rc = open_db(path, SDB_OPEN_READONLY, &s, e);
    if (rc) return rc;
    int v = store_i_schema_version(s);
    if (v < 0) rc = store_i_sqlerr(s, e, "schema");
    else if (v == 0) rc = cb_fail(e, CB_ERR, CB_K_INVALID, "%s is not a credbroker store", s->shown);
    else if (v > STORE_SCHEMA_VERSION)
        rc = cb_fail(e, CB_ERR, CB_K_INVALID, "store %s has schema %d, newer than this credbroker (%d)", s->shown, v, STORE_SCHEMA_VERSION);
    else if (v < STORE_SCHEMA_VERSION)
        rc = cb_fail(e, CB_ERR, CB_K_INVALID, "store %s has schema %d, older than this credbroker (%d): run 'credbroker verify' "
                     "on it once to upgrade it, then try again", s->shown, v, STORE_SCHEMA_VERSION);
    if (rc) {
        store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int store_open(const char *path, cb_store **out, cb_error *e)
{
    *out = NULL;
    int rc;
    /* a file's mode and owner guard it; a PostgreSQL store is guarded by its grants */
    if (!sdb_is_url(path)) {
        if ((rc = check_mode(path, e))) return rc;
        char wal[4096];
        snprintf(wal, sizeof wal, "%s-wal", path);
        struct stat st;
        if (stat(wal, &st) == 0 && (st.st_mode & 077))
            return cb_fail(e, CB_ERR, CB_K_DENIED, "store journal %s is readable by group/others; run: chmod 600 %s", wal, wal);
    }
    cb_store *s;
    rc = open_db(path, 0, &s, e);
    if (rc) return rc;
    rc = migrate(s, e);
    if (rc) {
        store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int store_unlock(cb_store *s, const char *master, cb_error *e)
{
    void *salt = NULL, *kcv = NULL, *wrapped = NULL, *kdfname = NULL;
    size_t sl, kl, wl, nl;
    int rc = 0;
    if (meta_get(s, "kdf", &kdfname, &nl) || meta_get(s, "kdf_salt", &salt, &sl) ||
        meta_get(s, "kcv", &kcv, &kl) || meta_get(s, "dek_wrapped", &wrapped, &wl) || kl != 16) {
        rc = cb_fail(e, CB_ERR, CB_K_TAMPERED, "store %s has no key metadata (damaged store)", s->shown);
        goto out;
    }
    store_kdf k = {0};
    snprintf(k.kdf, sizeof k.kdf, "%s", (char *)kdfname);
    k.t = (uint32_t)meta_get_long(s, "argon2_t", 3);
    k.m_kib = (uint32_t)meta_get_long(s, "argon2_m_kib", 65536);
    k.p = (uint32_t)meta_get_long(s, "argon2_p", 1);
    int kv = (int)meta_get_long(s, "key_version", 1);
    uint8_t kek[CB_KEY_LEN], check[16];
    rc = derive_kek(master, salt, sl, &k, 0, kek, e);
    if (rc) goto out;
    kcv_of(kek, check);
    if (!cb_ct_equal(check, kcv, 16)) {
        cb_wipe(kek, sizeof kek);
        rc = cb_fail(e, CB_EKEY, CB_K_DENIED, "master key does not match this store (key check failed; nothing was decrypted)");
        goto out;
    }
    char aad[128];
    size_t an = store_i_aad(aad, sizeof aad, "meta", "dek", "wrapped", kv);
    uint8_t *dek = NULL;
    size_t dl = 0;
    int bad = cb_open(kek, aad, an, wrapped, wl, &dek, &dl) || dl != CB_KEY_LEN;
    cb_wipe(kek, sizeof kek);
    if (bad) {
        if (dek) cb_free_secret_n(dek, dl + 1);
        rc = cb_fail(e, CB_ERR, CB_K_TAMPERED, "wrapped data key does not authenticate (store tampered)");
        goto out;
    }
    memcpy(s->dek, dek, CB_KEY_LEN);
    cb_free_secret_n(dek, dl + 1);
    s->key_version = kv;
    s->kdf = k;
    s->unlocked = 1;
    /* metadata an older broker (or an old backup) kept in clear is sealed now, the first
     * moment the key is known; a store that cannot be written now (busy, read-only) is
     * still usable, and is sealed at a later open */
    int sealed = 0;
    cb_error me = {0};
    if (store_i_seal_plain_meta(s, &sealed, &me)) LOG_WARN("store %s: plaintext metadata not sealed yet: %s", s->path, me.msg);
    else if (sealed) LOG_INFO("store %s: sealed %d plaintext metadata value%s left by an older broker", s->path, sealed, sealed == 1 ? "" : "s");
out:
    free(salt); free(kcv); free(wrapped); free(kdfname);
    return rc;
}

const char *store_master_key_config_ref = NULL;

/* The master key from a provider reference; what names the reference in errors. */
static int fetch_key_ref(const char *ref, const char *what, char **key, cb_error *e)
{
    secret_value sv;
    cb_error fe = {0};
    int rc = secret_fetch(ref, &sv, &fe);
    if (rc) {
        if (rc == CB_EUSAGE) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "%s: %s", what, fe.msg);
        return cb_fail(e, CB_EKEY, fe.kind, "cannot read the master key from %s: %s", what, fe.msg);
    }
    if (!sv.value || !*sv.value) {
        secret_value_free(&sv);
        return cb_fail(e, CB_EKEY, CB_K_INVALID, "the master key from %s is empty", what);
    }
    *key = cb_strdup(sv.value);
    secret_value_free(&sv);
    return 0;
}

int store_master_key_from_env(char **key, const char **source, cb_error *e)
{
    *key = NULL;
    const char *v = getenv("CREDBROKER_MASTER_KEY");
    if (v && *v) {
        *key = cb_strdup(v);
        if (source) *source = "env";
        return 0;
    }
    const char *ref = getenv("CREDBROKER_MASTER_KEY_REF");
    if (ref && *ref) {
        secret_value sv;
        cb_error fe = {0};
        int rc = secret_fetch(ref, &sv, &fe);
        if (rc) {
            /* a malformed reference is a usage error; an unreachable provider means no key */
            if (rc == CB_EUSAGE) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "CREDBROKER_MASTER_KEY_REF: %s", fe.msg);
            return cb_fail(e, CB_EKEY, fe.kind, "cannot fetch the master key from %s: %s", ref, fe.msg);
        }
        *key = cb_strdup(sv.value);
        secret_value_free(&sv);
        if (source) *source = "ref";
        return 0;
    }
    /* systemd LoadCredential=master-key:FILE: the key is in a file only this service can
     * read, never in any process's environment */
    const char *cd = getenv("CREDENTIALS_DIRECTORY");
    if (cd && cd[0] == '/') {
        char *path = cb_sprintf("%s/%s", cd, STORE_CREDENTIAL_NAME);
        if (access(path, F_OK) == 0) {
            char *fref = cb_sprintf("file://%s", path);
            int rc = fetch_key_ref(fref, "the service credential " STORE_CREDENTIAL_NAME, key, e);
            free(fref);
            free(path);
            if (!rc && source) *source = "credential";
            return rc;
        }
        free(path);
    }
    if (store_master_key_config_ref) {
        int rc = fetch_key_ref(store_master_key_config_ref, "master_key_ref (credbroker.json)", key, e);
        if (!rc && source) *source = "config";
        return rc;
    }
    return cb_fail(e, CB_EKEY, CB_K_DENIED,
                   "no master key: set CREDBROKER_MASTER_KEY (create one with 'credbroker key generate') "
                   "or CREDBROKER_MASTER_KEY_REF=<provider reference, e.g. vault://secret/broker#master_key or "
                   "file:///abs/path/master.key at mode 0600>, or \"master_key_ref\" in credbroker.json");
}

static int open_unlocked(const char *path, int readonly, cb_store **out, cb_error *e)
{
    char *key = NULL;
    const char *src = NULL;
    *out = NULL;
    cb_store *s;
    /* the file is checked first (mode, format), then the key */
    int rc = readonly ? store_open_readonly(path, &s, e) : store_open(path, &s, e);
    if (rc) return rc;
    rc = store_master_key_from_env(&key, &src, e);
    if (!rc) rc = store_unlock(s, key, e);
    if (rc) {
        store_close(s);
    } else {
        if (strcmp(src, "ref") == 0) snprintf(s->key_source, sizeof s->key_source, "ref:%s", getenv("CREDBROKER_MASTER_KEY_REF"));
        else if (strcmp(src, "config") == 0) snprintf(s->key_source, sizeof s->key_source, "ref:%s", store_master_key_config_ref);
        else snprintf(s->key_source, sizeof s->key_source, "%s", src);
        *out = s;
    }
    cb_free_secret(key);
    return rc;
}

int store_open_unlocked(const char *path, cb_store **out, cb_error *e) { return open_unlocked(path, 0, out, e); }
int store_open_unlocked_readonly(const char *path, cb_store **out, cb_error *e) { return open_unlocked(path, 1, out, e); }

void store_close(cb_store *s)
{
    if (!s) return;
    sdb_close(s->db);
    cb_wipe(s->dek, sizeof s->dek);
    free(s->path);
    free(s);
}
