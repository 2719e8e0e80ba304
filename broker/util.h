/* Small shared helpers: error values, logging to stderr, secret wiping, strings.
 * Every module reports failures through cb_error so the CLI can map them to exit
 * codes and one-line messages without ever printing a secret. */
#ifndef CB_UTIL_H
#define CB_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* Process exit codes (the CLI contract). */
enum {
    CB_OK = 0,
    CB_ERR = 1,       /* runtime error */
    CB_EUSAGE = 2,    /* bad arguments, malformed reference/cron/policy */
    CB_EFINDINGS = 3, /* assess/verify/audit verify found problems */
    CB_EKEY = 4       /* master key missing or wrong */
};

/* Finer classification, used e.g. to decide whether a cached value may be served. */
enum cb_kind {
    CB_K_NONE = 0,
    CB_K_INVALID,     /* malformed input */
    CB_K_NOTFOUND,    /* secret/connection/row does not exist */
    CB_K_DENIED,      /* authentication or authorization refused */
    CB_K_UNAVAILABLE, /* network, timeout, 5xx, throttled after retries */
    CB_K_CONFLICT,    /* version/CAS/lock conflict, rotation in progress */
    CB_K_TAMPERED,    /* authentication tag failure, hash chain break */
    CB_K_INTERNAL
};

typedef struct cb_error {
    int code;          /* one of CB_ERR.. above (exit code) */
    int kind;          /* enum cb_kind */
    int http_status;   /* when from an HTTP service, else 0 */
    char msg[512];     /* one line, never contains a secret */
} cb_error;

/* Sets e (if non-NULL) and returns code. A NULL e is allowed. */
int cb_fail(cb_error *e, int code, int kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cb_error_clear(cb_error *e);
/* Prefixes the existing message with "prefix: ". */
void cb_error_prefix(cb_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logging: to stderr only. level: 0 error, 1 warn, 2 info, 3 debug. */
extern int cb_log_level; /* default 1; -q sets 0, -v sets 2, -vv sets 3 */
/* 0: "credbroker: <RFC 3339 time> <level>: message"; 1 (--log-format json): one object
 * {"ts","level","msg"} per line. */
extern int cb_log_json;
void cb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define LOG_ERROR(...) cb_log(0, __VA_ARGS__)
#define LOG_WARN(...) cb_log(1, __VA_ARGS__)
#define LOG_INFO(...) cb_log(2, __VA_ARGS__)
#define LOG_DEBUG(...) cb_log(3, __VA_ARGS__)
/* Operational events worth a line by default (scheduled rotation done, reload): shown
 * unless -q, labelled "notice". */
void cb_log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Secret hygiene. */
void cb_wipe(void *p, size_t n);            /* OPENSSL_cleanse */
void cb_free_secret(char *s);               /* wipe strlen(s) bytes then free; NULL ok */
void cb_free_secret_n(void *p, size_t n);   /* wipe n bytes then free; NULL ok */
void cb_harden_process(void);               /* core dumps off, no ptrace dumpable */

/* Allocation that aborts on out-of-memory (we never continue half-initialized). */
void *cb_malloc(size_t n);
void *cb_calloc(size_t n, size_t m);
void *cb_realloc(void *p, size_t n);
char *cb_strdup(const char *s);             /* NULL -> NULL */
char *cb_strndup(const char *s, size_t n);
char *cb_sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable byte buffer; data is always NUL-terminated. */
typedef struct cb_buf {
    char *data;
    size_t len, cap;
    int secret;   /* wipe on growth and free */
} cb_buf;
void cb_buf_init(cb_buf *b, int secret);
void cb_buf_append(cb_buf *b, const void *p, size_t n);
void cb_buf_puts(cb_buf *b, const char *s);
void cb_buf_printf(cb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cb_buf_free(cb_buf *b);
char *cb_buf_steal(cb_buf *b);   /* returns data, resets b */

/* Encoding. Return malloc'd NUL-terminated strings / lengths; -1 on bad input. */
char *cb_hex_encode(const uint8_t *p, size_t n);
int cb_hex_decode(const char *s, uint8_t *out, size_t outcap, size_t *outlen);
char *cb_base64_encode(const uint8_t *p, size_t n);
int cb_base64_decode(const char *s, uint8_t **out, size_t *outlen); /* accepts std and url alphabets */
/* URL percent-encoding: everything but unreserved A-Za-z0-9-._~ */
char *cb_url_encode(const char *s, int keep_slash);

/* Time. */
int64_t cb_now(void);                        /* epoch seconds; honours CREDBROKER_NOW for tests */
int64_t cb_now_ms(void);                     /* monotonic milliseconds */
void cb_iso8601(int64_t t, char out[32]);    /* 2024-01-05T16:50:00Z */
int cb_parse_iso8601(const char *s, int64_t *t); /* accepts Z or +hh:mm, optional seconds */

/* Constant-time compare; returns 1 if equal. */
int cb_ct_equal(const void *a, const void *b, size_t n);

/* Reads all of a stream (e.g. stdin) into a secret buffer, strips one trailing newline/CRLF. */
char *cb_read_stream_secret(int fd, size_t max, cb_error *e);

/* Random UUIDv4 into out[37]. */
int cb_uuid4(char out[37]);

/* macOS (Claude Desktop's platform) has no sigtimedwait: util.c supplies one that polls
 * the pending set of the blocked signals. Linux uses the real call. */
#ifndef __linux__
#include <signal.h>
#include <time.h>
int cb_compat_sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout);
#undef sigtimedwait
#define sigtimedwait cb_compat_sigtimedwait
#endif

/* Writes all n bytes to fd (retrying on EINTR and short writes); 0 or -1. */
int cb_write_all(int fd, const void *p, size_t n);

#endif
