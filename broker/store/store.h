/* The encrypted SQLite store. Every secret column is sealed with the data key (DEK);
 * the DEK is stored wrapped by the key-encryption key (KEK) derived from the master key.
 * AAD = "credbroker/v1" \0 table \0 rowkey \0 column \0 key_version, so a sealed value
 * cannot be moved to another row, column or key generation. */
#ifndef CB_STORE_H
#define CB_STORE_H
#include <stdint.h>
#include <jansson.h>
#include "util.h"
#include "backend.h"

typedef struct cb_store cb_store;

#define STORE_SCHEMA_VERSION 6   /* logical; both backends (store_schema.c) */

/* KDF parameters for a passphrase master key (Argon2id). Defaults: t=3, m=64 MiB, p=1.
 * CREDBROKER_ARGON2_T / CREDBROKER_ARGON2_M_KIB override at init and key rotation
 * (assess reports anything weaker than the defaults). */
typedef struct store_kdf {
    char kdf[16];            /* "argon2id" or "hkdf-sha256" */
    uint32_t t, m_kib, p;
} store_kdf;

/* Creates a new store (file created 0600, must not exist). */
int store_create(const char *path, const char *master_key, cb_error *e);
/* Opens an existing store without unlocking: checks file mode, runs migrations.
 * A group/world-accessible file is refused (CB_ERR). */
int store_open(const char *path, cb_store **out, cb_error *e);
/* Derives the KEK, checks the key check value (CB_EKEY on a wrong key), unwraps the DEK. */
int store_unlock(cb_store *s, const char *master_key, cb_error *e);
/* Reads the master key, first found of: CREDBROKER_MASTER_KEY ("env"),
 * CREDBROKER_MASTER_KEY_REF ("ref"), $CREDENTIALS_DIRECTORY/master-key (systemd
 * LoadCredential=, "credential"), store_master_key_config_ref ("config");
 * CB_EKEY with instructions when none is there. *key: cb_free_secret. */
int store_master_key_from_env(char **key, const char **source, cb_error *e);
#define STORE_CREDENTIAL_NAME "master-key"
/* credbroker.json's "master_key_ref", set by the CLI after reading the config; NULL = none. */
extern const char *store_master_key_config_ref;
/* open + master key from the environment + unlock. */
int store_open_unlocked(const char *path, cb_store **out, cb_error *e);
void store_close(cb_store *s);

sdb *store_db(cb_store *s);
const char *store_path(const cb_store *s);
int store_key_version(const cb_store *s);
const char *store_key_source(const cb_store *s);   /* "env", "ref:<reference>", ... */
void store_get_kdf(const cb_store *s, store_kdf *out);

/* A second connection to the open, unlocked store s for a writer thread (store_sibling.c);
 * sync_normal: synchronous=NORMAL (WAL: durable across a process crash). Close with
 * store_close. After s is re-keyed, store_sibling_sync_key(sibling, s) copies the key;
 * store_stored_key_version tells (inside a transaction) whether that is needed. */
int store_open_sibling(cb_store *s, int sync_normal, cb_store **out, cb_error *e);
void store_sibling_sync_key(cb_store *dst, const cb_store *src);
int store_stored_key_version(cb_store *s);

/* Transactions (BEGIN IMMEDIATE so writers serialize across processes). */
int store_begin(cb_store *s, cb_error *e);
int store_commit(cb_store *s, cb_error *e);
void store_rollback(cb_store *s);

/* Seal/unseal with the DEK under the row's AAD. unseal: plaintext NUL-terminated,
 * free with cb_free_secret_n(pt, ptlen + 1). CB_ERR/CB_K_TAMPERED when it fails. */
int store_seal(cb_store *s, const char *table, const char *rowkey, const char *column,
               const void *pt, size_t ptlen, uint8_t **out, size_t *outlen);
int store_unseal(cb_store *s, const char *table, const char *rowkey, const char *column,
                 int key_version, const void *in, size_t inlen, char **pt, size_t *ptlen, cb_error *e);

/* ---- connections ---- */
typedef struct store_conn {
    char *name, *engine, *description, *source_ref, *redacted;
    char *url;            /* secret; only when asked to decrypt */
    int encrypted;        /* 0 when the row holds plaintext (needs key migrate) */
    int64_t created_at, updated_at, last_used, last_rotated;
} store_conn;
void store_conn_free(store_conn *c);
/* Adds (replace=0: fails if it exists) or replaces a connection. The URL is sealed;
 * `redacted` is ignored (kept for callers): only the name, engine, description, source
 * reference and timestamps are in clear, and store_conn.redacted reads NULL (derive it
 * with conn_fill_redacted, conn/conn_redacted.h). */
int store_conn_put(cb_store *s, const char *name, const char *engine, const char *url,
                   const char *redacted, const char *description, const char *source_ref,
                   int replace, cb_error *e);
int store_conn_get(cb_store *s, const char *name, int decrypt, store_conn *out, cb_error *e);
int store_conn_list(cb_store *s, store_conn **out, size_t *n, cb_error *e);
int store_conn_remove(cb_store *s, const char *name, cb_error *e);
int store_conn_touch(cb_store *s, const char *name, const char *field, cb_error *e); /* last_used / last_rotated = now */

/* ---- generic sealed values: provider cache, pending passwords, generated keys ---- */
typedef struct store_secret {
    char *ns, *name, *version, *meta;   /* meta: non-secret JSON text */
    char *value;                        /* secret */
    size_t len;
    int64_t fetched_at, updated_at;
} store_secret;
void store_secret_free(store_secret *v);
int store_secret_put(cb_store *s, const char *ns, const char *name, const char *value, size_t len,
                     const char *version, const char *meta_json, cb_error *e);
int store_secret_get(cb_store *s, const char *ns, const char *name, store_secret *out, cb_error *e);
int store_secret_delete(cb_store *s, const char *ns, const char *name, cb_error *e);
/* Metadata only (never values): array of {ns,name,version,fetched_at,updated_at,meta}. */
int store_secret_list(cb_store *s, const char *ns, json_t **out, cb_error *e);

/* Small sealed values in the meta table (audit head, API-key hashing key). They are
 * re-encrypted by store_rekey and checked by store_verify like every other row. */
int store_sealed_meta_put(cb_store *s, const char *name, const void *value, size_t len, cb_error *e);
/* *value: cb_free_secret_n(*value, *len + 1). CB_K_NOTFOUND when absent. */
int store_sealed_meta_get(cb_store *s, const char *name, char **value, size_t *len, cb_error *e);

/* ---- key management ---- */
/* Re-wraps the DEK under a KEK from new_master_key; with reencrypt also replaces the
 * DEK and re-encrypts every sealed row, verifying each round trip, in ONE transaction.
 * report (may be NULL) gets {"rows":N,"failures":[{table,row,column,error}]}.
 * Any failure rolls everything back. */
int store_rekey(cb_store *s, const char *new_master_key, int reencrypt, json_t *report, cb_error *e);
/* Seals every row that holds plaintext (after a manual insert). *migrated = count. */
int store_migrate_plaintext(cb_store *s, int *migrated, cb_error *e);
/* Authenticates and decrypts every sealed row; failures appended to `failures` as
 * {table,row,column,error}. Returns CB_EFINDINGS when any row fails. */
int store_verify(cb_store *s, json_t *failures, int *checked, cb_error *e);
/* Test hook: fail the re-encryption of the Nth row (1-based) to prove atomicity. */
extern long store_test_fail_reencrypt_at;

#endif
