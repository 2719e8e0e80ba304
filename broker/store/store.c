#include "store.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "crypto.h"
#include "secrets/secret_provider.h"

long store_test_fail_reencrypt_at = 0;

struct cb_store {
    sqlite3 *db;
    char *path;
    int unlocked;
    uint8_t dek[CB_KEY_LEN];
    int key_version;
    store_kdf kdf;
    char key_source[256];
};

static const char KCV_LABEL[] = "credbroker key check v1";
static const char HKDF_INFO[] = "credbroker kek v1";

/* Migrations: index i brings the schema from version i to i+1. */
static const char *const MIGRATIONS[] = {
    "CREATE TABLE meta (k TEXT PRIMARY KEY, v BLOB, key_version INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE connections ("
    "  name TEXT PRIMARY KEY, engine TEXT NOT NULL, description TEXT,"
    "  url_enc BLOB, redacted TEXT, source_ref TEXT, key_version INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, last_used INTEGER, last_rotated INTEGER);"
    "CREATE TABLE secrets ("
    "  ns TEXT NOT NULL, name TEXT NOT NULL, value_enc BLOB NOT NULL, version TEXT, meta TEXT,"
    "  key_version INTEGER NOT NULL DEFAULT 0, fetched_at INTEGER, updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (ns, name));"
    "CREATE TABLE api_keys ("
    "  name TEXT PRIMARY KEY, policy TEXT NOT NULL, hash BLOB NOT NULL, prefix TEXT,"
    "  created_at INTEGER NOT NULL, last_used INTEGER, revoked_at INTEGER);"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
    "  target TEXT, outcome TEXT NOT NULL, detail TEXT, duration_ms INTEGER,"
    "  prev_hash BLOB NOT NULL, hash BLOB NOT NULL);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;",
    /* 2: provider-backed connections: what was fetched when (values live in connections) */
    "CREATE TABLE source_state ("
    "  name TEXT PRIMARY KEY, ref TEXT NOT NULL, version TEXT, fetched_at INTEGER,"
    "  last_attempt INTEGER, last_error TEXT);",
    /* 3: rotation journal (one row per rotation in progress; pending passwords live sealed
     * in secrets ns "pending", never here) and scheduler state */
    "CREATE TABLE rotation_journal ("
    "  credential TEXT PRIMARY KEY, id TEXT NOT NULL, step TEXT NOT NULL, strategy TEXT NOT NULL,"
    "  target_user TEXT NOT NULL, connection TEXT NOT NULL, publish_to TEXT, pending_version TEXT,"
    "  started_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, owner_pid INTEGER, owner_host TEXT,"
    "  error TEXT);"
    "CREATE TABLE schedule_state ("
    "  credential TEXT PRIMARY KEY, schedule TEXT, first_seen INTEGER NOT NULL, last_success INTEGER,"
    "  last_run INTEGER, last_result TEXT, next_run INTEGER);",
};
#define NMIGRATIONS (int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0])

/* Sealed columns, for rekey/verify/migrate. rowkey_sql must yield the AAD row key. */
typedef struct sealed_col {
    const char *table, *column, *value_col, *rowkey_sql, *where;
} sealed_col;
static const sealed_col SEALED[] = {
    {"connections", "url", "url_enc", "name", "url_enc IS NOT NULL"},
    {"secrets", "value", "value_enc", "ns || '/' || name", "1"},
    {"meta", "v", "v", "k", "k LIKE 'sealed:%'"},
};
#define NSEALED (sizeof SEALED / sizeof SEALED[0])

static int sqlerr(cb_store *s, cb_error *e, const char *what)
{
    int ec = sqlite3_errcode(s->db);
    if (ec == SQLITE_CORRUPT || ec == SQLITE_NOTADB)
        return cb_fail(e, CB_ERR, CB_K_TAMPERED, "store %s is damaged or not a credbroker store (%s)", s->path, sqlite3_errmsg(s->db));
    if (ec == SQLITE_BUSY || ec == SQLITE_LOCKED)
        return cb_fail(e, CB_ERR, CB_K_CONFLICT, "%s: store is busy (another credbroker is writing)", what);
    return cb_fail(e, CB_ERR, CB_K_INTERNAL, "%s: %s", what, sqlite3_errmsg(s->db));
}

sqlite3 *store_db(cb_store *s) { return s->db; }
const char *store_path(const cb_store *s) { return s->path; }
int store_key_version(const cb_store *s) { return s->key_version; }
const char *store_key_source(const cb_store *s) { return s->key_source; }
void store_get_kdf(const cb_store *s, store_kdf *out) { *out = s->kdf; }

int store_begin(cb_store *s, cb_error *e)
{
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) return sqlerr(s, e, "begin");
    return 0;
}

int store_commit(cb_store *s, cb_error *e)
{
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = sqlerr(s, e, "commit");
        store_rollback(s);
        return rc;
    }
    return 0;
}

void store_rollback(cb_store *s)
{
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- meta helpers ---- */
static int meta_get(cb_store *s, const char *k, void **v, size_t *n)
{
    sqlite3_stmt *st;
    *v = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT v FROM meta WHERE k = ?", -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 0);
        int bl = sqlite3_column_bytes(st, 0);
        *v = cb_malloc((size_t)bl + 1);
        if (bl) memcpy(*v, b, (size_t)bl);
        ((char *)*v)[bl] = 0;
        *n = (size_t)bl;
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

static int meta_put(cb_store *s, const char *k, const void *v, size_t n)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO meta(k, v) VALUES(?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, v, (int)n, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
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
static size_t make_aad(char *buf, size_t cap, const char *table, const char *rowkey, const char *column, int kv)
{
    int n = snprintf(buf, cap, "credbroker/v1%c%s%c%s%c%s%c%d", 0, table, 0, rowkey, 0, column, 0, kv);
    return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

int store_seal(cb_store *s, const char *table, const char *rowkey, const char *column,
               const void *pt, size_t ptlen, uint8_t **out, size_t *outlen)
{
    char aad[1024];
    size_t an = make_aad(aad, sizeof aad, table, rowkey, column, s->key_version);
    return cb_seal(s->dek, aad, an, pt, ptlen, out, outlen);
}

static int unseal_with(const uint8_t *dek, const char *table, const char *rowkey, const char *column,
                       int kv, const void *in, size_t inlen, char **pt, size_t *ptlen)
{
    char aad[1024];
    size_t an = make_aad(aad, sizeof aad, table, rowkey, column, kv);
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
        unseal_with(s->dek, table, rowkey, column, key_version, in, inlen, pt, ptlen))
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

static int open_db(const char *path, cb_store **out, cb_error *e)
{
    cb_store *s = cb_calloc(1, sizeof *s);
    s->path = cb_strdup(path);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
        int rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot open store %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        store_close(s);
        return rc;
    }
    sqlite3_busy_timeout(s->db, 5000);
    /* WAL for concurrent readers; FULL sync so a journaled rotation step survives a crash;
     * secure_delete so old ciphertext pages are zeroed, not left in free pages. */
    const char *pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;";
    if (sqlite3_exec(s->db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        int rc = sqlerr(s, e, "open");
        store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int migrate(cb_store *s, int allow_create, cb_error *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return sqlerr(s, e, "schema");
    int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (v < 0) return sqlerr(s, e, "schema");
    if (v == 0 && !allow_create) {
        /* an empty, non-credbroker SQLite file */
        return cb_fail(e, CB_ERR, CB_K_INVALID, "%s is not a credbroker store (run credbroker init)", s->path);
    }
    if (v > NMIGRATIONS)
        return cb_fail(e, CB_ERR, CB_K_INVALID, "store %s has schema %d, newer than this credbroker (%d)", s->path, v, NMIGRATIONS);
    if (v == NMIGRATIONS) return 0;
    if (store_begin(s, e)) return e ? e->code : CB_ERR;
    for (int i = v; i < NMIGRATIONS; i++) {
        if (sqlite3_exec(s->db, MIGRATIONS[i], NULL, NULL, NULL) != SQLITE_OK) {
            int rc = sqlerr(s, e, "migration");
            store_rollback(s);
            return rc;
        }
    }
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", NMIGRATIONS);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        int rc = sqlerr(s, e, "migration");
        store_rollback(s);
        return rc;
    }
    return store_commit(s, e);
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
static int write_key_meta(cb_store *s, const char *master, const uint8_t dek[CB_KEY_LEN], int key_version, cb_error *e)
{
    uint8_t salt[16], kek[CB_KEY_LEN], kcv[16];
    store_kdf k = {0};
    if (cb_random(salt, sizeof salt)) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "no randomness");
    int rc = derive_kek(master, salt, sizeof salt, &k, 1, kek, e);
    if (rc) return rc;
    kcv_of(kek, kcv);
    char aad[128];
    size_t an = make_aad(aad, sizeof aad, "meta", "dek", "wrapped", key_version);
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
    if (bad) return sqlerr(s, e, "writing key metadata");
    s->kdf = k;
    return 0;
}

int store_create(const char *path, const char *master_key, cb_error *e)
{
    if (!master_key || !*master_key) return cb_fail(e, CB_EKEY, CB_K_INVALID, "no master key");
    /* O_EXCL: never clobber an existing store; 0600 from the first byte */
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return cb_fail(e, CB_ERR, CB_K_CONFLICT, "store %s already exists", path);
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot create store %s: %s", path, strerror(errno));
    }
    fchmod(fd, 0600);
    close(fd);
    cb_store *s = NULL;
    int rc = open_db(path, &s, e);
    if (!rc) rc = migrate(s, 1, e);
    uint8_t dek[CB_KEY_LEN];
    if (!rc && cb_random(dek, sizeof dek)) rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "no randomness");
    if (!rc) rc = store_begin(s, e);
    if (!rc) {
        rc = write_key_meta(s, master_key, dek, 1, e);
        if (!rc && meta_put_long(s, "created_at", (long)cb_now())) rc = sqlerr(s, e, "init");
        if (rc) store_rollback(s);
        else rc = store_commit(s, e);
    }
    cb_wipe(dek, sizeof dek);
    store_close(s);
    if (rc) unlink(path);
    return rc;
}

int store_open(const char *path, cb_store **out, cb_error *e)
{
    *out = NULL;
    int rc = check_mode(path, e);
    if (rc) return rc;
    char wal[4096];
    snprintf(wal, sizeof wal, "%s-wal", path);
    struct stat st;
    if (stat(wal, &st) == 0 && (st.st_mode & 077))
        return cb_fail(e, CB_ERR, CB_K_DENIED, "store journal %s is readable by group/others; run: chmod 600 %s", wal, wal);
    cb_store *s;
    rc = open_db(path, &s, e);
    if (rc) return rc;
    rc = migrate(s, 0, e);
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
        rc = cb_fail(e, CB_ERR, CB_K_TAMPERED, "store %s has no key metadata (damaged store)", s->path);
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
    size_t an = make_aad(aad, sizeof aad, "meta", "dek", "wrapped", kv);
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
out:
    free(salt); free(kcv); free(wrapped); free(kdfname);
    return rc;
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
    return cb_fail(e, CB_EKEY, CB_K_DENIED,
                   "no master key: set CREDBROKER_MASTER_KEY (create one with 'credbroker key generate') "
                   "or CREDBROKER_MASTER_KEY_REF=<provider reference, e.g. vault://secret/broker#master_key>");
}

int store_open_unlocked(const char *path, cb_store **out, cb_error *e)
{
    char *key = NULL;
    const char *src = NULL;
    *out = NULL;
    cb_store *s;
    /* the file is checked first (mode, format), then the key */
    int rc = store_open(path, &s, e);
    if (rc) return rc;
    rc = store_master_key_from_env(&key, &src, e);
    if (!rc) rc = store_unlock(s, key, e);
    if (rc) {
        store_close(s);
    } else {
        if (strcmp(src, "ref") == 0) snprintf(s->key_source, sizeof s->key_source, "ref:%s", getenv("CREDBROKER_MASTER_KEY_REF"));
        else snprintf(s->key_source, sizeof s->key_source, "env");
        *out = s;
    }
    cb_free_secret(key);
    return rc;
}

void store_close(cb_store *s)
{
    if (!s) return;
    if (s->db) sqlite3_close_v2(s->db);
    cb_wipe(s->dek, sizeof s->dek);
    free(s->path);
    free(s);
}

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
    const char *sql = replace
        ? "INSERT INTO connections(name, engine, description, url_enc, redacted, source_ref, key_version, created_at, updated_at)"
          " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?8) ON CONFLICT(name) DO UPDATE SET engine=excluded.engine,"
          " description=COALESCE(excluded.description, description), url_enc=excluded.url_enc, redacted=excluded.redacted,"
          " source_ref=excluded.source_ref, key_version=excluded.key_version, updated_at=excluded.updated_at"
        : "INSERT INTO connections(name, engine, description, url_enc, redacted, source_ref, key_version, created_at, updated_at)"
          " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?8)";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        free(blob);
        return sqlerr(s, e, "conn");
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, engine, -1, SQLITE_STATIC);
    if (description) sqlite3_bind_text(st, 3, description, -1, SQLITE_STATIC);
    if (blob) sqlite3_bind_blob(st, 4, blob, (int)bl, SQLITE_STATIC);
    if (redacted) sqlite3_bind_text(st, 5, redacted, -1, SQLITE_STATIC);
    if (source_ref) sqlite3_bind_text(st, 6, source_ref, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, s->key_version);
    sqlite3_bind_int64(st, 8, cb_now());
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    free(blob);
    if (r == SQLITE_CONSTRAINT) return cb_fail(e, CB_ERR, CB_K_CONFLICT, "connection '%s' already exists (use conn update)", name);
    if (r != SQLITE_DONE) return sqlerr(s, e, "conn");
    return 0;
}

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? cb_strdup((const char *)t) : NULL;
}

static void conn_from_row(sqlite3_stmt *st, store_conn *c)
{
    memset(c, 0, sizeof *c);
    c->name = col_text(st, 0);
    c->engine = col_text(st, 1);
    c->description = col_text(st, 2);
    c->redacted = col_text(st, 4);
    c->source_ref = col_text(st, 5);
    c->created_at = sqlite3_column_int64(st, 7);
    c->updated_at = sqlite3_column_int64(st, 8);
    c->last_used = sqlite3_column_int64(st, 9);
    c->last_rotated = sqlite3_column_int64(st, 10);
    c->encrypted = sqlite3_column_type(st, 3) == SQLITE_NULL ||
                   (sqlite3_column_type(st, 3) == SQLITE_BLOB &&
                    cb_is_sealed(sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3)));
}

#define CONN_COLS "name, engine, description, url_enc, redacted, source_ref, key_version, created_at, updated_at, last_used, last_rotated"

int store_conn_get(cb_store *s, const char *name, int decrypt, store_conn *out, cb_error *e)
{
    sqlite3_stmt *st;
    memset(out, 0, sizeof *out);
    if (sqlite3_prepare_v2(s->db, "SELECT " CONN_COLS " FROM connections WHERE name = ?", -1, &st, NULL) != SQLITE_OK)
        return sqlerr(s, e, "conn");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(st), rc = 0;
    if (r == SQLITE_ROW) {
        conn_from_row(st, out);
        if (decrypt && sqlite3_column_type(st, 3) != SQLITE_NULL) {
            const void *b = sqlite3_column_blob(st, 3);
            size_t bl = (size_t)sqlite3_column_bytes(st, 3);
            if (!out->encrypted) {
                out->url = cb_strndup(b, bl); /* plaintext row: served, but flagged */
            } else {
                size_t pl;
                rc = store_unseal(s, "connections", name, "url", sqlite3_column_int(st, 6), b, bl, &out->url, &pl, e);
            }
        }
    } else if (r == SQLITE_DONE) {
        rc = cb_fail(e, CB_ERR, CB_K_NOTFOUND, "no connection named '%s'", name);
    } else {
        rc = sqlerr(s, e, "conn");
    }
    sqlite3_finalize(st);
    if (rc) store_conn_free(out);
    return rc;
}

int store_conn_list(cb_store *s, store_conn **out, size_t *n, cb_error *e)
{
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT " CONN_COLS " FROM connections ORDER BY name", -1, &st, NULL) != SQLITE_OK)
        return sqlerr(s, e, "conn");
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = cb_realloc(*out, cap * sizeof **out);
        }
        conn_from_row(st, &(*out)[(*n)++]);
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) return sqlerr(s, e, "conn list");
    return 0;
}

int store_conn_remove(cb_store *s, const char *name, cb_error *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "DELETE FROM connections WHERE name = ?", -1, &st, NULL) != SQLITE_OK)
        return sqlerr(s, e, "conn");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) return sqlerr(s, e, "conn remove");
    if (sqlite3_changes(s->db) == 0) return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "no connection named '%s'", name);
    return 0;
}

int store_conn_touch(cb_store *s, const char *name, const char *field, cb_error *e)
{
    const char *sql = strcmp(field, "last_rotated") == 0
                          ? "UPDATE connections SET last_rotated = ? WHERE name = ?"
                          : "UPDATE connections SET last_used = ? WHERE name = ?";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return sqlerr(s, e, "conn");
    sqlite3_bind_int64(st, 1, cb_now());
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : sqlerr(s, e, "conn");
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
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO secrets(ns, name, value_enc, version, meta, key_version, fetched_at, updated_at)"
                           " VALUES(?1,?2,?3,?4,?5,?6,?7,?7) ON CONFLICT(ns, name) DO UPDATE SET value_enc=excluded.value_enc,"
                           " version=excluded.version, meta=excluded.meta, key_version=excluded.key_version,"
                           " fetched_at=excluded.fetched_at, updated_at=excluded.updated_at",
                           -1, &st, NULL) != SQLITE_OK) {
        free(blob);
        return sqlerr(s, e, "secret");
    }
    sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, blob, (int)bl, SQLITE_STATIC);
    if (version) sqlite3_bind_text(st, 4, version, -1, SQLITE_STATIC);
    if (meta_json) sqlite3_bind_text(st, 5, meta_json, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, s->key_version);
    sqlite3_bind_int64(st, 7, cb_now());
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    free(blob);
    return r == SQLITE_DONE ? 0 : sqlerr(s, e, "secret");
}

int store_secret_get(cb_store *s, const char *ns, const char *name, store_secret *out, cb_error *e)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT value_enc, version, meta, key_version, fetched_at, updated_at FROM secrets WHERE ns = ? AND name = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlerr(s, e, "secret");
    sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(st), rc = 0;
    if (r == SQLITE_ROW) {
        char *rk = cb_sprintf("%s/%s", ns, name);
        rc = store_unseal(s, "secrets", rk, "value", sqlite3_column_int(st, 3), sqlite3_column_blob(st, 0),
                          (size_t)sqlite3_column_bytes(st, 0), &out->value, &out->len, e);
        free(rk);
        out->ns = cb_strdup(ns);
        out->name = cb_strdup(name);
        out->version = col_text(st, 1);
        out->meta = col_text(st, 2);
        out->fetched_at = sqlite3_column_int64(st, 4);
        out->updated_at = sqlite3_column_int64(st, 5);
    } else if (r == SQLITE_DONE) {
        rc = cb_fail(e, CB_ERR, CB_K_NOTFOUND, "nothing stored for %s/%s", ns, name);
    } else {
        rc = sqlerr(s, e, "secret");
    }
    sqlite3_finalize(st);
    if (rc) store_secret_free(out);
    return rc;
}

int store_secret_delete(cb_store *s, const char *ns, const char *name, cb_error *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "DELETE FROM secrets WHERE ns = ? AND name = ?", -1, &st, NULL) != SQLITE_OK)
        return sqlerr(s, e, "secret");
    sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : sqlerr(s, e, "secret");
}

int store_secret_list(cb_store *s, const char *ns, json_t **out, cb_error *e)
{
    sqlite3_stmt *st;
    const char *sql = ns ? "SELECT ns, name, version, fetched_at, updated_at, meta FROM secrets WHERE ns = ? ORDER BY ns, name"
                         : "SELECT ns, name, version, fetched_at, updated_at, meta FROM secrets ORDER BY ns, name";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return sqlerr(s, e, "secret list");
    if (ns) sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
    json_t *arr = json_array();
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_object();
        json_object_set_new(o, "ns", json_string((const char *)sqlite3_column_text(st, 0)));
        json_object_set_new(o, "name", json_string((const char *)sqlite3_column_text(st, 1)));
        const char *v = (const char *)sqlite3_column_text(st, 2);
        json_object_set_new(o, "version", v ? json_string(v) : json_null());
        json_object_set_new(o, "fetched_at", json_integer(sqlite3_column_int64(st, 3)));
        json_object_set_new(o, "updated_at", json_integer(sqlite3_column_int64(st, 4)));
        const char *m = (const char *)sqlite3_column_text(st, 5);
        json_t *mj = m ? json_loads(m, 0, NULL) : NULL;
        json_object_set_new(o, "meta", mj ? mj : json_null());
        json_array_append_new(arr, o);
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        json_decref(arr);
        return sqlerr(s, e, "secret list");
    }
    *out = arr;
    return 0;
}

/* ---- key management ---- */
static void add_failure(json_t *arr, const char *table, const char *row, const char *column, const char *err)
{
    if (!arr) return;
    json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}", "table", table, "row", row, "column", column, "error", err));
}

/* Walks every sealed value of one table. cb returns nonzero to stop. */
typedef int (*row_fn)(cb_store *s, const sealed_col *c, const char *rowkey, int kv, const void *blob,
                      size_t len, int is_blob, sqlite3_int64 rowid, void *arg);
static int each_sealed(cb_store *s, const sealed_col *c, row_fn fn, void *arg, cb_error *e)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT rowid, %s, key_version, %s FROM %s WHERE %s ORDER BY rowid", c->rowkey_sql,
             c->value_col, c->table, c->where);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return sqlerr(s, e, "scan");
    int r, rc = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *rk = (const char *)sqlite3_column_text(st, 1);
        int is_blob = sqlite3_column_type(st, 3) == SQLITE_BLOB;
        rc = fn(s, c, rk ? rk : "", sqlite3_column_int(st, 2), sqlite3_column_blob(st, 3),
                (size_t)sqlite3_column_bytes(st, 3), is_blob, sqlite3_column_int64(st, 0), arg);
        if (rc) break;
    }
    if (!rc && r != SQLITE_DONE) rc = sqlerr(s, e, "scan");
    sqlite3_finalize(st);
    return rc;
}

struct rekey_ctx {
    uint8_t new_dek[CB_KEY_LEN];
    int new_kv;
    long rows;
    json_t *failures;
    sqlite3_stmt *upd;
};

static int rekey_row(cb_store *s, const sealed_col *c, const char *rowkey, int kv, const void *blob,
                     size_t len, int is_blob, sqlite3_int64 rowid, void *arg)
{
    struct rekey_ctx *x = arg;
    x->rows++;
    char *pt = NULL;
    size_t pl = 0;
    if (!is_blob || !cb_is_sealed(blob, len)) {
        add_failure(x->failures, c->table, rowkey, c->column, "not encrypted (run key migrate first)");
        return 0;
    }
    if (kv != s->key_version || unseal_with(s->dek, c->table, rowkey, c->column, kv, blob, len, &pt, &pl)) {
        add_failure(x->failures, c->table, rowkey, c->column, "does not authenticate under the current key");
        return 0;
    }
    char aad[1024];
    size_t an = make_aad(aad, sizeof aad, c->table, rowkey, c->column, x->new_kv);
    uint8_t *nb = NULL;
    size_t nl = 0;
    int ok = cb_seal(x->new_dek, aad, an, pt, pl, &nb, &nl) == 0;
    /* verify the round trip before it can be committed */
    char *back = NULL;
    size_t bl = 0;
    ok = ok && unseal_with(x->new_dek, c->table, rowkey, c->column, x->new_kv, nb, nl, &back, &bl) == 0 &&
         bl == pl && cb_ct_equal(back, pt, pl);
    if (store_test_fail_reencrypt_at && x->rows == store_test_fail_reencrypt_at) ok = 0;
    if (back) cb_free_secret_n(back, bl + 1);
    cb_free_secret_n(pt, pl + 1);
    if (!ok) {
        free(nb);
        add_failure(x->failures, c->table, rowkey, c->column, "re-encryption did not verify");
        return 0;
    }
    sqlite3_reset(x->upd);
    sqlite3_bind_blob(x->upd, 1, nb, (int)nl, SQLITE_TRANSIENT);
    sqlite3_bind_int(x->upd, 2, x->new_kv);
    sqlite3_bind_int64(x->upd, 3, rowid);
    int r = sqlite3_step(x->upd);
    free(nb);
    if (r != SQLITE_DONE) add_failure(x->failures, c->table, rowkey, c->column, sqlite3_errmsg(s->db));
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
        for (size_t i = 0; i < NSEALED && !rc; i++) {
            char sql[256];
            snprintf(sql, sizeof sql, "UPDATE %s SET %s = ?, key_version = ? WHERE rowid = ?", SEALED[i].table, SEALED[i].value_col);
            if (sqlite3_prepare_v2(s->db, sql, -1, &x.upd, NULL) != SQLITE_OK) {
                rc = sqlerr(s, e, "rekey");
                break;
            }
            rc = each_sealed(s, &SEALED[i], rekey_row, &x, e);
            sqlite3_finalize(x.upd);
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
    rc = write_key_meta(s, new_master_key, x.new_dek, x.new_kv, e);
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
    cb_wipe(x.new_dek, sizeof x.new_dek);
    if (report) {
        json_object_set_new(report, "rows", json_integer(x.rows));
        json_object_set_new(report, "failures", x.failures);
    } else {
        json_decref(x.failures);
    }
    return rc;
}

struct mig_ctx { int count; sqlite3_stmt *upd; int failed; };

static int migrate_row(cb_store *s, const sealed_col *c, const char *rowkey, int kv, const void *blob,
                       size_t len, int is_blob, sqlite3_int64 rowid, void *arg)
{
    (void)kv;
    struct mig_ctx *m = arg;
    if (is_blob && cb_is_sealed(blob, len)) return 0;
    uint8_t *nb = NULL;
    size_t nl = 0;
    if (store_seal(s, c->table, rowkey, c->column, blob, len, &nb, &nl)) {
        m->failed = 1;
        return 1;
    }
    sqlite3_reset(m->upd);
    sqlite3_bind_blob(m->upd, 1, nb, (int)nl, SQLITE_TRANSIENT);
    sqlite3_bind_int(m->upd, 2, s->key_version);
    sqlite3_bind_int64(m->upd, 3, rowid);
    int r = sqlite3_step(m->upd);
    free(nb);
    if (r != SQLITE_DONE) {
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
        snprintf(sql, sizeof sql, "UPDATE %s SET %s = ?, key_version = ? WHERE rowid = ?", SEALED[i].table, SEALED[i].value_col);
        if (sqlite3_prepare_v2(s->db, sql, -1, &m.upd, NULL) != SQLITE_OK) {
            rc = sqlerr(s, e, "migrate");
            break;
        }
        rc = each_sealed(s, &SEALED[i], migrate_row, &m, e);
        sqlite3_finalize(m.upd);
        if (!rc && m.failed) rc = sqlerr(s, e, "migrate");
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
                      size_t len, int is_blob, sqlite3_int64 rowid, void *arg)
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
    } else if (unseal_with(s->dek, c->table, rowkey, c->column, kv, blob, len, &pt, &pl)) {
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
    sqlite3_stmt *st;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO meta(k, v, key_version) VALUES(?, ?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v, key_version = excluded.key_version",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = sqlerr(s, e, "meta");
    } else {
        sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, blob, (int)bl, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, s->key_version);
        if (sqlite3_step(st) != SQLITE_DONE) rc = sqlerr(s, e, "meta");
        sqlite3_finalize(st);
    }
    free(blob);
    free(k);
    return rc;
}

int store_sealed_meta_get(cb_store *s, const char *name, char **value, size_t *len, cb_error *e)
{
    char *k = cb_sprintf("sealed:%s", name);
    sqlite3_stmt *st;
    int rc;
    *value = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT v, key_version FROM meta WHERE k = ?", -1, &st, NULL) != SQLITE_OK) {
        free(k);
        return sqlerr(s, e, "meta");
    }
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        rc = store_unseal(s, "meta", k, "v", sqlite3_column_int(st, 1), sqlite3_column_blob(st, 0),
                          (size_t)sqlite3_column_bytes(st, 0), value, len, e);
    } else if (r == SQLITE_DONE) {
        rc = cb_fail(e, CB_ERR, CB_K_NOTFOUND, "no %s", name);
    } else {
        rc = sqlerr(s, e, "meta");
    }
    sqlite3_finalize(st);
    free(k);
    return rc;
}
