/* Finishing interrupted rotations (at start, or by the scheduler after a pause) and
 * listing the journal. */
#include <stdlib.h>
#include "rotation.h"
#include "rotation_internal.h"

static int resume_rows(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *actor, int64_t idle_s,
                       json_t *report, cb_error *e)
{
    json_t *rows = NULL;
    if (rotation_journal_list(s, &rows, e)) return e->code;
    int first = 0;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        const char *cred = json_string_value(json_object_get(row, "credential"));
        if (idle_s >= 0) {
            /* the scheduler leaves live owners alone and retries a failed row only after idle_s */
            const char *oh = json_string_value(json_object_get(row, "owner_host"));
            long op = (long)json_integer_value(json_object_get(row, "owner_pid"));
            int64_t upd = 0;
            cb_parse_iso8601(json_string_value(json_object_get(row, "updated_at")), &upd);
            if (rotation_owner_live(op, oh, upd)) continue;
            if (cb_now() - upd < idle_s) continue;
        }
        rotation_opts o = {.actor = actor, .resume_only = 1};
        json_t *rep = json_object();
        cb_error re = {0};
        int rc = rotation_run(s, p, cfg, cred, &o, rep, &re);
        if (report) json_array_append(report, rep);
        json_decref(rep);
        if (rc && !first) {
            first = rc;
            if (e) *e = re;
        }
    }
    json_decref(rows);
    return first;
}

int rotation_resume_all(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *actor, json_t *report, cb_error *e)
{
    return resume_rows(s, p, cfg, actor, -1, report, e);
}

int rotation_resume_idle(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *actor, int idle_s,
                         json_t *report, cb_error *e)
{
    return resume_rows(s, p, cfg, actor, idle_s < 0 ? 0 : idle_s, report, e);
}

int rotation_journal_list(cb_store *s, json_t **out, cb_error *e)
{
    *out = NULL;
    sdb_stmt *st;
    if (sdb_prepare(store_db(s),
                           "SELECT credential, id, step, strategy, meta_enc, meta_kv, connection, pending_version, started_at,"
                           " updated_at, owner_pid, owner_host, error_enc, error_kv FROM rotation_journal ORDER BY credential", &st) != SDB_OK)
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "journal: %s", sdb_errmsg(store_db(s)));
    json_t *arr = json_array();
    while (sdb_step(st) == SDB_ROW) {
        const char *cred = (const char *)sdb_column_text(st, 0);
        char *user = NULL, *err = NULL;
        /* the user and the error are sealed; a row that does not open is listed as such,
         * so the operator still sees it (and can discard it) */
        cb_error ue = {0};
        if (rotation_journal_meta(s, st, 4, 5, cred, &user, NULL, &ue) ||
            store_column_unsealed(s, st, 12, 13, "rotation_journal", cred, "error", &err, &ue)) {
            free(err);
            err = cb_strdup(ue.msg);
        }
        char t1[32], t2[32];
        cb_iso8601(sdb_column_int64(st, 8), t1);
        cb_iso8601(sdb_column_int64(st, 9), t2);
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s?,s:s,s:s,s:I,s:s?,s:s?}",
            "credential", cred, "id", sdb_column_text(st, 1), "step", sdb_column_text(st, 2),
            "strategy", sdb_column_text(st, 3), "user", user ? user : "", "connection", sdb_column_text(st, 6),
            "pending_version", sdb_column_text(st, 7), "started_at", t1, "updated_at", t2,
            "owner_pid", (json_int_t)sdb_column_int64(st, 10), "owner_host", sdb_column_text(st, 11),
            "error", err));
        free(user);
        free(err);
    }
    sdb_finalize(st);
    *out = arr;
    return 0;
}
