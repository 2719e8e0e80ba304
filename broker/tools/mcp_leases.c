/* Leased query logins: creation and renewal on use (see mcp_leases.h). Revocation,
 * the reaper and orphans live in rotation/lease_reaper.c. */
#include "mcp_leases.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "conn/connstr.h"
#include "rotation/lease_reaper.h"
#include "rotation/password.h"
#include "store/audit.h"
#include "store/crypto.h"
#include "store/leases.h"

/* one lease change at a time in this process: two first calls of a client must not
 * both create a login */
static pthread_mutex_t lease_mu = PTHREAD_MUTEX_INITIALIZER;

static void audit_lease(mcp_app *a, const char *client, const char *action, const store_lease *l, const char *outcome,
                        const char *error)
{
    /* the audit log is append-only and never re-encrypted: the lease id, not the login */
    const char *names[] = {l->login};
    char *clean = conn_redact_names(error, names, 1);
    json_t *d = json_pack("{s:s,s:s,s:s,s:s?}", "lease", l->id, "client", client, "expires", "", "error", clean);
    free(clean);
    char x[32];
    cb_iso8601(l->expires_at, x);
    json_object_set_new(d, "expires", json_string(x));
    char *actor = cb_sprintf("mcp:%s", client);
    cb_error ig = {0};
    pthread_mutex_lock(&a->store_mu);
    if (audit_append(a->store, actor, action, l->connection, outcome, d, 0, &ig)) LOG_WARN("audit: %s", ig.msg);
    pthread_mutex_unlock(&a->store_mu);
    free(actor);
    json_decref(d);
}

static int admin_run(mcp_app *a, const char *admin, int (*fn)(const db_target *, db_conn *, void *, cb_error *), void *arg,
                     cb_error *e)
{
    const db_target *t;
    db_conn *c;
    pthread_mutex_lock(&a->store_mu);
    int rc = lease_admin_connect(a->store, a->cfg, admin, &t, &c, e);
    pthread_mutex_unlock(&a->store_mu);
    if (rc) return rc;
    rc = fn(t, c, arg, e);
    t->close(c);
    return rc;
}

typedef struct create_arg { const db_lease_spec *spec; const char *pw; } create_arg;
static int do_create(const db_target *t, db_conn *c, void *arg, cb_error *e)
{
    create_arg *x = arg;
    return t->lease_create(c, x->spec, x->pw, e);
}
typedef struct renew_arg { const char *login; int64_t until; } renew_arg;
static int do_renew(const db_target *t, db_conn *c, void *arg, cb_error *e)
{
    renew_arg *x = arg;
    return t->lease_renew ? t->lease_renew(c, x->login, x->until, e) : 0;
}

static int create_lease(mcp_app *a, const char *client, const char *connection, const policy_query_identity *q,
                        store_lease *l, char **pw, cb_error *e)
{
    memset(l, 0, sizeof *l);
    unsigned char r[8];
    if (RAND_bytes(r, sizeof r) != 1) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "no randomness");
    for (int i = 0; i < 8; i++) snprintf(l->id + 2 * i, 3, "%02x", r[i]);
    char login[64];
    lease_make_login(client, login);
    pw_policy pp;
    pw_policy_default(&pp);
    if (password_generate(&pp, pw, e)) return e->code;
    l->client = cb_strdup(client);
    l->connection = cb_strdup(connection);
    l->login = cb_strdup(login);
    l->admin_connection = cb_strdup(q->admin_connection);
    l->state = cb_strdup("creating");
    l->created_at = cb_now();
    l->expires_at = l->created_at + q->ttl_s;
    /* the journal: record + sealed password are durable before the login exists */
    pthread_mutex_lock(&a->store_mu);
    int rc = lease_journal_create(a->store, l, *pw, e);
    pthread_mutex_unlock(&a->store_mu);
    if (rc) return rc;
    lease_test_pause("create:journaled");
    const char *members[17] = {0};
    for (size_t i = 0; i < q->nmember_of && i < 16; i++) members[i] = q->member_of[i];
    db_lease_spec spec = {.login = login, .member_of = members, .valid_until = l->expires_at,
                          .connection_limit = q->connection_limit};
    create_arg ca = {&spec, *pw};
    rc = admin_run(a, q->admin_connection, do_create, &ca, e);
    if (rc) {
        /* nothing was created (CREATE ROLE is atomic); the record says so. A crash
         * before this line leaves "creating", which the reaper drops idempotently. */
        cb_error ig = {0};
        pthread_mutex_lock(&a->store_mu);
        if (lease_set_state(a->store, l->id, "revoked", 0, e->msg, &ig) == 0) lease_forget_password(a->store, l->id, &ig);
        pthread_mutex_unlock(&a->store_mu);
        audit_lease(a, client, "lease.create", l, "error", e->msg);
        return rc;
    }
    lease_test_pause("create:created");
    pthread_mutex_lock(&a->store_mu);
    rc = lease_set_state(a->store, l->id, "active", 0, NULL, e);
    pthread_mutex_unlock(&a->store_mu);
    if (rc) return rc;
    free(l->state);
    l->state = cb_strdup("active");
    audit_lease(a, client, "lease.create", l, "ok", NULL);
    return 0;
}

int mcp_lease_apply(mcp_app *a, const char *client, const char *connection, conn_url *u, uint8_t hash[32], cb_error *e)
{
    const policy_query_identity *q = policy_query_identity_get(a->pol, connection);
    if (!q) return 0;
    if (!client) return cb_fail(e, CB_ERR, CB_K_DENIED, "connection '%s' needs a client identity", connection);
    pthread_mutex_lock(&lease_mu);
    store_lease l;
    char *pw = NULL;
    cb_error ge = {0};
    pthread_mutex_lock(&a->store_mu);
    int found = lease_get_live(a->store, client, connection, &l, &ge) == 0, rc = 0;
    int usable = found && !strcmp(l.state, "active") && !strcmp(l.admin_connection, q->admin_connection);
    if (usable) rc = lease_password(a->store, l.id, &pw, e);
    pthread_mutex_unlock(&a->store_mu);
    int64_t now = cb_now();
    if (found && !usable) {
        /* creating (another process), or made through another admin (the reaper revokes it) */
        rc = cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "the query login of client '%s' on '%s' is being changed; retry", client,
                     connection);
    } else if (rc) {
        /* password unreadable: e says why */
    } else if (!found && ge.kind == CB_K_NOTFOUND) {
        rc = create_lease(a, client, connection, q, &l, &pw, e);
    } else if (!found) {
        *e = ge;
        rc = ge.code ? ge.code : CB_ERR;
    } else if (l.expires_at - now < q->ttl_s / 2) {
        /* in use: move the expiry (sessions already open are not affected by VALID UNTIL) */
        renew_arg ra = {l.login, now + q->ttl_s};
        rc = admin_run(a, l.admin_connection, do_renew, &ra, e);
        if (!rc) {
            pthread_mutex_lock(&a->store_mu);
            rc = lease_set_state(a->store, l.id, "active", now + q->ttl_s, NULL, e);
            pthread_mutex_unlock(&a->store_mu);
            l.expires_at = now + q->ttl_s;
        }
        audit_lease(a, client, "lease.renew", &l, rc ? "error" : "ok", rc ? e->msg : NULL);
    }
    pthread_mutex_unlock(&lease_mu);
    if (!rc) {
        conn_url_set_user(u, l.login);
        conn_url_set_password(u, pw);
        if (hash) {
            uint8_t in[32 + 64];
            size_t n = strlen(l.login);
            memcpy(in, hash, 32);
            memcpy(in + 32, l.login, n);
            cb_sha256(in, 32 + n, hash);
        }
    } else {
        cb_error_prefix(e, "leased login for client '%s' on '%s'", client, connection);
    }
    store_lease_free(&l);
    cb_free_secret(pw);
    return rc;
}
