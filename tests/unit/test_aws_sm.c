/* AWS Secrets Manager provider without a network: response and error parsing, the
 * credential chain from temporary shared files, region and endpoint resolution; and the
 * env:// and file:// providers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "secrets/aws_config.h"
#include "secrets/aws_secrets_manager.h"

extern const secret_provider env_provider;
extern const secret_provider file_provider;

static char tmpdir[64];

static const char *const aws_vars[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_EC2_METADATA_SERVICE_ENDPOINT", NULL};

static int setup(void **s)
{
    (void)s;
    for (size_t i = 0; aws_vars[i]; i++) unsetenv(aws_vars[i]);
    /* never reach for a real metadata service from a unit test */
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cbawsXXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    setenv("HOME", tmpdir, 1); /* no ~/.aws of the person running the tests */
    return 0;
}

static int teardown(void **s)
{
    (void)s;
    char *cmd = cb_sprintf("rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    return 0;
}

static char *write_tmp(const char *name, const char *text, mode_t mode)
{
    char *p = cb_sprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(p, mode);
    return p;
}

#define GET(s) aws_sm_parse_get(s, strlen(s), &v, &e)

static void test_parse_get(void **st)
{
    (void)st;
    secret_value v;
    cb_error e = {0};
    const char *ok = "{\"ARN\":\"arn:x\",\"Name\":\"db\",\"VersionId\":\"v1\",\"SecretString\":\"{\\\"password\\\":\\\"p\\\"}\","
                     "\"VersionStages\":[\"AWSCURRENT\",\"X\"],\"CreatedDate\":1523477145.713}";
    assert_int_equal(GET(ok), 0);
    assert_string_equal(v.value, "{\"password\":\"p\"}");
    assert_string_equal(v.version, "v1");
    assert_string_equal(v.stages, "AWSCURRENT,X");
    assert_int_equal(v.created, 1523477145);
    assert_int_equal(secret_value_pick_field(&v, "password", &e), 0);
    assert_string_equal(v.value, "p");
    secret_value_free(&v);

    assert_int_equal(GET("{\"VersionId\":\"v2\",\"SecretBinary\":\"AAFoaQ==\",\"CreatedDate\":17}"), 0);
    assert_int_equal(v.len, 4);
    assert_memory_equal(v.value, "\0\1hi", 4);
    assert_int_equal(v.created, 17);
    secret_value_free(&v);

    assert_int_not_equal(GET("{\"SecretBinary\":\"%%%\"}"), 0);
    assert_int_equal(e.kind, CB_K_INVALID);
    assert_int_not_equal(GET("{\"Name\":\"x\",\"SecretString\":null}"), 0);
    assert_non_null(strstr(e.msg, "neither SecretString nor SecretBinary"));
    assert_int_not_equal(GET("[1]"), 0);
    assert_int_not_equal(GET("not json"), 0);
    assert_int_not_equal(aws_sm_parse_get("", 0, &v, &e), 0);
}

static void test_parse_describe(void **st)
{
    (void)st;
    json_t *o;
    cb_error e = {0};
    /* moto: nulls and both version maps */
    const char *moto = "{\"ARN\":\"arn:aws:secretsmanager:us-east-1:123456789012:secret:db/prod-vxLhVv\",\"Name\":\"db/prod\","
                       "\"Description\":null,\"KmsKeyId\":null,\"RotationEnabled\":false,\"LastAccessedDate\":null,"
                       "\"CreatedDate\":1700000000,\"LastChangedDate\":1700000001.5,\"Tags\":[],"
                       "\"VersionIdsToStages\":{\"a\":[\"AWSCURRENT\"],\"b\":[\"AWSPREVIOUS\"],\"c\":[]},"
                       "\"SecretVersionsToStages\":{\"a\":[\"AWSCURRENT\"]},\"SecretString\":\"leak\"}";
    assert_int_equal(aws_sm_parse_describe(moto, strlen(moto), &o, &e), 0);
    assert_string_equal(json_string_value(json_object_get(o, "name")), "db/prod");
    assert_int_equal(json_integer_value(json_object_get(o, "created")), 1700000000);
    assert_int_equal(json_integer_value(json_object_get(o, "last_changed")), 1700000001);
    assert_null(json_object_get(o, "last_accessed"));
    assert_null(json_object_get(o, "description"));
    assert_true(json_is_false(json_object_get(o, "rotation_enabled")));
    json_t *vs = json_object_get(o, "versions");
    assert_int_equal(json_object_size(vs), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(vs, "b"), 0)), "AWSPREVIOUS");
    char *dump = json_dumps(o, 0);
    assert_null(strstr(dump, "leak")); /* describe never carries a value */
    free(dump);
    json_decref(o);
    /* ListSecrets-style entry: only SecretVersionsToStages */
    const char *ls = "{\"Name\":\"n\",\"SecretVersionsToStages\":{\"z\":[\"AWSCURRENT\",7]}}";
    assert_int_equal(aws_sm_parse_describe(ls, strlen(ls), &o, &e), 0);
    assert_int_equal(json_array_size(json_object_get(json_object_get(o, "versions"), "z")), 1);
    json_decref(o);
    assert_int_not_equal(aws_sm_parse_describe("{}", 2, &o, &e), 0);
    assert_null(o);
    assert_int_not_equal(aws_sm_parse_describe("{\"Name\":", 8, &o, &e), 0);
}

static int err_kind(long status, const char *body, cb_error *e)
{
    int rc = aws_sm_parse_error(status, body, body ? strlen(body) : 0, "GetSecretValue", "db/prod", NULL, e);
    assert_int_equal(rc, CB_ERR);
    assert_int_equal(e->code, CB_ERR);
    assert_int_equal(e->http_status, status);
    return e->kind;
}

static void test_parse_error(void **st)
{
    (void)st;
    cb_error e = {0};
    /* moto: 404 and lower-case message */
    assert_int_equal(err_kind(404, "{\"__type\":\"ResourceNotFoundException\",\"message\":\"Secrets Manager can't find the specified secret.\"}", &e), CB_K_NOTFOUND);
    assert_non_null(strstr(e.msg, "'db/prod': not found (ResourceNotFoundException, HTTP 404): Secrets Manager can't find"));
    /* real service: 400, Message, namespaced __type */
    assert_int_equal(err_kind(400, "{\"__type\":\"com.amazonaws.secretsmanager#ResourceNotFoundException\",\"Message\":\"gone\"}", &e), CB_K_NOTFOUND);
    assert_non_null(strstr(e.msg, "(ResourceNotFoundException, HTTP 400): gone"));
    assert_int_equal(err_kind(400, "{\"__type\":\"AccessDeniedException:http://x\",\"Message\":\"no\"}", &e), CB_K_DENIED);
    assert_non_null(strstr(e.msg, "(AccessDeniedException, HTTP 400)"));
    assert_int_equal(err_kind(400, "{\"__type\":\"UnrecognizedClientException\"}", &e), CB_K_DENIED);
    assert_int_equal(err_kind(403, "{\"__type\":\"InvalidSignatureException\"}", &e), CB_K_DENIED);
    assert_int_equal(err_kind(400, "{\"__type\":\"ExpiredTokenException\"}", &e), CB_K_DENIED);
    assert_int_equal(err_kind(400, "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}", &e), CB_K_UNAVAILABLE);
    assert_int_equal(err_kind(500, "{\"__type\":\"InternalServiceError\"}", &e), CB_K_UNAVAILABLE);
    assert_int_equal(err_kind(503, "<html>busy</html>", &e), CB_K_UNAVAILABLE);
    assert_int_equal(err_kind(429, NULL, &e), CB_K_UNAVAILABLE);
    assert_int_equal(err_kind(400, "{\"__type\":\"ResourceExistsException\"}", &e), CB_K_CONFLICT);
    assert_int_equal(err_kind(400, "{\"__type\":\"InvalidParameterException\",\"Message\":\"bad\"}", &e), CB_K_INVALID);
    assert_int_equal(err_kind(400, "{\"__type\":\"InvalidRequestException\"}", &e), CB_K_INVALID);
    assert_int_equal(err_kind(403, "", &e), CB_K_DENIED);
    assert_int_equal(err_kind(404, "[]", &e), CB_K_NOTFOUND);
    /* control characters do not split the one-line message */
    assert_int_equal(err_kind(400, "{\"__type\":\"X\",\"Message\":\"a\\nb\\u0007c\"}", &e), CB_K_INVALID);
    assert_null(strchr(e.msg, '\n'));
    /* a message that echoes the secret is withheld */
    const char *b = "{\"__type\":\"InvalidParameterException\",\"Message\":\"Value 'hunter2-secret' is bad\"}";
    aws_sm_parse_error(400, b, strlen(b), "PutSecretValue", "db", "hunter2-secret", &e);
    assert_null(strstr(e.msg, "hunter2"));
    assert_non_null(strstr(e.msg, "withheld"));
}

static void test_retryable(void **st)
{
    (void)st;
    const char *t[] = {"{\"__type\":\"ThrottlingException\"}", "{\"__type\":\"TooManyRequestsException\"}",
                       "{\"__type\":\"RequestLimitExceeded\"}", "{\"__type\":\"x#InternalServiceError\"}"};
    for (size_t i = 0; i < 4; i++) assert_true(aws_sm_body_retryable(t[i], strlen(t[i])));
    const char *n[] = {"{\"__type\":\"ResourceNotFoundException\"}", "{\"__type\":\"LimitExceededException\"}", "x", "{}"};
    for (size_t i = 0; i < 4; i++) assert_false(aws_sm_body_retryable(n[i], strlen(n[i])));
    assert_false(aws_sm_body_retryable(NULL, 0));
}

static void test_ini(void **st)
{
    (void)st;
    const char *t = "# c\n[default]\naws_access_key_id = A1 \n; x\n[profile dev]\nregion=eu-west-1\ns3 =\n  region = bad\n"
                    "[dev]\nregion = nope\n";
    char *v = aws_ini_get(t, strlen(t), "default", "aws_access_key_id");
    assert_string_equal(v, "A1");
    free(v);
    v = aws_ini_get(t, strlen(t), "profile dev", "region");
    assert_string_equal(v, "eu-west-1");
    free(v);
    assert_null(aws_ini_get(t, strlen(t), "profile none", "region"));
    assert_null(aws_ini_get(t, strlen(t), "default", "region"));
    v = aws_ini_get(t, strlen(t), "dev", NULL);
    assert_string_equal(v, "");
    free(v);
    assert_null(aws_ini_get(t, strlen(t), "nope", NULL));
    /* embedded NUL (found by fuzzing: the copy was shorter than the bytes wiped) */
    const char nul[] = "[default]\naws_access_key_id=A\0\n[x]\nregion=r\n";
    v = aws_ini_get(nul, sizeof nul - 1, "default", "aws_access_key_id");
    assert_string_equal(v, "A");
    free(v);
    assert_null(aws_ini_get(nul, sizeof nul - 1, "x", "region"));
}

static void test_credential_chain(void **st)
{
    (void)st;
    aws_creds c;
    cb_error e = {0};
    char *cf = write_tmp("credentials", "[default]\naws_access_key_id=AKIDFILE\naws_secret_access_key=s1\n"
                                        "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = s2\naws_session_token = t2\n"
                                        "[half]\naws_access_key_id=AKIDHALF\n", 0600);
    char *cfg = write_tmp("config", "[default]\nregion = us-west-2\n[profile cfg]\naws_access_key_id=AKIDCFG\n"
                                    "aws_secret_access_key=s3\nregion=cn-north-1\n", 0600);
    /* nothing anywhere (metadata disabled): a clear denial naming where it looked */
    assert_int_equal(aws_resolve_credentials(&c, &e), CB_ERR);
    assert_int_equal(e.kind, CB_K_DENIED);
    assert_non_null(strstr(e.msg, "profile 'default'"));
    setenv("AWS_SHARED_CREDENTIALS_FILE", cf, 1);
    setenv("AWS_CONFIG_FILE", cfg, 1);
    assert_int_equal(aws_resolve_credentials(&c, &e), 0);
    assert_string_equal(c.access_key, "AKIDFILE");
    assert_string_equal(c.secret_key, "s1");
    assert_null(c.session_token);
    assert_string_equal(c.source, "shared-files");
    aws_creds_free(&c);
    setenv("AWS_PROFILE", "dev", 1);
    assert_int_equal(aws_resolve_credentials(&c, &e), 0);
    assert_string_equal(c.access_key, "AKIDDEV");
    assert_string_equal(c.session_token, "t2");
    aws_creds_free(&c);
    /* credentials in config's [profile cfg] */
    setenv("AWS_PROFILE", "cfg", 1);
    assert_int_equal(aws_resolve_credentials(&c, &e), 0);
    assert_string_equal(c.access_key, "AKIDCFG");
    aws_creds_free(&c);
    setenv("AWS_PROFILE", "typo", 1);
    assert_int_equal(aws_resolve_credentials(&c, &e), CB_EUSAGE);
    assert_non_null(strstr(e.msg, "AWS profile 'typo' not found"));
    setenv("AWS_PROFILE", "half", 1);
    assert_int_not_equal(aws_resolve_credentials(&c, &e), 0);
    assert_non_null(strstr(e.msg, "partial AWS credentials in [half]"));
    /* environment wins over files */
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "senv", 1);
    setenv("AWS_SESSION_TOKEN", "tenv", 1);
    assert_int_equal(aws_resolve_credentials(&c, &e), 0);
    assert_string_equal(c.access_key, "AKIDENV");
    assert_string_equal(c.session_token, "tenv");
    assert_string_equal(c.source, "env");
    aws_creds_free(&c);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_not_equal(aws_resolve_credentials(&c, &e), 0);
    assert_non_null(strstr(e.msg, "partial AWS credentials in the environment"));
    /* ~/.aws/credentials is the default location */
    for (size_t i = 0; aws_vars[i]; i++) unsetenv(aws_vars[i]);
    char *dir = cb_sprintf("%s/.aws", tmpdir);
    mkdir(dir, 0700);
    free(write_tmp(".aws/credentials", "[default]\naws_access_key_id=AKIDHOME\naws_secret_access_key=h\n", 0600));
    assert_int_equal(aws_resolve_credentials(&c, &e), 0);
    assert_string_equal(c.access_key, "AKIDHOME");
    aws_creds_free(&c);
    free(dir);
    free(cf);
    free(cfg);
}

static void test_region_endpoint(void **st)
{
    (void)st;
    cb_error e = {0};
    assert_null(aws_resolve_region(&e));
    assert_int_equal(e.code, CB_EUSAGE);
    assert_non_null(strstr(e.msg, "AWS_REGION"));
    char *cfg = write_tmp("config", "[default]\nregion = us-west-2\n[profile p]\nregion=cn-north-1\n", 0600);
    setenv("AWS_CONFIG_FILE", cfg, 1);
    char *r = aws_resolve_region(&e);
    assert_string_equal(r, "us-west-2");
    free(r);
    setenv("AWS_PROFILE", "p", 1);
    r = aws_resolve_region(&e);
    assert_string_equal(r, "cn-north-1");
    char *ep = aws_resolve_endpoint("SECRETS_MANAGER", "secretsmanager", r);
    assert_string_equal(ep, "https://secretsmanager.cn-north-1.amazonaws.com.cn");
    free(ep);
    free(r);
    setenv("AWS_DEFAULT_REGION", "eu-central-1", 1);
    r = aws_resolve_region(&e);
    assert_string_equal(r, "eu-central-1");
    free(r);
    setenv("AWS_REGION", "ap-south-1", 1);
    r = aws_resolve_region(&e);
    assert_string_equal(r, "ap-south-1");
    ep = aws_resolve_endpoint("SECRETS_MANAGER", "secretsmanager", r);
    assert_string_equal(ep, "https://secretsmanager.ap-south-1.amazonaws.com");
    free(ep);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1", 1);
    ep = aws_resolve_endpoint("SECRETS_MANAGER", "secretsmanager", r);
    assert_string_equal(ep, "http://127.0.0.1:1");
    free(ep);
    setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:2/sm", 1);
    ep = aws_resolve_endpoint("SECRETS_MANAGER", "secretsmanager", r);
    assert_string_equal(ep, "http://127.0.0.1:2/sm");
    free(ep);
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
    ep = aws_resolve_endpoint("SECRETS_MANAGER", "secretsmanager", r);
    assert_string_equal(ep, "https://secretsmanager.ap-south-1.amazonaws.com");
    free(ep);
    free(r);
    setenv("AWS_REGION", "us-east-1/../x", 1);
    assert_null(aws_resolve_region(&e));
    free(cfg);
}

static void test_provider_open(void **st)
{
    (void)st;
    void *s = NULL;
    cb_error e = {0};
    assert_int_equal(aws_sm_provider.open(&s, &e), CB_EUSAGE); /* no region */
    assert_null(s);
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "ftp://127.0.0.1/", 1);
    assert_int_equal(aws_sm_provider.open(&s, &e), CB_EUSAGE);
    setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9", 1);
    assert_int_equal(aws_sm_provider.open(&s, &e), 0);
    /* no credentials: the call fails before any network traffic */
    secret_ref r;
    assert_int_equal(secret_ref_parse("aws-sm://db/prod", &r, &e), 0);
    secret_value v;
    assert_int_equal(aws_sm_provider.get(s, &r, &v, &e), CB_ERR);
    assert_int_equal(e.kind, CB_K_DENIED);
    char *ver = NULL;
    assert_int_equal(aws_sm_provider.put(s, &r, "x", NULL, "short", &ver, &e), CB_EUSAGE);
    secret_ref_free(&r);
    aws_sm_provider.close(s);
    assert_ptr_equal(secret_provider_for("aws-sm"), &aws_sm_provider);
    assert_ptr_equal(secret_provider_for("env"), &env_provider);
    assert_ptr_equal(secret_provider_for("file"), &file_provider);
}

static void test_env_provider(void **st)
{
    (void)st;
    cb_error e = {0};
    secret_value v;
    setenv("CB_TEST_SECRET", "{\"k\":\"v\"}", 1);
    assert_int_equal(secret_fetch("env://CB_TEST_SECRET#k", &v, &e), 0);
    assert_string_equal(v.value, "v");
    secret_value_free(&v);
    assert_int_equal(secret_fetch("env://CB_TEST_NOPE", &v, &e), CB_ERR);
    assert_int_equal(e.kind, CB_K_NOTFOUND);
    secret_ref r;
    assert_int_equal(secret_ref_parse("env://CB_TEST_SECRET", &r, &e), 0);
    char *ver = NULL;
    assert_int_equal(env_provider.put(NULL, &r, "x", NULL, NULL, &ver, &e), CB_EUSAGE);
    assert_non_null(strstr(e.msg, "read-only"));
    assert_int_equal(env_provider.promote(NULL, &r, "1", &e), CB_EUSAGE);
    assert_string_equal(getenv("CB_TEST_SECRET"), "{\"k\":\"v\"}");
    secret_ref_free(&r);
}

static void test_file_provider(void **st)
{
    (void)st;
    cb_error e = {0};
    secret_value v;
    char *p = write_tmp("s.txt", "hunter2\n\n", 0600);
    char *ref = cb_sprintf("file://%s", p);
    assert_int_equal(secret_fetch(ref, &v, &e), 0);
    assert_string_equal(v.value, "hunter2\n"); /* exactly one newline stripped */
    secret_value_free(&v);
    chmod(p, 0620);
    assert_int_equal(secret_fetch(ref, &v, &e), CB_ERR);
    assert_int_equal(e.kind, CB_K_DENIED);
    assert_non_null(strstr(e.msg, "group- or world-writable"));
    chmod(p, 0644); /* readable by others is allowed; writable is not */
    assert_int_equal(secret_fetch(ref, &v, &e), 0);
    secret_value_free(&v);
    /* put: atomic replace with mode 0600, even over a 0644 file */
    secret_ref r;
    assert_int_equal(secret_ref_parse(ref, &r, &e), 0);
    char *ver = NULL;
    assert_int_equal(file_provider.put(NULL, &r, "new-value", NULL, NULL, &ver, &e), 0);
    assert_string_equal(ver, "current");
    free(ver);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(file_provider.get(NULL, &r, &v, &e), 0);
    assert_string_equal(v.value, "new-value");
    secret_value_free(&v);
    assert_int_equal(file_provider.put(NULL, &r, "x", SECRET_STAGE_PENDING, NULL, &ver, &e), CB_EUSAGE);
    assert_int_equal(file_provider.promote(NULL, &r, "current", &e), 0);
    assert_int_not_equal(file_provider.promote(NULL, &r, "7", &e), 0);
    secret_ref_free(&r);
    /* over 1 MiB */
    char *big = cb_malloc((1 << 20) + 2);
    memset(big, 'a', (1 << 20) + 1);
    big[(1 << 20) + 1] = 0;
    free(write_tmp("big", big, 0600));
    free(big);
    char *bref = cb_sprintf("file://%s/big", tmpdir);
    assert_int_equal(secret_fetch(bref, &v, &e), CB_ERR);
    assert_non_null(strstr(e.msg, "1 MiB"));
    free(bref);
    bref = cb_sprintf("file://%s/missing", tmpdir);
    assert_int_equal(secret_fetch(bref, &v, &e), CB_ERR);
    assert_int_equal(e.kind, CB_K_NOTFOUND);
    free(bref);
    free(ref);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_get),
        cmocka_unit_test(test_parse_describe),
        cmocka_unit_test(test_parse_error),
        cmocka_unit_test(test_retryable),
        cmocka_unit_test(test_ini),
        cmocka_unit_test_setup_teardown(test_credential_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_region_endpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provider_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_provider, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_provider, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
