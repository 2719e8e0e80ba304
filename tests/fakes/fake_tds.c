/* A protocol-faithful fake SQL Server (MS-TDS 7.4, no TLS) for tests.
 *   fake_tds --port N [--logins FILE] [--login NAME:PASSWORD[:admin]]... [--spid-start N]
 *            [--state-file FILE]
 * FILE lines are name:password or name:password:admin (name has no ':'). With
 * --state-file, logins are loaded from it when it exists and every password change is
 * written back (0600), so a restart keeps rotated passwords.
 * Understands: SELECT @@spid / @@version / @var / literal, SET, USE, BEGIN/COMMIT/ROLLBACK,
 * ALTER LOGIN .. WITH PASSWORD [OLD_PASSWORD], the sys.dm_exec_sessions query, KILL,
 * CREATE LOGIN/CREATE USER .. FOR LOGIN/ALTER ROLE .. ADD MEMBER/DROP USER/DROP LOGIN and
 * SELECT name FROM sys.server_principals WHERE name LIKE .. (the lease family),
 * DECLARE @v int, EXEC [@v =] sp_getapplock / sp_releaseapplock (session-owned), SELECT from
 * INFORMATION_SCHEMA.* (empty) and from the demo table t(name nvarchar(50), n int).
 * Logs to stderr: one line per login and per statement ("stmt spid=N: SQL"), string
 * literals redacted in any batch that mentions PASSWORD; never a password. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <unistd.h>
#include "tds_proto.h"
#include "tds_sql.h"

#define SERVER_NAME "FAKETDS"
#define VERSION_STRING "Microsoft SQL Server 2022 (RTM) - 16.0.4096.0 (X64) credbroker fake_tds"

typedef struct login { char *name, *password; int admin, user; char roles[256]; } login;
typedef struct session { int spid, fd, admin; char *login; } session;
typedef struct applock { char *resource; int spid, count; } applock;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static login *logins;
static size_t nlogins;
static session *sessions[1024];
static applock locks[256];
static int next_spid = 51;
static const char *state_file;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    static pthread_mutex_t lmu = PTHREAD_MUTEX_INITIALIZER;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&lmu);
    fputs("fake_tds: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    pthread_mutex_unlock(&lmu);
    va_end(ap);
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) abort();
    return d;
}

static void wipe_free(char *s)
{
    if (!s) return;
    volatile char *v = s;
    while (*v) *v++ = 0;
    free(s);
}

/* ---- Logins (mu held) ---- */
static login *find_login(const char *name)
{
    for (size_t i = 0; i < nlogins; i++)
        if (strcasecmp(logins[i].name, name) == 0) return &logins[i];  /* names: case-insensitive collation */
    return NULL;
}

static int add_login_line(char *line)
{
    line[strcspn(line, "\r\n")] = 0;
    if (!*line || *line == '#') return 0;
    char *colon = strchr(line, ':');
    if (!colon || colon == line) return -1;
    *colon = 0;
    char *pw = colon + 1;
    int admin = 0;
    size_t pl = strlen(pw);
    if (pl >= 6 && strcmp(pw + pl - 6, ":admin") == 0) { admin = 1; pw[pl - 6] = 0; }
    login *l = find_login(line);
    if (!l) {
        logins = realloc(logins, (nlogins + 1) * sizeof *logins);
        if (!logins) abort();
        l = &logins[nlogins++];
        memset(l, 0, sizeof *l);
        l->name = xstrdup(line);
    } else {
        wipe_free(l->password);
    }
    l->password = xstrdup(pw);
    l->admin = admin;
    return 0;
}

static int load_logins(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[1024];
    int rc = 0;
    while (fgets(line, sizeof line, f))
        if (add_login_line(line)) { rc = -1; break; }
    memset(line, 0, sizeof line);
    fclose(f);
    return rc;
}

static void save_state(void)
{
    if (!state_file) return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", state_file);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { logf_("cannot write state file: %s", strerror(errno)); return; }
    FILE *f = fdopen(fd, "w");
    for (size_t i = 0; i < nlogins; i++)
        fprintf(f, "%s:%s%s\n", logins[i].name, logins[i].password, logins[i].admin ? ":admin" : "");
    fclose(f);
    if (rename(tmp, state_file)) logf_("cannot replace state file: %s", strerror(errno));
}

/* ---- Reply building ---- */
typedef struct reply {
    tdsf_buf b;
    size_t last_done;   /* offset of the last DONE/DONEPROC status + 1, 0 if none */
} reply;

static void done(reply *r, uint8_t tok, uint16_t status, uint64_t rows)
{
    r->last_done = r->b.len + 1;
    tdsf_tok_done(&r->b, tok, status | TDSF_DONE_MORE, 0, rows);
}

static void error(reply *r, int num, int cls, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void error(reply *r, int num, int cls, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tdsf_tok_message(&r->b, TDSF_TOK_ERROR, num, 1, (uint8_t)cls, msg, SERVER_NAME, "", 1);
}

/* ---- Per-connection state ---- */
typedef struct conn {
    int fd, spid, admin;
    char *user, *db;
    size_t packet_size;
    struct { char name[64]; int set; int64_t v; } vars[8];
    size_t nvars;
} conn;

static int find_var(conn *c, const char *name)
{
    for (size_t i = 0; i < c->nvars; i++) if (strcasecmp(c->vars[i].name, name) == 0) return (int)i;
    return -1;
}

static void result_int(reply *r, const char *col, uint8_t size, int64_t v, int is_null)
{
    tdsf_col cols[1] = {{col, TDSF_TYPE_INTN, size, 1}};
    tdsf_tok_colmetadata(&r->b, cols, 1);
    tdsf_tok_row(&r->b);
    tdsf_val_intn(&r->b, size, v, is_null);
    done(r, TDSF_TOK_DONE, TDSF_DONE_COUNT, 1);
}

static void result_str(reply *r, const char *col, uint16_t size, const char *v)
{
    tdsf_col cols[1] = {{col, TDSF_TYPE_NVARCHAR, size, 1}};
    tdsf_tok_colmetadata(&r->b, cols, 1);
    tdsf_tok_row(&r->b);
    tdsf_val_nvarchar(&r->b, v);
    done(r, TDSF_TOK_DONE, TDSF_DONE_COUNT, 1);
}

static const char *param(const tdsf_stmt *st, const char *name)
{
    for (size_t i = 0; i < st->nparams; i++) if (strcasecmp(st->pnames[i], name) == 0) return st->pvalues[i];
    return NULL;
}

/* sp_getapplock / sp_releaseapplock with @LockOwner = 'Session'. Return codes per the
 * documentation: 0 granted, -1 timed out, -999 parameter or other error. */
static int32_t do_applock(conn *c, reply *r, const tdsf_stmt *st, int get)
{
    const char *res = param(st, "Resource"), *owner = param(st, "LockOwner");
    const char *mode = param(st, "LockMode");
    if (!res || (get && !mode)) {
        error(r, 201, 16, "Procedure or function '%s' expects parameter '@%s', which was not supplied.",
              st->proc, !res ? "Resource" : "LockMode");
        return -999;
    }
    if (owner && strcasecmp(owner, "Session") != 0) {
        error(r, 1223, 16, "The fake server supports only @LockOwner = 'Session'.");
        return -999;
    }
    if (!owner) {  /* the default owner is Transaction, which needs an open transaction */
        error(r, 1223, 16, "The fake server supports only @LockOwner = 'Session'.");
        return -999;
    }
    if (strlen(res) > 255) {
        error(r, 1223, 16, "Resource name is too long.");
        return -999;
    }
    int32_t rc = -999;
    pthread_mutex_lock(&mu);
    applock *found = NULL, *free_slot = NULL;
    for (size_t i = 0; i < sizeof locks / sizeof locks[0]; i++) {
        if (locks[i].resource && strcmp(locks[i].resource, res) == 0) found = &locks[i];
        else if (!locks[i].resource && !free_slot) free_slot = &locks[i];
    }
    if (get) {
        if (found && found->spid == c->spid) { found->count++; rc = 0; }
        else if (found) rc = -1;    /* @LockTimeout = 0: no wait */
        else if (free_slot) { free_slot->resource = xstrdup(res); free_slot->spid = c->spid; free_slot->count = 1; rc = 0; }
    } else {
        if (found && found->spid == c->spid) {
            if (--found->count == 0) { free(found->resource); found->resource = NULL; }
            rc = 0;
        }
    }
    pthread_mutex_unlock(&mu);
    if (!get && rc != 0)
        error(r, 1223, 16, "Cannot release the application lock (Database Principal: 'public', Resource: '%s') because it is not currently held.", res);
    return rc;
}

static void do_exec(conn *c, reply *r, const tdsf_stmt *st)
{
    int get = strcasecmp(st->proc, "sp_getapplock") == 0;
    if (!get && strcasecmp(st->proc, "sp_releaseapplock") != 0) {
        error(r, 2812, 16, "Could not find stored procedure '%s'.", st->proc);
        done(r, TDSF_TOK_DONE, TDSF_DONE_ERROR, 0);
        return;
    }
    int32_t rc = do_applock(c, r, st, get);
    if (st->ret_var) {
        int v = find_var(c, st->ret_var);
        if (v < 0) {
            error(r, 137, 15, "Must declare the scalar variable \"@%s\".", st->ret_var);
            done(r, TDSF_TOK_DONE, TDSF_DONE_ERROR, 0);
            return;
        }
        c->vars[v].v = rc;
        c->vars[v].set = 1;
    }
    tdsf_tok_returnstatus(&r->b, rc);
    r->last_done = r->b.len + 1;
    tdsf_tok_done(&r->b, TDSF_TOK_DONEPROC, TDSF_DONE_MORE, 0, 0);
}

static void do_alter_login(conn *c, reply *r, const tdsf_stmt *st)
{
    pthread_mutex_lock(&mu);
    login *l = find_login(st->name);
    int self = strcasecmp(st->name, c->user) == 0;
    int ok;
    if (!l) ok = 0;
    else if (c->admin && !st->old_password) ok = 1;
    else if (self && st->old_password) ok = strcmp(l->password, st->old_password) == 0;
    else ok = 0;
    if (ok) {
        wipe_free(l->password);
        l->password = xstrdup(st->password);
        save_state();
    }
    pthread_mutex_unlock(&mu);
    if (ok) {
        logf_("spid %d: password of login '%s' changed", c->spid, st->name);
        done(r, TDSF_TOK_DONE, 0, 0);
    } else {
        /* SQL Server answers a missing permission, an unknown login and (as this fake
         * chooses) a wrong OLD_PASSWORD alike: Msg 15151, level 16. */
        error(r, 15151, 16, "Cannot alter the login '%s', because it does not exist or you do not have permission.", st->name);
        done(r, TDSF_TOK_DONE, TDSF_DONE_ERROR, 0);
    }
}

/* The lease family (CREATE LOGIN/USER, ALTER ROLE ADD MEMBER, DROP USER/LOGIN): admin
 * sessions only; a login with sessions cannot be dropped (Msg 15434, as SQL Server). */
static void lease_stmt(conn *c, reply *r, const tdsf_stmt *st)
{
    int err = 0;
    char msg[300] = "";
    pthread_mutex_lock(&mu);
    login *l = find_login(st->name);
    if (!c->admin) {
        err = 15247;
        snprintf(msg, sizeof msg, "User does not have permission to perform this action.");
    } else if (st->kind == TDSF_ST_CREATE_LOGIN) {
        if (l) { err = 15025; snprintf(msg, sizeof msg, "The server principal '%s' already exists.", st->name); }
        else {
            logins = realloc(logins, (nlogins + 1) * sizeof *logins);
            if (!logins) abort();
            logins[nlogins++] = (login){xstrdup(st->name), xstrdup(st->password), 0, 0, ""};
            save_state();
        }
    } else if (!l || (st->kind == TDSF_ST_CREATE_USER && strcasecmp(st->role, st->name))) {
        err = 15151;
        snprintf(msg, sizeof msg, "Cannot find the login '%s', because it does not exist or you do not have permission.", st->name);
    } else if (st->kind == TDSF_ST_CREATE_USER) {
        if (l->user) { err = 15023; snprintf(msg, sizeof msg, "User, group, or role '%s' already exists in the current database.", st->name); }
        else l->user = 1;
    } else if (st->kind == TDSF_ST_ALTER_ROLE_ADD) {
        if (!l->user) { err = 15151; snprintf(msg, sizeof msg, "Cannot add the principal '%s', because it does not exist or you do not have permission.", st->name); }
        else snprintf(l->roles + strlen(l->roles), sizeof l->roles - strlen(l->roles), "%s%s", l->roles[0] ? "," : "", st->role);
    } else if (st->kind == TDSF_ST_DROP_USER) {
        if (!l->user) { err = 15151; snprintf(msg, sizeof msg, "Cannot drop the user '%s', because it does not exist or you do not have permission.", st->name); }
        else { l->user = 0; l->roles[0] = 0; }
    } else { /* DROP LOGIN */
        int busy = 0;
        for (size_t i = 0; i < 1024; i++)
            if (sessions[i] && !strcasecmp(sessions[i]->login, st->name)) busy = 1;
        if (busy) { err = 15434; snprintf(msg, sizeof msg, "Could not drop login '%s' as the user is currently logged in.", st->name); }
        else {
            size_t k = (size_t)(l - logins);
            free(l->name);
            wipe_free(l->password);
            memmove(&logins[k], &logins[k + 1], (nlogins - k - 1) * sizeof *logins);
            nlogins--;
            save_state();
        }
    }
    pthread_mutex_unlock(&mu);
    if (err) {
        error(r, err, 16, "%s", msg);
        done(r, TDSF_TOK_DONE, TDSF_DONE_ERROR, 0);
        return;
    }
    logf_("spid %d: lease statement %d on '%s'%s%s", c->spid, st->kind, st->name, st->role ? " role " : "", st->role ? st->role : "");
    done(r, TDSF_TOK_DONE, 0, 0);
}

/* SELECT name FROM sys.server_principals WHERE name LIKE N'prefix%' ([_] is a literal _) */
static void do_principals(reply *r, const tdsf_stmt *st)
{
    char pre[128];
    size_t k = 0;
    for (const char *p = st->name; *p && *p != '%' && k < sizeof pre - 1; p++) {
        if (!strncmp(p, "[_]", 3)) { pre[k++] = '_'; p += 2; }
        else pre[k++] = *p;
    }
    pre[k] = 0;
    tdsf_col cols[1] = {{"name", TDSF_TYPE_NVARCHAR, 256, 0}};
    tdsf_tok_colmetadata(&r->b, cols, 1);
    size_t n = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nlogins; i++)
        if (!strncasecmp(logins[i].name, pre, k)) { tdsf_tok_row(&r->b); tdsf_val_nvarchar(&r->b, logins[i].name); n++; }
    pthread_mutex_unlock(&mu);
    done(r, TDSF_TOK_DONE, TDSF_DONE_COUNT, n);
}

static void do_sessions(conn *c, reply *r, const tdsf_stmt *st)
{
    int ids[1024];
    size_t n = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < 1024; i++) {
        session *s = sessions[i];
        if (!s || strcasecmp(s->login, st->name) != 0) continue;
        if (st->exclude_self && s->spid == c->spid) continue;
        /* Without VIEW SERVER STATE a login only sees its own session. */
        if (!c->admin && s->spid != c->spid) continue;
        ids[n++] = s->spid;
    }
    pthread_mutex_unlock(&mu);
    tdsf_col cols[1] = {{"session_id", TDSF_TYPE_INTN, 2, 0}};
    tdsf_tok_colmetadata(&r->b, cols, 1);
    for (size_t i = 0; i < n; i++) { tdsf_tok_row(&r->b); tdsf_val_intn(&r->b, 2, ids[i], 0); }
    done(r, TDSF_TOK_DONE, TDSF_DONE_COUNT, n);
}

static void do_kill(conn *c, reply *r, int64_t spid)
{
    if (!c->admin) {
        error(r, 6102, 14, "User does not have permission to use the KILL statement.");
        done(r, TDSF_TOK_DONE, TDSF_DONE_ERROR, 0);
        return;
    }
    if (spid == c->spid) {
        error(r, 6104, 16, "Cannot use KILL to kill your own process.");
        done(r, TDSF_TOK_DONE, TDSF_DONE_ERROR, 0);
        return;
    }
    int found = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < 1024; i++)
        if (sessions[i] && sessions[i]->spid == spid) { shutdown(sessions[i]->fd, SHUT_RDWR); found = 1; }
    pthread_mutex_unlock(&mu);
    if (!found) {
        error(r, 6106, 16, "Process ID %lld is not an active process ID.", (long long)spid);
        done(r, TDSF_TOK_DONE, TDSF_DONE_ERROR, 0);
        return;
    }
    logf_("spid %d: killed spid %lld", c->spid, (long long)spid);
    done(r, TDSF_TOK_DONE, 0, 0);
}

static void do_select_t(reply *r, const tdsf_stmt *st)
{
    static const struct { const char *name; int n, null; } rows[] = {{"hello", 42, 0}, {"world", 7, 0}, {NULL, 0, 1}};
    tdsf_col cols[TDSF_MAX_COLS * 2];
    int which[TDSF_MAX_COLS * 2] = {0};
    size_t nc = 0;
    for (size_t i = 0; i < st->ncols; i++) {
        int all = strcmp(st->cols[i], "*") == 0;
        if (all || strcasecmp(st->cols[i], "name") == 0) { cols[nc] = (tdsf_col){"name", TDSF_TYPE_NVARCHAR, 100, 1}; which[nc++] = 0; }
        if (all || strcasecmp(st->cols[i], "n") == 0) { cols[nc] = (tdsf_col){"n", TDSF_TYPE_INTN, 4, 1}; which[nc++] = 1; }
    }
    tdsf_tok_colmetadata(&r->b, cols, nc);
    for (size_t k = 0; k < 3; k++) {
        tdsf_tok_row(&r->b);
        for (size_t i = 0; i < nc; i++) {
            if (which[i] == 0) tdsf_val_nvarchar(&r->b, rows[k].null ? NULL : rows[k].name);
            else tdsf_val_intn(&r->b, 4, rows[k].n, rows[k].null);
        }
    }
    done(r, TDSF_TOK_DONE, TDSF_DONE_COUNT, 3);
}

/* Runs one statement; returns -1 when the batch must stop (compile-time error). */
static int run_stmt(conn *c, reply *r, const tdsf_stmt *st)
{
    switch (st->kind) {
    case TDSF_ST_EMPTY: return 0;
    case TDSF_ST_SELECT_SPID: result_int(r, "", 2, c->spid, 0); return 0;
    case TDSF_ST_SELECT_VERSION: result_str(r, "", 600, VERSION_STRING); return 0;
    case TDSF_ST_SELECT_INT: result_int(r, "", 4, st->num, 0); return 0;
    case TDSF_ST_SELECT_STR: result_str(r, "", 8000, st->name); return 0;
    case TDSF_ST_SELECT_VAR: {
        int v = find_var(c, st->name);
        if (v < 0) { error(r, 137, 15, "Must declare the scalar variable \"@%s\".", st->name); done(r, TDSF_TOK_DONE, TDSF_DONE_ERROR, 0); return -1; }
        result_int(r, "", 4, c->vars[v].v, !c->vars[v].set);
        return 0;
    }
    case TDSF_ST_SELECT_SESSIONS: do_sessions(c, r, st); return 0;
    case TDSF_ST_SELECT_INFOSCHEMA: {
        tdsf_col cols[TDSF_MAX_COLS];
        for (size_t i = 0; i < st->ncols; i++) cols[i] = (tdsf_col){st->cols[i], TDSF_TYPE_NVARCHAR, 256, 1};
        tdsf_tok_colmetadata(&r->b, cols, st->ncols);
        done(r, TDSF_TOK_DONE, TDSF_DONE_COUNT, 0);
        return 0;
    }
    case TDSF_ST_SELECT_T: do_select_t(r, st); return 0;
    case TDSF_ST_SET: case TDSF_ST_BEGIN: case TDSF_ST_COMMIT: case TDSF_ST_ROLLBACK:
        done(r, TDSF_TOK_DONE, 0, 0);
        return 0;
    case TDSF_ST_USE:
        tdsf_tok_envchange(&r->b, 1, st->name, c->db);
        free(c->db);
        c->db = xstrdup(st->name);
        done(r, TDSF_TOK_DONE, 0, 0);
        return 0;
    case TDSF_ST_ALTER_LOGIN: do_alter_login(c, r, st); return 0;
    case TDSF_ST_KILL: do_kill(c, r, st->num); return 0;
    case TDSF_ST_CREATE_LOGIN: case TDSF_ST_CREATE_USER: case TDSF_ST_ALTER_ROLE_ADD: case TDSF_ST_DROP_USER:
    case TDSF_ST_DROP_LOGIN: lease_stmt(c, r, st); return 0;
    case TDSF_ST_SELECT_PRINCIPALS: do_principals(r, st); return 0;
    case TDSF_ST_DECLARE:
        if (find_var(c, st->name) < 0 && c->nvars < 8 && strlen(st->name) < 64) {
            snprintf(c->vars[c->nvars].name, 64, "%s", st->name);
            c->vars[c->nvars].set = 0;
            c->nvars++;
        }
        return 0;
    case TDSF_ST_EXEC: do_exec(c, r, st); return 0;
    case TDSF_ST_BAD_OBJECT:
        error(r, 208, 16, "Invalid object name '%s'.", st->name);
        done(r, TDSF_TOK_DONE, TDSF_DONE_ERROR, 0);
        return -1;
    default:
        error(r, 102, 15, "Incorrect syntax near '%s'.", st->name);
        done(r, TDSF_TOK_DONE, TDSF_DONE_ERROR, 0);
        return -1;
    }
}

/* Copy of sql for the log: when the batch mentions PASSWORD every string literal is
 * replaced by '***'. */
static char *redact(const char *sql)
{
    char *out = xstrdup(sql);
    if (!strcasestr(sql, "PASSWORD")) return out;
    char *o = out;
    for (const char *p = sql; *p;) {
        if (*p == '\'') {
            p++;
            while (*p && !(*p == '\'' && p[1] != '\'')) p += (*p == '\'' ? 2 : 1);
            if (*p) p++;
            memcpy(o, "'***'", 5);
            o += 5;
            continue;
        }
        *o++ = *p++;
    }
    *o = 0;
    return out;
}

static void run_batch(conn *c, const char *sql, reply *r)
{
    char *logged = redact(sql);
    for (char *p = logged; *p; p++) if (*p == '\n' || *p == '\r') *p = ' ';
    logf_("stmt spid=%d: %s", c->spid, logged);
    free(logged);
    c->nvars = 0;   /* variables live for one batch */
    tdsf_tok *toks;
    size_t n;
    if (tdsf_tokenize(sql, &toks, &n) < 0) {
        error(r, 105, 15, "Unclosed quotation mark after the character string.");
        done(r, TDSF_TOK_DONE, TDSF_DONE_ERROR, 0);
    } else {
        size_t start = 0;
        for (size_t i = 0; i <= n; i++) {
            if (i < n && toks[i].kind != TDSF_TK_SEMI) continue;
            tdsf_stmt st;
            tdsf_classify(toks + start, i - start, &st);
            start = i + 1;
            if (run_stmt(c, r, &st) < 0) break;
        }
        tdsf_toks_free(toks, n);
    }
    if (r->last_done) r->b.data[r->last_done] &= (uint8_t)~TDSF_DONE_MORE;  /* the final DONE */
    else tdsf_tok_done(&r->b, TDSF_TOK_DONE, 0, 0, 0);
}

static int do_login(conn *c)
{
    uint8_t type;
    tdsf_buf in, out;
    tdsf_buf_init(&in);
    tdsf_buf_init(&out);
    int rc = -1;
    if (tdsf_read_message(c->fd, &type, &in) || type != TDSF_PKT_PRELOGIN) goto done;
    tdsf_prelogin pl;
    if (tdsf_prelogin_parse(in.data, in.len, &pl)) goto done;
    /* ENCRYPT_NOT_SUP: the client then sends LOGIN7 in clear (no TLS in the fake). */
    tdsf_prelogin_reply(&out, 16, 0, 4096, 0x02, 0);
    if (tdsf_write_message(c->fd, TDSF_PKT_REPLY, 0, &out, 4096)) goto done;
    tdsf_buf_reset(&in);
    tdsf_buf_reset(&out);
    if (tdsf_read_message(c->fd, &type, &in) || type != TDSF_PKT_LOGIN7) goto done;
    tdsf_login7 l;
    if (tdsf_login7_parse(in.data, in.len, &l)) { logf_("malformed LOGIN7"); goto done; }
    c->packet_size = l.packet_size < 512 ? 4096 : l.packet_size > 32767 ? 32767 : l.packet_size;
    pthread_mutex_lock(&mu);
    login *lg = find_login(l.username);
    int ok = lg && strcmp(lg->password, l.password) == 0;
    if (ok) { c->admin = lg->admin; c->user = xstrdup(lg->name); }
    pthread_mutex_unlock(&mu);
    if (!ok) {
        logf_("login failed for user '%s'", l.username);
        char msg[600];
        snprintf(msg, sizeof msg, "Login failed for user '%.500s'.", l.username);
        tdsf_tok_message(&out, TDSF_TOK_ERROR, 18456, 1, 14, msg, SERVER_NAME, "", 1);
        tdsf_tok_done(&out, TDSF_TOK_DONE, TDSF_DONE_ERROR, 0, 0);
        tdsf_write_message(c->fd, TDSF_PKT_REPLY, 0, &out, c->packet_size);
        tdsf_login7_free(&l);
        goto done;
    }
    c->db = xstrdup(l.database && *l.database ? l.database : "master");
    char ps[16];
    snprintf(ps, sizeof ps, "%zu", c->packet_size);
    static const uint8_t ver[4] = {16, 0, 0x10, 0x00};
    tdsf_tok_envchange(&out, 1, c->db, "");
    tdsf_tok_loginack(&out, 1, TDSF_TDS74, "Microsoft SQL Server", ver);
    tdsf_tok_envchange(&out, 4, ps, ps);
    tdsf_tok_done(&out, TDSF_TOK_DONE, 0, 0, 0);
    logf_("spid %d: login ok user='%s' db='%s'", c->spid, c->user, c->db);
    tdsf_login7_free(&l);
    rc = tdsf_write_message(c->fd, TDSF_PKT_REPLY, (uint16_t)c->spid, &out, c->packet_size);
done:
    tdsf_buf_free(&in);
    tdsf_buf_free(&out);
    return rc;
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    session s = {0};
    int slot = -1;
    if (do_login(c) == 0) {
        pthread_mutex_lock(&mu);
        for (int i = 0; i < 1024; i++) if (!sessions[i]) { slot = i; break; }
        if (slot >= 0) {
            s = (session){c->spid, c->fd, c->admin, c->user};
            sessions[slot] = &s;
        }
        pthread_mutex_unlock(&mu);
        while (slot >= 0) {
            uint8_t type;
            tdsf_buf in;
            tdsf_buf_init(&in);
            if (tdsf_read_message(c->fd, &type, &in)) { tdsf_buf_free(&in); break; }
            reply r = {0};
            tdsf_buf_init(&r.b);
            if (type == TDSF_PKT_BATCH) {
                char *sql = NULL;
                if (tdsf_batch_parse(in.data, in.len, 1, &sql) == 0) {
                    run_batch(c, sql, &r);
                    volatile char *v = sql;
                    while (*v) *v++ = 0;
                    free(sql);
                } else {
                    error(&r, 4002, 16, "The incoming tabular data stream (TDS) protocol stream is incorrect.");
                    tdsf_tok_done(&r.b, TDSF_TOK_DONE, TDSF_DONE_ERROR, 0, 0);
                }
            } else if (type == TDSF_PKT_ATTN) {
                tdsf_tok_done(&r.b, TDSF_TOK_DONE, TDSF_DONE_ATTN, 0, 0);
            } else {
                error(&r, 4002, 16, "The fake server answers SQL batches only.");
                tdsf_tok_done(&r.b, TDSF_TOK_DONE, TDSF_DONE_ERROR, 0, 0);
            }
            tdsf_buf_free(&in);
            int w = tdsf_write_message(c->fd, TDSF_PKT_REPLY, (uint16_t)c->spid, &r.b, c->packet_size);
            tdsf_buf_free(&r.b);
            if (w) break;
        }
        pthread_mutex_lock(&mu);
        if (slot >= 0) sessions[slot] = NULL;
        for (size_t i = 0; i < sizeof locks / sizeof locks[0]; i++)   /* session locks die with it */
            if (locks[i].resource && locks[i].spid == c->spid) { free(locks[i].resource); locks[i].resource = NULL; }
        pthread_mutex_unlock(&mu);
        logf_("spid %d: disconnected", c->spid);
    }
    close(c->fd);
    free(c->user);
    free(c->db);
    free(c);
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: fake_tds --port N [--logins FILE] [--login NAME:PASSWORD[:admin]]... "
                    "[--spid-start N] [--state-file FILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int port = -1;
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (strcmp(a, "--port") == 0) port = atoi(v);
        else if (strcmp(a, "--spid-start") == 0) next_spid = atoi(v);
        else if (strcmp(a, "--state-file") == 0) state_file = v;
        else if (strcmp(a, "--logins") == 0) { if (load_logins(v)) { fprintf(stderr, "fake_tds: bad logins file\n"); return 2; } }
        else if (strcmp(a, "--login") == 0) {
            char *copy = xstrdup(v);
            if (add_login_line(copy)) usage();
            free(copy);
        } else usage();
        i++;
    }
    if (port < 0 || port > 65535 || next_spid < 1 || next_spid > 30000) usage();
    if (state_file && access(state_file, R_OK) == 0 && load_logins(state_file)) {
        fprintf(stderr, "fake_tds: bad state file\n");
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 64)) {
        fprintf(stderr, "fake_tds: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    logf_("listening on 127.0.0.1:%d (%zu logins)", port, nlogins);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) { if (errno == EINTR) continue; continue; }
        conn *c = calloc(1, sizeof *c);
        if (!c) abort();
        c->fd = fd;
        c->packet_size = 4096;
        pthread_mutex_lock(&mu);
        c->spid = next_spid++;
        if (next_spid > 32000) next_spid = 51;
        pthread_mutex_unlock(&mu);
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &at, conn_main, c)) { close(fd); free(c); }
        pthread_attr_destroy(&at);
    }
}
