/* Bearer tokens for the HTTP transport, off the store's hot path. The API-key hashing key
 * is unsealed once and kept in memory (wiped on close); a verified token's principal is
 * cached by its keyed hash; the cache is dropped whenever the API keys' generation
 * changes (a key created or revoked, by this process or the CLI: a trigger bumps it), so a
 * revoked key stops working at its next request. A request costs one HMAC and one read of
 * the generation on this file's own connection (PostgreSQL: only when a NOTIFY said a
 * counter moved), never the store mutex. On SQLite the read is made at once: the
 * data_version pre-check moved on every call anyway (the audit writer's commit), and cost
 * a second read transaction (three more fcntl locks and a page read per request).
 *
 * Also the bootstrap key (a token from the environment, for a first client before any
 * API key exists): CREDBROKER_BOOTSTRAP_API_KEY. The old name CREDBROKER_API_KEY still
 * works but is deprecated, because client configurations used the same variable: a value
 * equal to a stored or revoked API key is never a bootstrap key. */
#include <stdlib.h>
#include <string.h>
#include "mcp_app.h"
#include "mcp_audit.h"
#include "store/apikeys.h"
#include "store/crypto.h"

#define CACHE_N 256
#define TOUCH_EVERY_S 60

typedef struct cache_ent {
    uint8_t mac[32];
    char *name, *policy;
    int64_t touched_s, used_ms;
} cache_ent;

struct mcp_auth {
    pthread_mutex_t mu;
    sdb *db;                /* own connection: reads api_keys and the generation */
    uint8_t key[32];            /* the HMAC key (secret) */
    int have_key;
    int64_t gen, data_version;
    cache_ent cache[CACHE_N];
};

static void cache_clear(struct mcp_auth *m)
{
    for (int i = 0; i < CACHE_N; i++) {
        free(m->cache[i].name);
        free(m->cache[i].policy);
    }
    memset(m->cache, 0, sizeof m->cache);
}

/* Changes when another connection commits (SQLite: PRAGMA data_version, prepared once by
 * the backend; every request runs it). */
static int64_t data_version(struct mcp_auth *m) { return sdb_data_version(m->db); }

static void load_key(mcp_app *a, struct mcp_auth *m)
{
    cb_error e = {0};
    pthread_mutex_lock(&a->store_mu);
    m->have_key = apikey_hmac_key_get(a->store, m->key, &e) == 0;
    pthread_mutex_unlock(&a->store_mu);
}

/* Reads the bootstrap key from the environment (HTTP serving only). */
static int bootstrap_from_env(mcp_app *a, cb_error *e)
{
    const char *bk = getenv("CREDBROKER_BOOTSTRAP_API_KEY"), *bp = getenv("CREDBROKER_BOOTSTRAP_API_KEY_POLICY");
    const char *var = "CREDBROKER_BOOTSTRAP_API_KEY";
    int old = 0;
    if (!bk || !*bk) {
        bk = getenv("CREDBROKER_API_KEY");
        bp = getenv("CREDBROKER_API_KEY_POLICY");
        var = "CREDBROKER_API_KEY";
        old = 1;
    }
    if (!bk || !*bk) return 0;
    if (old)
        LOG_WARN("credbroker: WARNING: CREDBROKER_API_KEY as the server's bootstrap key is deprecated (client "
                 "configurations use that name): use CREDBROKER_BOOTSTRAP_API_KEY");
    if (strlen(bk) < 32) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "%s is too short (at least 32 characters)", var);
    char *name = NULL;
    pthread_mutex_lock(&a->store_mu);
    int known = apikey_matches_any(a->store, bk, &name);
    pthread_mutex_unlock(&a->store_mu);
    if (known) {
        int rc = 0;
        if (old)
            LOG_WARN("credbroker: WARNING: CREDBROKER_API_KEY holds the API key '%s' (a client's key, maybe revoked): "
                     "it is NOT used as a bootstrap key", name);
        else
            rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "CREDBROKER_BOOTSTRAP_API_KEY equals the stored API key '%s' (active "
                                                     "or revoked): a bootstrap key must be a fresh value", name);
        free(name);
        return rc;
    }
    a->bootstrap_key = cb_strdup(bk);
    a->bootstrap_policy = cb_strdup(bp && *bp ? bp : "local");
    LOG_WARN("credbroker: WARNING: a bootstrap API key (%s) is active for client '%s': create API keys "
             "(credbroker apikey create) and unset it", var, a->bootstrap_policy);
    return 0;
}

int mcp_auth_open(mcp_app *a, cb_error *e)
{
    if (a->auth) return 0;
    struct mcp_auth *m = cb_calloc(1, sizeof *m);
    char err[512] = "";
    if (sdb_open(store_path(a->store), 0, &m->db, err, sizeof err) != SDB_OK) {
        free(m);
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot open the store for API keys: %s", err);
    }
    pthread_mutex_init(&m->mu, NULL);
    m->gen = apikey_generation(m->db);
    m->data_version = data_version(m);
    load_key(a, m);
    a->auth = m;
    return bootstrap_from_env(a, e);
}

void mcp_auth_close(mcp_app *a)
{
    struct mcp_auth *m = a->auth;
    if (!m) return;
    cache_clear(m);
    cb_wipe(m->key, sizeof m->key);
    sdb_close(m->db);
    pthread_mutex_destroy(&m->mu);
    free(m);
    a->auth = NULL;
}

/* Returns 0 and the key's name/policy, or -1. Under m->mu. */
static int verify_locked(mcp_app *a, struct mcp_auth *m, const char *token, char **name, char **policy)
{
    *name = *policy = NULL;
    int64_t dv = sdb_data_version_any_commit(m->db) ? -1 : data_version(m);
    if (dv < 0 || dv != m->data_version) { /* another connection committed: has a key changed? */
        m->data_version = dv;
        int64_t g = apikey_generation(m->db);
        if (g != m->gen) {
            m->gen = g;
            cache_clear(m);
            if (!m->have_key) load_key(a, m);
        }
    }
    if (!m->have_key) return -1; /* no API key exists */
    uint8_t mac[32];
    cb_hmac_sha256(m->key, sizeof m->key, token, strlen(token), mac);
    int64_t now = cb_now(), now_ms = cb_now_ms();
    cache_ent *lru = &m->cache[0];
    for (int i = 0; i < CACHE_N; i++) {
        cache_ent *c = &m->cache[i];
        if (c->name && cb_ct_equal(c->mac, mac, 32)) {
            c->used_ms = now_ms;
            if (now - c->touched_s >= TOUCH_EVERY_S) {
                c->touched_s = now;
                if (a->audit) mcp_audit_touch_key(a->audit, c->name);
            }
            *name = cb_strdup(c->name);
            *policy = cb_strdup(c->policy);
            return 0;
        }
        if (!c->name || c->used_ms < lru->used_ms) lru = c;
    }
    char pre[9];
    if (apikey_token_prefix(token, pre)) return -1;
    int64_t last = 0;
    if (apikey_lookup_mac(m->db, pre, mac, name, policy, &last) != 0) return -1;
    free(lru->name);
    free(lru->policy);
    memcpy(lru->mac, mac, 32);
    lru->name = cb_strdup(*name);
    lru->policy = cb_strdup(*policy);
    lru->used_ms = now_ms;
    lru->touched_s = last;
    if (now - last >= TOUCH_EVERY_S) {
        lru->touched_s = now;
        if (a->audit) mcp_audit_touch_key(a->audit, *name);
    }
    return 0;
}

int mcp_auth_authenticate(mcp_app *a, const char *token, char **principal, char **key_name, const char **how)
{
    *principal = *key_name = NULL;
    *how = "api_key";
    size_t tl = strlen(token);
    if (a->bootstrap_key && strlen(a->bootstrap_key) == tl && cb_ct_equal(a->bootstrap_key, token, tl)) {
        *how = "bootstrap_key";
        *key_name = cb_strdup("bootstrap");
        *principal = cb_strdup(a->bootstrap_policy);
        return 0;
    }
    struct mcp_auth *m = a->auth;
    if (!m) return -1;
    pthread_mutex_lock(&m->mu);
    int rc = verify_locked(a, m, token, key_name, principal);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

void mcp_auth_invalidate(mcp_app *a, int reload_key)
{
    struct mcp_auth *m = a->auth;
    if (!m) return;
    pthread_mutex_lock(&m->mu);
    cache_clear(m);
    if (reload_key) load_key(a, m);
    pthread_mutex_unlock(&m->mu);
}
