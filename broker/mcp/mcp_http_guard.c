/* What keeps `serve` responsive under abuse (see mcp_http.c's header): failures counted
 * per address and key id, the request deadline that MHD 0.9.75 cannot enforce, the worker
 * pool that runs requests off the event loop, per-token in-flight caps, RLIMIT_NOFILE. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include "mcp_http_internal.h"

static int mcph_inflight_add(mcp_http *h, const req_state *rs, int d);
/* ---------- authentication failure counting ---------- */

static fail_slot *fail_find(mcp_http *h, const char *id, int create)
{
    fail_slot *lru = &h->fails[0];
    for (int i = 0; i < FAIL_SLOTS; i++) {
        if (!strcmp(h->fails[i].id, id)) return &h->fails[i];
        if (h->fails[i].touched < lru->touched) lru = &h->fails[i];
    }
    if (!create) return NULL;
    memset(lru, 0, sizeof *lru);
    snprintf(lru->id, sizeof lru->id, "%s", id);
    return lru;
}

/* Failures within the window; *retry gets seconds until one expires. */
static int fail_count(mcp_http *h, fail_slot *f, int64_t now, int *retry)
{
    int64_t win = (int64_t)h->o.auth_fail_window_s * 1000, oldest = now;
    int c = 0;
    for (int i = 0; i < f->n; i++)
        if (now - f->t[i] < win) {
            c++;
            if (f->t[i] < oldest) oldest = f->t[i];
        }
    if (retry) *retry = (int)((oldest + win - now + 999) / 1000);
    if (retry && *retry < 1) *retry = 1;
    return c;
}

static int record_one(mcp_http *h, const char *id, int64_t now, int *retry)
{
    fail_slot *f = fail_find(h, id, 1);
    f->t[f->head] = now;
    f->head = (f->head + 1) % FAIL_MAX;
    if (f->n < FAIL_MAX) f->n++;
    f->touched = now;
    return fail_count(h, f, now, retry);
}

/* Records a failure of the address and of the presented key id; returns the larger count. */
int mcph_record_failure(mcp_http *h, const char *addr, const char *keyid, int *retry)
{
    char id[80];
    int64_t now = cb_now_ms();
    int r1 = 0, r2 = 0;
    pthread_mutex_lock(&h->mu);
    snprintf(id, sizeof id, "a:%s", addr);
    int c1 = record_one(h, id, now, &r1), c2 = 0;
    if (keyid[0]) {
        snprintf(id, sizeof id, "k:%s", keyid);
        c2 = record_one(h, id, now, &r2);
    }
    pthread_mutex_unlock(&h->mu);
    *retry = c2 > c1 ? r2 : r1;
    return c2 > c1 ? c2 : c1;
}

/* The key id a token presents ("cbk_<8 hex>_..."), else "". Not secret: it is the
 * lookup prefix that `apikey list` shows. */
void mcph_token_keyid(const char *tok, char out[16])
{
    out[0] = 0;
    const char *u = strchr(tok, '_');
    if (!u) return;
    const char *v = strchr(u + 1, '_');
    if (!v || v - u - 1 != 8) return;
    for (const char *p = u + 1; p < v; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return;
    memcpy(out, u + 1, 8);
    out[8] = 0;
}

static conn_track *mcph_track_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

void mcph_track_busy(mcp_http *h, struct MHD_Connection *conn, int busy)
{
    conn_track *t = mcph_track_of(conn);
    if (!t) return;
    pthread_mutex_lock(&h->ct_mu);
    t->busy = busy;
    t->since_ms = cb_now_ms();
    pthread_mutex_unlock(&h->ct_mu);
}

/* ---------- worker pool and sweeper ---------- */


void *mcph_worker_main(void *arg)
{
    mcp_http *h = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&h->q_mu);
    for (;;) {
        while (!h->q_head && !h->stopping) pthread_cond_wait(&h->q_cv, &h->q_mu);
        req_state *rs = h->q_head;
        if (!rs) break;
        h->q_head = rs->next;
        if (!h->q_head) h->q_tail = NULL;
        pthread_mutex_unlock(&h->q_mu);
        struct MHD_Connection *conn = rs->conn;
        mcph_set_peer(rs->addr); /* the audit and the monitor see the request's peer */
        mcph_handle_post(h, conn, rs);
        mcph_set_peer(NULL);
        mcph_inflight_add(h, rs, -1);
        if (!rs->resp) mcph_set_err(h, rs, 500, MCP_INTERNAL_ERROR, "Internal error", NULL);
        MHD_resume_connection(conn); /* rs belongs to the MHD thread again from here */
        pthread_mutex_lock(&h->q_mu);
    }
    pthread_mutex_unlock(&h->q_mu);
    return NULL;
}

/* Closes connections whose request has not arrived whole within the deadline, and
 * releases delayed answers that are due. */
void *mcph_sweeper_main(void *arg)
{
    mcp_http *h = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    int64_t deadline = (int64_t)h->o.request_deadline_s * 1000;
    for (;;) {
        struct timespec ts = {0, SWEEP_MS * 1000000L};
        nanosleep(&ts, NULL);
        int64_t now = cb_now_ms();
        pthread_mutex_lock(&h->ct_mu);
        int stop = h->stopping;
        int killed = 0;
        for (conn_track *t = h->conns; t; t = t->next)
            if (!t->busy && !t->killed && now - t->since_ms > deadline) {
                /* MHD sees the end of the stream and closes the connection itself; the
                 * descriptor stays valid: NOTIFY_CLOSED (which unlinks t) takes ct_mu */
                shutdown(t->fd, SHUT_RDWR);
                t->killed = 1;
                killed++;
            }
        req_state **pp = &h->delayed;
        while (*pp) {
            req_state *rs = *pp;
            if (stop || rs->due_ms <= now) {
                *pp = rs->next;
                MHD_resume_connection(rs->conn);
            } else {
                pp = &rs->next;
            }
        }
        pthread_mutex_unlock(&h->ct_mu);
        if (killed) LOG_WARN("mcp http: closed %d connection(s) whose request did not arrive within %d s", killed,
                             h->o.request_deadline_s);
        if (stop) break;
    }
    return NULL;
}

void mcph_notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe)
{
    mcp_http *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_track *t = cb_calloc(1, sizeof *t);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        t->fd = ci ? ci->connect_fd : -1;
        t->since_ms = cb_now_ms();
        if (t->fd < 0) t->busy = 1; /* cannot be swept */
        pthread_mutex_lock(&h->ct_mu);
        t->next = h->conns;
        if (h->conns) h->conns->prev = t;
        h->conns = t;
        pthread_mutex_unlock(&h->ct_mu);
        *socket_context = t;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_track *t = *socket_context;
        if (!t) return;
        pthread_mutex_lock(&h->ct_mu);
        if (t->prev) t->prev->next = t->next;
        else h->conns = t->next;
        if (t->next) t->next->prev = t->prev;
        pthread_mutex_unlock(&h->ct_mu);
        free(t);
        *socket_context = NULL;
    }
}

/* Counts a request of rs's token in (+1, refused when at the cap) or out (-1). */
static int mcph_inflight_add(mcp_http *h, const req_state *rs, int d)
{
    pthread_mutex_lock(&h->mu);
    inflight **pp = &h->inflight, *f;
    while ((f = *pp) && memcmp(f->owner, rs->owner, 32)) pp = &f->next;
    int ok = 1;
    if (d > 0) {
        if (!f) {
            f = cb_calloc(1, sizeof *f);
            memcpy(f->owner, rs->owner, 32);
            *pp = f;
        }
        if (f->n >= h->o.max_inflight_per_key) ok = 0;
        else f->n++;
    } else if (f) {
        f->n--;
    }
    if (f && f->n <= 0) {
        *pp = f->next;
        free(f);
    }
    pthread_mutex_unlock(&h->mu);
    return ok;
}

/* Hands a complete request to a worker (the connection is suspended meanwhile). */
enum MHD_Result mcph_submit(mcp_http *h, struct MHD_Connection *conn, req_state *rs)
{
    if (!mcph_inflight_add(h, rs, 1)) {
        const char *const hd[] = {"Retry-After", "1", NULL};
        mcph_set_err(h, rs, 429, MCP_SERVER_ERROR, "Too Many Requests: too many concurrent requests for this API key", hd);
        return mcph_queue(conn, rs);
    }
    pthread_mutex_lock(&h->q_mu);
    if (h->stopping) {
        pthread_mutex_unlock(&h->q_mu);
        mcph_inflight_add(h, rs, -1);
        mcph_set_err(h, rs, 503, MCP_SERVER_ERROR, "Service Unavailable: shutting down", NULL);
        return mcph_queue(conn, rs);
    }
    rs->conn = conn;
    rs->next = NULL;
    MHD_suspend_connection(conn);
    if (h->q_tail) h->q_tail->next = rs;
    else h->q_head = rs;
    h->q_tail = rs;
    pthread_cond_signal(&h->q_cv);
    pthread_mutex_unlock(&h->q_mu);
    return MHD_YES;
}

enum MHD_Result mcph_delay_answer(mcp_http *h, struct MHD_Connection *conn, req_state *rs)
{
    if (rs->due_ms <= cb_now_ms()) return mcph_queue(conn, rs);
    pthread_mutex_lock(&h->ct_mu);
    if (h->stopping) {
        pthread_mutex_unlock(&h->ct_mu);
        return mcph_queue(conn, rs);
    }
    rs->conn = conn;
    MHD_suspend_connection(conn);
    rs->next = h->delayed;
    h->delayed = rs;
    pthread_mutex_unlock(&h->ct_mu);
    return MHD_YES;
}

/* Room for the connection cap in RLIMIT_NOFILE (raised up to the hard limit). */
int mcph_fit_nofile(int want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return want;
    rlim_t need = (rlim_t)want + 256;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t to = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
        struct rlimit nr = {to, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &nr) == 0) rl.rlim_cur = to;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        int fit = rl.rlim_cur > 512 ? (int)(rl.rlim_cur - 256) : (int)(rl.rlim_cur / 2);
        LOG_WARN("mcp http: RLIMIT_NOFILE is %llu: serving at most %d connections instead of %d",
                 (unsigned long long)rl.rlim_cur, fit, want);
        return fit;
    }
    return want;
}

