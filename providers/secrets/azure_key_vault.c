/* Azure Key Vault secrets (data plane REST) over http.c.
 *
 * Authentication follows the SDKs: the first request to a vault goes without a token;
 * the 401 challenge names the tenant and the resource; we get a token for that scope
 * (client credentials from AZURE_* variables, else managed identity) and retry once.
 * Only the tenant is taken from the challenge, never the authority host, so a vault
 * cannot steer our client secret to another login server.
 *
 * Staging: Key Vault serves the newest version to readers; it has no labels. A pending
 * put is tagged credbroker-stage=pending (and is already what "latest" returns); promote
 * retags it credbroker-stage=current and the previously current version "previous". */
#include "azure_key_vault.h"
#include "http.h"
#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STAGE_TAG "credbroker-stage"
#define TOKEN_TAG "credbroker-request"
#define MAX_PAGES 200

enum { AUTH_CLIENT_SECRET, AUTH_APP_SERVICE, AUTH_IMDS };

typedef struct azkv {
    http_client *http;
    char api_version[32];
    int verify_resource;
    /* challenge cached per vault host */
    char *ch_host;
    azkv_challenge ch;
    /* token cached per (tenant, scope) */
    char *tok, *tok_tenant, *tok_scope;
    int64_t tok_refresh_at;
} azkv;

static const char *env(const char *n)
{
    const char *v = getenv(n);
    return v && *v ? v : NULL;
}

static int azkv_open(void **state, cb_error *e)
{
    azkv *s = cb_calloc(1, sizeof *s);
    const char *av = env("AZURE_KEYVAULT_API_VERSION");
    int ok = av && strlen(av) < sizeof s->api_version;
    for (const char *p = av; ok && *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-') ok = 0;
    snprintf(s->api_version, sizeof s->api_version, "%s", ok ? av : "7.5");
    const char *nv = env("CREDBROKER_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION");
    s->verify_resource = !(nv && strcmp(nv, "0") != 0);
    s->http = http_client_new(NULL, e);
    if (!s->http) {
        free(s);
        return e ? e->code : CB_ERR;
    }
    *state = s;
    return 0;
}

static void drop_token(azkv *s)
{
    cb_free_secret(s->tok);
    free(s->tok_tenant);
    free(s->tok_scope);
    s->tok = s->tok_tenant = s->tok_scope = NULL;
    s->tok_refresh_at = 0;
}

static void azkv_close(void *state)
{
    azkv *s = state;
    if (!s) return;
    drop_token(s);
    free(s->ch_host);
    azkv_challenge_free(&s->ch);
    http_client_free(s->http);
    free(s);
}

/* application/x-www-form-urlencoded into a secret buffer (the form carries the client secret). */
static void form_add(cb_buf *b, const char *k, const char *v)
{
    static const char hx[] = "0123456789ABCDEF";
    if (b->len) cb_buf_puts(b, "&");
    cb_buf_puts(b, k);
    cb_buf_puts(b, "=");
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            cb_buf_append(b, p, 1);
        } else {
            char enc[3] = {'%', hx[*p >> 4], hx[*p & 15]};
            cb_buf_append(b, enc, 3);
        }
    }
}

static int list_has(const char *csv, const char *item)
{
    size_t n = strlen(item);
    for (const char *p = csv; p && *p;) {
        while (*p == ' ' || *p == ';' || *p == ',') p++;
        size_t l = strcspn(p, ",; ");
        if ((l == 1 && *p == '*') || (l == n && strncasecmp(p, item, n) == 0)) return 1;
        p += l;
    }
    return 0;
}

static int token_request(azkv *s, const char *tenant, const char *scope, char **tok, int64_t *exp, cb_error *e)
{
    const char *cid = env("AZURE_CLIENT_ID"), *csec = env("AZURE_CLIENT_SECRET");
    http_response r;
    int rc;
    char *url = NULL;
    const char *what;
    const char *fed = csec ? NULL : env("AZURE_FEDERATED_TOKEN_FILE");
    if (csec || (fed && cid)) {
        /* Client credentials (secret, or workload identity's federated assertion). The configured tenant wins; a different challenge tenant
         * is used only when allowed, like the SDK's additionallyAllowedTenants. */
        const char *cfg = env("AZURE_TENANT_ID");
        const char *t = tenant;
        if (cfg && strcasecmp(cfg, tenant) != 0) {
            if (!list_has(env("AZURE_ADDITIONALLY_ALLOWED_TENANTS"), tenant))
                return cb_fail(e, CB_ERR, CB_K_DENIED,
                               "azure-kv: the vault asks for tenant %s but AZURE_TENANT_ID is %s (add it to AZURE_ADDITIONALLY_ALLOWED_TENANTS to allow)",
                               tenant, cfg);
        }
        if (!cid) return cb_fail(e, CB_ERR, CB_K_DENIED, "azure-kv: AZURE_CLIENT_SECRET is set but AZURE_CLIENT_ID is not");
        char *assertion = NULL;
        if (!csec) { /* re-read every time: the kubelet rotates the file */
            int fd = open(fed, O_RDONLY | O_CLOEXEC);
            if (fd < 0) return cb_fail(e, CB_ERR, CB_K_DENIED, "azure-kv: cannot read AZURE_FEDERATED_TOKEN_FILE %.200s", fed);
            cb_error fe = {0};
            assertion = cb_read_stream_secret(fd, 64 * 1024, &fe);
            close(fd);
            if (!assertion || !*assertion) {
                cb_free_secret(assertion);
                return cb_fail(e, CB_ERR, CB_K_DENIED, "azure-kv: AZURE_FEDERATED_TOKEN_FILE %.200s is empty or unreadable", fed);
            }
        }
        const char *auth = env("AZURE_AUTHORITY_HOST");
        if (!auth) auth = "https://login.microsoftonline.com";
        if (strncmp(auth, "https://", 8) != 0)
            return cb_fail(e, CB_ERR, CB_K_INVALID, "azure-kv: AZURE_AUTHORITY_HOST must be an https URL");
        size_t an = strlen(auth);
        while (an > 8 && auth[an - 1] == '/') an--;
        url = cb_sprintf("%.*s/%s/oauth2/v2.0/token", (int)an, auth, t);
        cb_buf form;
        cb_buf_init(&form, 1);
        form_add(&form, "client_id", cid);
        if (csec) {
            form_add(&form, "client_secret", csec);
        } else {
            form_add(&form, "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
            form_add(&form, "client_assertion", assertion);
            cb_free_secret(assertion);
        }
        form_add(&form, "scope", scope);
        form_add(&form, "grant_type", "client_credentials");
        const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json", NULL};
        http_request req = {.method = "POST", .url = url, .headers = hdrs, .body = form.data, .body_len = form.len};
        rc = http_do(s->http, &req, &r, e);
        cb_buf_free(&form);
        what = csec ? "token request (client credentials)" : "token request (workload identity)";
    } else {
        /* Managed identity wants a resource, not a scope. */
        size_t sn = strlen(scope);
        char *resource = sn > 9 && strcmp(scope + sn - 9, "/.default") == 0 ? cb_strndup(scope, sn - 9) : cb_strdup(scope);
        char *res_enc = cb_url_encode(resource, 0);
        char *cid_q = cid ? cb_url_encode(cid, 0) : NULL;
        const char *ie = env("IDENTITY_ENDPOINT"), *ih = env("IDENTITY_HEADER");
        char *hdr = NULL;
        if (ie && ih) { /* App Service / Functions */
            url = cb_sprintf("%s%sapi-version=2019-08-01&resource=%s%s%s", ie, strchr(ie, '?') ? "&" : "?", res_enc,
                             cid_q ? "&client_id=" : "", cid_q ? cid_q : "");
            hdr = cb_sprintf("X-IDENTITY-HEADER: %s", ih);
            what = "token request (App Service managed identity)";
        } else { /* VM/VMSS/AKS IMDS; endpoint overridable like MSAL (pod identity host) */
            const char *full = env("AZURE_IMDS_ENDPOINT"), *host = env("AZURE_POD_IDENTITY_AUTHORITY_HOST");
            char *base = full ? cb_strdup(full)
                         : host ? cb_sprintf("%s/metadata/identity/oauth2/token", host)
                                : cb_strdup("http://169.254.169.254/metadata/identity/oauth2/token");
            url = cb_sprintf("%s%sapi-version=2018-02-01&resource=%s%s%s", base, strchr(base, '?') ? "&" : "?", res_enc,
                             cid_q ? "&client_id=" : "", cid_q ? cid_q : "");
            free(base);
            hdr = cb_strdup("Metadata: true");
            what = "token request (managed identity)";
        }
        free(resource);
        free(res_enc);
        free(cid_q);
        const char *hdrs[] = {hdr, "Accept: application/json", NULL};
        http_request req = {.method = "GET", .url = url, .headers = hdrs};
        rc = http_do(s->http, &req, &r, e);
        cb_free_secret(hdr);
    }
    free(url);
    if (rc) {
        if (e) cb_error_prefix(e, "azure-kv: %s", what);
        return rc;
    }
    if (r.status != 200) {
        rc = azkv_map_error(r.status, r.body.data, r.body.len, what, e);
        if (e && e->kind != CB_K_UNAVAILABLE) e->kind = CB_K_DENIED;
    } else {
        rc = azkv_parse_token(r.body.data, r.body.len, cb_now(), tok, exp, e);
    }
    http_response_free(&r);
    return rc;
}

/* A cached token for (tenant, scope), refreshed 5 minutes before expiry (half its
 * lifetime when it lives less than 10 minutes). */
static int get_token(azkv *s, const char **tok, cb_error *e)
{
    int64_t now = cb_now();
    if (s->tok && now < s->tok_refresh_at && strcmp(s->tok_tenant, s->ch.tenant) == 0 &&
        strcmp(s->tok_scope, s->ch.scope) == 0) {
        *tok = s->tok;
        return 0;
    }
    drop_token(s);
    char *t = NULL;
    int64_t exp = 0;
    int rc = token_request(s, s->ch.tenant, s->ch.scope, &t, &exp, e);
    if (rc) return rc;
    int64_t life = exp - now;
    s->tok_refresh_at = life > 600 ? exp - 300 : now + (life > 0 ? life / 2 : 0);
    s->tok = t;
    s->tok_tenant = cb_strdup(s->ch.tenant);
    s->tok_scope = cb_strdup(s->ch.scope);
    *tok = t;
    return 0;
}

/* The challenge's resource must be a parent domain of the vault (as the SDKs check),
 * so a vault cannot obtain tokens for another service. */
int azkv_resource_matches(const char *vault_host, const char *scope)
{
    const char *h = scope + 8;
    size_t hn = strcspn(h, "/:?#");
    size_t vn = strcspn(vault_host, ":");
    return vn > hn + 1 && vault_host[vn - hn - 1] == '.' && strncasecmp(vault_host + vn - hn, h, hn) == 0;
}

static int take_challenge(azkv *s, const char *host, const http_response *r, cb_error *e)
{
    const char *h = http_response_header(r, "www-authenticate");
    if (!h) return azkv_map_error(401, r->body.data, r->body.len, "vault refused the request without a challenge", e);
    azkv_challenge c;
    int rc = azkv_parse_challenge(h, &c, e);
    if (rc) return rc;
    if (s->verify_resource && !azkv_resource_matches(host, c.scope)) {
        rc = cb_fail(e, CB_ERR, CB_K_DENIED,
                     "azure-kv: challenge resource %.100s does not match vault host %.100s "
                     "(set CREDBROKER_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION=1 for a private endpoint)",
                     c.scope, host);
        azkv_challenge_free(&c);
        return rc;
    }
    azkv_challenge_free(&s->ch);
    s->ch = c;
    free(s->ch_host);
    s->ch_host = cb_strdup(host);
    return 0;
}

/* One Key Vault call with challenge handling: unauthenticated probe (no body) when
 * the vault's challenge is unknown; on 401 re-read the challenge, new token, retry once. */
static int kv_call(azkv *s, const char *host, const char *method, const char *url, const char *body, size_t body_len,
                   http_response *resp, cb_error *e)
{
    int authed = s->ch_host && strcmp(s->ch_host, host) == 0;
    for (int round = 0; round < 2; round++) {
        char *authz = NULL;
        if (authed) {
            const char *tok;
            int rc = get_token(s, &tok, e);
            if (rc) return rc;
            authz = cb_sprintf("Authorization: Bearer %s", tok);
        }
        const char *hdrs[] = {"Accept: application/json", body ? "Content-Type: application/json" : NULL, NULL, NULL};
        hdrs[body ? 2 : 1] = authz;
        http_request req = {.method = method, .url = url, .headers = hdrs};
        if (body) { /* the probe carries no content, like the SDKs */
            req.body = authed ? body : "";
            req.body_len = authed ? body_len : 0;
        }
        int rc = http_do(s->http, &req, resp, e);
        cb_free_secret(authz);
        if (rc) {
            if (e) cb_error_prefix(e, "azure-kv");
            return rc;
        }
        if (resp->status != 401) {
            if (!authed && body && resp->status < 300) {
                /* our content-less probe must not be taken for the write */
                long st = resp->status;
                http_response_free(resp);
                return cb_fail(e, CB_ERR, CB_K_INVALID, "azure-kv: %s answered an unauthenticated %s with %ld, expected a 401 challenge", host, method, st);
            }
            return 0;
        }
        if (round == 1) break;
        if (authed) drop_token(s); /* a 401 with a token: expired or revoked */
        rc = take_challenge(s, host, resp, e);
        http_response_free(resp);
        if (rc) return rc;
        authed = 1;
    }
    int rc = azkv_map_error(401, resp->body.data, resp->body.len, "vault rejected the token", e);
    http_response_free(resp);
    return rc;
}

static char *secret_url(const azkv *s, const secret_ref *ref, const char *version, const char *suffix)
{
    return cb_sprintf("https://%s/secrets/%s%s%s%s?api-version=%s", ref->host, ref->path, version ? "/" : "",
                      version ? version : "", suffix ? suffix : "", s->api_version);
}

static int check_version(const char *v, cb_error *e)
{
    if (!v || !*v || strlen(v) > 64) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "azure-kv: bad version id");
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p)) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "azure-kv: bad version id");
    return 0;
}

static int azkv_get(void *state, const secret_ref *ref, secret_value *out, cb_error *e)
{
    azkv *s = state;
    memset(out, 0, sizeof *out);
    char *url = secret_url(s, ref, ref->version, NULL);
    char what[400];
    snprintf(what, sizeof what, "get %s/%s%s%s", ref->host, ref->path, ref->version ? "/" : "", ref->version ? ref->version : "");
    http_response r;
    int rc = kv_call(s, ref->host, "GET", url, NULL, 0, &r, e);
    free(url);
    if (rc) return rc;
    if (r.status == 200) rc = azkv_parse_bundle(r.body.data, r.body.len, out, e);
    else rc = azkv_map_error(r.status, r.body.data, r.body.len, what, e);
    http_response_free(&r);
    return rc;
}

/* All versions' metadata, following nextLink only on the vault's own https host. */
static int list_versions(azkv *s, const secret_ref *ref, json_t **out, cb_error *e)
{
    json_t *arr = json_array();
    char *url = secret_url(s, ref, NULL, "/versions");
    char *tmp = cb_sprintf("%s&maxresults=25", url);
    free(url);
    url = tmp;
    char prefix[300];
    snprintf(prefix, sizeof prefix, "https://%s/", ref->host);
    int rc = 0;
    for (int page = 0; url; page++) {
        if (page >= MAX_PAGES) {
            rc = cb_fail(e, CB_ERR, CB_K_INVALID, "azure-kv: more than %d pages of versions", MAX_PAGES);
            break;
        }
        http_response r;
        rc = kv_call(s, ref->host, "GET", url, NULL, 0, &r, e);
        free(url);
        url = NULL;
        if (rc) break;
        char what[300];
        snprintf(what, sizeof what, "list versions of %s/%s", ref->host, ref->path);
        if (r.status != 200) {
            rc = azkv_map_error(r.status, r.body.data, r.body.len, what, e);
        } else {
            char *next = NULL;
            rc = azkv_parse_versions_page(r.body.data, r.body.len, arr, &next, e);
            if (!rc && next) {
                /* real vaults write :443 into nextLink; compare without it */
                char *canon = next;
                char host443[300];
                snprintf(host443, sizeof host443, "https://%s:443/", ref->host);
                if (!strchr(ref->host, ':') && strncasecmp(next, host443, strlen(host443)) == 0)
                    canon = cb_sprintf("https://%s/%s", ref->host, next + strlen(host443));
                else canon = cb_strdup(next);
                free(next);
                if (strncasecmp(canon, prefix, strlen(prefix)) != 0) {
                    rc = cb_fail(e, CB_ERR, CB_K_INVALID, "azure-kv: nextLink points outside %s; not followed", ref->host);
                    free(canon);
                } else {
                    for (const unsigned char *p = (const unsigned char *)canon; *p; p++)
                        if (*p <= 0x20 || *p >= 0x7f) { rc = cb_fail(e, CB_ERR, CB_K_INVALID, "azure-kv: malformed nextLink"); break; }
                    if (rc) free(canon);
                    else url = canon;
                }
            }
        }
        http_response_free(&r);
        if (rc) break;
    }
    free(url);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

/* The version an unversioned get returns: the service's own answer, since creation
 * times have one-second resolution. The value is wiped at once. */
static int latest_version(azkv *s, const secret_ref *ref, char **out, cb_error *e)
{
    secret_ref r = *ref;
    r.version = NULL;
    secret_value v;
    int rc = azkv_get(s, &r, &v, e);
    if (rc) return rc;
    *out = v.version;
    v.version = NULL;
    secret_value_free(&v);
    return *out ? 0 : cb_fail(e, CB_ERR, CB_K_INVALID, "azure-kv: latest version of %s has no id", ref->path);
}

typedef struct vent { json_t *v; size_t i; } vent;

/* Newest first by created, then updated; ties keep the later-listed first (stable). */
static int by_created_desc(const void *a, const void *b)
{
    const vent *x = a, *y = b;
    json_int_t cx = json_integer_value(json_object_get(x->v, "created")), cy = json_integer_value(json_object_get(y->v, "created"));
    if (cx != cy) return cx < cy ? 1 : -1;
    json_int_t ux = json_integer_value(json_object_get(x->v, "updated")), uy = json_integer_value(json_object_get(y->v, "updated"));
    if (ux != uy) return ux < uy ? 1 : -1;
    return x->i < y->i ? 1 : x->i > y->i ? -1 : 0;
}

static void sort_versions(json_t *arr)
{
    size_t n = json_array_size(arr);
    if (n < 2) return;
    vent *v = cb_malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (vent){json_incref(json_array_get(arr, i)), i};
    qsort(v, n, sizeof *v, by_created_desc);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, v[i].v);
    free(v);
}

static int azkv_describe(void *state, const secret_ref *ref, json_t **out, cb_error *e)
{
    azkv *s = state;
    json_t *arr;
    int rc = list_versions(s, ref, &arr, e);
    if (rc) return rc;
    if (json_array_size(arr) == 0) {
        json_decref(arr);
        return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "azure-kv: secret %s not found in %s", ref->path, ref->host);
    }
    sort_versions(arr);
    json_t *o = json_object();
    json_object_set_new(o, "provider", json_string("azure-kv"));
    json_object_set_new(o, "vault", json_string(ref->host));
    json_object_set_new(o, "name", json_string(ref->path));
    char *latest = NULL;
    cb_error le = {0};
    if (latest_version(s, ref, &latest, &le) == 0) json_object_set_new(o, "latest", json_string(latest));
    else json_object_set_new(o, "latest", json_null()); /* e.g. newest version disabled */
    free(latest);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        const char *st = json_string_value(json_object_get(json_object_get(v, "tags"), STAGE_TAG));
        if (st && strcmp(st, "current") == 0 && !json_object_get(o, "current")) json_object_set(o, "current", json_object_get(v, "version"));
        if (st && strcmp(st, "pending") == 0 && !json_object_get(o, "pending")) json_object_set(o, "pending", json_object_get(v, "version"));
    }
    json_object_set_new(o, "versions", arr);
    *out = o;
    return 0;
}

/* PATCH a version's tags (Key Vault replaces the whole tag set). */
static int patch_tags(azkv *s, const secret_ref *ref, const char *version, json_t *tags, cb_error *e)
{
    json_t *b = json_pack("{sO}", "tags", tags);
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    char *url = secret_url(s, ref, version, NULL);
    http_response r;
    int rc = kv_call(s, ref->host, "PATCH", url, body, strlen(body), &r, e);
    free(url);
    free(body);
    if (rc) return rc;
    if (r.status != 200) {
        char what[300];
        snprintf(what, sizeof what, "update %s/%s/%s", ref->host, ref->path, version);
        rc = azkv_map_error(r.status, r.body.data, r.body.len, what, e);
    }
    http_response_free(&r);
    return rc;
}

/* Marks version current and every other version tagged current as previous. */
static int retag_current(azkv *s, const secret_ref *ref, const char *version, json_t *arr, cb_error *e)
{
    size_t i;
    json_t *v, *target = NULL;
    json_array_foreach(arr, i, v) if (strcmp(json_string_value(json_object_get(v, "version")), version) == 0) target = v;
    if (!target) return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "azure-kv: version %s of %s not found", version, ref->path);
    int rc = 0;
    const char *cur = json_string_value(json_object_get(json_object_get(target, "tags"), STAGE_TAG));
    if (!cur || strcmp(cur, "current") != 0) {
        json_t *tags = json_deep_copy(json_object_get(target, "tags"));
        json_object_set_new(tags, STAGE_TAG, json_string("current"));
        rc = patch_tags(s, ref, version, tags, e);
        json_decref(tags);
        if (rc) return rc;
    }
    json_array_foreach(arr, i, v) {
        if (v == target) continue;
        const char *st = json_string_value(json_object_get(json_object_get(v, "tags"), STAGE_TAG));
        if (!st || strcmp(st, "current") != 0) continue;
        json_t *tags = json_deep_copy(json_object_get(v, "tags"));
        json_object_set_new(tags, STAGE_TAG, json_string("previous"));
        rc = patch_tags(s, ref, json_string_value(json_object_get(v, "version")), tags, e);
        json_decref(tags);
        if (rc) return rc;
    }
    return 0;
}

static int azkv_promote(void *state, const secret_ref *ref, const char *version, cb_error *e)
{
    azkv *s = state;
    int rc = check_version(version, e);
    if (rc) return rc;
    json_t *arr;
    rc = list_versions(s, ref, &arr, e);
    if (rc) return rc;
    char *latest = NULL;
    rc = latest_version(s, ref, &latest, e);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    if (strcmp(latest, version) != 0) {
        /* readers get the newest version; tagging an older one would not change that */
        rc = cb_fail(e, CB_ERR, CB_K_CONFLICT,
                     "azure-kv: version %s of %s is not the newest (%s); Key Vault serves the newest version, write it again instead",
                     version, ref->path, latest);
    } else {
        rc = retag_current(s, ref, version, arr, e);
    }
    free(latest);
    json_decref(arr);
    return rc;
}

/* JSON string escaping into a secret buffer (jansson would leave unwiped copies). */
static void json_escape_secret(cb_buf *b, const char *v)
{
    static const char hx[] = "0123456789abcdef";
    cb_buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            cb_buf_append(b, esc, 2);
        } else if (*p < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hx[*p >> 4], hx[*p & 15]};
            cb_buf_append(b, esc, 6);
        } else {
            cb_buf_append(b, p, 1);
        }
    }
    cb_buf_puts(b, "\"");
}

static int azkv_put(void *state, const secret_ref *ref, const char *value, const char *stage, const char *token,
                    char **version_out, cb_error *e)
{
    azkv *s = state;
    *version_out = NULL;
    if (ref->version) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "azure-kv: put takes a secret without a version");
    if (stage && strcmp(stage, SECRET_STAGE_PENDING) != 0)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "azure-kv: unknown stage '%.40s'", stage);
    if (token && (!*token || strlen(token) > 128))
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "azure-kv: idempotency token must be 1..128 characters");
    json_t *arr = NULL;
    int rc;
    if (token) {
        /* Key Vault has no idempotency token: a version tagged with it is the earlier write */
        rc = list_versions(s, ref, &arr, e);
        if (rc && (!e || e->kind != CB_K_NOTFOUND)) return rc;
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v) {
            const char *t = json_string_value(json_object_get(json_object_get(v, "tags"), TOKEN_TAG));
            if (t && strcmp(t, token) == 0) {
                *version_out = cb_strdup(json_string_value(json_object_get(v, "version")));
                json_decref(arr);
                return 0;
            }
        }
        json_decref(arr);
        arr = NULL;
        if (e) cb_error_clear(e);
    }
    json_t *tags = json_object();
    json_object_set_new(tags, STAGE_TAG, json_string(stage ? "pending" : "current"));
    if (token) json_object_set_new(tags, TOKEN_TAG, json_string(token));
    char *tags_s = json_dumps(tags, JSON_COMPACT);
    json_decref(tags);
    json_error_t je;
    json_t *probe = json_loads(value, JSON_DECODE_ANY, &je);
    const char *ctype = json_is_object(probe) ? "application/json" : "text/plain";
    json_decref(probe);
    cb_buf body;
    cb_buf_init(&body, 1);
    cb_buf_puts(&body, "{\"value\":");
    json_escape_secret(&body, value);
    cb_buf_printf(&body, ",\"contentType\":\"%s\",\"tags\":%s,\"attributes\":{\"enabled\":true}}", ctype, tags_s);
    free(tags_s);
    char *url = secret_url(s, ref, NULL, NULL);
    http_response r;
    rc = kv_call(s, ref->host, "PUT", url, body.data, body.len, &r, e);
    free(url);
    cb_buf_free(&body);
    if (rc) return rc;
    if (r.status == 200 || r.status == 201) {
        secret_value v;
        rc = azkv_parse_bundle(r.body.data, r.body.len, &v, e);
        if (!rc && !v.version) rc = cb_fail(e, CB_ERR, CB_K_INVALID, "azure-kv: set response has no version id");
        if (!rc) *version_out = cb_strdup(v.version);
        secret_value_free(&v);
    } else {
        char what[300];
        snprintf(what, sizeof what, "set %s/%s", ref->host, ref->path);
        rc = azkv_map_error(r.status, r.body.data, r.body.len, what, e);
    }
    http_response_free(&r);
    if (rc || stage) return rc;
    /* a current write demotes the version previously tagged current */
    cb_error te = {0};
    if (list_versions(s, ref, &arr, &te) == 0) retag_current(s, ref, *version_out, arr, &te);
    json_decref(arr);
    /* the write itself succeeded and is what readers get; a stale tag is only cosmetic */
    if (te.code) LOG_WARN("azure-kv: new version %s written; retagging older versions failed: %s", *version_out, te.msg);
    return 0;
}

const secret_provider azure_kv_provider = {
    .scheme = "azure-kv",
    .name = "Azure Key Vault",
    .open = azkv_open,
    .get = azkv_get,
    .put = azkv_put,
    .promote = azkv_promote,
    .describe = azkv_describe,
    .close = azkv_close,
};
