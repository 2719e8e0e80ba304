#include "audit.h"
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "crypto.h"

const char *audit_cli_actor(void)
{
    static char buf[128];
    if (!buf[0]) {
        struct passwd *pw = getpwuid(geteuid());
        snprintf(buf, sizeof buf, "%s@cli", pw && pw->pw_name ? pw->pw_name : "uid");
    }
    return buf;
}

/* The bytes that are hashed: prev_hash || compact JSON array of the fields, in order. */
static int entry_hash(const uint8_t prev[32], int64_t id, int64_t ts, const char *actor,
                      const char *action, const char *target, const char *outcome, const char *detail,
                      int64_t dur, uint8_t out[32])
{
    json_t *a = json_pack("[I,I,s,s,s?,s,s?,I]", (json_int_t)id, (json_int_t)ts, actor, action, target, outcome,
                          detail, (json_int_t)dur);
    if (!a) return -1;
    char *txt = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(a);
    if (!txt) return -1;
    size_t n = strlen(txt);
    uint8_t *buf = cb_malloc(32 + n);
    memcpy(buf, prev, 32);
    memcpy(buf + 32, txt, n);
    int rc = cb_sha256(buf, 32 + n, out);
    free(buf);
    free(txt);
    return rc;
}

static int head_put(cb_store *s, int64_t id, const uint8_t hash[32], cb_error *e)
{
    char *hx = cb_hex_encode(hash, 32);
    char *v = cb_sprintf("%lld:%s", (long long)id, hx);
    int rc = store_sealed_meta_put(s, "audit_head", v, strlen(v), e);
    free(hx);
    free(v);
    return rc;
}

int audit_append(cb_store *s, const char *actor, const char *action, const char *target,
                 const char *outcome, json_t *detail, long duration_ms, cb_error *e)
{
    sdb *db = store_db(s);
    int own_tx = !sdb_in_transaction(db);
    if (own_tx && store_begin(s, e)) return e ? e->code : CB_ERR;
    uint8_t prev[32] = {0}, hash[32];
    int64_t id = 1;
    sdb_stmt *st = NULL;
    int rc = 0;
    if (sdb_prepare(db, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", &st) != SDB_OK) {
        rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "audit: %s", sdb_errmsg(db));
        goto out;
    }
    if (sdb_step(st) == SDB_ROW) {
        id = sdb_column_int64(st, 0) + 1;
        if (sdb_column_bytes(st, 1) == 32) memcpy(prev, sdb_column_blob(st, 1), 32);
    }
    sdb_finalize(st);
    st = NULL;
    char *dtxt = detail ? json_dumps(detail, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_SORT_KEYS) : NULL;
    int64_t ts = cb_now();
    if (entry_hash(prev, id, ts, actor, action, target, outcome, dtxt, duration_ms, hash)) {
        free(dtxt);
        rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "audit: hashing failed");
        goto out;
    }
    if (sdb_prepare(db, "INSERT INTO audit(id, ts, actor, action, target, outcome, detail, duration_ms, prev_hash, hash)"
                               " VALUES(?,?,?,?,?,?,?,?,?,?)", &st) != SDB_OK) {
        free(dtxt);
        rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "audit: %s", sdb_errmsg(db));
        goto out;
    }
    sdb_bind_int64(st, 1, id);
    sdb_bind_int64(st, 2, ts);
    sdb_bind_text(st, 3, actor, -1);
    sdb_bind_text(st, 4, action, -1);
    if (target) sdb_bind_text(st, 5, target, -1);
    sdb_bind_text(st, 6, outcome, -1);
    if (dtxt) sdb_bind_text(st, 7, dtxt, -1);
    sdb_bind_int64(st, 8, duration_ms);
    sdb_bind_blob(st, 9, prev, 32);
    sdb_bind_blob(st, 10, hash, 32);
    if (sdb_step(st) != SDB_DONE) rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "audit: %s", sdb_errmsg(db));
    sdb_finalize(st);
    st = NULL;
    free(dtxt);
    if (!rc) rc = head_put(s, id, hash, e);
out:
    if (st) sdb_finalize(st);
    if (own_tx) {
        if (rc) store_rollback(s);
        else rc = store_commit(s, e);
        cb_error ae = {0};
        if (!rc && audit_anchor_write(s, &ae)) LOG_WARN("%s", ae.msg);
    }
    return rc;
}

int audit_list(cb_store *s, int limit, int64_t since, json_t **out, cb_error *e)
{
    sdb *db = store_db(s);
    sdb_stmt *st;
    /* newest N, returned oldest first. Written for both backends: PostgreSQL wants the
     * subquery named and refuses a negative LIMIT (SQLite's "no limit"), so no limit is
     * INT64_MAX */
    const char *sql = "SELECT * FROM (SELECT id, ts, actor, action, target, outcome, detail, duration_ms FROM audit"
                      " WHERE ts >= ? ORDER BY id DESC LIMIT ?) AS newest ORDER BY id";
    if (sdb_prepare(db, sql, &st) != SDB_OK)
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "audit: %s", sdb_errmsg(db));
    sdb_bind_int64(st, 1, since);
    sdb_bind_int64(st, 2, limit > 0 ? limit : INT64_MAX);   /* PostgreSQL has no LIMIT -1 */
    json_t *arr = json_array();
    int rc;
    while ((rc = sdb_step(st)) == SDB_ROW) {
        char ts[32];
        cb_iso8601(sdb_column_int64(st, 1), ts);
        const char *target = (const char *)sdb_column_text(st, 4);
        const char *detail = (const char *)sdb_column_text(st, 6);
        json_t *d = detail ? json_loads(detail, 0, NULL) : NULL;
        json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:s,s:o,s:s,s:o,s:I}",
            "id", (json_int_t)sdb_column_int64(st, 0), "time", ts,
            "actor", (const char *)sdb_column_text(st, 2), "action", (const char *)sdb_column_text(st, 3),
            "target", target ? json_string(target) : json_null(), "outcome", (const char *)sdb_column_text(st, 5),
            "detail", d ? d : json_null(), "duration_ms", (json_int_t)sdb_column_int64(st, 7)));
    }
    if (rc != SDB_DONE) {
        /* a failed read is an error, never an empty (or cut short) audit log */
        int r = cb_fail(e, CB_ERR, CB_K_INTERNAL, "audit: %s", sdb_errmsg(db));
        sdb_finalize(st);
        json_decref(arr);
        return r;
    }
    sdb_finalize(st);
    *out = arr;
    return 0;
}

static void problem(json_t *arr, long long id, const char *what)
{
    if (arr) json_array_append_new(arr, json_pack("{s:I,s:s}", "id", (json_int_t)id, "problem", what));
}

int audit_verify(cb_store *s, json_t *problems, long *checked, cb_error *e)
{
    sdb *db = store_db(s);
    sdb_stmt *st;
    *checked = 0;
    if (sdb_prepare(db, "SELECT id, ts, actor, action, target, outcome, detail, duration_ms, prev_hash, hash"
                               " FROM audit ORDER BY id", &st) != SDB_OK)
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "audit: %s", sdb_errmsg(db));
    uint8_t prev[32] = {0}, h[32];
    long long expect_id = 1, last_id = 0;
    size_t before = problems ? json_array_size(problems) : 0;
    while (sdb_step(st) == SDB_ROW) {
        long long id = sdb_column_int64(st, 0);
        (*checked)++;
        if (id != expect_id) problem(problems, id, id < expect_id ? "entry out of order" : "entries missing before this one");
        const void *ph = sdb_column_blob(st, 8), *hh = sdb_column_blob(st, 9);
        if (sdb_column_bytes(st, 8) != 32 || sdb_column_bytes(st, 9) != 32 || memcmp(ph, prev, 32) != 0)
            problem(problems, id, "chain broken: previous hash does not match");
        if (entry_hash(ph && sdb_column_bytes(st, 8) == 32 ? ph : prev, id, sdb_column_int64(st, 1),
                       (const char *)sdb_column_text(st, 2), (const char *)sdb_column_text(st, 3),
                       (const char *)sdb_column_text(st, 4), (const char *)sdb_column_text(st, 5),
                       (const char *)sdb_column_text(st, 6), sdb_column_int64(st, 7), h) ||
            sdb_column_bytes(st, 9) != 32 || memcmp(h, hh, 32) != 0)
            problem(problems, id, "entry altered: hash does not match its content");
        if (sdb_column_bytes(st, 9) == 32) memcpy(prev, hh, 32);
        last_id = id;
        expect_id = id + 1;
    }
    sdb_finalize(st);
    /* the sealed head catches removal of the newest entries and a rewritten chain */
    char *head = NULL;
    size_t hl = 0;
    cb_error he = {0};
    int hr = store_sealed_meta_get(s, "audit_head", &head, &hl, &he);
    if (hr && he.kind != CB_K_NOTFOUND) {
        problem(problems, last_id, "audit head does not authenticate");
    } else if (hr && *checked > 0) {
        problem(problems, last_id, "audit head missing");
    } else if (!hr) {
        char *hx = cb_hex_encode(prev, 32);
        char *want = cb_sprintf("%lld:%s", last_id, hx);
        if (strcmp(want, head) != 0) problem(problems, last_id, "newest entries removed or chain rewritten (head mismatch)");
        free(hx);
        free(want);
        cb_free_secret_n(head, hl + 1);
    }
    size_t after = problems ? json_array_size(problems) : 0;
    if (after > before) return cb_fail(e, CB_EFINDINGS, CB_K_TAMPERED, "audit log: %zu problem(s) found", after - before);
    return 0;
}
