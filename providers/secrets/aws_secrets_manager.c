/* AWS Secrets Manager over its JSON 1.1 protocol: POST / with X-Amz-Target, SigV4
 * re-signed on every attempt. One http_client per provider state (connection reuse). */
#include "aws_secrets_manager.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aws_config.h"
#include "http.h"
#include "sigv4.h"

#define CREDS_REFRESH_MARGIN 300 /* refresh expiring credentials 5 minutes early */
#define MAX_PAGES 1000

typedef struct aws_sm {
    http_client *http;
    char *region;
    char *endpoint; /* request URL */
    char *host;     /* Host header we send and sign */
    char *path;     /* path of the endpoint, "/" */
    aws_creds creds;
    int have_creds;
} aws_sm;

/* ---- error parsing ---------------------------------------------------------------- */

static const char *const retry_codes[] = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "RequestThrottled", "SlowDown",
    "PriorRequestNotComplete", "EC2ThrottledException", "RequestTimeout", "RequestTimeoutException",
    "InternalServiceError", "InternalFailure", "ServiceUnavailable", NULL};
static const char *const denied_codes[] = {
    "AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "InvalidSignatureException",
    "IncompleteSignatureException", "MissingAuthenticationTokenException", "ExpiredTokenException",
    "ExpiredToken", "InvalidClientTokenId", "SignatureDoesNotMatch", "DecryptionFailure", "EncryptionFailure", NULL};
static const char *const invalid_codes[] = {
    "InvalidParameterException", "InvalidRequestException", "InvalidNextTokenException",
    "MalformedPolicyDocumentException", "ValidationException", "LimitExceededException",
    "PublicPolicyException", "SerializationException", NULL};
static const char *const conflict_codes[] = {"ResourceExistsException", "PreconditionNotMetException", NULL};

static int in_list(const char *s, const char *const *l)
{
    for (; *l; l++)
        if (strcmp(s, *l) == 0) return 1;
    return 0;
}

/* __type with any prefix up to '#' and any suffix from ':' removed; malloc'd or NULL. */
static char *error_code(json_t *j)
{
    const char *t = json_string_value(json_object_get(j, "__type"));
    if (!t) t = json_string_value(json_object_get(j, "code"));
    if (!t || !*t) return NULL;
    const char *h = strrchr(t, '#');
    if (h) t = h + 1;
    size_t n = strcspn(t, ":");
    if (n == 0 || n > 100) return NULL;
    char *c = cb_strndup(t, n);
    for (char *p = c; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-') *p = '?';
    return c;
}

int aws_sm_body_retryable(const char *body, size_t len)
{
    if (!body || !len) return 0;
    json_t *j = json_loadb(body, len, 0, NULL);
    char *c = error_code(j);
    int r = c && in_list(c, retry_codes);
    free(c);
    json_decref(j);
    return r;
}

static int response_retryable(const http_response *r)
{
    return r->status >= 400 && aws_sm_body_retryable(r->body.data, r->body.len);
}

int aws_sm_parse_error(long status, const char *body, size_t len, const char *op, const char *id,
                       const char *redact, cb_error *e)
{
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    char *code = json_is_object(j) ? error_code(j) : NULL;
    const char *m = json_string_value(json_object_get(j, "Message"));
    if (!m) m = json_string_value(json_object_get(j, "message"));
    /* the service's message: one line, printable, bounded, and never echoing a secret */
    char msg[240] = "";
    if (m && !(redact && *redact && strstr(m, redact))) {
        size_t k = 0;
        for (const unsigned char *p = (const unsigned char *)m; *p && k + 1 < sizeof msg; p++)
            msg[k++] = (*p < 0x20 || *p == 0x7f) ? ' ' : (char)*p;
        msg[k] = 0;
    } else if (m) {
        snprintf(msg, sizeof msg, "(message withheld)");
    }
    int kind;
    if (code && strcmp(code, "ResourceNotFoundException") == 0) kind = CB_K_NOTFOUND;
    else if (code && in_list(code, denied_codes)) kind = CB_K_DENIED;
    else if (status >= 500 || status == 429 || (code && in_list(code, retry_codes))) kind = CB_K_UNAVAILABLE;
    else if (code && in_list(code, conflict_codes)) kind = CB_K_CONFLICT;
    else if (code && in_list(code, invalid_codes)) kind = CB_K_INVALID;
    else if (status == 401 || status == 403) kind = CB_K_DENIED;
    else if (status == 404) kind = CB_K_NOTFOUND;
    else if (status == 409) kind = CB_K_CONFLICT;
    else kind = CB_K_INVALID;
    const char *what = kind == CB_K_NOTFOUND   ? "not found"
                       : kind == CB_K_DENIED   ? "access denied"
                       : kind == CB_K_UNAVAILABLE ? "service unavailable"
                       : kind == CB_K_CONFLICT ? "conflict"
                                               : "request rejected";
    char ids[300] = "";
    if (id) snprintf(ids, sizeof ids, " '%.256s'", id);
    int rc = cb_fail(e, CB_ERR, kind, "AWS Secrets Manager %s%s: %s (%s%sHTTP %ld)%s%s", op, ids, what,
                     code ? code : "", code ? ", " : "", status, *msg ? ": " : "", msg);
    if (e) e->http_status = (int)status;
    free(code);
    json_decref(j);
    return rc;
}

/* ---- response parsing ------------------------------------------------------------- */

static int64_t json_epoch(json_t *v)
{
    if (json_is_integer(v)) return (int64_t)json_integer_value(v);
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d > -1e15 && d < 1e15) return (int64_t)d;
    }
    return 0;
}

/* Overwrites a JSON string's bytes before jansson frees it. */
static void wipe_json_string(json_t *s)
{
    if (json_is_string(s)) cb_wipe((char *)json_string_value(s), json_string_length(s));
}

static int bad_response(cb_error *e, const char *op, const char *why)
{
    return cb_fail(e, CB_ERR, CB_K_INVALID, "AWS Secrets Manager %s: malformed response: %s", op, why);
}

static char *join_stages(json_t *arr)
{
    if (!json_is_array(arr)) return NULL;
    cb_buf b;
    cb_buf_init(&b, 0);
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s) {
        if (!json_is_string(s)) continue;
        if (b.len) cb_buf_puts(&b, ",");
        cb_buf_puts(&b, json_string_value(s));
    }
    return cb_buf_steal(&b);
}

int aws_sm_parse_get(const char *body, size_t len, secret_value *out, cb_error *e)
{
    memset(out, 0, sizeof *out);
    json_t *j = json_loadb(body, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return bad_response(e, "GetSecretValue", "not a JSON object");
    }
    json_t *ss = json_object_get(j, "SecretString"), *sb = json_object_get(j, "SecretBinary");
    int rc = 0;
    if (json_is_string(ss)) {
        size_t n = json_string_length(ss);
        out->value = cb_malloc(n + 1);
        memcpy(out->value, json_string_value(ss), n);
        out->value[n] = 0;
        out->len = n;
    } else if (json_is_string(sb)) {
        uint8_t *raw = NULL;
        size_t n = 0;
        if (cb_base64_decode(json_string_value(sb), &raw, &n) != 0) {
            rc = bad_response(e, "GetSecretValue", "SecretBinary is not base64");
        } else {
            out->value = cb_malloc(n + 1);
            if (n) memcpy(out->value, raw, n);
            out->value[n] = 0;
            out->len = n;
            cb_free_secret_n(raw, n);
        }
    } else {
        rc = bad_response(e, "GetSecretValue", "neither SecretString nor SecretBinary");
    }
    if (!rc) {
        out->version = cb_strdup(json_string_value(json_object_get(j, "VersionId")));
        out->stages = join_stages(json_object_get(j, "VersionStages"));
        out->created = json_epoch(json_object_get(j, "CreatedDate"));
    }
    wipe_json_string(ss);
    wipe_json_string(sb);
    json_decref(j);
    if (rc) secret_value_free(out);
    return rc;
}

static void set_epoch(json_t *out, const char *k, json_t *v)
{
    int64_t t = json_epoch(v);
    if (t) json_object_set_new(out, k, json_integer(t));
}

/* {versionId: [stages]} from either map name; non-string entries skipped. */
static json_t *versions_map(json_t *j)
{
    json_t *m = json_object_get(j, "VersionIdsToStages");
    if (!json_is_object(m)) m = json_object_get(j, "SecretVersionsToStages");
    json_t *out = json_object();
    if (!json_is_object(m)) return out;
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
        json_t *arr = json_array();
        size_t i;
        json_t *s;
        if (json_is_array(v))
            json_array_foreach(v, i, s) if (json_is_string(s)) json_array_append(arr, s);
        json_object_set_new(out, k, arr);
    }
    return out;
}

int aws_sm_parse_describe(const char *body, size_t len, json_t **out, cb_error *e)
{
    *out = NULL;
    json_t *j = json_loadb(body, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return bad_response(e, "DescribeSecret", "not a JSON object");
    }
    const char *name = json_string_value(json_object_get(j, "Name"));
    if (!name) {
        json_decref(j);
        return bad_response(e, "DescribeSecret", "no Name");
    }
    json_t *o = json_object();
    json_object_set_new(o, "provider", json_string("aws-sm"));
    json_object_set_new(o, "name", json_string(name));
    const char *s;
    if ((s = json_string_value(json_object_get(j, "ARN")))) json_object_set_new(o, "arn", json_string(s));
    if ((s = json_string_value(json_object_get(j, "Description")))) json_object_set_new(o, "description", json_string(s));
    set_epoch(o, "created", json_object_get(j, "CreatedDate"));
    set_epoch(o, "last_changed", json_object_get(j, "LastChangedDate"));
    set_epoch(o, "last_accessed", json_object_get(j, "LastAccessedDate"));
    set_epoch(o, "last_rotated", json_object_get(j, "LastRotatedDate"));
    set_epoch(o, "deleted", json_object_get(j, "DeletedDate"));
    json_t *re = json_object_get(j, "RotationEnabled");
    if (json_is_boolean(re)) json_object_set_new(o, "rotation_enabled", json_boolean(json_is_true(re)));
    json_object_set_new(o, "versions", versions_map(j));
    json_decref(j);
    *out = o;
    return 0;
}

/* ---- transport -------------------------------------------------------------------- */

typedef struct sign_ctx {
    aws_sm *s;
    const char *target; /* "secretsmanager.GetSecretValue" */
    const char *body;
    size_t body_len;
} sign_ctx;

static int sign_request(void *arg, const http_request *req, char ***extra, cb_error *e)
{
    (void)req;
    sign_ctx *c = arg;
    char date[17];
    sigv4_amz_date(date);
    sigv4_header h[] = {{"Host", c->s->host},
                        {"Content-Type", "application/x-amz-json-1.1"},
                        {"X-Amz-Date", date},
                        {"X-Amz-Target", c->target}};
    sigv4_request rq = {.method = "POST", .path = c->s->path, .headers = h, .nheaders = 4, .body = c->body,
                        .body_len = c->body_len, .access_key = c->s->creds.access_key,
                        .secret_key = c->s->creds.secret_key, .session_token = c->s->creds.session_token,
                        .region = c->s->region, .service = "secretsmanager", .amz_date = date};
    sigv4_result r;
    int rc = sigv4_sign(&rq, &r, e);
    if (rc) return rc;
    char **x = cb_calloc(5, sizeof *x);
    size_t n = 0;
    x[n++] = cb_sprintf("Host: %s", c->s->host);
    x[n++] = cb_sprintf("X-Amz-Date: %s", date);
    if (c->s->creds.session_token) x[n++] = cb_sprintf("X-Amz-Security-Token: %s", c->s->creds.session_token);
    x[n++] = cb_sprintf("Authorization: %s", r.authorization);
    sigv4_result_free(&r);
    *extra = x;
    return 0;
}

static int ensure_creds(aws_sm *s, cb_error *e)
{
    if (s->have_creds && (!s->creds.expires || cb_now() < s->creds.expires - CREDS_REFRESH_MARGIN)) return 0;
    aws_creds c;
    int rc = aws_resolve_credentials(&c, e);
    if (rc) return rc;
    aws_creds_free(&s->creds);
    s->creds = c;
    s->have_creds = 1;
    LOG_DEBUG("aws-sm: credentials from %s", c.source);
    return 0;
}

/* One operation: JSON in, parsed JSON (raw body) out. On an error status, e is filled
 * from the error body. redact: a value the error message must never contain. */
static int call(aws_sm *s, const char *op, json_t *in, const char *id, const char *redact, http_response *resp,
                cb_error *e)
{
    int rc = ensure_creds(s, e);
    if (rc) return rc;
    char *body = json_dumps(in, JSON_COMPACT);
    if (!body) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "AWS Secrets Manager %s: cannot encode request", op);
    char *target = cb_sprintf("secretsmanager.%s", op);
    char *th = cb_sprintf("X-Amz-Target: %s", target);
    const char *hdrs[] = {"Content-Type: application/x-amz-json-1.1", th, NULL};
    sign_ctx sc = {s, target, body, strlen(body)};
    http_request rq = {.method = "POST", .url = s->endpoint, .headers = hdrs, .body = body, .body_len = sc.body_len,
                       .sign = sign_request, .sign_arg = &sc, .retryable = response_retryable};
    rc = http_do(s->http, &rq, resp, e);
    cb_free_secret(body);
    free(th);
    free(target);
    if (rc) {
        cb_error_prefix(e, "AWS Secrets Manager %s", op);
        return rc;
    }
    if (resp->status != 200) {
        rc = aws_sm_parse_error(resp->status, resp->body.data, resp->body.len, op, id, redact, e);
        http_response_free(resp);
        return rc;
    }
    return 0;
}

static int call_json(aws_sm *s, const char *op, json_t *in, const char *id, json_t **out, cb_error *e)
{
    http_response r;
    int rc = call(s, op, in, id, NULL, &r, e);
    if (rc) return rc;
    *out = json_loadb(r.body.data, r.body.len, 0, NULL);
    http_response_free(&r);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return bad_response(e, op, "not a JSON object");
    }
    return 0;
}

/* ---- provider --------------------------------------------------------------------- */

static void sm_close(void *st)
{
    aws_sm *s = st;
    if (!s) return;
    http_client_free(s->http);
    free(s->region);
    free(s->endpoint);
    free(s->host);
    free(s->path);
    aws_creds_free(&s->creds);
    free(s);
}

static int sm_open(void **state, cb_error *e)
{
    *state = NULL;
    aws_sm *s = cb_calloc(1, sizeof *s);
    s->region = aws_resolve_region(e);
    if (!s->region) {
        sm_close(s);
        return e ? e->code : CB_EUSAGE;
    }
    char *ep = aws_resolve_endpoint("SECRETS_MANAGER", "secretsmanager", s->region);
    const char *hs = strstr(ep, "://");
    if (!hs || (strncasecmp(ep, "http://", 7) != 0 && strncasecmp(ep, "https://", 8) != 0) || !hs[3]) {
        int rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "AWS Secrets Manager endpoint must be http(s)://host[:port][/path]");
        free(ep);
        sm_close(s);
        return rc;
    }
    hs += 3;
    size_t hl = strcspn(hs, "/?#");
    const char *at = memchr(hs, '@', hl);
    if (at) {
        hl -= (size_t)(at + 1 - hs);
        hs = at + 1;
    }
    s->host = cb_strndup(hs, hl);
    const char *path = hs + hl;
    size_t pl = strcspn(path, "?#");
    s->path = pl ? cb_strndup(path, pl) : cb_strdup("/");
    s->endpoint = pl ? cb_strdup(ep) : cb_sprintf("%.*s/", (int)(path - ep), ep);
    free(ep);
    for (const char *p = s->host; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
            int rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "malformed AWS Secrets Manager endpoint host");
            sm_close(s);
            return rc;
        }
    http_options o = {0};
    o.ca_file = getenv("AWS_CA_BUNDLE");
    const char *ma = getenv("AWS_MAX_ATTEMPTS");
    if (ma && atoi(ma) > 0 && atoi(ma) <= 20) o.max_attempts = atoi(ma);
    s->http = http_client_new(&o, e);
    if (!s->http) {
        sm_close(s);
        return e ? e->code : CB_ERR;
    }
    *state = s;
    return 0;
}

static int sm_get(void *st, const secret_ref *ref, secret_value *out, cb_error *e)
{
    aws_sm *s = st;
    memset(out, 0, sizeof *out);
    json_t *in = json_pack("{s:s}", "SecretId", ref->path);
    if (ref->version) json_object_set_new(in, "VersionId", json_string(ref->version));
    /* AWSCURRENT is the service's default; saying it explicitly also keeps moto right
     * after UpdateSecretVersionStage (moto's implicit default does not follow the label) */
    else json_object_set_new(in, "VersionStage", json_string(ref->stage ? ref->stage : "AWSCURRENT"));
    http_response r;
    int rc = call(s, "GetSecretValue", in, ref->path, NULL, &r, e);
    json_decref(in);
    if (rc) return rc;
    rc = aws_sm_parse_get(r.body.data, r.body.len, out, e);
    http_response_free(&r);
    return rc;
}

static int valid_token(const char *t)
{
    size_t n = strlen(t);
    if (n < 32 || n > 64) return 0;
    for (; *t; t++)
        if ((unsigned char)*t <= 0x20 || *t == 0x7f) return 0;
    return 1;
}

static int sm_put(void *st, const secret_ref *ref, const char *value, const char *stage, const char *token,
                  char **version_out, cb_error *e)
{
    aws_sm *s = st;
    if (version_out) *version_out = NULL;
    char uuid[37];
    if (token && !valid_token(token))
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "AWS ClientRequestToken must be 32 to 64 printable characters");
    if (!token) {
        if (cb_uuid4(uuid)) return cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot generate a request token");
        token = uuid;
    }
    if (stage && strcmp(stage, SECRET_STAGE_PENDING) != 0)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "unknown stage '%.40s' (current or pending)", stage);
    json_t *in = json_pack("{s:s,s:s,s:s}", "SecretId", ref->path, "ClientRequestToken", token, "SecretString", value);
    if (!in) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "secret value is not valid UTF-8");
    if (stage) json_object_set_new(in, "VersionStages", json_pack("[s]", "AWSPENDING"));
    json_t *out = NULL;
    http_response r;
    int rc = call(s, "PutSecretValue", in, ref->path, value, &r, e);
    wipe_json_string(json_object_get(in, "SecretString"));
    json_decref(in);
    if (rc) return rc;
    out = json_loadb(r.body.data, r.body.len, 0, NULL);
    http_response_free(&r);
    const char *v = json_string_value(json_object_get(out, "VersionId"));
    if (!v) rc = bad_response(e, "PutSecretValue", "no VersionId");
    else if (version_out) *version_out = cb_strdup(v);
    json_decref(out);
    return rc;
}

static int has_stage(json_t *stages, const char *st)
{
    size_t i;
    json_t *s;
    json_array_foreach(stages, i, s) if (json_is_string(s) && strcmp(json_string_value(s), st) == 0) return 1;
    return 0;
}

static int sm_promote(void *st, const secret_ref *ref, const char *version, cb_error *e)
{
    aws_sm *s = st;
    if (!version || !*version) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "promote needs a version id");
    json_t *in = json_pack("{s:s}", "SecretId", ref->path), *d = NULL;
    int rc = call_json(s, "DescribeSecret", in, ref->path, &d, e);
    json_decref(in);
    if (rc) return rc;
    json_t *map = versions_map(d);
    json_decref(d);
    json_t *mine = json_object_get(map, version);
    if (!mine) {
        json_decref(map);
        return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "AWS Secrets Manager '%s': version %.64s not found", ref->path, version);
    }
    const char *current = NULL, *k;
    json_t *v;
    json_object_foreach(map, k, v) if (has_stage(v, "AWSCURRENT")) current = k;
    if (!current || strcmp(current, version) != 0) {
        in = json_pack("{s:s,s:s,s:s}", "SecretId", ref->path, "VersionStage", "AWSCURRENT", "MoveToVersionId", version);
        if (current) json_object_set_new(in, "RemoveFromVersionId", json_string(current));
        json_t *o = NULL;
        rc = call_json(s, "UpdateSecretVersionStage", in, ref->path, &o, e);
        json_decref(in);
        json_decref(o);
    }
    if (!rc && has_stage(mine, "AWSPENDING")) {
        in = json_pack("{s:s,s:s,s:s}", "SecretId", ref->path, "VersionStage", "AWSPENDING", "RemoveFromVersionId", version);
        json_t *o = NULL;
        rc = call_json(s, "UpdateSecretVersionStage", in, ref->path, &o, e);
        json_decref(in);
        json_decref(o);
    }
    json_decref(map);
    return rc;
}

static int sm_describe(void *st, const secret_ref *ref, json_t **out, cb_error *e)
{
    aws_sm *s = st;
    *out = NULL;
    json_t *in = json_pack("{s:s}", "SecretId", ref->path);
    http_response r;
    int rc = call(s, "DescribeSecret", in, ref->path, NULL, &r, e);
    json_decref(in);
    if (rc) return rc;
    rc = aws_sm_parse_describe(r.body.data, r.body.len, out, e);
    http_response_free(&r);
    return rc;
}

int aws_sm_list(void *st, json_t **names, cb_error *e)
{
    aws_sm *s = st;
    *names = NULL;
    long page = 100;
    const char *ps = getenv("CREDBROKER_AWS_SM_PAGE_SIZE");
    if (ps && atol(ps) >= 1 && atol(ps) <= 100) page = atol(ps);
    json_t *all = json_array();
    char *next = NULL;
    int rc = 0;
    for (int i = 0; i < MAX_PAGES; i++) {
        json_t *in = json_pack("{s:I}", "MaxResults", (json_int_t)page), *o = NULL;
        if (next) json_object_set_new(in, "NextToken", json_string(next));
        rc = call_json(s, "ListSecrets", in, NULL, &o, e);
        json_decref(in);
        if (rc) break;
        json_t *list = json_object_get(o, "SecretList");
        size_t k;
        json_t *it;
        json_array_foreach(list, k, it) {
            const char *n = json_string_value(json_object_get(it, "Name"));
            if (n) json_array_append_new(all, json_string(n));
        }
        const char *nt = json_string_value(json_object_get(o, "NextToken"));
        if (nt && *nt && next && strcmp(nt, next) == 0) {
            json_decref(o);
            rc = bad_response(e, "ListSecrets", "the same NextToken twice");
            break;
        }
        free(next);
        next = nt && *nt ? cb_strdup(nt) : NULL;
        json_decref(o);
        if (!next) break;
        if (i + 1 == MAX_PAGES) rc = bad_response(e, "ListSecrets", "more than 1000 pages");
    }
    free(next);
    if (rc) {
        json_decref(all);
        return rc;
    }
    *names = all;
    return 0;
}

const secret_provider aws_sm_provider = {
    .scheme = "aws-sm",
    .name = "AWS Secrets Manager",
    .open = sm_open,
    .get = sm_get,
    .put = sm_put,
    .promote = sm_promote,
    .describe = sm_describe,
    .close = sm_close,
};
