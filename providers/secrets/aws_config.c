/* AWS credentials, region and endpoint resolution, following botocore's order. */
#include "aws_config.h"
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "http.h"

#define SHARED_FILE_MAX (1u << 20)

void aws_creds_free(aws_creds *c)
{
    if (!c) return;
    free(c->access_key);
    cb_free_secret(c->secret_key);
    cb_free_secret(c->session_token);
    memset(c, 0, sizeof *c);
}

static const char *env(const char *n)
{
    const char *v = getenv(n);
    return v && *v ? v : NULL;
}

static int env_true(const char *n)
{
    const char *v = env(n);
    return v && strcasecmp(v, "true") == 0;
}

static char *trim(char *s, char *end)
{
    while (s < end && isspace((unsigned char)*s)) s++;
    while (end > s && isspace((unsigned char)end[-1])) end--;
    *end = 0;
    return s;
}

char *aws_ini_get(const char *text, size_t len, const char *section, const char *key)
{
    /* a copy of exactly len bytes (text may hold NULs: parsing stops there) */
    char *buf = cb_malloc(len + 1), *res = NULL;
    memcpy(buf, text, len);
    buf[len] = 0;
    int in = 0;
    for (char *line = buf; line && *line && !res;) {
        char *nl = strchr(line, '\n');
        char *end = nl ? nl : line + strlen(line);
        char *next = nl ? nl + 1 : NULL;
        int indented = *line == ' ' || *line == '\t';
        char *l = trim(line, end);
        if (!*l || *l == '#' || *l == ';') {
            /* comment or blank */
        } else if (*l == '[') {
            char *close = strchr(l, ']');
            if (close) {
                char *name = trim(l + 1, close);
                in = strcmp(name, section) == 0;
                if (in && !key) res = cb_strdup(""); /* only asked whether the section exists */
            } else {
                in = 0;
            }
        } else if (in && key && !indented) {
            char *eq = strchr(l, '=');
            if (eq) {
                char *k = trim(l, eq);
                char *v = eq + 1;
                v = trim(v, v + strlen(v));
                if (strcasecmp(k, key) == 0) res = cb_strdup(v);
            }
        }
        line = next;
    }
    cb_free_secret_n(buf, len + 1);
    return res;
}

const char *aws_profile(void)
{
    const char *p = env("AWS_PROFILE");
    if (!p) p = env("AWS_DEFAULT_PROFILE");
    return p ? p : "default";
}

/* Reads a shared file (at most 1 MiB). NULL when it does not exist. */
static char *read_shared(const char *envname, const char *rel, size_t *len, char **pathout)
{
    const char *p = env(envname);
    char *path;
    if (p) {
        path = cb_strdup(p);
    } else {
        const char *home = env("HOME");
        if (!home) return NULL;
        path = cb_sprintf("%s/%s", home, rel);
    }
    if (path[0] == '~' && path[1] == '/' && env("HOME")) {
        char *x = cb_sprintf("%s%s", env("HOME"), path + 1);
        free(path);
        path = x;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        free(path);
        return NULL;
    }
    cb_buf b;
    cb_buf_init(&b, 1);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= SHARED_FILE_MAX) cb_buf_append(&b, chunk, n);
    fclose(f);
    if (b.len > SHARED_FILE_MAX) {
        LOG_WARN("%s is larger than 1 MiB; ignored", path);
        cb_buf_free(&b);
        free(path);
        return NULL;
    }
    *len = b.len;
    if (pathout) *pathout = path;
    else free(path);
    return cb_buf_steal(&b);
}

int aws_creds_from_env(aws_creds *out, cb_error *e)
{
    memset(out, 0, sizeof *out);
    const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY");
    if (!ak && !sk) return -1;
    if (!ak || !sk)
        return cb_fail(e, CB_ERR, CB_K_DENIED, "partial AWS credentials in the environment: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    const char *tok = env("AWS_SESSION_TOKEN");
    if (!tok) tok = env("AWS_SECURITY_TOKEN");
    out->access_key = cb_strdup(ak);
    out->secret_key = cb_strdup(sk);
    out->session_token = cb_strdup(tok);
    const char *exp = env("AWS_CREDENTIAL_EXPIRATION");
    if (exp) cb_parse_iso8601(exp, &out->expires);
    snprintf(out->source, sizeof out->source, "env");
    return 0;
}

static int creds_from_section(const char *text, size_t len, const char *section, aws_creds *out, const char *file, cb_error *e)
{
    char *ak = aws_ini_get(text, len, section, "aws_access_key_id");
    char *sk = aws_ini_get(text, len, section, "aws_secret_access_key");
    if (!ak && !sk) return -1;
    if (!ak || !sk || !*ak || !*sk) {
        free(ak);
        cb_free_secret(sk);
        return cb_fail(e, CB_ERR, CB_K_DENIED, "partial AWS credentials in [%s] of %s", section, file);
    }
    out->access_key = ak;
    out->secret_key = sk;
    out->session_token = aws_ini_get(text, len, section, "aws_session_token");
    if (!out->session_token) out->session_token = aws_ini_get(text, len, section, "aws_security_token");
    snprintf(out->source, sizeof out->source, "shared-files");
    return 0;
}

int aws_creds_from_files(aws_creds *out, cb_error *e)
{
    memset(out, 0, sizeof *out);
    const char *profile = aws_profile();
    size_t len = 0;
    char *path = NULL;
    int rc = -1, found = 0;
    char *text = read_shared("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials", &len, &path);
    if (text) {
        char *has = aws_ini_get(text, len, profile, NULL);
        found |= has != NULL;
        free(has);
        rc = creds_from_section(text, len, profile, out, path, e);
        cb_free_secret_n(text, len);
        free(path);
        path = NULL;
        if (rc != -1) return rc;
    }
    text = read_shared("AWS_CONFIG_FILE", ".aws/config", &len, &path);
    if (text) {
        char *sec = strcmp(profile, "default") == 0 ? cb_strdup("default") : cb_sprintf("profile %s", profile);
        char *has = aws_ini_get(text, len, sec, NULL);
        found |= has != NULL;
        free(has);
        rc = creds_from_section(text, len, sec, out, path, e);
        if (rc == -1 && strcmp(profile, "default") == 0) rc = creds_from_section(text, len, "profile default", out, path, e);
        free(sec);
        cb_free_secret_n(text, len);
        free(path);
        if (rc != -1) return rc;
    }
    /* like the SDKs: a profile asked for by name must exist (a typo must not fall
     * through to instance credentials) */
    if (!found && strcmp(profile, "default") != 0)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "AWS profile '%s' not found in the shared credentials or config file", profile);
    return -1;
}

/* IMDSv2: token, role name, role credentials. Short timeouts: off EC2 it must fail fast. */
static int imds_get(http_client *h, const char *base, const char *path, const char *token, http_response *r, cb_error *e)
{
    char *url = cb_sprintf("%s%s", base, path);
    char *hdr = token ? cb_sprintf("x-aws-ec2-metadata-token: %s", token) : NULL;
    const char *hdrs[] = {hdr, NULL};
    http_request rq = {.method = "GET", .url = url, .headers = hdr ? hdrs : NULL};
    int rc = http_do(h, &rq, r, e);
    free(url);
    cb_free_secret(hdr);
    return rc;
}

int aws_creds_from_imds(aws_creds *out, cb_error *e)
{
    memset(out, 0, sizeof *out);
    const char *ep = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *mode = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    char *base = cb_strdup(ep ? ep : (mode && strcasecmp(mode, "IPv6") == 0) ? "http://[fd00:ec2::254]" : "http://169.254.169.254");
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/') base[--bl] = 0;
    long timeout_ms = 1000;
    const char *t = env("AWS_METADATA_SERVICE_TIMEOUT");
    if (t && atof(t) > 0) timeout_ms = (long)(atof(t) * 1000);
    int attempts = 1;
    const char *na = env("AWS_METADATA_SERVICE_NUM_ATTEMPTS");
    if (na && atoi(na) > 0 && atoi(na) <= 10) attempts = atoi(na);
    http_options o = {.connect_timeout_ms = timeout_ms, .timeout_ms = timeout_ms, .max_attempts = attempts,
                      .max_response = 64 * 1024};
    http_client *h = http_client_new(&o, e);
    if (!h) {
        free(base);
        return CB_ERR;
    }
    int rc;
    http_response r;
    char *token = NULL, *role = NULL;
    char *url = cb_sprintf("%s/latest/api/token", base);
    const char *ttl[] = {"x-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
    http_request tr = {.method = "PUT", .url = url, .headers = ttl, .body = "", .body_len = 0};
    rc = http_do(h, &tr, &r, e);
    free(url);
    if (rc) goto fail;
    if (r.status == 200 && r.body.len > 0 && r.body.len < 1024) {
        token = cb_strndup(r.body.data, r.body.len);
    } else if ((r.status == 403 || r.status == 404 || r.status == 405) && !env_true("AWS_EC2_METADATA_V1_DISABLED")) {
        LOG_INFO("IMDS token request answered %ld; falling back to IMDSv1", r.status);
    } else {
        rc = cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "EC2 instance metadata: token request answered HTTP %ld", r.status);
        http_response_free(&r);
        goto fail;
    }
    http_response_free(&r);
    rc = imds_get(h, base, "/latest/meta-data/iam/security-credentials/", token, &r, e);
    if (rc) goto fail;
    if (r.status != 200 || r.body.len == 0) {
        rc = cb_fail(e, CB_ERR, r.status == 404 ? CB_K_NOTFOUND : CB_K_UNAVAILABLE,
                     "EC2 instance metadata: no IAM role attached (HTTP %ld)", r.status);
        http_response_free(&r);
        goto fail;
    }
    role = cb_strndup(r.body.data, strcspn(r.body.data, "\r\n"));
    http_response_free(&r);
    int role_ok = *role && strlen(role) <= 128;
    for (const char *p = role; *p && role_ok; p++)
        if (!isalnum((unsigned char)*p) && !strchr("+=,.@_-", *p)) role_ok = 0;
    if (!role_ok) {
        rc = cb_fail(e, CB_ERR, CB_K_INVALID, "EC2 instance metadata: malformed role name");
        goto fail;
    }
    char *path = cb_sprintf("/latest/meta-data/iam/security-credentials/%s", role);
    rc = imds_get(h, base, path, token, &r, e);
    free(path);
    if (rc) goto fail;
    if (r.status != 200) {
        rc = cb_fail(e, CB_ERR, CB_K_UNAVAILABLE, "EC2 instance metadata: credentials for role %s answered HTTP %ld", role, r.status);
        http_response_free(&r);
        goto fail;
    }
    json_t *j = json_loadb(r.body.data, r.body.len, 0, NULL);
    http_response_free(&r);
    const char *ak = json_string_value(json_object_get(j, "AccessKeyId"));
    const char *sk = json_string_value(json_object_get(j, "SecretAccessKey"));
    const char *tk = json_string_value(json_object_get(j, "Token"));
    const char *ex = json_string_value(json_object_get(j, "Expiration"));
    int64_t exp = 0;
    if (!ak || !sk || !tk || !ex || !*ak || !*sk || cb_parse_iso8601(ex, &exp) != 0) {
        const char *code = json_string_value(json_object_get(j, "Code"));
        rc = cb_fail(e, CB_ERR, CB_K_DENIED, "EC2 instance metadata: credentials document incomplete%s%.60s",
                     code ? ", code " : "", code ? code : "");
    } else {
        out->access_key = cb_strdup(ak);
        out->secret_key = cb_strdup(sk);
        out->session_token = cb_strdup(tk);
        out->expires = exp;
        snprintf(out->source, sizeof out->source, "imds");
        rc = 0;
    }
    if (j) {
        /* wipe the secret strings jansson holds before it frees them */
        if (sk) cb_wipe((char *)sk, strlen(sk));
        if (tk) cb_wipe((char *)tk, strlen(tk));
        json_decref(j);
    }
fail:
    cb_free_secret(token);
    free(role);
    free(base);
    http_client_free(h);
    return rc;
}

int aws_resolve_credentials(aws_creds *out, cb_error *e)
{
    int rc = aws_creds_from_env(out, e);
    if (rc != -1) return rc;
    rc = aws_creds_from_files(out, e);
    if (rc != -1) return rc;
    if (!env_true("AWS_EC2_METADATA_DISABLED")) {
        cb_error ie = {0};
        rc = aws_creds_from_imds(out, &ie);
        if (rc == 0) return 0;
        return cb_fail(e, CB_ERR, CB_K_DENIED,
                       "no AWS credentials: none in the environment (AWS_ACCESS_KEY_ID), none for profile '%s' in the shared files, "
                       "and instance metadata failed (%s)", aws_profile(), ie.msg);
    }
    return cb_fail(e, CB_ERR, CB_K_DENIED,
                   "no AWS credentials: none in the environment (AWS_ACCESS_KEY_ID), none for profile '%s' in the shared files, "
                   "instance metadata disabled", aws_profile());
}

char *aws_resolve_region(cb_error *e)
{
    const char *r = env("AWS_REGION");
    if (!r) r = env("AWS_DEFAULT_REGION");
    char *reg = cb_strdup(r);
    if (!reg) {
        size_t len;
        char *text = read_shared("AWS_CONFIG_FILE", ".aws/config", &len, NULL);
        if (text) {
            const char *p = aws_profile();
            char *sec = strcmp(p, "default") == 0 ? cb_strdup("default") : cb_sprintf("profile %s", p);
            reg = aws_ini_get(text, len, sec, "region");
            free(sec);
            cb_free_secret_n(text, len);
        }
    }
    if (!reg || !*reg) {
        free(reg);
        cb_fail(e, CB_EUSAGE, CB_K_INVALID, "no AWS region: set AWS_REGION (or region in the profile '%s')", aws_profile());
        return NULL;
    }
    for (const char *p = reg; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-') {
            cb_fail(e, CB_EUSAGE, CB_K_INVALID, "malformed AWS region '%.40s'", reg);
            free(reg);
            return NULL;
        }
    return reg;
}

char *aws_resolve_endpoint(const char *env_id, const char *prefix, const char *region)
{
    if (!env_true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) {
        char *n = cb_sprintf("AWS_ENDPOINT_URL_%s", env_id);
        const char *v = env(n);
        free(n);
        if (!v) v = env("AWS_ENDPOINT_URL");
        if (v) return cb_strdup(v);
    }
    const char *suffix = strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
    return cb_sprintf("https://%s.%s.%s", prefix, region, suffix);
}
