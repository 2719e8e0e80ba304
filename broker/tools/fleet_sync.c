/* Changes made elsewhere on the shared store, applied here (see fleet_sync.h). */
#include "fleet_sync.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "serve_ops.h"
#include "store/apikeys.h"
#include "store/leases.h"

struct fleet_sync {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    cb_store *s;                  /* own connection (a sibling with the key: lease logins are sealed) */
    int64_t dv, leases, policy, apikeys;
    int key_version;
    int key_failed;               /* the version this broker's master key could not open (logged once) */
    int64_t key_retry_ms;         /* then tried again every FLEET_KEY_RETRY_MS (a ref may be updated later) */
};
#define FLEET_KEY_RETRY_MS 2000

/* The latest state of each pooled login that is a lease: revoking or revoked means the
 * login is gone or going (its sessions were ended by the revoking broker's DROP). Logins
 * are sealed in the store, so the records are read with the key and matched here. */
static void drop_revoked_sessions(mcp_app *a, struct fleet_sync *f)
{
    size_t n = 0, m = 0;
    char **logins = mcp_pool_logins(a, &n);
    store_lease *ls = NULL;
    cb_error e = {0};
    if (n) {
        store_sibling_sync_key(f->s, a->store);   /* the shared handle's key may be newer */
        if (lease_list(f->s, 1, &ls, &m, &e)) LOG_WARN("fleet: cannot read the leases: %s", e.msg);
    }
    for (size_t i = 0; i < n; i++) {
        const store_lease *newest = NULL;   /* the list is oldest first */
        for (size_t j = 0; j < m; j++)
            if (ls[j].login && strcmp(ls[j].login, logins[i]) == 0) newest = &ls[j];
        if (newest && newest->state && (!strcmp(newest->state, "revoking") || !strcmp(newest->state, "revoked"))) {
            int k = mcp_pool_drop_login(a, logins[i]);
            cb_log_notice("fleet: lease login %s revoked elsewhere: %d pooled session(s) closed", logins[i], k);
        }
        free(logins[i]);
    }
    for (size_t j = 0; j < m; j++) store_lease_free(&ls[j]);
    free(ls);
    free(logins);
}

/* A new data key (key rotate --reencrypt by the CLI or another broker): open the store
 * afresh with this broker's master key source and copy the key into the shared handle;
 * the audit writer copies it from there at its next batch. A master key this broker no
 * longer has is logged and /healthz's key check fails until it is fixed and restarted. */
static void reload_key(mcp_app *a, struct fleet_sync *f, int kv)
{
    cb_store *fresh = NULL;
    cb_error e = {0};
    if (f->key_failed == kv && cb_now_ms() < f->key_retry_ms) return;
    if (store_open_unlocked(store_path(a->store), &fresh, &e)) {
        if (f->key_failed != kv)
            LOG_ERROR("fleet: the data key changed (key version %d) and this broker's master key does not open it: %s "
                      "(update its master key source; it is tried again every %d s)", kv, e.msg, FLEET_KEY_RETRY_MS / 1000);
        f->key_failed = kv;
        f->key_retry_ms = cb_now_ms() + FLEET_KEY_RETRY_MS;
        return;
    }
    f->key_failed = 0;
    pthread_mutex_lock(&a->store_mu);
    store_sibling_sync_key(a->store, fresh);
    pthread_mutex_unlock(&a->store_mu);
    f->key_version = store_key_version(fresh);
    store_close(fresh);
    mcp_auth_invalidate(a, 1);
    cb_log_notice("fleet: data key reloaded (key version %d)", f->key_version);
}

static void poll_once(mcp_app *a, struct fleet_sync *f)
{
    sdb *db = store_db(f->s);
    int64_t dv = sdb_data_version(db);
    /* nobody else committed: nothing to read (unless a new data key is still unopened) */
    if (dv >= 0 && dv == f->dv && !f->key_failed) return;
    f->dv = dv;
    int64_t g = store_generation(db, "leases");
    if (g >= 0 && g != f->leases) {
        f->leases = g;
        drop_revoked_sessions(a, f);
    }
    g = apikey_generation(db);
    if (g >= 0 && g != f->apikeys) {
        f->apikeys = g;
        mcp_auth_invalidate(a, 0);
    }
    int kv = store_stored_key_version(f->s);
    if (kv >= 0 && kv != f->key_version) reload_key(a, f, kv);
    g = store_generation(db, "policy");
    if (g >= 0 && g != f->policy) {
        f->policy = g;
        cb_log_notice("fleet: policy reload requested through the store (generation %lld)", (long long)g);
        serve_reload(a);
    }
}

static void *loop(void *arg)
{
    mcp_app *a = arg;
    struct fleet_sync *f = a->fleet;
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += FLEET_POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&f->cv, &f->mu, &until);
        if (f->stop) break;
        pthread_mutex_unlock(&f->mu);
        poll_once(a, f);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

int fleet_sync_start(mcp_app *a, cb_error *e)
{
    if (a->fleet) return 0;
    struct fleet_sync *f = cb_calloc(1, sizeof *f);
    if (store_open_sibling(a->store, 0, &f->s, e)) {
        free(f);
        cb_error_prefix(e, "store connection for changes by other brokers");
        return e->code ? e->code : CB_ERR;
    }
    sdb *db = store_db(f->s);
    f->dv = sdb_data_version(db);
    f->leases = store_generation(db, "leases");
    f->policy = store_generation(db, "policy");
    f->apikeys = apikey_generation(db);
    f->key_version = store_key_version(a->store);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    a->fleet = f;
    if (pthread_create(&f->th, NULL, loop, a) != 0) {
        a->fleet = NULL;
        store_close(f->s);
        free(f);
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot start the thread for changes by other brokers");
    }
    return 0;
}

void fleet_sync_stop(mcp_app *a)
{
    struct fleet_sync *f = a->fleet;
    if (!f) return;
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->th, NULL);
    store_close(f->s);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
    a->fleet = NULL;
}
