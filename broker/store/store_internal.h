/* Shared by store.c, store_rows.c, store_keys.c and store_sibling.c only: the handle's inside and the
 * helpers each of them needs. Nothing outside store/ includes it. */
#ifndef CB_STORE_INTERNAL_H
#define CB_STORE_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "store.h"
#include "crypto.h"

struct cb_store {
    sdb *db;
    char *path;           /* the location sdb_open takes (never holds a password: refused) */
    char shown[1200];     /* the location for messages (sdb_describe) */
    int unlocked;
    uint8_t dek[CB_KEY_LEN];
    int key_version;
    store_kdf kdf;
    char key_source[256];
};

/* One-line error for a failed SQLite call (damaged store, busy, other). */
int store_i_sqlerr(cb_store *s, cb_error *e, const char *what);
/* AAD = "credbroker/v1" \0 table \0 rowkey \0 column \0 key_version. */
size_t store_i_aad(char *buf, size_t cap, const char *table, const char *rowkey, const char *column, int kv);
/* Opens a sealed value with an explicit DEK and key version; -1 when it does not authenticate. */
int store_i_unseal_with(const uint8_t *dek, const char *table, const char *rowkey, const char *column,
                        int kv, const void *in, size_t inlen, char **pt, size_t *ptlen);
/* Writes kdf params, salt, kcv and the wrapped DEK for a new KEK (inside a transaction). */
int store_i_write_key_meta(cb_store *s, const char *master, const uint8_t dek[CB_KEY_LEN], int key_version, cb_error *e);

#endif
