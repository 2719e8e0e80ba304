/* The one libcurl wrapper every provider uses. TLS verification is always on (there is
 * no switch to turn it off); extra CAs come from the provider's SDK variable and
 * CREDBROKER_CA_BUNDLE. Retries with exponential backoff and full jitter, bounded
 * attempts, Retry-After honoured, response size cap, one reused connection per client.
 * Logs show method, URL and status only: never headers or bodies. */
#ifndef CB_HTTP_H
#define CB_HTTP_H
#include <stddef.h>
#include "util.h"

typedef struct http_client http_client;

typedef struct http_options {
    const char *ca_file;        /* provider's own CA variable (VAULT_CACERT, AWS_CA_BUNDLE), may be NULL */
    long connect_timeout_ms;    /* 0 = CREDBROKER_HTTP_CONNECT_TIMEOUT_MS or 5000 */
    long timeout_ms;            /* total per attempt; 0 = CREDBROKER_HTTP_TIMEOUT_MS or 15000 */
    int max_attempts;           /* 0 = CREDBROKER_HTTP_MAX_ATTEMPTS or 4 */
    long backoff_base_ms;       /* 0 = 100 */
    long backoff_max_ms;        /* 0 = 5000 (also caps Retry-After) */
    size_t max_response;        /* 0 = 4 MiB */
} http_options;

typedef struct http_response {
    long status;
    cb_buf body;                /* secret buffer: wiped on free */
    char **headers;             /* "name: value" with lower-cased name */
    size_t nheaders;
} http_response;

typedef struct http_request {
    const char *method;         /* GET POST PUT PATCH DELETE LIST ... */
    const char *url;
    const char *const *headers; /* "Name: value", NULL-terminated, may be NULL */
    const char *body;           /* may be NULL */
    size_t body_len;
    /* Called before every attempt (including retries) to add per-attempt headers,
     * e.g. a fresh SigV4 signature. *extra: malloc'd NULL-terminated array of malloc'd
     * "Name: value" strings, freed (and wiped) by the wrapper. May be NULL. */
    int (*sign)(void *arg, const struct http_request *req, char ***extra, cb_error *e);
    void *sign_arg;
    /* Decides whether a completed response should be retried (beyond 429/5xx);
     * e.g. AWS ThrottlingException on 400. May be NULL. */
    int (*retryable)(const http_response *r);
} http_request;

http_client *http_client_new(const http_options *opt, cb_error *e);
void http_client_free(http_client *c);

/* Performs the request with retries. Returns 0 when an HTTP response was received
 * (any status, check resp->status), or an error: CB_K_UNAVAILABLE for network
 * failures/timeouts/exhausted retries, CB_K_DENIED for TLS verification failures,
 * CB_K_INVALID for an over-size response. */
int http_do(http_client *c, const http_request *req, http_response *resp, cb_error *e);
void http_response_free(http_response *r);
/* Case-insensitive header lookup; returns the value or NULL. */
const char *http_response_header(const http_response *r, const char *name);

/* Number of transfers performed and retries made, for tests and benchmarks. */
typedef struct http_stats { long requests, retries, connects; } http_stats;
void http_client_stats(const http_client *c, http_stats *out);

#endif
