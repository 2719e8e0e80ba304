/* The MCP application: hooks (policy, audit, API keys), database session pool, serving. */
#include "mcp_app.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store/apikeys.h"
#include "store/audit.h"
#include "store/crypto.h"
#include "mcp_audit.h"
#include "conn/sources.h"
#include "rotation/rotation.h"
#include "obs.h"
#include "serve_ops.h"
#include "mcp_leases.h"
#include "fleet_sync.h"

#define CREDBROKER_MCP_VERSION "0.1.0"

mcp_rotate_fn mcp_app_rotate_hook = NULL;
void *mcp_app_rotate_arg = NULL;

static const char INSTRUCTIONS[] =
    "credbroker gives access to named database connections without ever revealing a credential. "
    "Use connections_list to see the connections you may use, schema_describe to learn their tables, "
    "and query_readonly (one statement, bound $1.. parameters, row and time limits) to read data. "
    "Never ask for passwords or connection strings: no tool accepts or returns them.";

/* ---------- policy ---------- */

void mcp_client_limits(const policy_client *c, db_limits *lim)
{
    lim->max_rows = c && c->max_rows > 0 ? c->max_rows : 1000;
    lim->statement_timeout_ms = c && c->statement_timeout_ms > 0 ? c->statement_timeout_ms : 5000;
    lim->max_bytes = c && c->max_bytes > 0 ? (size_t)c->max_bytes : (size_t)1 << 20;
}

int mcp_policy_authorize(const cb_policy *p, const char *principal, const char *tool, json_t *args, cb_error *e)
{
    const policy_client *c = principal ? policy_client(p, principal) : NULL;
    if (!c) return cb_fail(e, CB_ERR, CB_K_DENIED, "client '%.64s' has no policy", principal ? principal : "?");
    policy_client rw = *c; /* would the tool be granted to a read-write client? then say why not */
    rw.mode = POLICY_READ_WRITE;
    if (tool && c->mode != POLICY_READ_WRITE && policy_tool_class_of(tool) == POLICY_TOOL_WRITE &&
        policy_client_may_call(&rw, tool))
        return cb_fail(e, CB_ERR, CB_K_DENIED, "client '%s' is read-only: %.128s needs mode read-write", c->name, tool);
    if (!tool || !policy_client_may_call(c, tool))
        return cb_fail(e, CB_ERR, CB_K_DENIED, "client '%s' may not call %.128s%s", c->name, tool ? tool : "?",
                       tool && policy_tool_class_of(tool) == POLICY_TOOL_ADMIN
                           ? " (an admin tool: \"*\" does not grant it; name it in the client's tools)" : "");
    if (!args) return 0;
    json_t *cn = json_object_get(args, "connection");
    if (cn && (!json_is_string(cn) || !policy_client_may_use(c, json_string_value(cn))))
        return cb_fail(e, CB_ERR, CB_K_DENIED, "client '%s' may not use connection '%.64s'", c->name,
                       json_is_string(cn) ? json_string_value(cn) : "?");
    json_t *cr = json_object_get(args, "credential");
    if (cr) {
        const policy_credential *pc = json_is_string(cr) ? policy_credential(p, json_string_value(cr)) : NULL;
        if (!pc) return cb_fail(e, CB_ERR, CB_K_DENIED, "unknown credential '%.64s'", json_is_string(cr) ? json_string_value(cr) : "?");
        if (!policy_client_may_use(c, pc->connection))
            return cb_fail(e, CB_ERR, CB_K_DENIED, "client '%s' may not use connection '%s' (credential '%s')", c->name,
                           pc->connection, pc->name);
    }
    return 0;
}

char *mcp_sanitize(const char *msg, const char *password)
{
    char *r = conn_redact_text(msg ? msg : "", password);
    for (char *p = r; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    return r;
}

int mcp_sanitize_error(cb_error *e, const char *password)
{
    char *m = mcp_sanitize(e->msg, password);
    int code = e->code ? e->code : CB_ERR, kind = e->kind;
    cb_fail(e, code, kind, "%s", m);
    cb_free_secret(m);
    return code;
}

/* ---------- hooks ---------- */

static int rate_take(mcp_app *a, const policy_client *c, cb_error *e)
{
    if (!c->rate_limit_per_min) return 0;
    int rc = 0;
    pthread_mutex_lock(&a->pool_mu);
    int i;
    for (i = 0; i < a->nbuckets; i++)
        if (!strcmp(a->buckets[i].name, c->name)) break;
    int64_t now = cb_now_ms();
    if (i == a->nbuckets && i < (int)(sizeof a->buckets / sizeof a->buckets[0])) {
        snprintf(a->buckets[i].name, sizeof a->buckets[i].name, "%s", c->name);
        a->buckets[i].tokens = c->rate_limit_per_min;
        a->buckets[i].last_ms = now;
        a->nbuckets++;
    }
    if (i < a->nbuckets) {
        double cap = c->rate_limit_per_min;
        a->buckets[i].tokens += (double)(now - a->buckets[i].last_ms) * cap / 60000.0;
        if (a->buckets[i].tokens > cap) a->buckets[i].tokens = cap;
        a->buckets[i].last_ms = now;
        if (a->buckets[i].tokens >= 1.0) a->buckets[i].tokens -= 1.0;
        else rc = cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "rate limit of %d calls per minute for client '%s' exceeded",
                          c->rate_limit_per_min, c->name);
    }
    pthread_mutex_unlock(&a->pool_mu);
    return rc;
}

static int hook_authorize(void *app, const char *principal, const char *tool, json_t *args, cb_error *e)
{
    mcp_app *a = app;
    int rc = mcp_policy_authorize(a->pol, principal, tool, args, e);
    if (rc || !args) return rc;
    return rate_take(a, policy_client(a->pol, principal), e);
}

/* Audit rows go through the writer (mcp_audit.c) once serving: a tools/call's row is
 * committed before its response leaves (wait). Before that (no writer) they are written
 * directly. */
static void audit_enqueue(mcp_app *a, const char *actor, const char *action, const char *target, const char *outcome,
                          json_t *detail, long ms, int wait)
{
    if (!a->audit) {
        cb_error e = {0};
        pthread_mutex_lock(&a->store_mu);
        if (audit_append(a->store, actor, action, target, outcome, detail, ms, &e))
            LOG_ERROR("mcp: audit append failed: %s", e.msg);
        pthread_mutex_unlock(&a->store_mu);
        return;
    }
    mcp_audit_write(a->audit, actor, action, target, outcome, detail, ms, wait);
}

void mcp_app_audit_flush(mcp_app *a) { mcp_audit_flush(a->audit); }

static void hook_audit(void *app, const mcp_audit_event *ev)
{
    mcp_app *a = app;
    json_t *d = json_pack("{s:s,s:s,s:s?,s:s?,s:s?}", "tool", ev->tool, "transport", ev->transport, "client_name",
                          ev->client_name, "message", ev->message, "addr", mcp_request_peer());
    obs_tool_call(ev);
    const char *target = NULL;
    if (json_is_object(ev->summary)) {
        json_object_update(d, ev->summary);
        target = json_string_value(json_object_get(ev->summary, "connection"));
        if (!target) target = json_string_value(json_object_get(ev->summary, "credential"));
    }
    char *actor = cb_sprintf("mcp:%s", ev->principal ? ev->principal : "?");
    char *action = cb_sprintf("mcp.%s", ev->tool);
    audit_enqueue(a, actor, action, target, ev->outcome, d, (long)ev->duration_ms, 1);
    free(actor);
    free(action);
    json_decref(d);
}

static int hook_authenticate(void *app, const char *token, char **principal, cb_error *e)
{
    mcp_app *a = app;
    *principal = NULL;
    char *name = NULL, *policy = NULL;
    const char *how = "api_key";
    /* mcp_auth.c: in-memory hashing key and token cache; no store mutex */
    int rc = mcp_auth_authenticate(a, token, &policy, &name, &how);
    char pre[9] = "";
    if (apikey_token_prefix(token, pre)) pre[0] = 0;
    const char *why = rc ? "invalid API key" : NULL;
    if (rc) rc = cb_fail(e, CB_ERR, CB_K_DENIED, "invalid API key");
    if (!rc && !policy_client(a->pol, policy)) {
        why = "the key's policy client is not defined";
        rc = cb_fail(e, CB_ERR, CB_K_DENIED, "invalid API key");
    }
    /* successes are visible in every call's audit row; record failures (and bootstrap
     * use) without making the HTTP thread wait for the disk */
    if (rc) obs_auth_failure(rc && name ? "no_policy" : "invalid_key");
    if (rc || strcmp(how, "bootstrap_key") == 0) {
        json_t *d = json_pack("{s:s,s:s?,s:s?,s:s?,s:s?,s:s?}", "method", how, "key", name, "policy", policy, "prefix",
                              pre[0] ? pre : NULL, "reason", why, "addr", mcp_request_peer());
        audit_enqueue(a, "mcp:http", "mcp.authenticate", name, rc ? "denied" : "ok", d, 0, 0);
        json_decref(d);
    }
    if (!rc) mcp_key_remember(policy, name); /* tools find the key's attributes (session_settings) */
    free(name);
    if (rc) {
        free(policy);
        return rc;
    }
    *principal = policy;
    return 0;
}

/* ---------- database sessions ---------- */

static int resolve(mcp_app *a, const char *name, conn_url *u, uint8_t hash[32], cb_error *e)
{
    store_conn sc = {0};
    int stale = 0;
    pthread_mutex_lock(&a->store_mu);
    int rc = conn_resolve(a->store, a->cfg, name, &sc, &stale, e);
    pthread_mutex_unlock(&a->store_mu);
    if (rc) {
        mcp_sanitize_error(e, NULL);
        return rc;
    }
    if (!sc.url) {
        store_conn_free(&sc);
        return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "connection '%s' has no URL yet", name);
    }
    if (hash) cb_sha256(sc.url, strlen(sc.url), hash);
    rc = conn_url_parse(sc.url, sc.engine, u, e);
    store_conn_free(&sc);
    if (rc) return cb_fail(e, CB_ERR, CB_K_INVALID, "connection '%s' has an invalid stored URL", name);
    /* requirements.min_sslmode holds for MCP queries too, not only for rotation */
    if (a->pol && (rc = rotation_check_sslmode(u, a->pol->requirements.min_sslmode, name, e))) conn_url_free(u);
    return rc;
}

int mcp_conn_url(mcp_app *a, const char *name, conn_url *u, cb_error *e) { return resolve(a, name, u, NULL, e); }

static void slot_clear(mcp_pool_entry *p)
{
    cb_free_secret(p->password);
    p->password = NULL;
    p->conn = NULL;
    p->in_use = 0;
    p->doomed = 0;
}

int mcp_pool_drop_login(mcp_app *a, const char *login)
{
    db_conn **old = cb_calloc((size_t)a->pool_n + 1, sizeof *old);
    const db_target **old_t = cb_calloc((size_t)a->pool_n + 1, sizeof *old_t);
    int n = 0, found = 0;
    pthread_mutex_lock(&a->pool_mu);
    for (int i = 0; i < a->pool_n; i++) {
        mcp_pool_entry *p = &a->pool[i];
        if (!p->conn || strcmp(p->login, login)) continue;
        found++;
        if (p->in_use) {
            p->doomed = 1; /* the call keeps its session; release closes it */
            continue;
        }
        old[n] = p->conn;
        old_t[n++] = p->t;
        slot_clear(p);
    }
    pthread_cond_broadcast(&a->pool_cv);
    pthread_mutex_unlock(&a->pool_mu);
    for (int i = 0; i < n; i++) old_t[i]->close(old[i]); /* outside the lock: a close may wait for the network */
    free(old);
    free(old_t);
    return found;
}

char **mcp_pool_logins(mcp_app *a, size_t *n)
{
    char **v = cb_calloc((size_t)a->pool_n + 1, sizeof *v);
    *n = 0;
    pthread_mutex_lock(&a->pool_mu);
    for (int i = 0; i < a->pool_n; i++) {
        if (!a->pool[i].conn || !a->pool[i].login[0]) continue;
        int dup = 0;
        for (size_t j = 0; j < *n && !dup; j++) dup = !strcmp(v[j], a->pool[i].login);
        if (!dup) v[(*n)++] = cb_strdup(a->pool[i].login);
    }
    pthread_mutex_unlock(&a->pool_mu);
    return v;
}

int mcp_db_acquire(mcp_app *a, const char *principal, const char *name, mcp_db *db, cb_error *e)
{
    memset(db, 0, sizeof *db);
    if (!principal) principal = "";
    db_limits lim;
    mcp_client_limits(policy_client(a->pol, principal), &lim);
    int64_t now = cb_now_ms();
    /* fast path: an idle session of this client checked against the store very recently */
    pthread_mutex_lock(&a->pool_mu);
    for (int i = 0; i < a->pool_n; i++) {
        mcp_pool_entry *p = &a->pool[i];
        if (p->conn && !p->in_use && !strcmp(p->name, name) && !strcmp(p->client, principal) &&
            now - p->resolved_ms < MCP_POOL_RECHECK_MS) {
            p->in_use = 1;
            db->slot = p;
            db->conn = p->conn;
            db->t = p->t;
            db->password = cb_strdup(p->password);
            break;
        }
    }
    pthread_mutex_unlock(&a->pool_mu);
    if (db->slot) return 0;

    conn_url u;
    uint8_t h[32];
    if (resolve(a, name, &u, h, e)) return CB_ERR;
    /* leases: the URL's login may be replaced here (a query_identity: the client's leased login) */
    if (mcp_lease_apply(a, principal, name, &u, h, e)) { conn_url_free(&u); return CB_ERR; }
    const db_target *t = db_target_for(u.engine);
    if (!t || !t->connect) {
        int rc = cb_fail(e, CB_ERR, CB_K_INVALID, "connection '%s': engine %s is not supported for queries", name, u.engine);
        conn_url_free(&u);
        return rc;
    }
    /* the key is taken from the URL as it is now: login and password included */
    char login[129];
    snprintf(login, sizeof login, "%s", u.user ? u.user : "");
    {
        cb_buf kb;
        cb_buf_init(&kb, 1);
        cb_buf_append(&kb, h, sizeof h);
        cb_buf_append(&kb, login, strlen(login) + 1);
        if (u.password) cb_buf_puts(&kb, u.password);
        cb_sha256(kb.data, kb.len, h);
        cb_buf_free(&kb);
    }
    db->t = t;
    db->password = cb_strdup(u.password);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += lim.statement_timeout_ms / 1000;
    until.tv_nsec += (long)(lim.statement_timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }

    /* sessions to close once the lock is released: stale ones (at most pool_n + 1 while
     * waiting) and one evicted for the reservation */
    db_conn **old = cb_calloc((size_t)a->pool_n + 2, sizeof *old);
    const db_target **old_t = cb_calloc((size_t)a->pool_n + 2, sizeof *old_t);
    int nold = 0, fresh = 0, busy = 0, total = 0, mine = 0, waited = 0;
    pthread_mutex_lock(&a->pool_mu);
    for (;;) {
        int take = -1, free_slot = -1, victim = -1, victim_mine = -1;
        total = mine = 0;
        for (int i = 0; i < a->pool_n; i++) {
            mcp_pool_entry *p = &a->pool[i];
            if (!p->conn && !p->in_use) {
                if (free_slot < 0) free_slot = i;
                continue;
            }
            int own = !strcmp(p->client, principal);
            if (p->in_use) { total++; mine += own; continue; }
            if (own && !strcmp(p->name, name) && !strcmp(p->login, login)) {
                if (memcmp(p->url_hash, h, 32) != 0) { /* the URL changed (rotation): drop the old session */
                    if (nold > a->pool_n) { total++; mine++; continue; } /* closed by a later call */
                    old_t[nold] = p->t;
                    old[nold++] = p->conn;
                    slot_clear(p);
                    if (free_slot < 0) free_slot = i;
                    continue;
                }
                if (take < 0) take = i;
            } else if (own) {
                if (victim_mine < 0 || p->used_ms < a->pool[victim_mine].used_ms) victim_mine = i;
            } else if (victim < 0 || p->used_ms < a->pool[victim].used_ms) {
                victim = i;
            }
            total++;
            mine += own;
        }
        if (take >= 0) {
            mcp_pool_entry *p = &a->pool[take];
            p->in_use = 1;
            p->resolved_ms = now;
            db->slot = p;
            db->conn = p->conn;
            break;
        }
        /* a new session: within the client's cap, in a free slot or instead of the least
         * recently used idle session (of this client when it is at its cap) */
        int slot = -1;
        if (mine < a->pool_per_client) slot = free_slot >= 0 ? free_slot : victim >= 0 ? victim : victim_mine;
        else slot = victim_mine;
        if (slot >= 0) {
            mcp_pool_entry *p = &a->pool[slot];
            if (p->conn) { /* (the reservation ends the loop: at most one of these) */
                old_t[nold] = p->t;
                old[nold++] = p->conn;
                slot_clear(p);
            }
            snprintf(p->client, sizeof p->client, "%s", principal);
            snprintf(p->name, sizeof p->name, "%s", name);
            snprintf(p->login, sizeof p->login, "%s", login);
            memcpy(p->url_hash, h, 32);
            p->t = t;
            p->password = cb_strdup(db->password);
            p->resolved_ms = now;
            p->in_use = 1; /* reserved: counted while it connects */
            db->slot = p;
            fresh = 1;
            break;
        }
        /* every session this call could use is busy: wait for one (counted for /metrics
         * and the monitor's pool-saturation rule) */
        if (!waited) obs_pool_saturated();
        waited = 1;
        obs_pool_waiting_set(++a->pool_waiting);
        int w = pthread_cond_timedwait(&a->pool_cv, &a->pool_mu, &until);
        obs_pool_waiting_set(--a->pool_waiting);
        if (w != 0) {
            busy = 1;
            break;
        }
        now = cb_now_ms();
    }
    pthread_mutex_unlock(&a->pool_mu);
    for (int i = 0; i < nold; i++) old_t[i]->close(old[i]);
    free(old);
    free(old_t);
    if (busy) {
        conn_url_free(&u);
        cb_free_secret(db->password);
        memset(db, 0, sizeof *db);
        return cb_fail(e, CB_ERR, CB_K_UNAVAILABLE,
                       "busy: no free database session for client '%s' within %d ms (%d of %d in use by this client, "
                       "%d of %d in total); try again",
                       principal, lim.statement_timeout_ms, mine, a->pool_per_client, total, a->pool_n);
    }
    if (!fresh) {
        conn_url_free(&u);
        return 0;
    }
    int rc = t->connect(&u, &db->conn, e);
    conn_url_free(&u);
    pthread_mutex_lock(&a->pool_mu);
    if (rc) slot_clear(db->slot);
    else db->slot->conn = db->conn;
    pthread_cond_broadcast(&a->pool_cv);
    pthread_mutex_unlock(&a->pool_mu);
    if (rc) {
        char *m = mcp_sanitize(e->msg, db->password);
        cb_fail(e, CB_ERR, e->kind, "%s", m);
        cb_free_secret(m);
        cb_free_secret(db->password);
        memset(db, 0, sizeof *db);
        return rc;
    }
    return 0;
}

void mcp_db_release(mcp_app *a, mcp_db *db)
{
    if (!db->t) return;
    db_conn *close_it = NULL;
    if (db->slot) {
        pthread_mutex_lock(&a->pool_mu);
        if (db->broken || db->slot->doomed) {
            close_it = db->slot->conn;
            slot_clear(db->slot);
        } else {
            db->slot->in_use = 0;
            db->slot->used_ms = cb_now_ms();
        }
        pthread_cond_broadcast(&a->pool_cv);
        pthread_mutex_unlock(&a->pool_mu);
    } else {
        close_it = db->conn;
    }
    if (close_it) db->t->close(close_it);
    cb_free_secret(db->password);
    memset(db, 0, sizeof *db);
}

/* ---------- lifecycle ---------- */

int mcp_app_open(const cb_paths *paths, mcp_app **out, cb_error *e)
{
    *out = NULL;
    mcp_app *a = cb_calloc(1, sizeof *a);
    a->paths = paths;
    pthread_mutex_init(&a->store_mu, NULL);
    pthread_mutex_init(&a->pool_mu, NULL);
    pthread_cond_init(&a->pool_cv, NULL);
    a->rotate = mcp_app_rotate_hook;
    a->rotate_arg = mcp_app_rotate_arg;
    int rc;
    cb_diags cd = {0};
    rc = config_load(paths->config_path, config_path_explicit(paths->config_path), &a->cfg, &cd, e);
    cb_diags_free(&cd);
    if (rc) goto fail;
    cb_diags *dg = NULL;
    rc = policy_load(paths->policies_dir, &a->pol, dg, e);
    if (rc && e->kind == CB_K_NOTFOUND) {
        LOG_WARN("credbroker: no policy directory (%s): every MCP client is denied until policies exist",
                 paths->policies_dir ? paths->policies_dir : POLICY_DEFAULT_DIR);
        a->pol = policy_new();
        memset(e, 0, sizeof *e);
        rc = 0;
    } else if (rc) {
        goto fail;
    }
    if ((rc = store_open_unlocked(paths->db_path, &a->store, e))) goto fail;
    a->pool_n = a->cfg && a->cfg->pool_max > 0 ? a->cfg->pool_max : CONFIG_POOL_MAX;
    a->pool_per_client = a->cfg && a->cfg->pool_per_client > 0 ? a->cfg->pool_per_client : CONFIG_POOL_PER_CLIENT;
    if (a->pool_per_client > a->pool_n) a->pool_per_client = a->pool_n;
    a->pool = cb_calloc((size_t)a->pool_n, sizeof *a->pool);
    *out = a;
    return 0;
fail:
    mcp_app_close(a);
    return rc ? rc : CB_ERR;
}

void mcp_app_close(mcp_app *a)
{
    if (!a) return;
    fleet_sync_stop(a);
    mcp_audit_stop(a->audit); /* drain the audit queue before the store closes */
    mcp_auth_close(a);
    obs_detach(a);
    mcp_server_free(a->srv);
    serve_ops_cleanup(a);
    for (int i = 0; i < a->pool_n; i++) {
        if (a->pool[i].conn) a->pool[i].t->close(a->pool[i].conn);
        slot_clear(&a->pool[i]);
    }
    free(a->pool);
    if (a->store) store_close(a->store);
    config_free(a->cfg);
    policy_free(a->pol);
    cb_free_secret(a->bootstrap_key);
    free(a->bootstrap_policy);
    pthread_mutex_destroy(&a->store_mu);
    pthread_mutex_destroy(&a->pool_mu);
    pthread_cond_destroy(&a->pool_cv);
    free(a);
}

/* A tool that says it changes something must not be in the read-only class, which "*"
 * grants: the class table (policy/tool_class.c) and the tool files must agree. */
static int mcp_tool_class_check(const mcp_tool *t, cb_error *e)
{
    if (!t->read_only && policy_tool_class_of(t->name) == POLICY_TOOL_READ)
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "tool %s changes state but is in the read-only class", t->name);
    return 0;
}

/* Every tool file's set, in tools/list order. */
static const mcp_tool_set *const TOOL_SETS[] = {&mcp_tools_query, &mcp_tools_security, &mcp_tools_rotation,
                                                &mcp_tools_audit,
                                                &mcp_tools_monitor};

mcp_server *mcp_app_server(mcp_app *a, cb_error *e)
{
    if (a->srv) return a->srv;
    mcp_hooks hk = {.app = a, .authorize = hook_authorize, .audit = hook_audit, .authenticate = hook_authenticate,
                    .http_deny_403 = 1};
    mcp_server *s = mcp_server_new(CREDBROKER_MCP_VERSION, INSTRUCTIONS, &hk);
    for (size_t i = 0; i < sizeof TOOL_SETS / sizeof TOOL_SETS[0]; i++) {
        const mcp_tool_set *ts = TOOL_SETS[i];
        if (ts->needs_rotate && !a->rotate) continue;
        for (size_t j = 0; j < ts->n; j++)
            if (mcp_tool_class_check(&ts->tools[j], e) || mcp_server_add_tool(s, &ts->tools[j], e)) {
                mcp_server_free(s);
                return NULL;
            }
    }
    if (a->cfg && a->cfg->http.max_batch > 0) mcp_server_set_max_batch(s, a->cfg->http.max_batch);
    if (a->cfg && a->cfg->rate_per_min > 0) {
        int burst = a->cfg->rate_burst > 0 ? a->cfg->rate_burst : a->cfg->rate_per_min;
        int window = burst * 60 / a->cfg->rate_per_min;
        mcp_server_set_call_limit(s, burst, window > 0 ? window : 1);
    }
    if (!a->audit && !(a->audit = mcp_audit_start(a->store, &a->store_mu, e))) {
        mcp_server_free(s);
        return NULL;
    }
    a->srv = s;
    return s;
}

int mcp_app_serve_stdio(mcp_app *a, cb_error *e)
{
    mcp_server *s = mcp_app_server(a, e);
    if (!s) return e->code;
    LOG_INFO("credbroker: MCP on stdio (client 'local')");
    return mcp_stdio_serve(s, 0, 1, 0) ? CB_ERR : 0;
}

static char *read_file(const char *path, cb_error *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cb_fail(e, CB_EUSAGE, CB_K_NOTFOUND, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    cb_buf b;
    cb_buf_init(&b, 1);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0 && b.len < (1u << 20)) cb_buf_append(&b, tmp, n);
    cb_wipe(tmp, sizeof tmp);
    fclose(f);
    return cb_buf_steal(&b);
}

static int host_is_loopback(const char *listen)
{
    return !strncmp(listen, "127.", 4) || !strncmp(listen, "[::1]:", 6) || !strncmp(listen, "localhost:", 10);
}

int mcp_app_serve_http(mcp_app *a, const char *listen_override, const char *tls_cert_file, const char *tls_key_file,
                       int (*tick)(void *arg), void *tick_arg, int tick_interval_s, cb_error *e)
{
    mcp_server *s = mcp_app_server(a, e);
    if (!s) return e->code;
    if (mcp_auth_open(a, e)) return e->code ? e->code : CB_ERR; /* API keys; bootstrap key from the environment */
    const char *listen = listen_override ? listen_override : a->cfg && a->cfg->listen ? a->cfg->listen : CONFIG_DEFAULT_LISTEN;
    const char *cf = tls_cert_file ? tls_cert_file : a->cfg ? a->cfg->tls_cert : NULL;
    const char *kf = tls_key_file ? tls_key_file : a->cfg ? a->cfg->tls_key : NULL;
    if (!cf != !kf) {
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "TLS needs both --tls-cert and --tls-key");
    }
    char *cert = NULL, *key = NULL;
    if (cf && (!(cert = read_file(cf, e)) || !(key = read_file(kf, e)))) {
        free(cert);
        return e->code;
    }
    const char *origins[65] = {0}, *hosts[65] = {0};
    for (size_t i = 0; a->cfg && i < a->cfg->norigins && i < 64; i++) origins[i] = a->cfg->allowed_origins[i];
    for (size_t i = 0; a->cfg && i < a->cfg->nhosts && i < 64; i++) hosts[i] = a->cfg->allowed_hosts[i];
    char *mtok = NULL;
    if (serve_metrics_token(a, &mtok, e)) {
        free(cert);
        cb_free_secret(key);
        return e->code;
    }
    obs_attach(a);
    obs_set_tick_interval(tick ? tick_interval_s : 0);

    mcp_http_opts o = {.listen = listen, .tls_cert_pem = cert, .tls_key_pem = key, .allowed_origins = origins,
                       .allowed_hosts = hosts, .metrics_token = mtok, .health = obs_health, .health_arg = a};
    if (a->cfg) { /* credbroker.json "http" (0 = the transport's default) */
        o.max_connections = a->cfg->http.max_connections;
        o.max_sessions = a->cfg->http.max_sessions;
        o.max_sessions_per_key = a->cfg->http.max_sessions_per_key;
        o.session_idle_s = a->cfg->http.session_idle_s;
        o.request_deadline_s = a->cfg->http.request_deadline_s;
        o.workers = a->cfg->http.workers;
        o.auth_fail_limit = a->cfg->http.auth_fail_limit;
        o.max_inflight_per_key = a->cfg->http.max_inflight_per_key;
        o.max_connections_per_ip = a->cfg->http.max_connections_per_ip;
        o.max_response = (size_t)a->cfg->http.max_response_bytes;
    }
    if (!host_is_loopback(listen))
        fprintf(stderr, "credbroker: WARNING: listening on %s, which is NOT a loopback address: the MCP endpoint is "
                        "reachable from the network%s. Use strong API keys and allowed_hosts/allowed_origins.\n",
                listen, cert ? "" : " WITHOUT TLS (--tls-cert/--tls-key)");
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    /* key revocations, lease revocations, policy reloads and new data keys by other
     * brokers on this store (or the CLI) reach this one within a poll; started with the
     * signals blocked, like every thread, so that only sigtimedwait below takes them */
    mcp_http *h = fleet_sync_start(a, e) ? NULL : mcp_http_start(s, &o, e);
    free(cert);
    cb_free_secret(key);
    if (!h) {
        cb_free_secret(mtok);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return e->code;
    }
    {
        char host[64];
        int port = 0, v6 = 0;
        if (mcp_parse_listen(listen, host, sizeof host, &port, &v6)) snprintf(host, sizeof host, "?");
        /* on stderr, so that stdout stays free for whoever runs us */
        cb_log_notice("serving MCP on %s://%s%s%s:%d/mcp (metrics at /metrics%s, health at /healthz)",
                      o.tls_cert_pem ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "", mcp_http_port(h),
                      mtok ? ", bearer token" : "");
    }
    if (a->on_listening) a->on_listening(a->on_listening_arg);
    int sig = 0;
    for (;;) {
        struct timespec ts = {tick && tick_interval_s > 0 ? tick_interval_s : 3600, 0};
        siginfo_t si;
        sig = sigtimedwait(&set, &si, &ts);
        if (sig == SIGHUP) {
            serve_reload(a);
            continue;
        }
        if (sig > 0) break;
        if (sig < 0 && errno == EAGAIN && tick && tick_interval_s > 0) {
            obs_tick_done(tick(tick_arg));
            serve_monitor_pass(a);
        }
    }
    LOG_INFO("credbroker: signal %d, shutting down", sig);
    fleet_sync_stop(a);
    mcp_http_stop(h);
    cb_free_secret(mtok);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return 0;
}
