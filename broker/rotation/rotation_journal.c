/* The journal row's sealed columns. The target user and publish_to name a database login
 * and a secret path, and an error can quote either: they are sealed ("meta": JSON
 * {"target_user","publish_to"}, "error") so a stolen store holds none of them; the
 * credential, connection, step, times and owner stay in clear for scheduling and resume. */
#include <stdlib.h>
#include <string.h>
#include "rotation_internal.h"
#include "store/store.h"

int rotation_journal_insert(cb_store *s, const char *credential, const char *id, const char *strategy,
                            const char *target, const char *connection, const char *publish_to, int64_t now,
                            long pid, const char *host, cb_error *e)
{
    json_t *o = json_pack("{s:s,s:s?}", "target_user", target ? target : "", "publish_to", publish_to);
    char *meta = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    sdb_stmt *st;
    int rc = 0;
    /* target_user (NOT NULL in the first schema) is written '' */
    if (sdb_prepare(store_db(s), "INSERT INTO rotation_journal(credential, id, step, strategy, target_user, connection,"
                                 " meta_enc, meta_kv, started_at, updated_at, owner_pid, owner_host)"
                                 " VALUES(?1,?2,'create',?3,'',?4,?5,?6,?7,?7,?8,?9)", &st) != SDB_OK) {
        free(meta);
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "journal: %s", sdb_errmsg(store_db(s)));
    }
    sdb_bind_text(st, 1, credential, -1);
    sdb_bind_text(st, 2, id, -1);
    sdb_bind_text(st, 3, strategy, -1);
    sdb_bind_text(st, 4, connection, -1);
    rc = store_bind_sealed(s, st, 5, 6, "rotation_journal", credential, "meta", meta, e);
    sdb_bind_int64(st, 7, now);
    sdb_bind_int64(st, 8, pid);
    sdb_bind_text(st, 9, host, -1);
    if (!rc && sdb_step(st) != SDB_DONE) {
        int ec = sdb_errcode(store_db(s));
        rc = cb_fail(e, CB_ERR, ec == SDB_BUSY ? CB_K_CONFLICT : CB_K_INTERNAL, "journal: %s", sdb_errmsg(store_db(s)));
    }
    sdb_finalize(st);
    free(meta);
    return rc;
}

int rotation_journal_meta(cb_store *s, sdb_stmt *st, int col, int kv_col, const char *credential, char **target,
                          char **publish_to, cb_error *e)
{
    *target = NULL;
    if (publish_to) *publish_to = NULL;
    char *meta = NULL;
    int rc = store_column_unsealed(s, st, col, kv_col, "rotation_journal", credential, "meta", &meta, e);
    if (rc) return rc;
    json_t *o = meta ? json_loads(meta, 0, NULL) : NULL;
    free(meta);
    if (!json_is_object(o)) {
        json_decref(o);
        /* the row has no sealed meta: one an older broker wrote and no unlocked open sealed */
        return cb_fail(e, CB_ERR, CB_K_TAMPERED, "journal of %s has no readable target user", credential);
    }
    const char *t = json_string_value(json_object_get(o, "target_user"));
    const char *p = json_string_value(json_object_get(o, "publish_to"));
    *target = t ? cb_strdup(t) : NULL;
    if (publish_to) *publish_to = p ? cb_strdup(p) : NULL;
    json_decref(o);
    return 0;
}

void rotation_journal_error(cb_store *s, const char *credential, const char *id, const char *msg)
{
    sdb_stmt *st;
    if (sdb_prepare(store_db(s), "UPDATE rotation_journal SET error_enc = ?1, error_kv = ?2, updated_at = ?3,"
                                 " owner_pid = 0 WHERE credential = ?4 AND id = ?5", &st) != SDB_OK)
        return;
    cb_error ig = {0};
    if (store_bind_sealed(s, st, 1, 2, "rotation_journal", credential, "error", msg, &ig) == 0) {
        sdb_bind_int64(st, 3, cb_now());
        sdb_bind_text(st, 4, credential, -1);
        sdb_bind_text(st, 5, id, -1);
        sdb_step(st);
    }
    sdb_finalize(st);
}
