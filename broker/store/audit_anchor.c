/* The audit head anchored outside the store (rollback detection, see audit.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "audit.h"
#include "secrets/secret_provider.h"

static pthread_mutex_t anchor_mu = PTHREAD_MUTEX_INITIALIZER;
static char *anchor_ref, *last_written;

void audit_set_anchor(const char *ref)
{
    pthread_mutex_lock(&anchor_mu);
    free(anchor_ref);
    anchor_ref = ref && *ref ? cb_strdup(ref) : NULL;
    free(last_written);
    last_written = NULL;
    pthread_mutex_unlock(&anchor_mu);
}

int audit_has_anchor(void)
{
    pthread_mutex_lock(&anchor_mu);
    int r = anchor_ref != NULL;
    pthread_mutex_unlock(&anchor_mu);
    return r;
}

/* "<id>:<hex>" of the newest entry, or NULL when the log is empty. */
static char *head_text(cb_store *s)
{
    sdb_stmt *st;
    char *r = NULL;
    if (sdb_prepare(store_db(s), "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", &st) != SDB_OK)
        return NULL;
    if (sdb_step(st) == SDB_ROW && sdb_column_bytes(st, 1) == 32) {
        char *hx = cb_hex_encode(sdb_column_blob(st, 1), 32);
        r = cb_sprintf("%lld:%s", (long long)sdb_column_int64(st, 0), hx);
        free(hx);
    }
    sdb_finalize(st);
    return r;
}

/* Compares an anchor value with the store: NULL when the store holds the anchored
 * entry, else the problem (static or in buf). */
static const char *anchor_compare(cb_store *s, const char *value, long long *idp, char *buf, size_t bufn)
{
    long long id = 0;
    char hx[65] = "";
    *idp = 0;
    if (sscanf(value, "%lld:%64[0-9a-f]", &id, hx) != 2 || id <= 0 || strlen(hx) != 64) return "audit anchor is malformed";
    *idp = id;
    sdb_stmt *st;
    if (sdb_prepare(store_db(s), "SELECT (SELECT max(id) FROM audit), (SELECT hash FROM audit WHERE id = ?)", &st) != SDB_OK)
        return "audit: cannot read the log";
    sdb_bind_int64(st, 1, id);
    const char *problem = "audit: cannot read the log";
    if (sdb_step(st) == SDB_ROW) {
        long long last = sdb_column_int64(st, 0);
        problem = NULL;
        if (last < id) {
            snprintf(buf, bufn, "store rolled back: the audit log ends at entry %lld but the anchor records entry %lld",
                     last, id);
            problem = buf;
        } else if (sdb_column_bytes(st, 1) != 32) {
            problem = "store replaced: the anchored entry is missing";
        } else {
            char *have = cb_hex_encode(sdb_column_blob(st, 1), 32);
            if (strcmp(have, hx)) problem = "store replaced: the anchored entry differs from the anchor (another copy)";
            free(have);
        }
    }
    sdb_finalize(st);
    return problem;
}

int audit_anchor_write(cb_store *s, cb_error *e)
{
    pthread_mutex_lock(&anchor_mu);
    char *ref = cb_strdup(anchor_ref);
    pthread_mutex_unlock(&anchor_mu);
    if (!ref) return 0;
    char *head = head_text(s);
    int rc = 0;
    pthread_mutex_lock(&anchor_mu);
    int same = head && last_written && !strcmp(head, last_written);
    pthread_mutex_unlock(&anchor_mu);
    pthread_mutex_lock(&anchor_mu);
    int known = last_written != NULL;
    pthread_mutex_unlock(&anchor_mu);
    if (head && !same && !known) {
        /* never move the anchor off a store that lacks the anchored entry: that would
         * bless a rolled-back copy */
        secret_value v;
        cb_error fe = {0};
        if (secret_fetch(ref, &v, &fe) == 0) {
            char buf[200];
            long long id;
            const char *problem = anchor_compare(s, v.value, &id, buf, sizeof buf);
            secret_value_free(&v);
            if (problem) {
                rc = cb_fail(e, CB_EFINDINGS, CB_K_TAMPERED, "%s; the anchor is left unchanged (run credbroker audit verify)",
                             problem);
                free(head);
                free(ref);
                return rc;
            }
        } else if (fe.kind != CB_K_NOTFOUND) {
            free(head);
            free(ref);
            return cb_fail(e, fe.code ? fe.code : CB_ERR, fe.kind, "audit anchor: %s", fe.msg);
        }
    }
    if (head && !same) {
        secret_ref r;
        if (!(rc = secret_ref_parse(ref, &r, e))) {
            const secret_provider *p = secret_provider_for(r.scheme);
            void *ps = NULL;
            if (!p || !p->put) rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "audit anchor: %s:// cannot be written", r.scheme);
            else if (!(rc = p->open(&ps, e))) {
                char *ver = NULL;
                rc = p->put(ps, &r, head, NULL, NULL, &ver, e);
                free(ver);
                p->close(ps);
            }
            secret_ref_free(&r);
        }
        if (!rc) {
            pthread_mutex_lock(&anchor_mu);
            free(last_written);
            last_written = cb_strdup(head);
            pthread_mutex_unlock(&anchor_mu);
        } else {
            cb_error_prefix(e, "audit anchor");
        }
    }
    free(head);
    free(ref);
    return rc;
}

int audit_anchor_check(cb_store *s, json_t *problems, cb_error *e)
{
    pthread_mutex_lock(&anchor_mu);
    char *ref = cb_strdup(anchor_ref);
    pthread_mutex_unlock(&anchor_mu);
    if (!ref) return 0;
    secret_value v;
    int rc = secret_fetch(ref, &v, e);
    free(ref);
    if (rc) {
        if (e->kind == CB_K_NOTFOUND) {
            json_array_append_new(problems, json_pack("{s:I,s:s}", "id", (json_int_t)0, "problem",
                                                      "audit anchor has no value (never written, or removed)"));
            return cb_fail(e, CB_EFINDINGS, CB_K_TAMPERED, "audit anchor: no value");
        }
        cb_error_prefix(e, "audit anchor");
        return rc;
    }
    char buf[200];
    long long id = 0;
    const char *problem = anchor_compare(s, v.value, &id, buf, sizeof buf);
    secret_value_free(&v);
    if (!problem) return 0;
    json_array_append_new(problems, json_pack("{s:I,s:s}", "id", (json_int_t)id, "problem", problem));
    return cb_fail(e, CB_EFINDINGS, CB_K_TAMPERED, "%s", problem);
}
