#include "http.h"
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/rand.h>

struct http_client {
    CURL *curl;
    http_options opt;
    char *ca_blob;     /* system bundle + extras, when extras are configured */
    size_t ca_blob_len;
    http_stats stats;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    if (!v || !*v) return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    return (*end || n <= 0) ? dflt : n;
}

static int append_file(cb_buf *b, const char *path, cb_error *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) return cb_fail(e, CB_ERR, CB_K_INVALID, "cannot read CA bundle %s", path);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) cb_buf_append(b, chunk, n);
    fclose(f);
    cb_buf_puts(b, "\n");
    return 0;
}

http_client *http_client_new(const http_options *opt, cb_error *e)
{
    pthread_once(&curl_once, curl_init_once);
    http_client *c = cb_calloc(1, sizeof *c);
    if (opt) c->opt = *opt;
    if (!c->opt.connect_timeout_ms) c->opt.connect_timeout_ms = env_long("CREDBROKER_HTTP_CONNECT_TIMEOUT_MS", 5000);
    if (!c->opt.timeout_ms) c->opt.timeout_ms = env_long("CREDBROKER_HTTP_TIMEOUT_MS", 15000);
    if (!c->opt.max_attempts) c->opt.max_attempts = (int)env_long("CREDBROKER_HTTP_MAX_ATTEMPTS", 4);
    if (!c->opt.backoff_base_ms) c->opt.backoff_base_ms = env_long("CREDBROKER_HTTP_BACKOFF_MS", 100);
    if (!c->opt.backoff_max_ms) c->opt.backoff_max_ms = 5000;
    if (!c->opt.max_response) c->opt.max_response = 4u << 20;

    /* Extra CAs are added to (never replace) the system store: one PEM blob. */
    const char *extra[2] = {c->opt.ca_file, getenv("CREDBROKER_CA_BUNDLE")};
    if ((extra[0] && *extra[0]) || (extra[1] && *extra[1])) {
        cb_buf b;
        cb_buf_init(&b, 0);
        FILE *sys = fopen("/etc/ssl/certs/ca-certificates.crt", "rb");
        if (sys) {
            fclose(sys);
            append_file(&b, "/etc/ssl/certs/ca-certificates.crt", NULL);
        }
        for (int i = 0; i < 2; i++) {
            if (extra[i] && *extra[i] && append_file(&b, extra[i], e)) {
                cb_buf_free(&b);
                free(c);
                return NULL;
            }
        }
        c->ca_blob_len = b.len;
        c->ca_blob = cb_buf_steal(&b);
    }
    c->curl = curl_easy_init();
    if (!c->curl) {
        free(c->ca_blob);
        free(c);
        cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot initialise libcurl");
        return NULL;
    }
    return c;
}

void http_client_free(http_client *c)
{
    if (!c) return;
    if (c->curl) curl_easy_cleanup(c->curl);
    free(c->ca_blob);
    free(c);
}

void http_client_stats(const http_client *c, http_stats *out) { *out = c->stats; }

void http_response_free(http_response *r)
{
    if (!r) return;
    cb_buf_free(&r->body);
    for (size_t i = 0; i < r->nheaders; i++) cb_free_secret(r->headers[i]);
    free(r->headers);
    r->headers = NULL;
    r->nheaders = 0;
    r->status = 0;
}

const char *http_response_header(const http_response *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *h = r->headers[i];
        if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
            h += n + 1;
            while (*h == ' ' || *h == '\t') h++;
            return h;
        }
    }
    return NULL;
}

struct wctx {
    http_response *r;
    size_t max;
    int overflow;
};

static size_t on_body(char *p, size_t sz, size_t nm, void *arg)
{
    struct wctx *w = arg;
    size_t n = sz * nm;
    if (w->r->body.len + n > w->max) {
        w->overflow = 1;
        return 0; /* aborts the transfer */
    }
    cb_buf_append(&w->r->body, p, n);
    return n;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *arg)
{
    struct wctx *w = arg;
    size_t n = sz * nm;
    http_response *r = w->r;
    if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* a new response (after 100-continue or a redirect): drop older headers */
        for (size_t i = 0; i < r->nheaders; i++) cb_free_secret(r->headers[i]);
        r->nheaders = 0;
        return n;
    }
    const char *colon = memchr(p, ':', n);
    if (!colon) return n;
    size_t end = n;
    while (end > 0 && (p[end - 1] == '\r' || p[end - 1] == '\n')) end--;
    char *h = cb_strndup(p, end);
    for (char *q = h; *q && *q != ':'; q++) *q = (char)tolower((unsigned char)*q);
    if (r->nheaders >= 256) { /* header flood: keep the first 256 */
        cb_free_secret(h);
        return n;
    }
    r->headers = cb_realloc(r->headers, (r->nheaders + 1) * sizeof *r->headers);
    r->headers[r->nheaders++] = h;
    return n;
}

static void sleep_ms(long ms)
{
    if (ms <= 0) return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Full jitter: uniform in [0, min(max, base * 2^attempt)]. */
static long backoff_ms(const http_client *c, int attempt)
{
    long cap = c->opt.backoff_base_ms;
    for (int i = 0; i < attempt && cap < c->opt.backoff_max_ms; i++) cap *= 2;
    if (cap > c->opt.backoff_max_ms) cap = c->opt.backoff_max_ms;
    uint32_t r = 0;
    RAND_bytes((unsigned char *)&r, sizeof r);
    return (long)(r % (uint32_t)(cap + 1));
}

static long retry_after_ms(const http_response *r, long cap)
{
    const char *v = http_response_header(r, "retry-after");
    if (!v) return -1;
    char *end;
    long s = strtol(v, &end, 10);
    if (end == v || s < 0) return -1; /* HTTP-date form: fall back to backoff */
    long ms = s * 1000;
    return ms > cap ? cap : ms;
}

static int status_retryable(long st)
{
    return st == 429 || st == 500 || st == 502 || st == 503 || st == 504;
}

/* Scheme and host only: never a query string or userinfo in logs. */
static void url_for_log(const char *url, char *out, size_t n)
{
    const char *q = strpbrk(url, "?#");
    size_t len = q ? (size_t)(q - url) : strlen(url);
    const char *at = memchr(url, '@', len);
    const char *ss = strstr(url, "://");
    if (at && ss && at > ss) {
        snprintf(out, n, "%.*s%.*s", (int)(ss + 3 - url), url, (int)(len - (size_t)(at + 1 - url)), at + 1);
    } else {
        snprintf(out, n, "%.*s", (int)len, url);
    }
}

int http_do(http_client *c, const http_request *req, http_response *resp, cb_error *e)
{
    memset(resp, 0, sizeof *resp);
    cb_buf_init(&resp->body, 1);
    char logurl[512];
    url_for_log(req->url, logurl, sizeof logurl);
    const char *method = req->method ? req->method : "GET";
    CURLcode last = CURLE_OK;
    long last_status = 0;

    for (int attempt = 0; attempt < c->opt.max_attempts; attempt++) {
        if (attempt > 0) c->stats.retries++;
        http_response_free(resp);
        cb_buf_init(&resp->body, 1);
        CURL *h = c->curl;
        curl_easy_reset(h);
        struct curl_slist *hl = NULL;
        char **extra = NULL;
        if (req->headers)
            for (const char *const *p = req->headers; *p; p++) hl = curl_slist_append(hl, *p);
        if (req->sign) {
            cb_error se = {0};
            if (req->sign(req->sign_arg, req, &extra, &se)) {
                curl_slist_free_all(hl);
                if (e) *e = se;
                return se.code ? se.code : CB_ERR;
            }
            for (char **p = extra; p && *p; p++) hl = curl_slist_append(hl, *p);
        }
        /* libcurl adds these by default; the services do not want them */
        hl = curl_slist_append(hl, "Expect:");
        struct wctx w = {resp, c->opt.max_response, 0};
        curl_easy_setopt(h, CURLOPT_URL, req->url);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (strcmp(method, "GET") == 0) curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        if (strcmp(method, "HEAD") == 0) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        if (req->body) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        }
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &w);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->opt.connect_timeout_ms);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->opt.timeout_ms);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect could carry tokens elsewhere */
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_USERAGENT, "credbroker/0.1");
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
        if (c->ca_blob) {
            struct curl_blob blob = {c->ca_blob, c->ca_blob_len, CURL_BLOB_NOCOPY};
            curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
        }
        long t0 = (long)cb_now_ms();
        CURLcode rc = curl_easy_perform(h);
        long ms = (long)cb_now_ms() - t0;
        c->stats.requests++;
        long nconn = 0;
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nconn);
        c->stats.connects += nconn;
        curl_slist_free_all(hl);
        if (extra) {
            for (char **p = extra; *p; p++) cb_free_secret(*p);
            free(extra);
        }
        last = rc;
        if (rc == CURLE_OK) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
            last_status = resp->status;
            LOG_DEBUG("http %s %s -> %ld (%ld ms, attempt %d)", method, logurl, resp->status, ms, attempt + 1);
            int retry = status_retryable(resp->status) || (req->retryable && req->retryable(resp));
            if (!retry) return 0;
            if (attempt + 1 >= c->opt.max_attempts) return 0; /* caller maps the final status */
            long wait = retry_after_ms(resp, c->opt.backoff_max_ms);
            if (wait < 0) wait = backoff_ms(c, attempt);
            LOG_INFO("http %s %s: status %ld, retrying in %ld ms", method, logurl, resp->status, wait);
            sleep_ms(wait);
            continue;
        }
        if (w.overflow) {
            http_response_free(resp);
            return cb_fail(e, CB_ERR, CB_K_INVALID, "%s: response larger than %zu bytes", logurl, c->opt.max_response);
        }
        LOG_DEBUG("http %s %s failed: %s (%ld ms)", method, logurl, curl_easy_strerror(rc), ms);
        switch (rc) {
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            /* never retried, never downgraded: fail closed */
            http_response_free(resp);
            return cb_fail(e, CB_ERR, CB_K_DENIED, "%s: TLS verification failed: %s", logurl, curl_easy_strerror(rc));
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
            http_response_free(resp);
            return cb_fail(e, CB_ERR, CB_K_INVALID, "%s: %s", logurl, curl_easy_strerror(rc));
        default:
            break;
        }
        if (attempt + 1 < c->opt.max_attempts) sleep_ms(backoff_ms(c, attempt));
    }
    http_response_free(resp);
    cb_buf_init(&resp->body, 1);
    if (last == CURLE_OK)
        return cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "%s: status %ld after %d attempts", logurl, last_status, c->opt.max_attempts);
    return cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "%s: %s after %d attempts", logurl, curl_easy_strerror(last), c->opt.max_attempts);
}
