/* Azure Key Vault parsers: the 401 challenge, secret bundles, tokens, errors, listings. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <stdlib.h>
#include "secrets/azure_key_vault.h"

static void chal_ok(const char *h, const char *tenant, const char *scope)
{
    azkv_challenge c;
    cb_error e = {0};
    int rc = azkv_parse_challenge(h, &c, &e);
    if (rc) fail_msg("rejected '%s': %s", h, e.msg);
    assert_string_equal(c.tenant, tenant);
    assert_string_equal(c.scope, scope);
    azkv_challenge_free(&c);
}

static void chal_bad(const char *h)
{
    azkv_challenge c;
    cb_error e = {0};
    if (azkv_parse_challenge(h, &c, &e) == 0) {
        azkv_challenge_free(&c);
        fail_msg("accepted '%s'", h ? h : "(null)");
    }
    assert_int_equal(e.kind, CB_K_DENIED);
    assert_non_null(strstr(e.msg, "challenge"));
    assert_null(c.tenant);
}

static void test_challenge_real_format(void **s)
{
    (void)s;
    chal_ok("Bearer authorization=\"https://login.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47\", resource=\"https://vault.azure.net\"",
            "72f988bf-86f1-41af-91ab-2d7cd011db47", "https://vault.azure.net/.default");
    chal_ok("Bearer authorization=\"https://127.0.0.1:8443/tenant-1\", resource=\"https://vault.azure.net\"", "tenant-1",
            "https://vault.azure.net/.default");
}

static void test_challenge_variants(void **s)
{
    (void)s;
    /* authorization_uri (storage style), scope instead of resource, odd spacing/case */
    chal_ok("Bearer authorization_uri=\"https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/authorize\", scope=\"https://vault.azure.net/.default\"",
            "contoso.onmicrosoft.com", "https://vault.azure.net/.default");
    chal_ok("  bearer   resource=\"https://vault.azure.cn/\" ,authorization=\"https://login.chinacloudapi.cn/t1\"", "t1",
            "https://vault.azure.cn/.default");
    chal_ok("Bearer authorization_url=\"https://login.microsoftonline.us/t2\",resource=\"https://vault.usgovcloudapi.net\"", "t2",
            "https://vault.usgovcloudapi.net/.default");
    /* resource wins over scope, like the SDKs; unknown keys are ignored */
    chal_ok("Bearer authorization=\"https://l/t3\", scope=\"https://other/.default\", resource=\"https://vault.azure.net\", error=\"x\"",
            "t3", "https://vault.azure.net/.default");
    /* first occurrence wins */
    chal_ok("Bearer authorization=\"https://l/first\", authorization=\"https://l/second\", resource=\"https://vault.azure.net\"",
            "first", "https://vault.azure.net/.default");
}

static void test_challenge_rejects(void **s)
{
    (void)s;
    chal_bad(NULL);
    chal_bad("");
    chal_bad("Basic realm=\"x\"");
    chal_bad("Bearer");
    chal_bad("Bearer resource=\"https://vault.azure.net\"");                            /* no authority */
    chal_bad("Bearer authorization=\"https://login.windows.net/t\"");                   /* no resource/scope */
    chal_bad("Bearer authorization=\"http://login.windows.net/t\", resource=\"https://vault.azure.net\""); /* not https */
    chal_bad("Bearer authorization=\"https://login.windows.net/\", resource=\"https://vault.azure.net\""); /* no tenant */
    chal_bad("Bearer authorization=\"https://login.windows.net\", resource=\"https://vault.azure.net\"");
    chal_bad("Bearer authorization=\"https://l/t%2F..\", resource=\"https://vault.azure.net\"");   /* tenant chars */
    chal_bad("Bearer authorization=\"https://l/..\", resource=\"https://vault.azure.net\"");
    chal_bad("Bearer authorization=\"https://l/t\", resource=\"http://vault.azure.net\"");       /* scope not https */
    chal_bad("Bearer authorization=\"https://l/t\", resource=\"https://vault azure\"");
    chal_bad("Bearer authorization=\"https://l/t, resource=\"https://vault.azure.net\"");         /* unterminated */
    chal_bad("Bearer authorization=\"https://l/t\" resource");                                    /* key without = */
    char big[9000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    memcpy(big, "Bearer ", 7);
    chal_bad(big);
}

static void test_resource_matches(void **s)
{
    (void)s;
    assert_true(azkv_resource_matches("myvault.vault.azure.net", "https://vault.azure.net/.default"));
    assert_true(azkv_resource_matches("myvault.vault.azure.net:443", "https://vault.azure.net/.default"));
    assert_true(azkv_resource_matches("MyVault.Vault.Azure.Net", "https://vault.azure.net/.default"));
    assert_true(azkv_resource_matches("kv.privatelink.vaultcore.azure.net", "https://vaultcore.azure.net/.default"));
    assert_false(azkv_resource_matches("vault.azure.net", "https://vault.azure.net/.default"));
    assert_false(azkv_resource_matches("evilvault.azure.net", "https://vault.azure.net/.default"));
    assert_false(azkv_resource_matches("myvault.vault.azure.net", "https://management.azure.com/.default"));
    assert_false(azkv_resource_matches("127.0.0.1:8443", "https://vault.azure.net/.default"));
    assert_false(azkv_resource_matches("x.net", "https://vault.azure.net/.default"));
}

static void test_bundle(void **s)
{
    (void)s;
    const char *b = "{\"value\":\"s3cr3t \\\"q\\\" \\u00fc\",\"id\":\"https://myvault.vault.azure.net/secrets/app-db/0123456789abcdef0123456789abcdef\","
                    "\"attributes\":{\"enabled\":true,\"created\":1700000000,\"updated\":1700000001,\"recoveryLevel\":\"Recoverable+Purgeable\"},"
                    "\"tags\":{\"credbroker-stage\":\"pending\"}}";
    secret_value v;
    cb_error e = {0};
    assert_int_equal(azkv_parse_bundle(b, strlen(b), &v, &e), 0);
    assert_string_equal(v.value, "s3cr3t \"q\" \xc3\xbc");
    assert_int_equal(v.len, strlen("s3cr3t \"q\" \xc3\xbc"));
    assert_string_equal(v.version, "0123456789abcdef0123456789abcdef");
    assert_string_equal(v.stages, "pending");
    assert_int_equal(v.created, 1700000000);
    secret_value_free(&v);

    /* no tags, no id: value still read, version unknown */
    assert_int_equal(azkv_parse_bundle("{\"value\":\"\"}", 12, &v, &e), 0);
    assert_string_equal(v.value, "");
    assert_null(v.version);
    assert_null(v.stages);
    secret_value_free(&v);

    /* an id whose last segment is not a version */
    const char *odd = "{\"value\":\"x\",\"id\":\"https://h/secrets/n/../..\"}";
    assert_int_equal(azkv_parse_bundle(odd, strlen(odd), &v, &e), 0);
    assert_null(v.version);
    secret_value_free(&v);
}

static void test_bundle_rejects(void **s)
{
    (void)s;
    const char *bad[] = {"", "<html>oops</html>", "{\"value\":", "[]", "{\"value\":5}", "{\"id\":\"x\"}",
                         "{\"value\":\"a\",\"value\":\"b\"}", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        secret_value v;
        cb_error e = {0};
        assert_int_not_equal(azkv_parse_bundle(bad[i], strlen(bad[i]), &v, &e), 0);
        assert_int_equal(e.kind, CB_K_INVALID);
        assert_null(v.value);
    }
}

static void test_token(void **s)
{
    (void)s;
    char *t;
    int64_t exp;
    cb_error e = {0};
    const char *aad = "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,\"access_token\":\"eyJabc.def\"}";
    assert_int_equal(azkv_parse_token(aad, strlen(aad), 1000, &t, &exp, &e), 0);
    assert_string_equal(t, "eyJabc.def");
    assert_int_equal(exp, 1000 + 3599);
    cb_free_secret(t);
    /* IMDS: numbers as strings */
    const char *imds = "{\"access_token\":\"tok\",\"expires_in\":\"86399\",\"expires_on\":\"1700086399\",\"resource\":\"https://vault.azure.net\",\"token_type\":\"Bearer\"}";
    assert_int_equal(azkv_parse_token(imds, strlen(imds), 1000, &t, &exp, &e), 0);
    assert_int_equal(exp, 1000 + 86399);
    cb_free_secret(t);
    /* App Service: only expires_on */
    const char *app = "{\"access_token\":\"tok\",\"expires_on\":\"1700086399\",\"token_type\":\"Bearer\"}";
    assert_int_equal(azkv_parse_token(app, strlen(app), 1000, &t, &exp, &e), 0);
    assert_int_equal(exp, 1700086399);
    cb_free_secret(t);
    const char *bad[] = {"{}", "{\"access_token\":\"\"}", "{\"access_token\":\"a b\"}", "{\"access_token\":\"t\",\"token_type\":\"PoP\"}",
                         "not json", "{\"access_token\":7}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_not_equal(azkv_parse_token(bad[i], strlen(bad[i]), 1000, &t, &exp, &e), 0);
        assert_null(t);
    }
}

static void test_errors(void **s)
{
    (void)s;
    cb_error e = {0};
    const char *nf = "{\"error\":{\"code\":\"SecretNotFound\",\"message\":\"A secret with (name/id) x was not found in this key vault.\"}}";
    azkv_map_error(404, nf, strlen(nf), "get v/x", &e);
    assert_int_equal(e.kind, CB_K_NOTFOUND);
    assert_int_equal(e.http_status, 404);
    assert_non_null(strstr(e.msg, "SecretNotFound: A secret with (name/id) x was not found"));
    const char *fb = "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Caller is not authorized\\nto perform action\",\"innererror\":{\"code\":\"AccessDenied\"}}}";
    azkv_map_error(403, fb, strlen(fb), "get v/x", &e);
    assert_int_equal(e.kind, CB_K_DENIED);
    assert_null(strchr(e.msg, '\n'));
    azkv_map_error(429, "", 0, "get", &e);
    assert_int_equal(e.kind, CB_K_UNAVAILABLE);
    azkv_map_error(503, "<html>", 6, "get", &e);
    assert_int_equal(e.kind, CB_K_UNAVAILABLE);
    assert_non_null(strstr(e.msg, "HTTP 503"));
    azkv_map_error(409, "{\"error\":{\"code\":\"Conflict\"}}", strlen("{\"error\":{\"code\":\"Conflict\"}}"), "set", &e);
    assert_int_equal(e.kind, CB_K_CONFLICT);
    const char *aad = "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client secret provided.\"}";
    azkv_map_error(401, aad, strlen(aad), "token", &e);
    assert_int_equal(e.kind, CB_K_DENIED);
    assert_non_null(strstr(e.msg, "invalid_client: AADSTS7000215"));
}

static void test_versions_page(void **s)
{
    (void)s;
    const char *p = "{\"value\":[{\"id\":\"https://v/secrets/n/aaaa\",\"attributes\":{\"enabled\":false,\"created\":5,\"updated\":6},\"tags\":{\"k\":\"v\"},\"contentType\":\"text/plain\"},"
                    "{\"id\":\"https://v/secrets/n/bbbb\",\"attributes\":{}},{\"id\":7},\"junk\"],\"nextLink\":\"https://v/secrets/n/versions?api-version=7.5&$skiptoken=2\"}";
    json_t *arr = json_array();
    char *next;
    cb_error e = {0};
    assert_int_equal(azkv_parse_versions_page(p, strlen(p), arr, &next, &e), 0);
    assert_int_equal(json_array_size(arr), 2);
    json_t *a = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(a, "version")), "aaaa");
    assert_true(json_is_false(json_object_get(a, "enabled")));
    assert_int_equal(json_integer_value(json_object_get(a, "created")), 5);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "tags"), "k")), "v");
    assert_null(json_object_get(a, "value"));
    assert_string_equal(next, "https://v/secrets/n/versions?api-version=7.5&$skiptoken=2");
    free(next);
    assert_int_equal(azkv_parse_versions_page("{\"value\":[],\"nextLink\":null}", 28, arr, &next, &e), 0);
    assert_null(next);
    assert_int_not_equal(azkv_parse_versions_page("{\"value\":{}}", 12, arr, &next, &e), 0);
    json_decref(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_challenge_real_format), cmocka_unit_test(test_challenge_variants),
        cmocka_unit_test(test_challenge_rejects),     cmocka_unit_test(test_resource_matches),
        cmocka_unit_test(test_bundle),
        cmocka_unit_test(test_bundle_rejects),        cmocka_unit_test(test_token),
        cmocka_unit_test(test_errors),                cmocka_unit_test(test_versions_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
