#include "util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h> /* PR_SET_DUMPABLE; macOS has no prctl (RLIMIT_CORE covers core files) */
#endif
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

int cb_log_level = 1;

int cb_fail(cb_error *e, int code, int kind, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->code = code;
        e->kind = kind;
        /* messages are one line */
        for (char *p = e->msg; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' ';
    }
    return code;
}

void cb_error_clear(cb_error *e)
{
    if (e) memset(e, 0, sizeof *e);
}

void cb_error_prefix(cb_error *e, const char *fmt, ...)
{
    if (!e) return;
    char pre[256], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %s", pre, old);
}

int cb_log_json = 0;

/* RFC 3339 UTC with milliseconds: 2026-12-02T08:00:00.123Z (wall clock, not CREDBROKER_NOW). */
static void log_time(char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static void vlog(const char *lv, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

void cb_log(int level, const char *fmt, ...)
{
    if (level > cb_log_level) return;
    static const char *names[] = {"error", "warning", "info", "debug"};
    va_list ap;
    va_start(ap, fmt);
    vlog(names[level < 0 ? 0 : level > 3 ? 3 : level], fmt, ap);
    va_end(ap);
}

void cb_log_notice(const char *fmt, ...)
{
    if (cb_log_level < 1) return;
    va_list ap;
    va_start(ap, fmt);
    vlog("notice", fmt, ap);
    va_end(ap);
}

static void vlog(const char *lv, const char *fmt, va_list ap)
{
    char line[2048], ts[32];
    vsnprintf(line, sizeof line, fmt, ap);
    log_time(ts);
    if (cb_log_json) {
        /* one JSON object per line; the message is escaped, never interpreted */
        cb_buf b;
        cb_buf_init(&b, 0);
        cb_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, lv);
        for (const unsigned char *p = (const unsigned char *)line; *p; p++) {
            if (*p == '"' || *p == '\\') cb_buf_printf(&b, "\\%c", *p);
            else if (*p < 0x20 || *p == 0x7f) cb_buf_printf(&b, "\\u%04x", *p);
            else cb_buf_append(&b, p, 1);
        }
        cb_buf_puts(&b, "\"}\n");
        fputs(b.data, stderr);
        cb_buf_free(&b);
        return;
    }
    fprintf(stderr, "credbroker: %s %s: %s\n", ts, lv, line);
}

void cb_wipe(void *p, size_t n)
{
    if (p && n) OPENSSL_cleanse(p, n);
}

void cb_free_secret(char *s)
{
    if (!s) return;
    cb_wipe(s, strlen(s));
    free(s);
}

void cb_free_secret_n(void *p, size_t n)
{
    if (!p) return;
    cb_wipe(p, n);
    free(p);
}

void cb_harden_process(void)
{
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
#ifdef __linux__
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#elif defined(__APPLE__)
    /* no ptrace-attach guard without entitlements; core files are off above */
#endif
}

static void oom(void)
{
    fputs("credbroker: out of memory\n", stderr);
    abort();
}

void *cb_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom();
    return p;
}

void *cb_calloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) oom();
    return p;
}

void *cb_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom();
    return q;
}

char *cb_strdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    char *d = cb_malloc(n + 1);
    memcpy(d, s, n + 1);
    return d;
}

char *cb_strndup(const char *s, size_t n)
{
    if (!s) return NULL;
    size_t l = strnlen(s, n);
    char *d = cb_malloc(l + 1);
    memcpy(d, s, l);
    d[l] = 0;
    return d;
}

char *cb_sprintf(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    char *s = cb_malloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return s;
}

void cb_buf_init(cb_buf *b, int secret)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->secret = secret;
}

static void buf_grow(cb_buf *b, size_t need)
{
    if (b->len + need + 1 <= b->cap) return;
    size_t nc = b->cap ? b->cap * 2 : 256;
    while (nc < b->len + need + 1) nc *= 2;
    if (b->secret) {
        /* never leave a copy of a secret in freed memory */
        char *n = cb_malloc(nc);
        if (b->data) {
            memcpy(n, b->data, b->len + 1);
            cb_free_secret_n(b->data, b->cap);
        }
        b->data = n;
    } else {
        b->data = cb_realloc(b->data, nc);
    }
    b->cap = nc;
}

void cb_buf_append(cb_buf *b, const void *p, size_t n)
{
    buf_grow(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void cb_buf_puts(cb_buf *b, const char *s)
{
    cb_buf_append(b, s, strlen(s));
}

void cb_buf_printf(cb_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        buf_grow(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void cb_buf_free(cb_buf *b)
{
    if (b->secret) cb_free_secret_n(b->data, b->cap);
    else free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *cb_buf_steal(cb_buf *b)
{
    char *d = b->data ? b->data : cb_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

char *cb_hex_encode(const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    char *s = cb_malloc(n * 2 + 1);
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = hx[p[i] >> 4];
        s[2 * i + 1] = hx[p[i] & 15];
    }
    s[n * 2] = 0;
    return s;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int cb_hex_decode(const char *s, uint8_t *out, size_t outcap, size_t *outlen)
{
    size_t n = strlen(s);
    if (n % 2 || n / 2 > outcap) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int h = hexval((unsigned char)s[2 * i]), l = hexval((unsigned char)s[2 * i + 1]);
        if (h < 0 || l < 0) return -1;
        out[i] = (uint8_t)(h << 4 | l);
    }
    if (outlen) *outlen = n / 2;
    return 0;
}

char *cb_base64_encode(const uint8_t *p, size_t n)
{
    size_t cap = 4 * ((n + 2) / 3) + 1;
    char *s = cb_malloc(cap);
    int w = EVP_EncodeBlock((unsigned char *)s, p, (int)n);
    s[w < 0 ? 0 : w] = 0;
    return s;
}

int cb_base64_decode(const char *in, uint8_t **out, size_t *outlen)
{
    size_t n = strlen(in);
    /* normalize: url alphabet -> std, strip whitespace, restore padding */
    char *s = cb_malloc(n + 4);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '+' || c == '/' || c == '=')) {
            free(s);
            return -1;
        }
        s[k++] = c;
    }
    while (k % 4) s[k++] = '=';
    s[k] = 0;
    size_t pad = 0;
    if (k >= 1 && s[k - 1] == '=') pad++;
    if (k >= 2 && s[k - 2] == '=') pad++;
    /* '=' only allowed at the end */
    for (size_t i = 0; i + pad < k; i++)
        if (s[i] == '=') { free(s); return -1; }
    uint8_t *o = cb_malloc(k / 4 * 3 + 1);
    int w = k ? EVP_DecodeBlock(o, (unsigned char *)s, (int)k) : 0;
    cb_wipe(s, k);
    free(s);
    if (w < 0) { free(o); return -1; }
    *out = o;
    *outlen = (size_t)w - pad;
    return 0;
}

char *cb_url_encode(const char *s, int keep_slash)
{
    static const char hx[] = "0123456789ABCDEF";
    cb_buf b;
    cb_buf_init(&b, 0);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
            cb_buf_append(&b, &c, 1);
        } else {
            char e[3] = {'%', hx[c >> 4], hx[c & 15]};
            cb_buf_append(&b, e, 3);
        }
    }
    return cb_buf_steal(&b);
}

int64_t cb_now(void)
{
    const char *f = getenv("CREDBROKER_NOW");
    if (f && *f) {
        int64_t t;
        if (cb_parse_iso8601(f, &t) == 0) return t;
    }
    return (int64_t)time(NULL);
}

int64_t cb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cb_iso8601(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int cb_parse_iso8601(const char *s, int64_t *t)
{
    int Y, M, D, h = 0, m = 0, sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &Y, &M, &D, &n) != 3) return -1;
    const char *p = s + n;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        int k = 0;
        if (sscanf(p, "%2d:%2d%n", &h, &m, &k) != 2) return -1;
        p += k;
        if (*p == ':') {
            if (sscanf(p + 1, "%2d%n", &sec, &k) != 1) return -1;
            p += 1 + k;
            if (*p == '.') { p++; while (*p >= '0' && *p <= '9') p++; }
        }
    }
    long off = 0;
    if (*p == 'Z' || *p == 'z') p++;
    else if (*p == '+' || *p == '-') {
        int oh, om, k = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2) return -1;
        off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
        p += 1 + k;
    }
    if (*p) return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return -1;
    /* an impossible date (2026-02-31) is an error, not March 3 (timegm would normalize it) */
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (Y < 0 || h < 0 || m < 0 || sec < 0 || D > mdays[M - 1] + (M == 2 && leap)) return -1;
    if (off && (off > 14 * 3600L || off < -14 * 3600L)) return -1;
    struct tm tm = {0};
    tm.tm_year = Y - 1900; tm.tm_mon = M - 1; tm.tm_mday = D;
    tm.tm_hour = h; tm.tm_min = m; tm.tm_sec = sec;
    *t = (int64_t)timegm(&tm) - off;
    return 0;
}

int cb_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

char *cb_read_stream_secret(int fd, size_t max, cb_error *e)
{
    cb_buf b;
    cb_buf_init(&b, 1);
    char chunk[4096];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0) {
            if (errno == EINTR) continue;
            cb_buf_free(&b);
            cb_wipe(chunk, sizeof chunk);
            cb_fail(e, CB_ERR, CB_K_INVALID, "cannot read input: %s", strerror(errno));
            return NULL;
        }
        if (r == 0) break;
        if (b.len + (size_t)r > max) {
            cb_buf_free(&b);
            cb_wipe(chunk, sizeof chunk);
            cb_fail(e, CB_ERR, CB_K_INVALID, "input larger than %zu bytes", max);
            return NULL;
        }
        cb_buf_append(&b, chunk, (size_t)r);
    }
    cb_wipe(chunk, sizeof chunk);
    if (!b.data) cb_buf_append(&b, "", 0);
    if (b.len && b.data[b.len - 1] == '\n') b.data[--b.len] = 0;
    if (b.len && b.data[b.len - 1] == '\r') b.data[--b.len] = 0;
    return cb_buf_steal(&b);
}

int cb_uuid4(char out[37])
{
    uint8_t r[16];
    if (RAND_bytes(r, sizeof r) != 1) return -1;
    r[6] = (r[6] & 0x0f) | 0x40;
    r[8] = (r[8] & 0x3f) | 0x80;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
    return 0;
}

#ifndef __linux__
int cb_compat_sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout)
{
    /* the caller has blocked the signals in set: poll what is pending, 100 ms at a time */
    if (info) memset(info, 0, sizeof *info);
    long left_ms = timeout ? (long)timeout->tv_sec * 1000L + timeout->tv_nsec / 1000000L : -1;
    for (;;) {
        sigset_t pend;
        if (sigpending(&pend) == 0)
            for (int s = 1; s < 65; s++)
                if (sigismember(set, s) == 1 && sigismember(&pend, s) == 1) {
                    sigset_t one;
                    int got = 0;
                    sigemptyset(&one);
                    sigaddset(&one, s);
                    if (sigwait(&one, &got) == 0) return got;
                }
        if (left_ms == 0) {
            errno = EAGAIN;
            return -1;
        }
        long step = left_ms < 0 || left_ms > 100 ? 100 : left_ms;
        struct timespec ts = {step / 1000, (step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (left_ms > 0) left_ms -= step;
    }
}
#endif

int cb_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}
