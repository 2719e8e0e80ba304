/* Shared by mcp_http.c (requests, sessions, the daemon) and mcp_http_guard.c (what keeps
 * the server responsive: failure counting, the request deadline sweeper, the worker pool,
 * per-token in-flight caps, RLIMIT_NOFILE). Nothing else includes it. */
#ifndef CB_MCP_HTTP_INTERNAL_H
#define CB_MCP_HTTP_INTERNAL_H
#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>
#include "mcp.h"

#define FAIL_SLOTS 512
#define FAIL_MAX 64
#define SWEEP_MS 100
#define FAIL_DELAY_MAX_MS 1000

typedef struct sess_entry {
    mcp_session s;
    char *principal;
    uint8_t owner[32];      /* SHA-256 of the bearer token that created it */
    pthread_mutex_t mu;     /* one request at a time per session */
    int refs, dead;
    int64_t last_ms;
    struct sess_entry *next;
} sess_entry;

typedef struct fail_slot {
    char id[72];            /* "a:<address>" or "k:<key id>" */
    int64_t t[FAIL_MAX];    /* ring of failure times (ms) */
    int n, head;
    int64_t touched;
} fail_slot;

/* One open connection (MHD socket context), for the request deadline. */
typedef struct conn_track {
    int fd;
    int64_t since_ms;       /* when the current request started to be awaited */
    int busy;               /* request complete: being answered, no deadline */
    int killed;
    struct conn_track *prev, *next;
} conn_track;

typedef struct req_state req_state;

/* Requests of one token being run by the workers: one key cannot occupy them all. */
typedef struct inflight {
    uint8_t owner[32];
    int n;
    struct inflight *next;
} inflight;

struct mcp_http {
    struct MHD_Daemon *d;
    mcp_server *srv;
    mcp_http_opts o;
    int port;
    char bound_host[64];
    char **origins, **hosts;
    char *cert, *key;
    pthread_mutex_t mu;     /* sessions, fail table, in-flight counts */
    inflight *inflight;
    sess_entry *sessions;
    int nsessions;
    fail_slot fails[FAIL_SLOTS];
    /* connections and delayed answers (sweeper) */
    pthread_mutex_t ct_mu;
    conn_track *conns;
    req_state *delayed;
    /* worker pool */
    pthread_mutex_t q_mu;
    pthread_cond_t q_cv;
    req_state *q_head, *q_tail;
    int stopping, nworkers, sweeper_started;
    pthread_t *workers, sweeper;
};

struct req_state {
    cb_buf body;
    int too_big;
    char *principal;
    uint8_t owner[32];
    char addr[64];
    char keyid[16];
    int auth_failed;        /* 401 or 429 owed after a delay */
    int64_t due_ms;
    struct MHD_Connection *conn;
    struct MHD_Response *resp; /* ready answer (worker or delay), queued by the MHD thread */
    int status;
    req_state *next;
};
/* mcp_http.c */
void mcph_handle_post(mcp_http *h, struct MHD_Connection *conn, req_state *rs);
void mcph_set_err(mcp_http *h, req_state *rs, int status, int code, const char *msg, const char *const *hdrs);
enum MHD_Result mcph_queue(struct MHD_Connection *conn, req_state *rs);
void mcph_set_peer(const char *addr); /* mcp_request_peer() on this thread */

/* mcp_http_guard.c */
int mcph_record_failure(mcp_http *h, const char *addr, const char *keyid, int *retry);
void mcph_token_keyid(const char *tok, char out[16]);
void mcph_track_busy(mcp_http *h, struct MHD_Connection *conn, int busy);
void *mcph_worker_main(void *arg);
void *mcph_sweeper_main(void *arg);
void mcph_notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe);
enum MHD_Result mcph_submit(mcp_http *h, struct MHD_Connection *conn, req_state *rs);
enum MHD_Result mcph_delay_answer(mcp_http *h, struct MHD_Connection *conn, req_state *rs);
int mcph_fit_nofile(int want);

#endif
