/* PostgreSQL lease family: least-privilege LOGIN roles made per (client, connection),
 * password hashed client-side (PQencryptPasswordConn), dropped with their sessions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include "postgres.h"
#include "postgres_internal.h"

/* ---------- lease family: per-client query logins ----------
 * CREATE ROLE with a verifier hashed here (PQencryptPasswordConn), so the plaintext
 * never reaches the server or its log; no attribute beyond LOGIN; inherited membership
 * of the DBA's roles. Identifiers go through PQescapeIdentifier. */

static char *pg_ident(db_conn *c, const char *s, cb_error *e)
{
    char *q = s ? PQescapeIdentifier(c->pg, s, strlen(s)) : NULL;
    if (!q) cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot quote identifier");
    return q;
}

int pg_lease_create(db_conn *c, const db_lease_spec *spec, const char *password, cb_error *e)
{
    pg_settle(c);
    if (!spec || !spec->login || !*spec->login || !password)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "lease: login and password required");
    char *hash = PQencryptPasswordConn(c->pg, password, spec->login, NULL);
    if (!hash) return pg_driver_fail(e, CB_K_UNAVAILABLE, "password hashing failed", PQerrorMessage(c->pg), password);
    char *lit = PQescapeLiteral(c->pg, hash, strlen(hash));
    cb_wipe(hash, strlen(hash));
    PQfreemem(hash);
    char *id = pg_ident(c, spec->login, e);
    if (!lit || !id) {
        if (lit) { cb_wipe(lit, strlen(lit)); PQfreemem(lit); }
        PQfreemem(id);
        return id ? cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot escape password") : CB_ERR;
    }
    cb_buf b;
    cb_buf_init(&b, 1);
    char *head = cb_sprintf("CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"
                            " CONNECTION LIMIT %d PASSWORD ", id, spec->connection_limit > 0 ? spec->connection_limit : -1);
    cb_buf_append(&b, head, strlen(head));
    free(head);
    cb_buf_append(&b, lit, strlen(lit));
    cb_wipe(lit, strlen(lit));
    PQfreemem(lit);
    if (spec->valid_until > 0) {
        char vu[96], ts[32];
        cb_iso8601(spec->valid_until, ts);
        snprintf(vu, sizeof vu, " VALID UNTIL '%s'", ts);
        cb_buf_append(&b, vu, strlen(vu));
    }
    int rc = 0;
    if (spec->member_of && spec->member_of[0]) {
        cb_buf_append(&b, " IN ROLE ", 9);
        for (size_t i = 0; spec->member_of[i] && !rc; i++) {
            char *r = pg_ident(c, spec->member_of[i], e);
            if (!r) { rc = CB_ERR; break; }
            if (i) cb_buf_append(&b, ", ", 2);
            cb_buf_append(&b, r, strlen(r));
            PQfreemem(r);
        }
    }
    PQfreemem(id);
    char *sql = cb_buf_steal(&b);
    if (!rc) {
        PGresult *r = PQexec(c->pg, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) rc = pg_res_fail(c, r, "CREATE ROLE failed", e);
        else PQclear(r);
    }
    cb_free_secret(sql);
    return rc;
}

int pg_lease_renew(db_conn *c, const char *login, int64_t valid_until, cb_error *e)
{
    pg_settle(c);
    char *id = pg_ident(c, login, e);
    if (!id) return CB_ERR;
    char ts[32];
    cb_iso8601(valid_until, ts);
    char *sql = cb_sprintf("ALTER ROLE %s VALID UNTIL '%s'", id, ts);
    PQfreemem(id);
    int rc = pg_exec_cmd(c, sql, e);
    free(sql);
    return rc;
}

int pg_lease_drop(db_conn *c, const char *login, const char *host, cb_error *e)
{
    pg_settle(c);
    (void)host;
    const char *vals[1] = {login};
    PGresult *r = PQexecParams(c->pg, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return pg_res_fail(c, r, "lease drop failed", e);
    int exists = PQntuples(r) == 1;
    PQclear(r);
    if (!exists) return 0; /* idempotent: crash recovery drops what may not exist */
    char *id = pg_ident(c, login, e);
    if (!id) return CB_ERR;
    /* NOLOGIN first so no new session appears between the terminate and the DROP */
    char *sql = cb_sprintf("ALTER ROLE %s NOLOGIN", id);
    int rc = pg_exec_cmd(c, sql, e);
    free(sql);
    int n = 0;
    if (!rc) rc = pg_terminate_user(c, login, &n, e);
    /* the login should own nothing; REASSIGN/DROP OWNED (per database: this one) only
     * when it does, since they need the admin to have the login's privileges */
    int owns = 0;
    if (!rc) {
        r = PQexecParams(c->pg, "SELECT count(*) FROM pg_catalog.pg_shdepend d JOIN pg_catalog.pg_roles r ON r.oid = d.refobjid"
                                " WHERE r.rolname = $1 AND d.deptype IN ('o', 'a')", 1, NULL, vals, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) rc = pg_res_fail(c, r, "lease drop failed", e);
        else { owns = atoi(PQgetvalue(r, 0, 0)) > 0; PQclear(r); }
    }
    if (!rc && owns) {
        sql = cb_sprintf("REASSIGN OWNED BY %s TO CURRENT_USER; DROP OWNED BY %s", id, id);
        rc = pg_exec_cmd(c, sql, e);
        free(sql);
    }
    if (!rc) {
        sql = cb_sprintf("DROP ROLE IF EXISTS %s", id);
        rc = pg_exec_cmd(c, sql, e);
        free(sql);
    }
    PQfreemem(id);
    return rc;
}

int pg_lease_list(db_conn *c, const char *prefix, json_t **out, cb_error *e)
{
    pg_settle(c);
    *out = NULL;
    const char *vals[1] = {prefix ? prefix : ""};
    PGresult *r = PQexecParams(c->pg,
        "SELECT rolname FROM pg_catalog.pg_roles WHERE starts_with(rolname, $1) ORDER BY 1", 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return pg_res_fail(c, r, "lease list failed", e);
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) json_array_append_new(a, json_string(PQgetvalue(r, i, 0)));
    PQclear(r);
    *out = a;
    return 0;
}
