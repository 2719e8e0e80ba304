/* A second connection to an open, unlocked store for a writer thread (the MCP audit
 * writer): its own SQLite handle, so its commits never wait for the main handle's mutex,
 * and synchronous=NORMAL, which in WAL mode keeps every committed transaction across a
 * crash of the process (only a power loss can lose the last ones), so a group commit
 * needs no fsync per batch. The key is copied; store_sibling_sync_key follows a re-key. */
#include <stdlib.h>
#include <string.h>
#include "store.h"
#include "store_internal.h"

int store_open_sibling(cb_store *s, int sync_normal, cb_store **out, cb_error *e)
{
    *out = NULL;
    if (!s->unlocked) return cb_fail(e, CB_EKEY, CB_K_DENIED, "store is locked");
    cb_store *n = cb_calloc(1, sizeof *n);
    n->path = cb_strdup(s->path);
    memcpy(n->shown, s->shown, sizeof n->shown);
    char err[512] = "";
    if (sdb_open(s->path, sync_normal ? SDB_OPEN_SYNC_NORMAL : 0, &n->db, err, sizeof err) != SDB_OK) {
        int rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot open store %s: %s", s->shown, err);
        store_close(n);
        return rc;
    }
    store_sibling_sync_key(n, s);
    *out = n;
    return 0;
}

void store_sibling_sync_key(cb_store *dst, const cb_store *src)
{
    memcpy(dst->dek, src->dek, sizeof dst->dek);
    dst->key_version = src->key_version;
    dst->kdf = src->kdf;
    dst->unlocked = src->unlocked;
    memcpy(dst->key_source, src->key_source, sizeof dst->key_source);
}

int store_stored_key_version(cb_store *s)
{
    sdb_stmt *st;
    if (sdb_prepare(s->db, "SELECT v FROM meta WHERE k = 'key_version'", &st) != SDB_OK) return -1;
    int v = -1;
    if (sdb_step(st) == SDB_ROW) {
        const char *t = (const char *)sdb_column_text(st, 0);
        v = t ? atoi(t) : -1;
    }
    sdb_finalize(st);
    return v;
}
