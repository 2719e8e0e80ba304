/* The audit writer: see mcp_audit.h. */
#include "mcp_audit.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "store/audit.h"

#define AUDIT_QUEUE_MAX 10000

typedef struct audit_item {
    char *actor, *action, *target, *outcome; /* action NULL: touch api_keys.last_used of target */
    json_t *detail;
    long ms;
    uint64_t seq;
    struct audit_item *next;
} audit_item;

struct mcp_audit {
    cb_store *main, *db;
    pthread_mutex_t *main_mu;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv, space, done;
    audit_item *head, *tail;
    int len, stop;
    uint64_t seq, committed;          /* rows 1..committed are settled */
    uint64_t failed_from, failed_upto; /* the last batch that could not be committed */
    int committing;                    /* a batch is being written (by a caller or the thread) */
};

static void item_free(audit_item *it)
{
    free(it->actor);
    free(it->action);
    free(it->target);
    free(it->outcome);
    json_decref(it->detail);
    free(it);
}

static void touch_key(cb_store *db, const char *name)
{
    sdb_stmt *st;
    if (sdb_prepare(store_db(db), "UPDATE api_keys SET last_used = ? WHERE name = ?", &st) != SDB_OK)
        return;
    sdb_bind_int64(st, 1, cb_now());
    sdb_bind_text(st, 2, name, -1);
    sdb_step(st);
    sdb_finalize(st);
}

/* One transaction for the whole batch. A re-key on the main connection (re-encrypt:
 * new data key) is noticed inside the transaction and the key copied before writing. */
static int write_batch(mcp_audit *w, audit_item *batch)
{
    cb_error e = {0};
    for (int attempt = 0; attempt < 2; attempt++) {
        if (store_begin(w->db, &e)) {
            LOG_ERROR("mcp: audit: %s", e.msg);
            return -1;
        }
        if (store_stored_key_version(w->db) != store_key_version(w->db)) {
            store_rollback(w->db);
            pthread_mutex_lock(w->main_mu);
            store_sibling_sync_key(w->db, w->main);
            pthread_mutex_unlock(w->main_mu);
            continue;
        }
        int bad = 0;
        for (audit_item *it = batch; it && !bad; it = it->next) {
            if (!it->action) {
                touch_key(w->db, it->target);
                continue;
            }
            if (audit_append(w->db, it->actor, it->action, it->target, it->outcome, it->detail, it->ms, &e)) {
                LOG_ERROR("mcp: audit append failed: %s", e.msg);
                bad = 1;
            }
        }
        if (bad) {
            store_rollback(w->db);
            return -1;
        }
        if (store_commit(w->db, &e)) {
            LOG_ERROR("mcp: audit commit failed: %s", e.msg);
            return -1;
        }
        if (audit_anchor_write(w->db, &e)) LOG_WARN("%s", e.msg); /* the head outside the store (rollback check) */
        return 0;
    }
    LOG_ERROR("mcp: audit: the store's key changed under the writer");
    return -1;
}

/* Commits everything queued (the caller holds w->mu; nobody else is committing). The
 * committer is whoever needs it first: a caller waiting for its own row leads (no thread
 * hand-off when the server is quiet); under load, rows queued during a commit become the
 * next leader's batch (group commit). */
static void commit_queued_locked(mcp_audit *w)
{
    audit_item *batch = w->head;
    uint64_t from = batch->seq, upto = w->tail->seq;
    w->head = w->tail = NULL;
    w->len = 0;
    w->committing = 1;
    pthread_cond_broadcast(&w->space);
    pthread_mutex_unlock(&w->mu);
    int rc = write_batch(w, batch);
    while (batch) {
        audit_item *n = batch->next;
        item_free(batch);
        batch = n;
    }
    pthread_mutex_lock(&w->mu);
    w->committing = 0;
    w->committed = upto;
    if (rc) {
        w->failed_from = from;
        w->failed_upto = upto;
    }
    pthread_cond_broadcast(&w->done);
    if (w->head) pthread_cond_signal(&w->cv);
}

/* Commits rows nobody waits for (failed authentications, last_used) and drains at stop. */
static void *writer_main(void *arg)
{
    mcp_audit *w = arg;
    /* signals belong to the serving thread (sigtimedwait): never deliver them here */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!(w->head && !w->committing) && !(w->stop && !w->head && !w->committing))
            pthread_cond_wait(w->committing ? &w->done : &w->cv, &w->mu);
        if (!w->head) break; /* stopping and drained */
        commit_queued_locked(w);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

mcp_audit *mcp_audit_start(cb_store *main, pthread_mutex_t *main_mu, cb_error *e)
{
    mcp_audit *w = cb_calloc(1, sizeof *w);
    w->main = main;
    w->main_mu = main_mu;
    pthread_mutex_lock(main_mu);
    int rc = store_open_sibling(main, 1, &w->db, e);
    pthread_mutex_unlock(main_mu);
    if (rc) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_cond_init(&w->space, NULL);
    pthread_cond_init(&w->done, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        store_close(w->db);
        free(w);
        cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot start the audit writer");
        return NULL;
    }
    return w;
}

static uint64_t enqueue(mcp_audit *w, audit_item *it, int wake)
{
    pthread_mutex_lock(&w->mu);
    while (w->len >= AUDIT_QUEUE_MAX) pthread_cond_wait(&w->space, &w->mu);
    uint64_t seq = it->seq = ++w->seq; /* it belongs to the writer once unlocked */
    if (w->tail) w->tail->next = it;
    else w->head = it;
    w->tail = it;
    w->len++;
    if (wake) pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return seq;
}

int mcp_audit_write(mcp_audit *w, const char *actor, const char *action, const char *target, const char *outcome,
                    json_t *detail, long ms, int wait)
{
    audit_item *it = cb_calloc(1, sizeof *it);
    it->actor = cb_strdup(actor);
    it->action = cb_strdup(action);
    it->target = target ? cb_strdup(target) : NULL;
    it->outcome = cb_strdup(outcome);
    it->detail = detail ? json_incref(detail) : NULL;
    it->ms = ms;
    uint64_t seq = enqueue(w, it, !wait);
    if (!wait) return 0;
    pthread_mutex_lock(&w->mu);
    while (w->committed < seq) {
        if (!w->committing && w->head) commit_queued_locked(w); /* lead: commit it ourselves */
        else pthread_cond_wait(&w->done, &w->mu);
    }
    int failed = seq >= w->failed_from && seq <= w->failed_upto;
    pthread_mutex_unlock(&w->mu);
    return failed ? -1 : 0;
}

void mcp_audit_touch_key(mcp_audit *w, const char *name)
{
    audit_item *it = cb_calloc(1, sizeof *it);
    it->target = cb_strdup(name);
    enqueue(w, it, 1);
}

int mcp_audit_queue_len(mcp_audit *w)
{
    if (!w) return 0;
    pthread_mutex_lock(&w->mu);
    int n = w->len;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void mcp_audit_flush(mcp_audit *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    uint64_t seq = w->seq;
    while (w->committed < seq) {
        if (!w->committing && w->head) commit_queued_locked(w);
        else pthread_cond_wait(&w->done, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
}

void mcp_audit_stop(mcp_audit *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_cond_broadcast(&w->done);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    store_close(w->db);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->space);
    pthread_cond_destroy(&w->done);
    free(w);
}
