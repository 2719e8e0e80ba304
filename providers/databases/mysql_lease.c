/* The lease family for MySQL/MariaDB (db_target.h): per-client query logins with a
 * client-side hashed password, a connection limit, roles (MariaDB activates one default
 * role, so several are bundled), an expiry backstop, and KILL + DROP. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mysql_target.h"
#include "mysql_internal.h"

/* ---------- leases: per-client query logins ---------- */

static int login_ok(db_conn *c, const char *login, cb_error *e)
{
    if (!login || !*login) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "lease login required");
    for (const char *p = login; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
            return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "lease login may hold only letters, digits, _ - and .");
    return mydb_user_len_ok(c, login, e);
}

/* MariaDB activates one default role: several roles are bundled into <login>_roles. */
static char *bundle_role(const char *login) { return cb_sprintf("%s_roles", login); }

int my_lease_create(db_conn *c, const db_lease_spec *spec, const char *password, cb_error *e)
{
    if (!spec || !password) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "lease spec and password required");
    if (login_ok(c, spec->login, e)) return e->code;
    size_t nroles = 0;
    while (spec->member_of && spec->member_of[nroles]) nroles++;
    char *bundle = bundle_role(spec->login);
    if (nroles > 1 && mydb_user_len_ok(c, bundle, e)) { free(bundle); return e->code; }
    char hash[42];
    mysql_native_hash(password, hash);
    char *ql = mydb_quote(c, spec->login), *qh = mydb_quote(c, spec->host && *spec->host ? spec->host : "%"), *qb = mydb_quote(c, bundle);
    char lim[64] = "";
    if (spec->connection_limit > 0) snprintf(lim, sizeof lim, " WITH MAX_USER_CONNECTIONS %d", spec->connection_limit);
    char *sql = cb_sprintf("CREATE USER %s@%s IDENTIFIED BY PASSWORD '%s'%s", ql, qh, hash, lim);
    cb_wipe(hash, sizeof hash);
    int rc = mydb_exec(c, sql, e);
    cb_free_secret(sql);
    if (rc) cb_error_prefix(e, "CREATE USER %s", spec->login);
    /* backstop for the broker's revocation: MariaDB has no VALID UNTIL, but it expires passwords */
    if (!rc && spec->valid_until > 0 && c->mariadb) {
        int64_t left = spec->valid_until - cb_now();
        long days = left <= 0 ? 1 : (long)((left + 86399) / 86400);
        sql = cb_sprintf("ALTER USER %s@%s PASSWORD EXPIRE INTERVAL %ld DAY", ql, qh, days);
        rc = mydb_exec(c, sql, e);
        free(sql);
    }
    const char *active = nroles == 1 ? spec->member_of[0] : NULL;
    if (!rc && nroles > 1) {
        sql = cb_sprintf("CREATE ROLE %s", qb);
        rc = mydb_exec(c, sql, e);
        free(sql);
        for (size_t i = 0; !rc && i < nroles; i++) {
            char *qr = mydb_quote(c, spec->member_of[i]);
            sql = cb_sprintf("GRANT %s TO %s", qr, qb);
            rc = mydb_exec(c, sql, e);
            if (rc) cb_error_prefix(e, "GRANT %s", spec->member_of[i]);
            free(sql);
            free(qr);
        }
        active = bundle;
    }
    if (!rc && active) {
        char *qr = mydb_quote(c, active);
        sql = cb_sprintf("GRANT %s TO %s@%s", qr, ql, qh);
        rc = mydb_exec(c, sql, e);
        if (rc) cb_error_prefix(e, "GRANT %s", active);
        free(sql);
        if (!rc) {
            sql = cb_sprintf("SET DEFAULT ROLE %s FOR %s@%s", qr, ql, qh);
            rc = mydb_exec(c, sql, e);
            free(sql);
        }
        free(qr);
    }
    if (rc) { /* leave nothing half-made behind */
        cb_error ig = {0};
        sql = cb_sprintf("DROP USER IF EXISTS %s@%s", ql, qh);
        mydb_exec(c, sql, &ig);
        free(sql);
        if (nroles > 1) {
            sql = cb_sprintf("DROP ROLE IF EXISTS %s", qb);
            mydb_exec(c, sql, &ig);
            free(sql);
        }
    }
    free(ql); free(qh); free(qb); free(bundle);
    return rc;
}

int my_lease_renew(db_conn *c, const char *login, int64_t valid_until, cb_error *e)
{
    if (login_ok(c, login, e)) return e->code;
    if (valid_until <= 0 || !c->mariadb) return 0;
    int64_t left = valid_until - cb_now();
    long days = left <= 0 ? 1 : (long)((left + 86399) / 86400);
    char *ql = mydb_quote(c, login);
    char *sql = cb_sprintf("SELECT Host FROM mysql.user WHERE User = %s AND is_role = 'N'", ql);
    MYSQL_RES *r;
    int rc = mydb_select(c, sql, &r, e);
    free(sql);
    if (!rc) {
        MYSQL_ROW row;
        while (!rc && (row = mysql_fetch_row(r))) {
            char *qh = mydb_quote(c, row[0] ? row[0] : "%");
            sql = cb_sprintf("ALTER USER %s@%s PASSWORD EXPIRE INTERVAL %ld DAY", ql, qh, days);
            rc = mydb_exec(c, sql, e);
            free(sql);
            free(qh);
        }
        mysql_free_result(r);
    }
    free(ql);
    return rc;
}

int my_lease_drop(db_conn *c, const char *login, const char *host, cb_error *e)
{
    if (login_ok(c, login, e)) return e->code;
    char *ql = mydb_quote(c, login);
    int rc = 0, n = 0;
    /* hosts to drop: the given one, else every account of that name */
    char **hosts = NULL;
    size_t nh = 0;
    if (host && *host) {
        hosts = cb_calloc(1, sizeof *hosts);
        hosts[nh++] = cb_strdup(host);
    } else {
        char *sql = cb_sprintf("SELECT Host FROM mysql.user WHERE User = %s AND is_role = 'N'", ql);
        MYSQL_RES *r;
        rc = mydb_select(c, sql, &r, e);
        free(sql);
        if (!rc) {
            MYSQL_ROW row;
            hosts = cb_calloc(mysql_num_rows(r) + 1, sizeof *hosts);
            while ((row = mysql_fetch_row(r))) hosts[nh++] = cb_strdup(row[0] ? row[0] : "%");
            mysql_free_result(r);
        }
    }
    /* KILL, DROP, KILL: DROP USER leaves open sessions running, and one may log in between */
    if (!rc) rc = mydb_kill_sessions(c, login, &n, e);
    for (size_t i = 0; !rc && i < nh; i++) {
        char *qh = mydb_quote(c, hosts[i]);
        char *sql = cb_sprintf("DROP USER IF EXISTS %s@%s", ql, qh);
        rc = mydb_exec(c, sql, e);
        free(sql);
        free(qh);
    }
    if (!rc) rc = mydb_kill_sessions(c, login, &n, e);
    if (!rc) {
        char *b = bundle_role(login), *qb = mydb_quote(c, b);
        char *sql = cb_sprintf("DROP ROLE IF EXISTS %s", qb);
        if (strlen(b) <= (c->mariadb ? MARIADB_USER_MAX : MYSQL_USER_MAX)) rc = mydb_exec(c, sql, e);
        free(sql); free(qb); free(b);
    }
    for (size_t i = 0; i < nh; i++) free(hosts[i]);
    free(hosts);
    free(ql);
    if (rc) cb_error_prefix(e, "dropping lease login %s", login);
    return rc;
}

int my_lease_list(db_conn *c, const char *prefix, json_t **out, cb_error *e)
{
    *out = NULL;
    cb_buf pat;
    cb_buf_init(&pat, 0);
    for (const char *p = prefix ? prefix : ""; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\') cb_buf_append(&pat, "\\", 1);
        cb_buf_append(&pat, p, 1);
    }
    cb_buf_append(&pat, "%", 1);
    char *pp = cb_buf_steal(&pat);
    char *qp = mydb_quote(c, pp);
    free(pp);
    char *sql = cb_sprintf("SELECT DISTINCT User FROM mysql.user WHERE User LIKE %s ESCAPE '\\\\' AND is_role = 'N' ORDER BY 1", qp);
    free(qp);
    MYSQL_RES *r;
    int rc = mydb_select(c, sql, &r, e);
    free(sql);
    if (rc) return rc;
    *out = json_array();
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r)))
        if (row[0]) json_array_append_new(*out, json_string(row[0]));
    mysql_free_result(r);
    return 0;
}
