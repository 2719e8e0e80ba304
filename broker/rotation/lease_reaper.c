/* Revocation, reaping and orphan search for leased query logins (see lease_reaper.h). */
#include "lease_reaper.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "conn/connstr.h"
#include "conn/sources.h"
#include "rotation_env.h"
#include "store/audit.h"

void lease_test_pause(const char *step)
{
    const char *p = getenv("CREDBROKER_TEST_LEASE_PAUSE");
    if (!p || strcmp(p, step)) return;
    fprintf(stderr, "lease pause %s pid %ld\n", step, (long)getpid());
    fflush(stderr);
    sleep(60);
}

int lease_admin_connect(cb_store *s, const cb_config *cfg, const char *admin, const db_target **t, db_conn **c,
                        cb_error *e)
{
    *c = NULL;
    *t = NULL;
    store_conn sc = {0};
    int stale = 0;
    if (conn_resolve(s, cfg, admin, &sc, &stale, e)) {
        cb_error_prefix(e, "lease admin connection %s", admin);
        return e->code ? e->code : CB_ERR;
    }
    conn_url u;
    int rc = 0;
    if (!sc.url) rc = cb_fail(e, CB_ERR, CB_K_NOTFOUND, "lease admin connection '%s' has no URL", admin);
    else if (conn_url_parse(sc.url, sc.engine, &u, e)) rc = cb_fail(e, CB_ERR, CB_K_INVALID, "lease admin connection '%s' has an invalid URL", admin);
    store_conn_free(&sc);
    if (rc) return rc;
    *t = db_target_for(u.engine);
    if (!*t || !(*t)->lease_create || !(*t)->lease_drop)
        rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "engine %s has no leased query logins", u.engine);
    else if ((rc = (*t)->connect(&u, c, e)))
        cb_error_prefix(e, "lease admin connection %s", admin);
    conn_url_free(&u);
    return rc;
}

static void audit_lease(cb_store *s, const char *actor, const char *action, const store_lease *l, const char *outcome,
                        const char *reason, const char *error)
{
    /* the audit log is append-only and never re-encrypted: the lease id names the login
     * (lease list shows it, sealed), and the error loses it */
    const char *names[] = {l->login};
    char *clean = conn_redact_names(error, names, 1);
    json_t *d = json_pack("{s:s,s:s,s:s,s:s?,s:s?}", "lease", l->id, "client", l->client,
                          "admin_connection", l->admin_connection, "reason", reason, "error", clean);
    free(clean);
    cb_error ig = {0};
    if (audit_append(s, actor ? actor : audit_cli_actor(), action, l->connection, outcome, d, 0, &ig))
        LOG_WARN("audit: %s", ig.msg);
    json_decref(d);
}

int lease_revoke_one(cb_store *s, const cb_config *cfg, const store_lease *l, const char *actor, const char *reason,
                     cb_error *e)
{
    /* journal first: a crash from here on leaves a revoking record the reaper finishes */
    if (strcmp(l->state, "revoking") && lease_set_state(s, l->id, "revoking", 0, NULL, e)) return e->code;
    lease_test_pause("revoke:journaled");
    const db_target *t;
    db_conn *c;
    int rc = lease_admin_connect(s, cfg, l->admin_connection, &t, &c, e);
    if (!rc) {
        rc = t->lease_drop(c, l->login, NULL, e);
        t->close(c);
    }
    if (rc) {
        cb_error ig = {0};
        lease_set_state(s, l->id, "revoking", 0, e->msg, &ig);
        audit_lease(s, actor, "lease.revoke", l, "error", reason, e->msg);
        return rc;
    }
    lease_test_pause("revoke:dropped");
    if (store_begin(s, e)) return e->code;
    if (lease_set_state(s, l->id, "revoked", 0, NULL, e) || lease_forget_password(s, l->id, e)) {
        store_rollback(s);
        return e->code ? e->code : CB_ERR;
    }
    if ((rc = store_commit(s, e))) return rc;
    audit_lease(s, actor, "lease.revoke", l, "ok", reason, NULL);
    return 0;
}

static int matches(const store_lease *l, const lease_filter *f)
{
    if (f->id && strcmp(f->id, l->id)) return 0;
    if (f->client && strcmp(f->client, l->client)) return 0;
    if (f->connection && strcmp(f->connection, l->connection)) return 0;
    return f->all || f->id || f->client || f->connection;
}

static int revoke_list(cb_store *s, const cb_config *cfg, store_lease *v, size_t n, const char *actor, json_t *report,
                       int *count, cb_error *e)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].state) continue;
        const char *why = v[i].error; /* reason stashed by the caller */
        v[i].error = NULL;
        cb_error le = {0};
        int rc = lease_revoke_one(s, cfg, &v[i], actor, why, &le);
        if (report)
            json_array_append_new(report, json_pack("{s:s,s:s,s:s,s:s,s:s?,s:s,s:s?}", "id", v[i].id, "client", v[i].client,
                                                    "connection", v[i].connection, "login", v[i].login, "reason", why,
                                                    "outcome", rc ? "error" : "revoked", "error", rc ? le.msg : NULL));
        if (rc) {
            if (!bad) *e = le;
            bad++;
        } else if (count) {
            (*count)++;
        }
        free((char *)why);
    }
    return bad ? (e->code ? e->code : CB_ERR) : 0;
}

static void free_list(store_lease *v, size_t n)
{
    for (size_t i = 0; i < n; i++) store_lease_free(&v[i]);
    free(v);
}

int lease_revoke_where(cb_store *s, const cb_config *cfg, const lease_filter *f, const char *actor, const char *reason,
                       json_t *report, int *count, cb_error *e)
{
    if (count) *count = 0;
    store_lease *v;
    size_t n;
    if (lease_list(s, 0, &v, &n, e)) return e->code;
    for (size_t i = 0; i < n; i++) {
        if (!matches(&v[i], f)) { free(v[i].state); v[i].state = NULL; continue; }
        free(v[i].error);
        v[i].error = reason ? cb_strdup(reason) : NULL;
    }
    int rc = revoke_list(s, cfg, v, n, actor, report, count, e);
    free_list(v, n);
    return rc;
}

/* Why the policy no longer allows this lease (NULL: it does). */
static const char *unlisted(const cb_policy *p, const store_lease *l)
{
    const policy_query_identity *q = policy_query_identity_get(p, l->connection);
    if (!q) return "connection has no query_identity in the policy";
    if (strcmp(q->admin_connection, l->admin_connection)) return "query_identity admin_connection changed";
    const policy_client *c = policy_client(p, l->client);
    if (!c) return "client no longer in the policy";
    if (!policy_client_may_use(c, l->connection)) return "client may no longer use the connection";
    return NULL;
}

int lease_reap(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *actor, int64_t grace_s, json_t *report,
               cb_error *e)
{
    store_lease *v;
    size_t n;
    if (lease_list(s, 0, &v, &n, e)) return e->code;
    int64_t now = cb_now();
    int todo = 0;
    for (size_t i = 0; i < n; i++) {
        const char *why = NULL;
        int half_done = strcmp(v[i].state, "active") != 0;
        if (half_done && (lease_owner_gone(&v[i]) || now - v[i].updated_at >= grace_s)) why = !strcmp(v[i].state, "creating") ? "interrupted creation" : "interrupted revocation";
        else if (!half_done && v[i].expires_at <= now) why = "expired";
        else if (!half_done) why = unlisted(p, &v[i]);
        free(v[i].error);
        v[i].error = why ? cb_strdup(why) : NULL;
        if (!why) { free(v[i].state); v[i].state = NULL; }
        else todo++;
    }
    int rc = todo ? revoke_list(s, cfg, v, n, actor, report, NULL, e) : 0;
    free_list(v, n);
    return rc;
}

static void add_name(json_t *set, const char *name)
{
    if (name && *name) json_object_set_new(set, name, json_true());
}

int lease_drop_orphans(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *actor, json_t *report,
                       int *count, cb_error *e)
{
    if (count) *count = 0;
    store_lease *v;
    size_t n;
    if (lease_list(s, 1, &v, &n, e)) return e->code;
    json_t *admins = json_object(), *live = json_object();
    for (size_t i = 0; p && i < p->nconnections; i++)
        if (p->connections[i].query_identity) add_name(admins, p->connections[i].query_identity->admin_connection);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].state, "revoked")) add_name(admins, v[i].admin_connection);
        if (!strcmp(v[i].state, "creating") || !strcmp(v[i].state, "active")) add_name(live, v[i].login);
    }
    free_list(v, n);
    int bad = 0;
    const char *admin;
    json_t *ig;
    json_object_foreach(admins, admin, ig) {
        const db_target *t;
        db_conn *c;
        cb_error le = {0};
        json_t *names = NULL;
        if (lease_admin_connect(s, cfg, admin, &t, &c, &le) == 0) {
            if (t->lease_list && t->lease_list(c, LEASE_LOGIN_PREFIX, &names, &le) == 0) {
                size_t i;
                json_t *nm;
                json_array_foreach(names, i, nm) {
                    const char *login = json_string_value(nm);
                    /* re-check the record now: a creation may have started since the list */
                    cb_error ne = {0};
                    if (!lease_login_is_ours(login) || json_object_get(live, login)) continue;
                    int has_live = 0;
                    store_lease *all;
                    size_t na;
                    if (lease_list(s, 0, &all, &na, &ne) == 0) {
                        for (size_t k = 0; k < na; k++)
                            if (!strcmp(all[k].login, login) && strcmp(all[k].state, "revoking")) has_live = 1;
                        free_list(all, na);
                    }
                    if (has_live) continue;
                    cb_error de = {0};
                    int rc = t->lease_drop(c, login, NULL, &de);
                    store_lease fake = {.client = "?", .connection = (char *)admin, .login = (char *)login,
                                        .admin_connection = (char *)admin};
                    snprintf(fake.id, sizeof fake.id, "orphan");
                    audit_lease(s, actor, "lease.revoke", &fake, rc ? "error" : "ok", "orphan", rc ? de.msg : NULL);
                    if (report)
                        json_array_append_new(report, json_pack("{s:s,s:s,s:s,s:s,s:s?}", "login", login, "admin_connection",
                                                                admin, "reason", "orphan", "outcome", rc ? "error" : "revoked",
                                                                "error", rc ? de.msg : NULL));
                    if (rc) { if (!bad++) *e = de; }
                    else if (count) (*count)++;
                }
            } else if (!bad++) {
                *e = le;
            }
            t->close(c);
        } else if (!bad++) {
            *e = le;
        }
        json_decref(names);
    }
    json_decref(admins);
    json_decref(live);
    return bad ? (e->code ? e->code : CB_ERR) : 0;
}

int serve_lease_recover(const cb_paths *paths)
{
    rotation_env v;
    cb_error e = {0};
    if (rotation_env_open(paths, &v, &e)) return 0; /* serve_resume_rotations says why */
    json_t *rep = json_array();
    if (lease_reap(v.s, v.p, v.cfg, paths->actor, LEASE_REAP_GRACE_S, rep, &e)) LOG_WARN("lease recovery: %s", e.msg);
    int dropped = 0;
    cb_error oe = {0};
    if (lease_drop_orphans(v.s, v.p, v.cfg, paths->actor, rep, &dropped, &oe)) LOG_WARN("lease orphans: %s", oe.msg);
    if (json_array_size(rep)) LOG_INFO("lease recovery: %zu login(s) revoked", json_array_size(rep));
    json_decref(rep);
    rotation_env_close(&v);
    return 0;
}
