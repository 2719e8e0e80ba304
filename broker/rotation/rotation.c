/* Rotation engine: create -> set -> test -> finish with a journal (see rotation.h). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "rotation.h"
#include "rotation_internal.h"
#include "store/audit.h"
#include "conn/connstr.h"
#include "databases/db_target.h"
#include "password.h"
#include "schedule_state.h"
#include "secrets/secret_provider.h"
#include "conn/sources.h"

#define PENDING_NS "pending"

/* ---------------------------------------------------------------------------------- */

typedef struct rot {
    cb_store *s;
    const cb_policy *p;
    const cb_config *cfg;
    const policy_credential *c;
    const rotation_opts *o;
    const db_target *dbt;
    conn_url cur, alt, admin;     /* parsed stored URLs (secrets) */
    char *cur_raw, *alt_raw, *admin_raw; /* the stored URL texts cur/alt/admin were parsed from (secrets) */
    int have_alt, have_admin;
    int fresh;                    /* this run inserted the journal row (id) */
    int claimed;                  /* this run owns the journal row (id) */
    int registered;               /* the credential is in this process's active set */
    char *target;                 /* login whose password changes */
    db_conn *ctl;                 /* control connection: lock + set */
    int ctl_pending;              /* ctl logged in with the pending password */
    char *ctl_password;           /* password ctl logged in with when it is the target (self) */
    char id[64];
    char *pending;                /* secret */
    char *pending_version;        /* provider version of the pending value */
    int step, from_step, resumed, locked;
    char lock_name[160];
} rot;

static void rot_free(rot *r)
{
    if (r->locked && r->ctl && r->dbt) {
        cb_error ue = {0};
        if (r->dbt->unlock(r->ctl, r->lock_name, &ue)) LOG_WARN("releasing the rotation lock: %s", ue.msg);
    }
    if (r->ctl && r->dbt) r->dbt->close(r->ctl);
    conn_url_free(&r->cur);
    conn_url_free(&r->alt);
    conn_url_free(&r->admin);
    cb_free_secret(r->cur_raw);
    cb_free_secret(r->alt_raw);
    cb_free_secret(r->admin_raw);
    free(r->target);
    cb_free_secret(r->pending);
    cb_free_secret(r->ctl_password);
    free(r->pending_version);
}

/* Test-only: stop at a named point so a test can kill -9 the process there, or (with
 * CREDBROKER_TEST_PAUSE_UNTIL=FILE) hold it there until the test creates FILE, so a race
 * is staged in a fixed order whatever the machine's load (still at most PAUSE_S). */
static void pause_at(const char *point)
{
    const char *want = getenv("CREDBROKER_TEST_PAUSE_AT");
    if (!want || strcmp(want, point) != 0) return;
    const char *s = getenv("CREDBROKER_TEST_PAUSE_S");
    const char *until = getenv("CREDBROKER_TEST_PAUSE_UNTIL");
    int secs = s ? atoi(s) : 30;
    fprintf(stderr, "credbroker: test pause at %s pid=%d\n", point, (int)getpid());
    fflush(stderr);
    if (until && *until) {
        struct timespec step = {0, 50 * 1000 * 1000};
        for (long i = 0; i < (long)secs * 20 && access(until, F_OK) != 0; i++) nanosleep(&step, NULL);
        return;
    }
    if (secs > 0) sleep((unsigned)secs);
}

/* raw (may be NULL): gets the stored URL text, to tell later whether it changed. */
static int load_url(rot *r, const char *name, conn_url *out, char **raw, const char *role, cb_error *e)
{
    store_conn sc;
    int stale = 0;
    cb_error ge = {0};
    if (conn_resolve(r->s, r->cfg, name, &sc, &stale, &ge)) {
        if (ge.kind == CB_K_NOTFOUND)
            return cb_fail(e, CB_EUSAGE, CB_K_NOTFOUND, "policy: credential %s: %s%sconnection '%s' is not stored", r->c->name, role, *role ? " " : "", name);
        *e = ge;
        return ge.code ? ge.code : CB_ERR;
    }
    int rc = 0;
    if (!sc.url) rc = cb_fail(e, CB_ERR, CB_K_NOTFOUND, "connection '%s' has no URL", name);
    else if (conn_url_parse(sc.url, sc.engine, out, e)) {
        cb_error_prefix(e, "connection %s", name);
        rc = CB_ERR;
    }
    if (!rc && raw) {
        cb_free_secret(*raw);
        *raw = cb_strdup(sc.url);
    }
    store_conn_free(&sc);
    if (!rc) rc = rotation_check_sslmode(out, r->p->requirements.min_sslmode, name, e);
    return rc;
}

/* URL of the target login with password pw, in the connection's format. */
static conn_url *target_url(rot *r, const char *pw, conn_url *tmp)
{
    cb_error pe = {0};
    char *s = conn_url_format(&r->cur);
    memset(tmp, 0, sizeof *tmp);
    int rc = s ? conn_url_parse(s, r->cur.engine, tmp, &pe) : -1;
    cb_free_secret(s);
    if (rc) return NULL;
    conn_url_set_user(tmp, r->target);
    conn_url_set_password(tmp, pw);
    return tmp;
}

static int test_pw(rot *r, const char *pw, cb_error *e)
{
    conn_url u;
    if (!target_url(r, pw, &u)) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot build the login URL");
    int rc = r->dbt->test_login(&u, e);
    conn_url_free(&u);
    return rc;
}

/* ---- journal ---- */
typedef struct jrow {
    int found;
    char *id, *step, *strategy, *target, *connection, *pending_version, *owner_host;
    long owner_pid;
    int64_t updated_at;
} jrow;

static void jrow_free(jrow *j)
{
    free(j->id); free(j->step); free(j->strategy); free(j->target); free(j->connection);
    free(j->pending_version); free(j->owner_host);
    memset(j, 0, sizeof *j);
}

static char *coltext(sdb_stmt *st, int i)
{
    const unsigned char *t = sdb_column_text(st, i);
    return t ? cb_strdup((const char *)t) : NULL;
}

static int sql_fail(cb_store *s, cb_error *e, const char *what)
{
    int ec = sdb_errcode(store_db(s));
    return cb_fail(e, CB_ERR, ec == SDB_BUSY ? CB_K_CONFLICT : CB_K_INTERNAL, "%s: %s", what, sdb_errmsg(store_db(s)));
}

static int journal_get(cb_store *s, const char *cred, jrow *j, cb_error *e)
{
    memset(j, 0, sizeof *j);
    sdb_stmt *st;
    if (sdb_prepare(store_db(s),
                           "SELECT id, step, strategy, meta_enc, connection, pending_version, owner_pid, owner_host,"
                           " updated_at, meta_kv FROM rotation_journal WHERE credential = ?", &st) != SDB_OK)
        return sql_fail(s, e, "journal");
    sdb_bind_text(st, 1, cred, -1);
    int r = sdb_step(st);
    if (r == SDB_ROW) {
        j->found = 1;
        j->id = coltext(st, 0); j->step = coltext(st, 1); j->strategy = coltext(st, 2);
        j->connection = coltext(st, 4); j->pending_version = coltext(st, 5);
        j->owner_pid = (long)sdb_column_int64(st, 6); j->owner_host = coltext(st, 7);
        j->updated_at = sdb_column_int64(st, 8);
        /* the target user is sealed (rotation_journal.c) */
        if (rotation_journal_meta(s, st, 3, 9, cred, &j->target, NULL, e)) {
            sdb_finalize(st);
            jrow_free(j);
            return e->code;
        }
    }
    sdb_finalize(st);
    if (r != SDB_ROW && r != SDB_DONE) return sql_fail(s, e, "journal");
    return 0;
}

static int exec_bind(cb_store *s, const char *sql, const char *const *vals, int n, cb_error *e)
{
    sdb_stmt *st;
    if (sdb_prepare(store_db(s), sql, &st) != SDB_OK) return sql_fail(s, e, "journal");
    for (int i = 0; i < n; i++)
        if (vals[i]) sdb_bind_text(st, i + 1, vals[i], -1);
    int r = sdb_step(st);
    sdb_finalize(st);
    return r == SDB_DONE ? 0 : sql_fail(s, e, "journal");
}

static int journal_set_step(rot *r, int step, const char *version, cb_error *e)
{
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)cb_now());
    const char *v[] = {rotation_step_name(step), version, now, r->c->name};
    int rc = exec_bind(r->s, "UPDATE rotation_journal SET step = ?1, pending_version = COALESCE(?2, pending_version),"
                             " updated_at = ?3, error_enc = NULL, error_kv = 0 WHERE credential = ?4", v, 4, e);
    if (!rc) r->step = step;
    return rc;
}

/* The run that owned the row stops: record why, and give the row up (owner_pid 0), so
 * a long-lived process (serve) does not keep others from resuming what it left. */
static void journal_error(rot *r, const char *msg)
{
    rotation_journal_error(r->s, r->c->name, r->id, msg);
}

/* The stored URL text of connection name now (no provider fetch); NULL when absent. */
static char *stored_raw(rot *r, const char *name)
{
    store_conn sc;
    cb_error ig = {0};
    if (store_conn_get(r->s, name, 1, &sc, &ig)) return NULL;
    char *u = sc.url ? cb_strdup(sc.url) : NULL;
    store_conn_free(&sc);
    return u;
}

static int same_text(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

/* 1 when the stored credential(s) of this rotation differ from the ones it read. */
static int stored_changed(rot *r)
{
    char *u = stored_raw(r, r->c->connection);
    int changed = !same_text(u, r->cur_raw);
    cb_free_secret(u);
    if (!changed && r->have_alt) {
        u = stored_raw(r, r->c->alternate_connection);
        changed = !same_text(u, r->alt_raw);
        cb_free_secret(u);
    }
    return changed;
}

/* Re-reads (under the store transaction) the stored URLs this rotation works from;
 * *changed = 1 when they differ from the first read (then r->cur/alt hold the new ones). */
static int reread_stored(rot *r, int *changed, cb_error *e)
{
    *changed = stored_changed(r);
    if (!*changed) return 0;
    char *u = stored_raw(r, r->c->connection);
    if (!u) return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "connection '%s' is no longer stored", r->c->connection);
    conn_url nu;
    int rc = conn_url_parse(u, r->cur.engine, &nu, e);
    if (rc) { cb_free_secret(u); return rc; }
    conn_url_free(&r->cur);
    r->cur = nu;
    cb_free_secret(r->cur_raw);
    r->cur_raw = u;
    if (r->have_alt) {
        u = stored_raw(r, r->c->alternate_connection);
        if (!u) return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "connection '%s' is no longer stored", r->c->alternate_connection);
        if ((rc = conn_url_parse(u, r->alt.engine, &nu, e))) { cb_free_secret(u); return rc; }
        conn_url_free(&r->alt);
        r->alt = nu;
        cb_free_secret(r->alt_raw);
        r->alt_raw = u;
    }
    return 0;
}

/* 0 when the stored admin URL changed since it was read and now holds the new one
 * (r->admin); -1 when it is unchanged or unusable. */
static int reload_admin(rot *r)
{
    char *u = stored_raw(r, r->c->admin_connection);
    if (!u || same_text(u, r->admin_raw)) {
        cb_free_secret(u);
        return -1;
    }
    conn_url nu;
    cb_error ig = {0};
    int bad = conn_url_parse(u, r->admin.engine, &nu, &ig); /* frees nu itself on failure */
    if (!bad && rotation_check_sslmode(&nu, r->p->requirements.min_sslmode, r->c->admin_connection, &ig)) {
        conn_url_free(&nu);
        bad = 1;
    }
    if (bad) {
        cb_free_secret(u);
        return -1;
    }
    conn_url_free(&r->admin);
    r->admin = nu;
    cb_free_secret(r->admin_raw);
    r->admin_raw = u;
    return 0;
}

/* Undoes a claim made by this run before anything left the process (nothing published,
 * the database untouched): the journal row and its pending password go, as if the
 * rotation had never started. A resumed row stays, given up for the next run. */
static void release_claim(rot *r)
{
    if (!r->claimed) return;
    cb_error ig = {0};
    const char *v[] = {r->c->name, r->id};
    if (r->fresh && r->step == STEP_CREATE) {
        int rc = store_begin(r->s, &ig);
        if (!rc) rc = exec_bind(r->s, "DELETE FROM secrets WHERE ns = '" PENDING_NS "' AND name = ?1 AND version = ?2", v, 2, &ig);
        if (!rc) rc = exec_bind(r->s, "DELETE FROM rotation_journal WHERE credential = ?1 AND id = ?2", v, 2, &ig);
        if (!rc) rc = store_commit(r->s, &ig);
        else store_rollback(r->s);
        if (rc) LOG_WARN("releasing the journal row of %s: %s", r->c->name, ig.msg);
        else {
            r->id[0] = 0;
            r->step = STEP_NONE;
        }
    } else {
        exec_bind(r->s, "UPDATE rotation_journal SET owner_pid = 0 WHERE credential = ?1 AND id = ?2", v, 2, &ig);
    }
    r->claimed = 0;
}

/* ---- steps ---- */

static int open_provider(const char *refs, secret_ref *ref, const secret_provider **prov, void **st, cb_error *e)
{
    if (secret_ref_parse(refs, ref, e)) return e->code;
    *prov = secret_provider_for(ref->scheme);
    if (!*prov || !(*prov)->put || !(*prov)->promote) {
        secret_ref_free(ref);
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "publish_to %s: provider cannot hold versions", refs);
    }
    if ((*prov)->open(st, e)) {
        secret_ref_free(ref);
        return e->code;
    }
    return 0;
}

static int step_publish_pending(rot *r, cb_error *e)
{
    char *ver = NULL;
    if (r->c->publish_to) {
        secret_ref ref;
        const secret_provider *prov;
        void *st = NULL;
        if (open_provider(r->c->publish_to, &ref, &prov, &st, e)) {
            cb_error_prefix(e, "publishing the pending version to %s", r->c->publish_to);
            return e->code;
        }
        conn_url u;
        int rc;
        if (!target_url(r, r->pending, &u)) rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot build the published value");
        else {
            char *val = rotation_published_value(&u, ref.field);
            conn_url_free(&u);
            rc = prov->put(st, &ref, val, SECRET_STAGE_PENDING, r->id, &ver, e);
            cb_free_secret(val);
        }
        prov->close(st);
        secret_ref_free(&ref);
        if (rc) {
            cb_error_prefix(e, "publishing the pending version to %s", r->c->publish_to);
            return rc;
        }
    }
    int rc = journal_set_step(r, STEP_SET, ver, e);
    if (!rc && ver) {
        free(r->pending_version);
        r->pending_version = ver;
        ver = NULL;
    }
    free(ver);
    return rc;
}

static int step_set(rot *r, cb_error *e)
{
    if (!r->ctl_pending) {
        pause_at("before-set");
        const char *old = r->ctl_password; /* self-rotation: SQL Server wants OLD_PASSWORD */
        if (r->dbt->set_password(r->ctl, r->target, r->pending, r->have_admin ? NULL : old, e)) {
            cb_error_prefix(e, "setting the new password of %s", r->target);
            return e->code;
        }
        pause_at("after-set");
    }
    return journal_set_step(r, STEP_TEST, NULL, e);
}

static int step_test(rot *r, cb_error *e)
{
    pause_at("before-test");
    if (test_pw(r, r->pending, e)) {
        cb_error_prefix(e, "the new password of %s does not log in", r->target);
        return e->code;
    }
    pause_at("after-test");
    return journal_set_step(r, STEP_FINISH, NULL, e);
}

/* Local part of finish, idempotent: the connection points at the target login with the
 * pending password; for alternate_connection the previous login moves there (once). */
static int finish_local(rot *r, cb_error *e)
{
    conn_url nu;
    if (!target_url(r, r->pending, &nu)) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot build the new URL");
    store_conn old;
    if (store_conn_get(r->s, r->c->connection, 0, &old, e)) {
        conn_url_free(&nu);
        return e->code;
    }
    char *url = conn_url_format(&nu), *red = conn_url_redacted(&nu);
    int swap = r->have_alt && r->cur.user && r->target && strcmp(r->cur.user, r->target) != 0;
    int rc = store_begin(r->s, e);
    if (!rc) rc = store_conn_put(r->s, r->c->connection, old.engine, url, red, NULL, old.source_ref, 1, e);
    if (!rc) rc = store_conn_touch(r->s, r->c->connection, "last_rotated", e);
    if (!rc && swap) {
        store_conn ao;
        if (!(rc = store_conn_get(r->s, r->c->alternate_connection, 0, &ao, e))) {
            char *au = conn_url_format(&r->cur), *ar = conn_url_redacted(&r->cur);
            rc = store_conn_put(r->s, r->c->alternate_connection, ao.engine, au, ar, NULL, ao.source_ref, 1, e);
            cb_free_secret(au);
            free(ar);
            store_conn_free(&ao);
        }
    }
    if (!rc) rc = store_commit(r->s, e);
    else store_rollback(r->s);
    cb_free_secret(url);
    free(red);
    conn_url_free(&nu);
    store_conn_free(&old);
    return rc;
}

static int step_finish(rot *r, cb_error *e)
{
    pause_at("before-finish");
    if (finish_local(r, e)) return e->code;
    if (r->c->publish_to) {
        if (!r->pending_version)
            return cb_fail(e, CB_ERR, CB_K_INTERNAL, "journal has no pending version for %s", r->c->publish_to);
        secret_ref ref;
        const secret_provider *prov;
        void *st = NULL;
        int rc = open_provider(r->c->publish_to, &ref, &prov, &st, e);
        if (!rc) {
            rc = prov->promote(st, &ref, r->pending_version, e);
            prov->close(st);
            secret_ref_free(&ref);
        }
        if (rc) {
            cb_error_prefix(e, "database and store updated; promoting version %s in %s failed (run credbroker rotate --resume)",
                            r->pending_version, r->c->publish_to);
            return rc;
        }
    }
    const char *v[] = {r->c->name};
    int rc = store_begin(r->s, e);
    if (!rc) rc = store_secret_delete(r->s, PENDING_NS, r->c->name, e);
    if (rc && e->kind == CB_K_NOTFOUND) rc = 0;
    if (!rc) rc = exec_bind(r->s, "DELETE FROM rotation_journal WHERE credential = ?1", v, 1, e);
    if (!rc) rc = store_commit(r->s, e);
    else store_rollback(r->s);
    if (!rc) pause_at("after-finish");
    return rc;
}

/* ---- setup ---- */

static int resolve_target(rot *r, cb_error *e)
{
    const policy_credential *c = r->c;
    if (c->strategy == POLICY_ALTERNATING_USERS) {
        if (c->alternate_connection) {
            if (load_url(r, c->alternate_connection, &r->alt, &r->alt_raw, "alternate", e)) return e->code;
            r->have_alt = 1;
            if (!r->alt.user || !r->cur.user || strcmp(r->alt.user, r->cur.user) == 0)
                return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "policy: credential %s: connection and alternate_connection must hold two different logins", c->name);
            r->target = cb_strdup(r->alt.user);
        } else {
            if (!c->users[0] || !c->users[1] || !r->cur.user)
                return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "policy: credential %s: alternating-users needs users or alternate_connection", c->name);
            int i = strcmp(r->cur.user, c->users[0]) == 0 ? 0 : strcmp(r->cur.user, c->users[1]) == 0 ? 1 : -1;
            if (i < 0)
                return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "policy: credential %s: the user of connection %s is not one of users", c->name, c->connection);
            if (!r->have_admin)
                return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "policy: credential %s: alternating users without a stored second connection need admin_connection", c->name);
            r->target = cb_strdup(c->users[1 - i]);
        }
    } else {
        if (!r->cur.user) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "connection %s has no user", c->connection);
        r->target = cb_strdup(r->cur.user);
    }
    return 0;
}

/* The control connection runs the lock and ALTER: the admin login, else the target login
 * itself (on resume first with the pending password: if it logs in, set is done). */
static int connect_control(rot *r, cb_error *e)
{
    if (r->have_admin) {
        if (r->dbt->connect(&r->admin, &r->ctl, e)) {
            cb_error_prefix(e, "admin connection %s", r->c->admin_connection);
            return e->code;
        }
        return 0;
    }
    conn_url u;
    cb_error pe = {0};
    if (r->resumed && r->pending) {
        if (target_url(r, r->pending, &u) && r->dbt->connect(&u, &r->ctl, &pe) == 0) {
            conn_url_free(&u);
            r->ctl_pending = 1;
            return 0;
        }
        conn_url_free(&u);
    }
    /* the target's stored password: in the alternate connection before the swap, in the connection after */
    const conn_url *base = r->have_alt && r->alt.user && strcmp(r->alt.user, r->target) == 0 ? &r->alt : &r->cur;
    if (!base->user || strcmp(base->user, r->target) != 0) {
        if (pe.msg[0]) { *e = pe; return e->code; }
        return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "no stored password for %s", r->target);
    }
    if (r->dbt->connect(base, &r->ctl, e)) {
        cb_error_prefix(e, "connection %s", r->c->connection);
        return e->code;
    }
    r->ctl_password = cb_strdup(base->password);
    return 0;
}

static void fill_report(rot *r, json_t *rep, const char *outcome, const cb_error *e, int64_t t0)
{
    if (!rep) return;
    json_object_set_new(rep, "credential", json_string(r->c ? r->c->name : ""));
    if (r->id[0]) json_object_set_new(rep, "id", json_string(r->id));
    if (r->c) json_object_set_new(rep, "strategy", json_string(policy_strategy_name(r->c->strategy)));
    if (r->target) json_object_set_new(rep, "user", json_string(r->target));
    if (r->c) json_object_set_new(rep, "connection", json_string(r->c->connection));
    json_object_set_new(rep, "resumed", json_boolean(r->resumed));
    if (r->resumed) json_object_set_new(rep, "from_step", json_string(rotation_step_name(r->from_step)));
    if (r->step) json_object_set_new(rep, "step", json_string(rotation_step_name(r->step)));
    if (r->pending_version) json_object_set_new(rep, "published_version", json_string(r->pending_version));
    json_object_set_new(rep, "outcome", json_string(outcome));
    json_object_set_new(rep, "duration_ms", json_integer((json_int_t)(cb_now_ms() - t0)));
    if (e && e->msg[0]) json_object_set_new(rep, "error", json_string(e->msg));
}

/* msg without the logins, hosts, databases and publish_to reference of this rotation: for
 * the audit log (append-only, never re-encrypted) and the schedule state's last result
 * (in clear: the monitor quotes it) */
static char *scrubbed(rot *r, const char *msg)
{
    const char *names[] = {r->target, r->cur.user, r->alt.user, r->admin.user, r->cur.host, r->alt.host,
                           r->admin.host, r->cur.dbname, r->alt.dbname, r->admin.dbname,
                           r->c ? r->c->publish_to : NULL};
    return conn_redact_names(msg, names, sizeof names / sizeof names[0]);
}

static void audit_rot(rot *r, const char *cred, const char *outcome, const cb_error *e, int64_t t0)
{
    json_t *d = json_object();
    fill_report(r, d, outcome, e, t0);
    /* the audit names the credential (the target), not the database user */
    json_object_del(d, "user");
    const char *msg = json_string_value(json_object_get(d, "error"));
    if (msg) {
        char *clean = scrubbed(r, msg);
        json_object_set_new(d, "error", json_string(clean));
        free(clean);
    }
    if (r->o && r->o->incident) json_object_set_new(d, "incident", json_string(r->o->incident));
    const char *action = r->o && r->o->emergency ? "rotate.emergency" : r->o && r->o->resume_only ? "rotate.resume" : "rotate";
    cb_error ig = {0};
    if (audit_append(r->s, r->o && r->o->actor ? r->o->actor : audit_cli_actor(), action, cred, outcome, d,
                     (long)(cb_now_ms() - t0), &ig))
        LOG_WARN("audit: %s", ig.msg);
    json_decref(d);
}

/* Another broker rotated the credential between our first read and now. */
static int rotated_elsewhere(rot *r, const char *credential, cb_error *e, const char **outcome)
{
    *outcome = "rotated-elsewhere";
    if (r->o->scheduled) return 0; /* what was due is done */
    return cb_fail(e, ROTATION_EXIT_IN_PROGRESS, CB_K_CONFLICT,
                   "rotation of %s: rotated by another broker just now (the stored credential changed)", credential);
}

/* The store-side guard, in ONE transaction (BEGIN IMMEDIATE: writers of this store
 * serialize): look at the journal row, read the stored credential again, then either
 * take over an interrupted rotation or journal a new one with its pending password.
 * Returns with *outcome "in-progress"/"rotated-elsewhere"/"nothing" when there is
 * nothing for this run to do. */
static int claim(rot *r, const char *credential, const pw_policy *pw, cb_error *e, const char **outcome)
{
    const policy_credential *c = r->c;
    char host[256], pid[24], now[24];
    rotation_hostname(host);
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    snprintf(now, sizeof now, "%lld", (long long)cb_now());
    if (store_begin(r->s, e)) return e->code;
    jrow j;
    int changed = 0;
    if (journal_get(r->s, credential, &j, e) || reread_stored(r, &changed, e)) {
        store_rollback(r->s);
        jrow_free(&j);
        return e->code;
    }
    if (j.found) {
        if (rotation_owner_live(j.owner_pid, j.owner_host, j.updated_at)) {
            store_rollback(r->s);
            *outcome = "in-progress";
            cb_fail(e, ROTATION_EXIT_IN_PROGRESS, CB_K_CONFLICT, "rotation of %s is already in progress (pid %ld on %s)",
                    credential, j.owner_pid, j.owner_host);
            jrow_free(&j);
            return e->code;
        }
        /* an interrupted rotation: its target and pending password, read in this transaction */
        free(r->target);
        r->target = cb_strdup(j.target);
        store_secret ps;
        if (store_secret_get(r->s, PENDING_NS, credential, &ps, e) == 0) {
            if (ps.version && strcmp(ps.version, j.id) == 0) r->pending = cb_strdup(ps.value);
            store_secret_free(&ps);
        }
        const char *v[] = {pid, host, now, credential, j.id};
        int rc = !r->pending ? cb_fail(e, CB_ERR, CB_K_TAMPERED, "journal of %s has no matching pending password", credential)
                             : exec_bind(r->s, "UPDATE rotation_journal SET owner_pid = ?1, owner_host = ?2, updated_at = ?3"
                                               " WHERE credential = ?4 AND id = ?5", v, 5, e);
        if (!rc) {
            snprintf(r->id, sizeof r->id, "%s", j.id);
            r->resumed = 1;
            r->from_step = r->step = rotation_step_from_name(j.step);
            r->pending_version = cb_strdup(j.pending_version);
            if (!r->step) rc = cb_fail(e, CB_ERR, CB_K_TAMPERED, "journal of %s has an unknown step", credential);
        }
        jrow_free(&j);
        if (rc) {
            r->id[0] = 0;
            store_rollback(r->s);
            return rc;
        }
    } else {
        if (r->o->resume_only) {
            store_rollback(r->s);
            *outcome = "nothing";
            return 0;
        }
        if (changed) {
            store_rollback(r->s);
            return rotated_elsewhere(r, credential, e, outcome);
        }
        if (r->o->scheduled) {
            /* due when the tick looked; a success recorded since means another broker did it */
            sdb_stmt *st;
            int64_t last = 0;
            if (sdb_prepare(store_db(r->s), "SELECT last_success FROM schedule_state WHERE credential = ?", &st) == SDB_OK) {
                sdb_bind_text(st, 1, credential, -1);
                if (sdb_step(st) == SDB_ROW) last = sdb_column_int64(st, 0);
                sdb_finalize(st);
            }
            if (last > r->o->due_base) {
                store_rollback(r->s);
                return rotated_elsewhere(r, credential, e, outcome);
            }
        }
        pause_at("before-create");
        if (cb_uuid4(r->id)) { store_rollback(r->s); return cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot generate an id"); }
        int rc = password_generate(pw, &r->pending, e);
        /* the pending password's metadata is in clear: the rotation id only, no user name */
        json_t *meta = json_pack("{s:s}", "rotation", r->id);
        char *ms = json_dumps(meta, JSON_COMPACT);
        json_decref(meta);
        if (!rc) rc = store_secret_put(r->s, PENDING_NS, credential, r->pending, strlen(r->pending), r->id, ms, e);
        free(ms);
        if (!rc) rc = rotation_journal_insert(r->s, credential, r->id, policy_strategy_name(c->strategy), r->target,
                                              c->connection, c->publish_to, cb_now(), (long)getpid(), host, e);
        if (rc) {
            r->id[0] = 0;
            store_rollback(r->s);
            return rc;
        }
        r->step = STEP_CREATE;
        r->fresh = 1;
    }
    if (store_commit(r->s, e)) {
        r->id[0] = 0;
        r->step = STEP_NONE;
        r->fresh = 0;
        return e->code;
    }
    r->claimed = 1;
    return 0;
}

static int run(rot *r, const char *credential, json_t *report, cb_error *e, const char **outcome)
{
    *outcome = "error";
    const policy_credential *c = r->c;
    if (load_url(r, c->connection, &r->cur, &r->cur_raw, "", e)) return e->code;
    r->dbt = db_target_for(r->cur.engine);
    if (!strcmp(r->cur.engine, "sqlite"))
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "policy: credential %s: connection %s is SQLite, which has no logins or passwords: rotation does not apply (protect the file's owner and mode instead)",
                       credential, c->connection);
    if (!r->dbt || !r->dbt->set_password)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "credential %s: engine %s cannot be rotated", credential, r->cur.engine);
    if (c->admin_connection) {
        if (load_url(r, c->admin_connection, &r->admin, &r->admin_raw, "admin", e)) return e->code;
        r->have_admin = 1;
    }
    pw_policy pw;
    if (rotation_pw_policy(c, &pw, e)) return e->code;
    if (c->publish_to) {
        secret_ref ref;
        if (secret_ref_parse(c->publish_to, &ref, e)) return e->code;
        int bad = ref.version != NULL || ref.stage != NULL;
        secret_ref_free(&ref);
        if (bad) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "policy: credential %s: publish_to must not pin a version or stage", credential);
    }
    if (resolve_target(r, e)) return e->code;
    /* a name the server cannot hold is the policy's mistake, found before anything changes */
    if (!strcmp(r->cur.engine, "mysql") && strlen(r->target) > 128)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "policy: credential %s: user name %.40s... is %zu characters, longer than MariaDB's limit of 128",
                       credential, r->target, strlen(r->target));

    pause_at("after-read-credential");

    /* same process (serve's threads): one run per credential at a time */
    if (rotation_active_add(credential)) {
        *outcome = "in-progress";
        return cb_fail(e, ROTATION_EXIT_IN_PROGRESS, CB_K_CONFLICT, "rotation of %s is already in progress (in this process)", credential);
    }
    r->registered = 1;
    /* the journal row first, then the credential it reads is the one used below */
    int rc = claim(r, credential, &pw, e, outcome);
    if (rc || !r->claimed) return rc;

    rc = connect_control(r, e);
    if (rc && e->kind == CB_K_DENIED && r->have_admin && reload_admin(r) == 0) {
        /* the admin login was rotated meanwhile (another credential, another broker): its new stored URL */
        *e = (cb_error){0};
        rc = connect_control(r, e);
    }
    if (rc) {
        /* a login refused with a credential that is no longer the stored one: someone else rotated */
        int moved = e->kind == CB_K_DENIED && stored_changed(r);
        release_claim(r);
        if (moved) return rotated_elsewhere(r, credential, e, outcome);
        return rc;
    }
    snprintf(r->lock_name, sizeof r->lock_name, "credbroker:rotate:%s", credential);
    int got = 0;
    if (r->dbt->lock(r->ctl, r->lock_name, &got, e)) {
        release_claim(r);
        cb_error_prefix(e, "database lock");
        return e->code;
    }
    if (!got) {
        release_claim(r);
        *outcome = "in-progress";
        return cb_fail(e, ROTATION_EXIT_IN_PROGRESS, CB_K_CONFLICT,
                       "rotation of %s is already in progress (another broker holds the database lock)", credential);
    }
    r->locked = 1;
    /* both guards held: the credential must still be the one read under the journal row */
    if (stored_changed(r)) {
        release_claim(r);
        return rotated_elsewhere(r, credential, e, outcome);
    }

    /* Resume decides by testing: if the pending password logs in, set has happened. */
    if (r->resumed && r->step != STEP_CREATE && !r->ctl_pending) {
        cb_error te = {0};
        if (test_pw(r, r->pending, &te) == 0) r->ctl_pending = 1;
        else if (te.kind != CB_K_DENIED) {
            *e = te;
            cb_error_prefix(e, "testing the pending password of %s", r->target);
            return e->code;
        }
    }
    if (r->step == STEP_CREATE) {
        if (step_publish_pending(r, e)) return e->code;
        pause_at("after-create");
    }
    if (r->ctl_pending) r->step = STEP_FINISH;      /* the pending password works: roll forward */
    else if (r->step > STEP_SET) r->step = STEP_SET; /* it does not: (re)do set */
    if (r->step == STEP_SET && step_set(r, e)) return e->code;
    if (r->step == STEP_TEST && step_test(r, e)) return e->code;
    if (step_finish(r, e)) return e->code;
    *outcome = "ok";
    (void)report;
    return 0;
}

int rotation_run(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *credential, const rotation_opts *o,
                 json_t *report, cb_error *e)
{
    rotation_opts dflt = {0};
    if (!o) o = &dflt;
    int64_t t0 = cb_now_ms();
    rot r = {0};
    r.s = s; r.p = p; r.cfg = cfg; r.o = o;
    r.c = policy_credential(p, credential);
    cb_error le = {0};
    if (!e) e = &le;
    int rc;
    const char *outcome = "error";
    if (!r.c) {
        rc = cb_fail(e, CB_EUSAGE, CB_K_DENIED, "policy: credential '%s' is not in the policy files%s", credential,
                     o->resume_only ? " (an interrupted rotation of it stays in the journal: drop it with "
                                      "'credbroker rotate --journal --discard NAME')" : "");
        outcome = "denied";
    } else {
        rc = run(&r, credential, report, e, &outcome);
        if (rc && strncmp(e->msg, "policy:", 7) == 0) outcome = "denied";
    }
    int conflict = strcmp(outcome, "in-progress") == 0 || strcmp(outcome, "rotated-elsewhere") == 0;
    if (rc && r.id[0] && !conflict) {
        journal_error(&r, e->msg);
        char msg[sizeof e->msg];
        snprintf(msg, sizeof msg, "%s", e->msg);
        cb_fail(e, rc, e->kind, "rotation of %s stopped at %s: %.400s", credential, rotation_step_name(r.step), msg);
    }
    if (report) fill_report(&r, report, outcome, rc ? e : NULL, t0);
    if (strcmp(outcome, "nothing") != 0) audit_rot(&r, credential, outcome, rc ? e : NULL, t0);
    /* another broker's run records its own result */
    if (r.c && !conflict && strcmp(outcome, "nothing") != 0) {
        cb_error ig = {0};
        char *res = rc ? scrubbed(&r, e->msg) : NULL;
        if (schedule_state_record(s, r.c, rc == 0, cb_now(), rc ? res : "ok", &ig)) LOG_WARN("schedule state: %s", ig.msg);
        free(res);
    }
    if (r.claimed && conflict) release_claim(&r); /* a conflict met after taking over a row */
    if (r.registered) rotation_active_del(credential);
    rot_free(&r);
    return rc;
}

int rotation_terminate_sessions(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *credential, int *count,
                                cb_error *e)
{
    *count = 0;
    rot r = {0};
    rotation_opts o = {0};
    r.s = s; r.p = p; r.cfg = cfg; r.o = &o;
    r.c = policy_credential(p, credential);
    if (!r.c) return cb_fail(e, CB_EUSAGE, CB_K_DENIED, "policy: credential '%s' is not in the policy files", credential);
    int rc = load_url(&r, r.c->connection, &r.cur, NULL, "", e);
    if (!rc && !(r.dbt = db_target_for(r.cur.engine))) rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "unsupported engine");
    if (!rc && !r.dbt->terminate_sessions)
        rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "credential %s: engine %s has no login sessions to end", credential, r.cur.engine);
    if (!rc && r.c->admin_connection && !(rc = load_url(&r, r.c->admin_connection, &r.admin, NULL, "admin", e))) r.have_admin = 1;
    if (!rc && r.dbt) rc = r.dbt->connect(r.have_admin ? &r.admin : &r.cur, &r.ctl, e);
    const char *users[3] = {r.cur.user, NULL, NULL};
    if (!rc && r.c->strategy == POLICY_ALTERNATING_USERS) {
        if (r.c->users[0]) { users[0] = r.c->users[0]; users[1] = r.c->users[1]; }
        else if (r.c->alternate_connection && !(rc = load_url(&r, r.c->alternate_connection, &r.alt, NULL, "alternate", e)))
            users[1] = r.alt.user;
    }
    for (int i = 0; !rc && r.dbt && users[i]; i++) {
        int n = 0;
        rc = r.dbt->terminate_sessions(r.ctl, users[i], &n, e);
        *count += n;
    }
    rot_free(&r);
    return rc;
}
