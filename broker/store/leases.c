/* Lease records in the store (see leases.h). */
#include "leases.h"
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "store_internal.h"

void store_lease_free(store_lease *l)
{
    if (!l) return;
    free(l->client); free(l->connection); free(l->login); free(l->admin_connection);
    free(l->state); free(l->error); free(l->owner_host);
    memset(l, 0, sizeof *l);
}

static char *col(sdb_stmt *st, int i)
{
    const unsigned char *t = sdb_column_text(st, i);
    return t ? cb_strdup((const char *)t) : NULL;
}

/* login and error are sealed (a database user name, and text that can quote it): the
 * plaintext login column holds '' and error NULL */
#define LEASE_COLS \
    "id, client, connection, login_enc, admin_connection, created_at, expires_at, updated_at, state, error_enc, owner_pid," \
    " owner_host, login_kv, error_kv"

static int row(cb_store *s, sdb_stmt *st, store_lease *l, cb_error *e)
{
    memset(l, 0, sizeof *l);
    const unsigned char *id = sdb_column_text(st, 0);
    snprintf(l->id, sizeof l->id, "%s", id ? (const char *)id : "");
    l->client = col(st, 1);
    l->connection = col(st, 2);
    l->admin_connection = col(st, 4);
    l->created_at = sdb_column_int64(st, 5);
    l->expires_at = sdb_column_int64(st, 6);
    l->updated_at = sdb_column_int64(st, 7);
    l->state = col(st, 8);
    l->owner_pid = sdb_column_int64(st, 10);
    l->owner_host = col(st, 11);
    int rc = store_column_unsealed(s, st, 3, 12, "leases", l->id, "login", &l->login, e);
    if (!rc) rc = store_column_unsealed(s, st, 9, 13, "leases", l->id, "error", &l->error, e);
    if (!rc && !l->login) rc = cb_fail(e, CB_ERR, CB_K_TAMPERED, "lease %s has no sealed login", l->id);
    if (rc) store_lease_free(l);
    return rc;
}

static const char *this_host(void)
{
    static char h[256];
    if (!h[0] && gethostname(h, sizeof h - 1)) snprintf(h, sizeof h, "?");
    return h;
}

int lease_owner_gone(const store_lease *l)
{
    if (!l->owner_pid || !l->owner_host || strcmp(l->owner_host, this_host())) return 0;
    if (l->owner_pid == (int64_t)getpid()) return 0;
    return kill((pid_t)l->owner_pid, 0) != 0 && errno == ESRCH;
}

int lease_journal_create(cb_store *s, const store_lease *l, const char *password, cb_error *e)
{
    if (store_begin(s, e)) return e->code;
    sdb_stmt *st;
    if (sdb_prepare(s->db, "INSERT INTO leases (id, client, connection, login, login_enc, login_kv, admin_connection, created_at,"
                           " expires_at, updated_at, state, owner_pid, owner_host) VALUES (?1,?2,?3,'',?4,?10,?5,?6,?7,?6,"
                           "'creating',?8,?9)", &st) != SDB_OK) {
        int rc = store_i_sqlerr(s, e, "lease");
        store_rollback(s);
        return rc;
    }
    sdb_bind_text(st, 1, l->id, -1);
    sdb_bind_text(st, 2, l->client, -1);
    sdb_bind_text(st, 3, l->connection, -1);
    if (store_bind_sealed(s, st, 4, 10, "leases", l->id, "login", l->login, e)) {
        sdb_finalize(st);
        store_rollback(s);
        return e->code;
    }
    sdb_bind_text(st, 5, l->admin_connection, -1);
    sdb_bind_int64(st, 6, l->created_at);
    sdb_bind_int64(st, 7, l->expires_at);
    sdb_bind_int64(st, 8, (int64_t)getpid());
    sdb_bind_text(st, 9, this_host(), -1);
    int r = sdb_step(st);
    sdb_finalize(st);
    if (r != SDB_DONE) {
        int rc = sdb_errcode(s->db) == SDB_CONSTRAINT
                     ? cb_fail(e, CB_ERR, CB_K_CONFLICT, "client %s already has a lease on %s", l->client, l->connection)
                     : store_i_sqlerr(s, e, "lease");
        store_rollback(s);
        return rc;
    }
    if (store_secret_put(s, LEASE_NS, l->id, password, strlen(password), NULL, NULL, e)) {
        store_rollback(s);
        return e->code;
    }
    return store_commit(s, e);
}

static int set_state(cb_store *s, const char *id, const char *state, int64_t expires_at, const char *error, cb_error *e);

/* A lease leaving use (revoking, revoked) bumps generation "leases" in the same
 * transaction, so every broker sharing the store drops its pooled sessions of that login
 * within a poll; renewals and creation do not (nothing to drop). */
int lease_set_state(cb_store *s, const char *id, const char *state, int64_t expires_at, const char *error, cb_error *e)
{
    if (strcmp(state, "revoking") && strcmp(state, "revoked")) return set_state(s, id, state, expires_at, error, e);
    int own = !sdb_in_transaction(s->db);
    if (own && store_begin(s, e)) return e->code;
    int rc = set_state(s, id, state, expires_at, error, e);
    if (!rc) rc = store_generation_bump(s, "leases", e);
    if (own) {
        if (rc) store_rollback(s);
        else rc = store_commit(s, e);
    }
    return rc;
}

static int set_state(cb_store *s, const char *id, const char *state, int64_t expires_at, const char *error, cb_error *e)
{
    sdb_stmt *st;
    if (sdb_prepare(s->db,
                           "UPDATE leases SET state = ?2, expires_at = CASE WHEN ?3 > 0 THEN ?3 ELSE expires_at END,"
                           " error_enc = ?4, error_kv = ?8, updated_at = ?5, owner_pid = ?6, owner_host = ?7 WHERE id = ?1", &st) != SDB_OK)
        return store_i_sqlerr(s, e, "lease");
    sdb_bind_text(st, 1, id, -1);
    sdb_bind_text(st, 2, state, -1);
    sdb_bind_int64(st, 3, expires_at);
    if (store_bind_sealed(s, st, 4, 8, "leases", id, "error", error, e)) {
        sdb_finalize(st);
        return e->code;
    }
    sdb_bind_int64(st, 5, cb_now());
    sdb_bind_int64(st, 6, (int64_t)getpid());
    sdb_bind_text(st, 7, this_host(), -1);
    int r = sdb_step(st);
    sdb_finalize(st);
    if (r != SDB_DONE) return store_i_sqlerr(s, e, "lease");
    if (sdb_changes(s->db) == 0) return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "no lease %s", id);
    return 0;
}

static int get_one(cb_store *s, const char *sql, const char *a, const char *b, store_lease *out, const char *what, cb_error *e)
{
    memset(out, 0, sizeof *out);
    sdb_stmt *st;
    if (sdb_prepare(s->db, sql, &st) != SDB_OK) return store_i_sqlerr(s, e, "lease");
    sdb_bind_text(st, 1, a, -1);
    if (b) sdb_bind_text(st, 2, b, -1);
    int r = sdb_step(st), rc = 0;
    if (r == SDB_ROW) rc = row(s, st, out, e);
    else if (r == SDB_DONE) rc = cb_fail(e, CB_ERR, CB_K_NOTFOUND, "no %s", what);
    else rc = store_i_sqlerr(s, e, "lease");
    sdb_finalize(st);
    return rc;
}

int lease_get_live(cb_store *s, const char *client, const char *connection, store_lease *out, cb_error *e)
{
    return get_one(s, "SELECT " LEASE_COLS " FROM leases WHERE client = ?1 AND connection = ?2 AND state IN ('creating','active')",
                   client, connection, out, "live lease", e);
}

int lease_get(cb_store *s, const char *id, store_lease *out, cb_error *e)
{
    return get_one(s, "SELECT " LEASE_COLS " FROM leases WHERE id = ?1", id, NULL, out, "such lease", e);
}

int lease_list(cb_store *s, int all, store_lease **out, size_t *n, cb_error *e)
{
    *out = NULL;
    *n = 0;
    sdb_stmt *st;
    if (sdb_prepare(s->db,
                           all ? "SELECT " LEASE_COLS " FROM leases ORDER BY created_at, id"
                               : "SELECT " LEASE_COLS " FROM leases WHERE state <> 'revoked' ORDER BY created_at, id", &st) != SDB_OK)
        return store_i_sqlerr(s, e, "lease");
    int r, bad = 0;
    size_t cap = 0;
    while ((r = sdb_step(st)) == SDB_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = cb_realloc(*out, cap * sizeof **out);
        }
        /* a lease whose login does not open fails the list, like a tampered connection
         * (verify names the row): the reaper must not act on a half-read record */
        if (row(s, st, &(*out)[*n], e)) {
            bad = 1;
            break;
        }
        (*n)++;
    }
    sdb_finalize(st);
    if (bad || r != SDB_DONE) {
        for (size_t i = 0; i < *n; i++) store_lease_free(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
        return bad ? (e && e->code ? e->code : CB_ERR) : store_i_sqlerr(s, e, "lease");
    }
    return 0;
}

int lease_password(cb_store *s, const char *id, char **password, cb_error *e)
{
    store_secret v;
    *password = NULL;
    if (store_secret_get(s, LEASE_NS, id, &v, e)) return e->code;
    *password = v.value;
    v.value = NULL;
    store_secret_free(&v);
    return 0;
}

int lease_forget_password(cb_store *s, const char *id, cb_error *e)
{
    cb_error ig = {0};
    if (store_secret_delete(s, LEASE_NS, id, &ig) && ig.kind != CB_K_NOTFOUND) {
        *e = ig;
        return ig.code ? ig.code : CB_ERR;
    }
    return 0;
}

json_t *lease_to_json(const store_lease *l)
{
    char c[32] = "", x[32] = "";
    cb_iso8601(l->created_at, c);
    cb_iso8601(l->expires_at, x);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", l->id, "client", l->client ? l->client : "",
                          "connection", l->connection ? l->connection : "", "login", l->login ? l->login : "",
                          "admin_connection", l->admin_connection ? l->admin_connection : "", "created", c, "expires", x,
                          "state", l->state ? l->state : "");
    if (l->error) json_object_set_new(o, "error", json_string(l->error));
    return o;
}

int lease_login_is_ours(const char *login)
{
    size_t n = login ? strlen(login) : 0, pl = strlen(LEASE_LOGIN_PREFIX);
    if (n < pl + 10 || strncmp(login, LEASE_LOGIN_PREFIX, pl) || login[n - 9] != '_') return 0;
    for (size_t i = n - 8; i < n; i++)
        if (!isxdigit((unsigned char)login[i]) || isupper((unsigned char)login[i])) return 0;
    return 1;
}

void lease_make_login(const char *client, char out[64])
{
    char mid[41];
    size_t k = 0;
    for (const char *p = client; *p && k < sizeof mid - 1; p++) {
        unsigned char ch = (unsigned char)*p;
        mid[k++] = isalnum(ch) ? (char)tolower(ch) : '_';
    }
    mid[k] = 0;
    unsigned char r[4];
    if (RAND_bytes(r, sizeof r) != 1) memset(r, 0, sizeof r);
    snprintf(out, 64, "%s%s_%02x%02x%02x%02x", LEASE_LOGIN_PREFIX, mid, r[0], r[1], r[2], r[3]);
}
