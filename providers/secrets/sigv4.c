/* AWS Signature Version 4. Rules follow the 2015-08-30 test suite and botocore/smithy:
 * non-S3 paths are normalized and the wire path is encoded again (so %20 -> %2520),
 * the query is decoded, re-encoded and sorted by encoded key then value, header values
 * are trimmed with inner whitespace collapsed, folded lines and repeated headers are
 * joined with ',' in order of appearance. */
#include "sigv4.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* hop-by-hop or proxy-changed headers that botocore never signs */
static const char *const unsigned_headers[] = {
    "authorization", "connection", "expect", "keep-alive", "proxy-authenticate",
    "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade",
    "user-agent", "x-amzn-trace-id", NULL};

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

static void encode_into(cb_buf *b, const char *s, size_t n, int keep_slash)
{
    static const char hx[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            cb_buf_append(b, &c, 1);
        } else {
            char enc[3] = {'%', hx[c >> 4], hx[c & 15]};
            cb_buf_append(b, enc, 3);
        }
    }
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes n bytes (a malformed escape is kept literally, like the SDKs). */
static char *pct_decode(const char *s, size_t n, size_t *outlen)
{
    char *o = cb_malloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
            o[j++] = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
            i += 2;
        } else {
            o[j++] = s[i];
        }
    }
    o[j] = 0;
    *outlen = j;
    return o;
}

static char *canonical_uri(const char *path, int s3)
{
    cb_buf b;
    cb_buf_init(&b, 0);
    if (!path || !*path) path = "/";
    if (s3) {
        size_t n;
        char *d = pct_decode(path, strlen(path), &n);
        if (d[0] != '/') cb_buf_puts(&b, "/");
        encode_into(&b, d, n, 1);
        free(d);
        return cb_buf_steal(&b);
    }
    /* RFC 3986 dot-segment removal plus '//' collapsing, as smithy does */
    size_t len = strlen(path), nseg = 0;
    const char **seg = cb_calloc(len + 1, sizeof *seg);
    size_t *segl = cb_calloc(len + 1, sizeof *segl);
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && path[j] != '/') j++;
        size_t l = j - i;
        if (l == 0 || (l == 1 && path[i] == '.')) {
            /* skip */
        } else if (l == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (nseg) nseg--;
        } else {
            seg[nseg] = path + i;
            segl[nseg++] = l;
        }
        i = j + 1;
    }
    cb_buf_puts(&b, "/");
    for (size_t k = 0; k < nseg; k++) {
        if (k) cb_buf_puts(&b, "/");
        encode_into(&b, seg[k], segl[k], 0);
    }
    if (nseg && path[len - 1] == '/') cb_buf_puts(&b, "/");
    free(seg);
    free(segl);
    return cb_buf_steal(&b);
}

typedef struct kv { char *k, *v; } kv;

static int kv_cmp(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

static char *canonical_query(const char *q)
{
    cb_buf b;
    cb_buf_init(&b, 0);
    if (!q || !*q) return cb_buf_steal(&b);
    size_t len = strlen(q), n = 0;
    kv *items = cb_calloc(len / 2 + 2, sizeof *items);
    for (size_t i = 0; i <= len;) {
        size_t j = i;
        while (j < len && q[j] != '&') j++;
        if (j > i) {
            const char *eq = memchr(q + i, '=', j - i);
            size_t kl = eq ? (size_t)(eq - (q + i)) : j - i, dl;
            cb_buf t;
            char *d = pct_decode(q + i, kl, &dl);
            cb_buf_init(&t, 0);
            encode_into(&t, d, dl, 0);
            items[n].k = cb_buf_steal(&t);
            free(d);
            d = eq ? pct_decode(eq + 1, (size_t)(q + j - eq - 1), &dl) : cb_strdup("");
            if (!eq) dl = 0;
            encode_into(&t, d, dl, 0);
            items[n].v = cb_buf_steal(&t);
            free(d);
            n++;
        }
        i = j + 1;
    }
    qsort(items, n, sizeof *items, kv_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i) cb_buf_puts(&b, "&");
        cb_buf_printf(&b, "%s=%s", items[i].k, items[i].v);
        free(items[i].k);
        free(items[i].v);
    }
    free(items);
    return cb_buf_steal(&b);
}

/* Trims each folded line, collapses inner whitespace runs, joins lines with ','. */
static void canonical_value(cb_buf *b, const char *v)
{
    int first_line = 1;
    while (*v) {
        const char *nl = strchr(v, '\n');
        const char *end = nl ? nl : v + strlen(v);
        const char *s = v, *e = end;
        while (s < e && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
        if (e > s) {
            if (!first_line) cb_buf_puts(b, ",");
            first_line = 0;
            int sp = 0;
            for (const char *p = s; p < e; p++) {
                if (*p == ' ' || *p == '\t' || *p == '\r') {
                    sp = 1;
                    continue;
                }
                if (sp) cb_buf_puts(b, " ");
                sp = 0;
                cb_buf_append(b, p, 1);
            }
        }
        v = nl ? nl + 1 : end;
    }
}

typedef struct hdr { char *name; const char *value; size_t order; } hdr;

static int hdr_cmp(const void *a, const void *b)
{
    const hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int is_unsigned(const char *lname)
{
    for (size_t i = 0; unsigned_headers[i]; i++)
        if (strcmp(lname, unsigned_headers[i]) == 0) return 1;
    return 0;
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int ml = 0;
    EVP_Digest(p ? p : "", n, md, &ml, EVP_sha256(), NULL);
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[md[i] >> 4];
        out[2 * i + 1] = hx[md[i] & 15];
    }
    out[64] = 0;
}

static int hmac(EVP_MAC *mac, const void *key, size_t kl, const void *d, size_t dl, unsigned char out[32])
{
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(mac);
    if (!c) return -1;
    char dig[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, dig, 0), OSSL_PARAM_construct_end()};
    size_t ol = 0;
    int ok = EVP_MAC_init(c, key, kl, params) && EVP_MAC_update(c, d, dl) && EVP_MAC_final(c, out, &ol, 32);
    EVP_MAC_CTX_free(c);
    return ok && ol == 32 ? 0 : -1;
}

static int valid_date(const char *d)
{
    if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z') return 0;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)d[i])) return 0;
    return 1;
}

void sigv4_result_free(sigv4_result *r)
{
    if (!r) return;
    free(r->canonical_request);
    free(r->string_to_sign);
    free(r->signature);
    free(r->signed_headers);
    free(r->authorization);
    memset(r, 0, sizeof *r);
}

int sigv4_sign(const sigv4_request *rq, sigv4_result *out, cb_error *e)
{
    memset(out, 0, sizeof *out);
    if (!rq->method || !*rq->method || !rq->access_key || !*rq->access_key || !rq->secret_key ||
        !rq->region || !*rq->region || !rq->service || !*rq->service)
        return cb_fail(e, CB_ERR, CB_K_INVALID, "sigv4: method, credentials, region and service are required");
    if (!valid_date(rq->amz_date)) return cb_fail(e, CB_ERR, CB_K_INVALID, "sigv4: amz-date must be YYYYMMDDTHHMMSSZ");
    for (const char *p = rq->region; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-') return cb_fail(e, CB_ERR, CB_K_INVALID, "sigv4: bad region");

    /* headers: lower-case, drop unsigned ones, add the session token when missing */
    size_t n = 0, cap = rq->nheaders + 1;
    hdr *h = cb_calloc(cap, sizeof *h);
    int have_token = 0;
    for (size_t i = 0; i < rq->nheaders; i++) {
        if (!rq->headers[i].name || !rq->headers[i].value) continue;
        char *ln = cb_strdup(rq->headers[i].name);
        for (char *p = ln; *p; p++) *p = (char)tolower((unsigned char)*p);
        if (is_unsigned(ln) || !*ln) {
            free(ln);
            continue;
        }
        if (strcmp(ln, "x-amz-security-token") == 0) have_token = 1;
        h[n].name = ln;
        h[n].value = rq->headers[i].value;
        h[n].order = n;
        n++;
    }
    if (rq->session_token && *rq->session_token && !have_token) {
        h[n].name = cb_strdup("x-amz-security-token");
        h[n].value = rq->session_token;
        h[n].order = n;
        n++;
    }
    qsort(h, n, sizeof *h, hdr_cmp);

    cb_buf cr, sh;
    cb_buf_init(&cr, 0);
    cb_buf_init(&sh, 0);
    char *uri = canonical_uri(rq->path, rq->s3);
    char *qs = canonical_query(rq->query);
    cb_buf_printf(&cr, "%s\n%s\n%s\n", rq->method, uri, qs);
    free(uri);
    free(qs);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
            cb_buf_puts(&cr, ",");
        } else {
            if (i > 0) cb_buf_puts(&cr, "\n");
            cb_buf_printf(&cr, "%s:", h[i].name);
            if (sh.len) cb_buf_puts(&sh, ";");
            cb_buf_puts(&sh, h[i].name);
        }
        canonical_value(&cr, h[i].value);
    }
    if (n) cb_buf_puts(&cr, "\n");
    char bodyhash[65];
    sha256_hex(rq->body, rq->body ? rq->body_len : 0, bodyhash);
    cb_buf_printf(&cr, "\n%s\n%s", sh.data, bodyhash);
    for (size_t i = 0; i < n; i++) free(h[i].name);
    free(h);

    char crhash[65], day[9];
    sha256_hex(cr.data, cr.len, crhash);
    memcpy(day, rq->amz_date, 8);
    day[8] = 0;
    char *scope = cb_sprintf("%s/%s/%s/aws4_request", day, rq->region, rq->service);
    char *sts = cb_sprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", rq->amz_date, scope, crhash);

    /* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request") */
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    char *k0 = cb_sprintf("AWS4%s", rq->secret_key);
    unsigned char k[32], sig[32];
    int bad = !mac || hmac(mac, k0, strlen(k0), day, 8, k) || hmac(mac, k, 32, rq->region, strlen(rq->region), k) ||
              hmac(mac, k, 32, rq->service, strlen(rq->service), k) || hmac(mac, k, 32, "aws4_request", 12, k) ||
              hmac(mac, k, 32, sts, strlen(sts), sig);
    cb_free_secret(k0);
    cb_wipe(k, sizeof k);
    EVP_MAC_free(mac);
    if (bad) {
        cb_buf_free(&cr);
        cb_buf_free(&sh);
        free(scope);
        free(sts);
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "sigv4: HMAC-SHA256 unavailable");
    }
    out->signature = cb_hex_encode(sig, 32);
    out->authorization = cb_sprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                                    rq->access_key, scope, sh.data, out->signature);
    out->signed_headers = cb_buf_steal(&sh);
    out->canonical_request = cb_buf_steal(&cr);
    out->string_to_sign = sts;
    free(scope);
    return 0;
}

void sigv4_amz_date(char out[17])
{
    char iso[32];
    cb_iso8601(cb_now(), iso); /* 2024-01-05T16:50:00Z */
    snprintf(out, 17, "%.4s%.2s%.2sT%.2s%.2s%.2sZ", iso, iso + 5, iso + 8, iso + 11, iso + 14, iso + 17);
}
