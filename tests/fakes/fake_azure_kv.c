/* A fake Azure Key Vault (secrets data plane) plus the Entra ID token endpoints and
 * managed identity endpoints its clients need, over HTTPS with libmicrohttpd.
 * Faithful enough for @azure/keyvault-secrets and @azure/identity (see
 * tests/interop/azure_kv_sdk.mjs). State is in memory; nothing secret is printed.
 *
 *   fake_azure_kv --port P --cert cert.pem --key key.pem [--tenant T] [--client-id ID]
 *     [--client-secret S] [--token-ttl SEC] [--identity-header H] [--mi-client-id ID]
 *     [--federated-assertion JWT]
 *     [--page-size N] [--fail-first N] [--fail-status 500|429|503] [--retry-after SEC]
 *     [--delay-ms MS] [--truncate] [--non-json] [--expire-tokens-after N] [--verbose]
 *
 * Faults apply to authenticated /secrets requests only, so the challenge and token
 * dance stays intact. GET /_fake/stats (not an Azure API) returns counters for tests. */
#include <microhttpd.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_TOKENS 4096
#define MAX_BODY (1 << 20)
static const char *const API_VERSIONS[] = {"2016-10-01", "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6",
                                           "2025-06-01", "2025-07-01", NULL};

static struct {
    int port;
    const char *tenant, *client_id, *client_secret, *identity_header, *mi_client_id, *assertion;
    long token_ttl;
    int page_size;
    int fail_first, fail_status, retry_after;
    long delay_ms;
    int truncate, non_json, expire_after, verbose;
} opt = {.tenant = "tenant-1", .token_ttl = 3600, .page_size = 25, .fail_status = 500, .retry_after = -1,
         .identity_header = "fake-identity-header"};

static struct {
    long requests, token_requests, mi_requests, challenges, secret_requests, faults;
} stats;

typedef struct token { char tok[65]; time_t exp; int uses; } token;
static token tokens[MAX_TOKENS];
static int ntokens;
static json_t *store; /* name -> array of bundles (with value), oldest first */
static volatile sig_atomic_t stop;

typedef struct req { char *body; size_t len; int too_big; } req;

static void on_signal(int sig) { (void)sig; stop = 1; }

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
    b[n] = 0;
    fclose(f);
    return b;
}

static void rand_hex(char *out, size_t bytes)
{
    unsigned char r[64];
    RAND_bytes(r, (int)bytes);
    for (size_t i = 0; i < bytes; i++) sprintf(out + 2 * i, "%02x", r[i]);
}

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body,
                                 const char *hname, const char *hval)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", ctype);
    char rid[37];
    rand_hex(rid, 16);
    MHD_add_response_header(r, "x-ms-request-id", rid);
    MHD_add_response_header(r, "x-ms-keyvault-service-version", "1.9.0.0");
    MHD_add_response_header(r, "x-ms-keyvault-region", "local");
    const char *crid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-ms-client-request-id");
    if (crid && strlen(crid) < 128) MHD_add_response_header(r, "x-ms-client-request-id", crid);
    if (hname) MHD_add_response_header(r, hname, hval);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    enum MHD_Result r = send_body(c, status, "application/json; charset=utf-8", s, NULL, NULL);
    free(s);
    return r;
}

static enum MHD_Result kv_error(struct MHD_Connection *c, unsigned status, const char *code, const char *msg)
{
    json_t *j = json_pack("{s{ssss}}", "error", "code", code, "message", msg);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    enum MHD_Result r = send_body(c, status, "application/json; charset=utf-8", s, "x-ms-error-code", code);
    free(s);
    return r;
}

/* 403 for a disabled version, as the service answers (innererror SecretDisabled). */
static enum MHD_Result disabled(struct MHD_Connection *c)
{
    json_t *j = json_pack("{s{sssss{ss}}}", "error", "code", "Forbidden", "message",
                          "Operation get is not allowed on a disabled secret.", "innererror", "code", "SecretDisabled");
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    enum MHD_Result r = send_body(c, 403, "application/json; charset=utf-8", s, "x-ms-error-code", "Forbidden");
    free(s);
    return r;
}

static enum MHD_Result aad_error(struct MHD_Connection *c, unsigned status, const char *err, const char *desc, int code)
{
    char ts[32], tid[37];
    time_t now = time(NULL);
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%SZ", gmtime(&now));
    rand_hex(tid, 16);
    return send_json(c, status, json_pack("{sssss[i]ssssss}", "error", err, "error_description", desc, "error_codes", code,
                                          "timestamp", ts, "trace_id", tid, "correlation_id", tid));
}

/* https://host:port as the client addressed us (ids and links echo the vault URL). */
static void base_url(struct MHD_Connection *c, char *out, size_t n)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    int ok = h && *h && strlen(h) < 200;
    for (const char *p = h; ok && *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-:[]", *p)) ok = 0;
    if (ok) snprintf(out, n, "https://%s", h);
    else snprintf(out, n, "https://127.0.0.1:%d", opt.port);
}

static const char *issue_token(void)
{
    if (ntokens == MAX_TOKENS) { /* drop the oldest half */
        memmove(tokens, tokens + MAX_TOKENS / 2, sizeof(token) * (MAX_TOKENS / 2));
        ntokens = MAX_TOKENS / 2;
    }
    token *t = &tokens[ntokens++];
    rand_hex(t->tok, 32);
    t->exp = time(NULL) + opt.token_ttl;
    t->uses = 0;
    return t->tok;
}

static int token_valid(struct MHD_Connection *c)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0) return 0;
    a += 7;
    time_t now = time(NULL);
    for (int i = 0; i < ntokens; i++) {
        if (strcmp(tokens[i].tok, a) != 0) continue;
        if (now >= tokens[i].exp) return 0;
        if (opt.expire_after && tokens[i].uses >= opt.expire_after) return 0;
        tokens[i].uses++;
        return 1;
    }
    return 0;
}

static enum MHD_Result challenge(struct MHD_Connection *c, int had_token)
{
    stats.challenges++;
    char base[256], hv[512];
    base_url(c, base, sizeof base);
    snprintf(hv, sizeof hv, "Bearer authorization=\"%s/%s\", resource=\"https://vault.azure.net\"", base, opt.tenant);
    const char *msg = had_token ? "AKV10032: Invalid issuer or the token has expired." : "AKV10000: Request is missing a Bearer or PoP token.";
    json_t *j = json_pack("{s{ssss}}", "error", "code", "Unauthorized", "message", msg);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    enum MHD_Result r = send_body(c, 401, "application/json; charset=utf-8", s, "WWW-Authenticate", hv);
    free(s);
    return r;
}

/* Form fields (application/x-www-form-urlencoded); returns a malloc'd decoded value. */
static char *form_get(const char *body, const char *key)
{
    size_t kn = strlen(key);
    for (const char *p = body; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > kn && strncmp(p, key, kn) == 0 && p[kn] == '=') {
            char *v = strndup(p + kn + 1, n - kn - 1);
            for (char *q = v; *q; q++) if (*q == '+') *q = ' ';
            MHD_http_unescape(v);
            return v;
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

static enum MHD_Result token_endpoint(struct MHD_Connection *c, const char *tenant, const req *r)
{
    stats.token_requests++;
    if (strcmp(tenant, opt.tenant) != 0) {
        char d[300];
        snprintf(d, sizeof d, "AADSTS90002: Tenant '%.60s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant);
        return aad_error(c, 400, "invalid_request", d, 90002);
    }
    const char *body = r->body ? r->body : "";
    char *gt = form_get(body, "grant_type"), *cid = form_get(body, "client_id"), *sec = form_get(body, "client_secret"),
         *scope = form_get(body, "scope"), *at = form_get(body, "client_assertion_type"), *as = form_get(body, "client_assertion");
    enum MHD_Result ret;
    /* workload identity: a federated assertion instead of the secret */
    int assertion_ok = !sec && at && as && opt.assertion &&
                       strcmp(at, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") == 0 && strcmp(as, opt.assertion) == 0;
    if (!gt || strcmp(gt, "client_credentials") != 0) {
        ret = aad_error(c, 400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.", 70003);
    } else if (!cid || (opt.client_id && strcmp(cid, opt.client_id) != 0)) {
        ret = aad_error(c, 400, "unauthorized_client", "AADSTS700016: Application with identifier was not found in the directory.", 700016);
    } else if (!assertion_ok && as) {
        ret = aad_error(c, 401, "invalid_client", "AADSTS700211: No matching federated identity record found for presented assertion.", 700211);
    } else if (!assertion_ok && (!sec || (opt.client_secret && strcmp(sec, opt.client_secret) != 0))) {
        ret = aad_error(c, 401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.", 7000215);
    } else if (!scope || strlen(scope) < 10 || strcmp(scope + strlen(scope) - 9, "/.default") != 0) {
        ret = aad_error(c, 400, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.", 1002012);
    } else {
        ret = send_json(c, 200, json_pack("{sssisiss}", "token_type", "Bearer", "expires_in", (int)opt.token_ttl,
                                          "ext_expires_in", (int)opt.token_ttl, "access_token", issue_token()));
    }
    free(gt); free(cid); free(scope); free(at);
    if (as) { memset(as, 0, strlen(as)); free(as); }
    if (sec) { memset(sec, 0, strlen(sec)); free(sec); }
    return ret;
}

static enum MHD_Result openid_config(struct MHD_Connection *c, const char *tenant)
{
    char base[256];
    base_url(c, base, sizeof base);
    char te[400], ae[400], is[400], jw[400];
    snprintf(te, sizeof te, "%s/%s/oauth2/v2.0/token", base, tenant);
    snprintf(ae, sizeof ae, "%s/%s/oauth2/v2.0/authorize", base, tenant);
    snprintf(is, sizeof is, "%s/%s/v2.0", base, tenant);
    snprintf(jw, sizeof jw, "%s/%s/discovery/v2.0/keys", base, tenant);
    return send_json(c, 200, json_pack("{ssssssss s[s] s[s] s[s]}", "token_endpoint", te, "authorization_endpoint", ae,
                                       "issuer", is, "jwks_uri", jw, "response_types_supported", "code",
                                       "token_endpoint_auth_methods_supported", "client_secret_post",
                                       "scopes_supported", "openid"));
}

/* Managed identity: IMDS (Metadata: true) and App Service (X-IDENTITY-HEADER). */
static enum MHD_Result mi_endpoint(struct MHD_Connection *c, int app_service)
{
    stats.mi_requests++;
    if (app_service) {
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-IDENTITY-HEADER");
        if (!h || strcmp(h, opt.identity_header) != 0)
            return send_json(c, 401, json_pack("{ssss}", "error", "unauthorized", "error_description", "X-IDENTITY-HEADER is missing or wrong"));
    } else {
        const char *m = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Metadata");
        if (!m || strcasecmp(m, "true") != 0)
            return send_json(c, 400, json_pack("{ssss}", "error", "invalid_request", "error_description", "Required metadata header not specified"));
    }
    const char *av = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "api-version");
    const char *want = app_service ? "2019-08-01" : "2018-02-01";
    if (!av || strcmp(av, want) != 0)
        return send_json(c, 400, json_pack("{ssss}", "error", "invalid_request", "error_description", "Invalid or missing api-version"));
    const char *res = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "resource");
    if (!res || !*res)
        return send_json(c, 400, json_pack("{ssss}", "error", "invalid_request", "error_description", "Required query variable 'resource' is missing"));
    const char *cid = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "client_id");
    if (cid && (!opt.mi_client_id || strcmp(cid, opt.mi_client_id) != 0))
        return send_json(c, 400, json_pack("{ssss}", "error", "invalid_request", "error_description", "Identity not found"));
    char in[24], on[24], nb[24];
    time_t now = time(NULL);
    snprintf(in, sizeof in, "%ld", opt.token_ttl);
    snprintf(on, sizeof on, "%lld", (long long)(now + opt.token_ttl));
    snprintf(nb, sizeof nb, "%lld", (long long)now);
    const char *tok = issue_token();
    if (app_service)
        return send_json(c, 200, json_pack("{ssssssssss}", "access_token", tok, "expires_on", on, "resource", res,
                                           "token_type", "Bearer", "client_id", cid ? cid : "system-assigned"));
    return send_json(c, 200, json_pack("{ssssssssssss}", "access_token", tok, "expires_in", in, "expires_on", on,
                                       "not_before", nb, "resource", res, "token_type", "Bearer"));
}

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 127) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-') return 0;
    return 1;
}

/* A copy of a bundle for the wire: without the value when listing or patching. */
static json_t *item_of(json_t *b, int with_value)
{
    json_t *o = json_deep_copy(b);
    if (!with_value) json_object_del(o, "value");
    return o;
}

static enum MHD_Result not_found(struct MHD_Connection *c, const char *name, const char *ver)
{
    char m[512];
    snprintf(m, sizeof m, "A secret with (name/id) %s%s%s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
             name, ver ? "/" : "", ver ? ver : "");
    return kv_error(c, 404, "SecretNotFound", m);
}

static json_t *find_version(json_t *arr, const char *ver)
{
    size_t i;
    json_t *b;
    json_array_foreach(arr, i, b) {
        const char *id = json_string_value(json_object_get(b, "id"));
        size_t n = strlen(id), vn = strlen(ver);
        if (n > vn && id[n - vn - 1] == '/' && strcmp(id + n - vn, ver) == 0) return b;
    }
    return NULL;
}

/* PUT body -> new version. */
static enum MHD_Result set_secret(struct MHD_Connection *c, const char *name, const req *r)
{
    json_error_t je;
    json_t *in = r->body ? json_loadb(r->body, r->len, 0, &je) : NULL;
    json_t *val = json_object_get(in, "value");
    if (!json_is_object(in) || !json_is_string(val)) {
        json_decref(in);
        return kv_error(c, 400, "BadParameter", "The request body is invalid: property 'value' is required.");
    }
    json_t *tags = json_object_get(in, "tags");
    if (tags && !json_is_null(tags) && (!json_is_object(tags) || json_object_size(tags) > 15)) {
        json_decref(in);
        return kv_error(c, 400, "BadParameter", "Tags must be an object of at most 15 string values.");
    }
    char base[256], ver[33], id[600];
    base_url(c, base, sizeof base);
    rand_hex(ver, 16);
    snprintf(id, sizeof id, "%s/secrets/%s/%s", base, name, ver);
    json_t *ia = json_object_get(in, "attributes");
    json_t *en = json_object_get(ia, "enabled");
    json_int_t now = (json_int_t)time(NULL);
    json_t *attrs = json_pack("{sbsIsIsssi}", "enabled", !json_is_false(en), "created", now, "updated", now,
                              "recoveryLevel", "Recoverable+Purgeable", "recoverableDays", 90);
    if (json_is_integer(json_object_get(ia, "nbf"))) json_object_set(attrs, "nbf", json_object_get(ia, "nbf"));
    if (json_is_integer(json_object_get(ia, "exp"))) json_object_set(attrs, "exp", json_object_get(ia, "exp"));
    json_t *b = json_pack("{sOssso}", "value", val, "id", id, "attributes", attrs);
    json_object_set_new(b, "tags", json_is_object(tags) ? json_deep_copy(tags) : json_object());
    if (json_is_string(json_object_get(in, "contentType"))) json_object_set(b, "contentType", json_object_get(in, "contentType"));
    json_decref(in);
    json_t *arr = json_object_get(store, name);
    if (!arr) {
        arr = json_array();
        json_object_set_new(store, name, arr);
    }
    json_array_append_new(arr, b);
    return send_json(c, 200, item_of(b, 1));
}

static enum MHD_Result patch_secret(struct MHD_Connection *c, json_t *b, const req *r)
{
    json_error_t je;
    json_t *in = r->body ? json_loadb(r->body, r->len, 0, &je) : NULL;
    if (!json_is_object(in)) {
        json_decref(in);
        return kv_error(c, 400, "BadParameter", "The request body is invalid.");
    }
    json_t *tags = json_object_get(in, "tags");
    if (tags && !json_is_null(tags)) {
        if (!json_is_object(tags) || json_object_size(tags) > 15) {
            json_decref(in);
            return kv_error(c, 400, "BadParameter", "Tags must be an object of at most 15 string values.");
        }
        json_object_set_new(b, "tags", json_deep_copy(tags));
    }
    if (json_is_string(json_object_get(in, "contentType"))) json_object_set(b, "contentType", json_object_get(in, "contentType"));
    json_t *ia = json_object_get(in, "attributes"), *attrs = json_object_get(b, "attributes");
    if (json_is_boolean(json_object_get(ia, "enabled"))) json_object_set(attrs, "enabled", json_object_get(ia, "enabled"));
    if (json_is_integer(json_object_get(ia, "nbf"))) json_object_set(attrs, "nbf", json_object_get(ia, "nbf"));
    if (json_is_integer(json_object_get(ia, "exp"))) json_object_set(attrs, "exp", json_object_get(ia, "exp"));
    json_object_set_new(attrs, "updated", json_integer((json_int_t)time(NULL)));
    json_decref(in);
    return send_json(c, 200, item_of(b, 0));
}

static enum MHD_Result list_versions(struct MHD_Connection *c, const char *name, const char *api)
{
    json_t *arr = json_object_get(store, name);
    const char *mr = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "maxresults");
    const char *sk = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "$skiptoken");
    long max = 25;
    if (mr) {
        char *end;
        max = strtol(mr, &end, 10);
        if (*end || max < 1 || max > 25)
            return kv_error(c, 400, "BadParameter", "Invalid value for maxresults: must be between 1 and 25.");
    }
    if (max > opt.page_size) max = opt.page_size;
    size_t off = sk ? (size_t)strtoul(sk, NULL, 10) : 0, n = json_array_size(arr);
    json_t *items = json_array();
    for (size_t i = off; i < n && i < off + (size_t)max; i++) json_array_append_new(items, item_of(json_array_get(arr, i), 0));
    json_t *o = json_pack("{so}", "value", items);
    if (off + (size_t)max < n) {
        char base[256], next[800];
        base_url(c, base, sizeof base);
        snprintf(next, sizeof next, "%s/secrets/%s/versions?api-version=%s&$skiptoken=%zu&maxresults=%ld", base, name, api,
                 off + (size_t)max, max);
        json_object_set_new(o, "nextLink", json_string(next));
    } else {
        json_object_set_new(o, "nextLink", json_null());
    }
    return send_json(c, 200, o);
}

struct trunc { char *s; size_t len; };
static ssize_t trunc_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct trunc *t = cls;
    size_t half = t->len / 2;
    if (pos >= half) return MHD_CONTENT_READER_END_WITH_ERROR; /* connection closes early */
    size_t n = half - (size_t)pos < max ? half - (size_t)pos : max;
    memcpy(buf, t->s + pos, n);
    return (ssize_t)n;
}
static void trunc_free(void *cls)
{
    struct trunc *t = cls;
    free(t->s);
    free(t);
}

static enum MHD_Result vault(struct MHD_Connection *c, const char *url, const char *method, const req *r)
{
    stats.secret_requests++;
    const char *api = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "api-version");
    int had = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization") != NULL;
    if (!token_valid(c)) return challenge(c, had);
    if (!api) return kv_error(c, 400, "BadParameter", "The 'api-version' query parameter is missing.");
    int known = 0;
    for (int i = 0; API_VERSIONS[i]; i++) known |= strcmp(api, API_VERSIONS[i]) == 0;
    if (!known) {
        char m[256];
        snprintf(m, sizeof m, "The specified version (%.40s) is not recognized. Consider using the latest supported version (2025-07-01).", api);
        return kv_error(c, 400, "BadParameter", m);
    }
    if (opt.delay_ms) usleep((useconds_t)opt.delay_ms * 1000);
    if (stats.faults < opt.fail_first) {
        stats.faults++;
        char ra[16];
        snprintf(ra, sizeof ra, "%d", opt.retry_after);
        json_t *j = json_pack("{s{ssss}}", "error", "code",
                              opt.fail_status == 429 ? "Throttled" : opt.fail_status == 503 ? "ServiceUnavailable" : "InternalServerError",
                              "message", opt.fail_status == 429 ? "Rate limit exceeded. Try again later." : "Injected fault.");
        char *s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        enum MHD_Result ret = send_body(c, (unsigned)opt.fail_status, "application/json; charset=utf-8", s,
                                        opt.retry_after >= 0 ? "Retry-After" : NULL, ra);
        free(s);
        return ret;
    }
    if (opt.non_json) return send_body(c, 200, "text/html", "<html><body><h1>Service Unavailable</h1></body></html>", NULL, NULL);

    /* /secrets/{name}[/{version}|/versions][/] */
    const char *p = url + strlen("/secrets/");
    size_t nn = strcspn(p, "/");
    char name[128] = "", seg[128] = "";
    if (!name_ok(p, nn)) return kv_error(c, 400, "BadParameter", "Secret names may only contain alphanumeric characters and dashes and be 1-127 characters long.");
    memcpy(name, p, nn);
    p += nn;
    if (*p == '/') p++;
    size_t sn = strcspn(p, "/");
    if (sn >= sizeof seg || (p[sn] == '/' && p[sn + 1])) return kv_error(c, 400, "BadParameter", "Unknown path.");
    memcpy(seg, p, sn);
    json_t *arr = json_object_get(store, name);
    if (!seg[0]) {
        if (strcmp(method, "PUT") == 0) return set_secret(c, name, r);
        if (strcmp(method, "GET") != 0) return kv_error(c, 405, "MethodNotAllowed", "Method not allowed.");
        if (!json_array_size(arr)) return not_found(c, name, NULL);
        json_t *b = json_array_get(arr, json_array_size(arr) - 1);
        if (json_is_false(json_object_get(json_object_get(b, "attributes"), "enabled")))
            return disabled(c);
        if (opt.truncate) {
            struct trunc *t = malloc(sizeof *t);
            json_t *o = item_of(b, 1);
            t->s = json_dumps(o, JSON_COMPACT);
            json_decref(o);
            t->len = strlen(t->s);
            struct MHD_Response *resp = MHD_create_response_from_callback(t->len, 4096, trunc_reader, t, trunc_free);
            MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
            enum MHD_Result ret = MHD_queue_response(c, 200, resp);
            MHD_destroy_response(resp);
            return ret;
        }
        return send_json(c, 200, item_of(b, 1));
    }
    if (strcmp(seg, "versions") == 0 && strcmp(method, "GET") == 0) return list_versions(c, name, api);
    json_t *b = arr ? find_version(arr, seg) : NULL;
    if (!b) return not_found(c, name, seg);
    if (strcmp(method, "GET") == 0) {
        if (json_is_false(json_object_get(json_object_get(b, "attributes"), "enabled")))
            return disabled(c);
        return send_json(c, 200, item_of(b, 1));
    }
    if (strcmp(method, "PATCH") == 0) return patch_secret(c, b, r);
    return kv_error(c, 405, "MethodNotAllowed", "Method not allowed.");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    req *r = *con_cls;
    if (!r) {
        *con_cls = calloc(1, sizeof(req));
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->len + *upload_size > MAX_BODY) r->too_big = 1;
        else {
            r->body = realloc(r->body, r->len + *upload_size + 1);
            memcpy(r->body + r->len, upload, *upload_size);
            r->len += *upload_size;
            r->body[r->len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    stats.requests++;
    if (opt.verbose) fprintf(stderr, "fake_azure_kv: %s %s\n", method, url);
    if (r->too_big) return kv_error(c, 413, "RequestEntityTooLarge", "Request body too large.");
    if (strcmp(url, "/_fake/stats") == 0)
        return send_json(c, 200, json_pack("{sIsIsIsIsIsI}", "requests", (json_int_t)stats.requests, "token_requests",
                                           (json_int_t)stats.token_requests, "mi_requests", (json_int_t)stats.mi_requests,
                                           "challenges", (json_int_t)stats.challenges, "secret_requests",
                                           (json_int_t)stats.secret_requests, "faults", (json_int_t)stats.faults));
    if (strncmp(url, "/secrets/", 9) == 0) return vault(c, url, method, r);
    if (strcmp(url, "/metadata/identity/oauth2/token") == 0 && strcmp(method, "GET") == 0) return mi_endpoint(c, 0);
    if (strcmp(url, "/msi/token") == 0 && strcmp(method, "GET") == 0) return mi_endpoint(c, 1);
    /* /{tenant}/oauth2/v2.0/token and /{tenant}/v2.0/.well-known/openid-configuration */
    const char *t = url + 1, *slash = strchr(t, '/');
    if (slash && slash - t < 128) {
        char tenant[128];
        memcpy(tenant, t, (size_t)(slash - t));
        tenant[slash - t] = 0;
        if (strcmp(slash, "/oauth2/v2.0/token") == 0 && strcmp(method, "POST") == 0) return token_endpoint(c, tenant, r);
        if (strcmp(slash, "/v2.0/.well-known/openid-configuration") == 0 && strcmp(method, "GET") == 0)
            return openid_config(c, tenant);
    }
    return kv_error(c, 404, "NotFound", "The requested resource was not found.");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls; (void)c; (void)toe;
    req *r = *con_cls;
    if (!r) return;
    if (r->body) { memset(r->body, 0, r->len); free(r->body); }
    free(r);
    *con_cls = NULL;
}

int main(int argc, char **argv)
{
    const char *cert = NULL, *key = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(n) (strcmp(a, n) == 0 && v && ++i)
        if (ARG("--port")) opt.port = atoi(v);
        else if (ARG("--cert")) cert = v;
        else if (ARG("--key")) key = v;
        else if (ARG("--tenant")) opt.tenant = v;
        else if (ARG("--client-id")) opt.client_id = v;
        else if (ARG("--client-secret")) opt.client_secret = v;
        else if (ARG("--token-ttl")) opt.token_ttl = atol(v);
        else if (ARG("--identity-header")) opt.identity_header = v;
        else if (ARG("--mi-client-id")) opt.mi_client_id = v;
        else if (ARG("--federated-assertion")) opt.assertion = v;
        else if (ARG("--page-size")) opt.page_size = atoi(v);
        else if (ARG("--fail-first")) opt.fail_first = atoi(v);
        else if (ARG("--fail-status")) opt.fail_status = atoi(v);
        else if (ARG("--retry-after")) opt.retry_after = atoi(v);
        else if (ARG("--delay-ms")) opt.delay_ms = atol(v);
        else if (ARG("--expire-tokens-after")) opt.expire_after = atoi(v);
        else if (strcmp(a, "--truncate") == 0) opt.truncate = 1;
        else if (strcmp(a, "--non-json") == 0) opt.non_json = 1;
        else if (strcmp(a, "--verbose") == 0) opt.verbose = 1;
        else {
            fprintf(stderr, "fake_azure_kv: unknown or incomplete argument %s\n", a);
            return 2;
        }
#undef ARG
    }
    if (opt.port <= 0 || !cert || !key || opt.page_size < 1 || opt.token_ttl < 1) {
        fprintf(stderr, "usage: fake_azure_kv --port P --cert cert.pem --key key.pem [options]\n");
        return 2;
    }
    char *cert_pem = read_file(cert), *key_pem = read_file(key);
    if (!cert_pem || !key_pem) {
        fprintf(stderr, "fake_azure_kv: cannot read certificate or key\n");
        return 1;
    }
    store = json_object();
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG,
                                            (uint16_t)opt.port, NULL, NULL, handler, NULL,
                                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                            MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY, key_pem,
                                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "fake_azure_kv: cannot listen on 127.0.0.1:%d\n", opt.port);
        return 1;
    }
    fprintf(stderr, "fake_azure_kv: listening on https://127.0.0.1:%d\n", opt.port);
    while (!stop) pause();
    MHD_stop_daemon(d);
    json_decref(store);
    free(cert_pem);
    free(key_pem);
    return 0;
}
