/* Vault provider response parsing: bodies shaped as Vault sends them (KV v2 read,
 * write, metadata; login, renew-self, lookup-self; errors) and hostile variants. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <stdlib.h>
#include "secrets/hashicorp_vault.h"

#define B(s) s, strlen(s)

static const char *READ_OBJ =
    "{\"request_id\":\"8d1b\",\"lease_id\":\"\",\"renewable\":false,\"lease_duration\":0,"
    "\"data\":{\"data\":{\"username\":\"app\",\"password\":\"pw\"},\"metadata\":{\"created_time\":"
    "\"2024-01-01T00:00:00.123456789Z\",\"custom_metadata\":null,\"deletion_time\":\"\",\"destroyed\":false,"
    "\"version\":3}},\"wrap_info\":null,\"warnings\":null,\"auth\":null,\"mount_type\":\"kv\"}";

static void test_read_object(void **st)
{
    (void)st;
    secret_value v;
    cb_error e = {0};
    assert_int_equal(vault_parse_kv_read(B(READ_OBJ), &v, &e), 0);
    assert_string_equal(v.value, "{\"username\":\"app\",\"password\":\"pw\"}");
    assert_int_equal(v.len, strlen(v.value));
    assert_string_equal(v.version, "3");
    assert_int_equal(v.created, 1704067200);
    assert_int_equal(secret_value_pick_field(&v, "password", &e), 0);
    assert_string_equal(v.value, "pw");
    secret_value_free(&v);
}

static void test_read_single_value(void **st)
{
    (void)st;
    secret_value v;
    cb_error e = {0};
    const char *b = "{\"data\":{\"data\":{\"value\":\"s3cr\\u00e9t\"},\"metadata\":{\"created_time\":\"2024-01-01T00:00:00Z\","
                    "\"deletion_time\":\"\",\"destroyed\":false,\"version\":1}}}";
    assert_int_equal(vault_parse_kv_read(B(b), &v, &e), 0);
    assert_string_equal(v.value, "s3cr\xc3\xa9t");
    assert_string_equal(v.version, "1");
    secret_value_free(&v);
    /* "value" next to other keys: the object, not the field */
    b = "{\"data\":{\"data\":{\"value\":\"a\",\"x\":\"b\"},\"metadata\":{\"version\":2}}}";
    assert_int_equal(vault_parse_kv_read(B(b), &v, &e), 0);
    assert_string_equal(v.value, "{\"value\":\"a\",\"x\":\"b\"}");
    secret_value_free(&v);
    /* a non-string "value" is kept as JSON */
    b = "{\"data\":{\"data\":{\"value\":5},\"metadata\":{\"version\":2}}}";
    assert_int_equal(vault_parse_kv_read(B(b), &v, &e), 0);
    assert_string_equal(v.value, "{\"value\":5}");
    secret_value_free(&v);
}

static void test_read_deleted_destroyed(void **st)
{
    (void)st;
    secret_value v;
    cb_error e = {0};
    const char *del = "{\"data\":{\"data\":null,\"metadata\":{\"created_time\":\"2024-01-01T00:00:00Z\","
                      "\"deletion_time\":\"2024-01-02T00:00:00Z\",\"destroyed\":false,\"version\":4}}}";
    assert_int_not_equal(vault_parse_kv_read(B(del), &v, &e), 0);
    assert_int_equal(e.kind, CB_K_NOTFOUND);
    assert_non_null(strstr(e.msg, "deleted"));
    assert_null(v.value);
    const char *des = "{\"data\":{\"data\":null,\"metadata\":{\"deletion_time\":\"\",\"destroyed\":true,\"version\":4}}}";
    assert_int_not_equal(vault_parse_kv_read(B(des), &v, &e), 0);
    assert_int_equal(e.kind, CB_K_NOTFOUND);
    assert_non_null(strstr(e.msg, "destroyed"));
    /* scheduled deletion in the future (delete_version_after): still readable */
    const char *fut = "{\"data\":{\"data\":{\"value\":\"v\"},\"metadata\":{\"deletion_time\":\"2999-01-01T00:00:00Z\","
                      "\"destroyed\":false,\"version\":4}}}";
    assert_int_equal(vault_parse_kv_read(B(fut), &v, &e), 0);
    assert_string_equal(v.value, "v");
    secret_value_free(&v);
}

static void test_read_malformed(void **st)
{
    (void)st;
    const char *bad[] = {
        "", "null", "[]", "{\"data\":{\"data\":{\"value\":\"pw-leak\"},\"meta",
        "<html>502</html>", "{\"data\":null}", "{\"data\":{\"data\":{\"v\":1}}}",
        "{\"data\":{\"data\":\"pw-leak\",\"metadata\":{\"version\":1}}}",
        "{\"data\":{\"data\":{},\"metadata\":{\"version\":\"1\"}}}",
        "{\"data\":{\"data\":{},\"metadata\":{\"version\":0}}}",
        "{\"data\":{\"data\":{\"a\":1},\"data\":{\"b\":2},\"metadata\":{\"version\":1}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        secret_value v;
        cb_error e = {0};
        assert_int_not_equal(vault_parse_kv_read(B(bad[i]), &v, &e), 0);
        assert_int_equal(e.kind, CB_K_INVALID);
        assert_null(strstr(e.msg, "pw-leak"));
        assert_null(v.value);
    }
}

static void test_write_and_metadata(void **st)
{
    (void)st;
    cb_error e = {0};
    char *ver = NULL;
    assert_int_equal(vault_parse_kv_write(B("{\"data\":{\"created_time\":\"2024-01-01T00:00:00Z\",\"custom_metadata\":null,"
                                            "\"deletion_time\":\"\",\"destroyed\":false,\"version\":4}}"), &ver, &e), 0);
    assert_string_equal(ver, "4");
    free(ver);
    assert_int_not_equal(vault_parse_kv_write(B("{\"data\":{}}"), &ver, &e), 0);
    assert_null(ver);

    const char *meta =
        "{\"data\":{\"cas_required\":false,\"created_time\":\"2024-01-01T00:00:00Z\",\"current_version\":10,"
        "\"delete_version_after\":\"0s\",\"max_versions\":0,\"oldest_version\":9,\"updated_time\":\"2024-01-03T00:00:00Z\","
        "\"custom_metadata\":{\"credbroker_pending_version\":\"10\",\"owner\":\"team\",\"n\":5},"
        "\"versions\":{\"10\":{\"created_time\":\"2024-01-03T00:00:00Z\",\"deletion_time\":\"\",\"destroyed\":false},"
        "\"9\":{\"created_time\":\"2024-01-02T00:00:00Z\",\"deletion_time\":\"2024-01-02T01:00:00Z\",\"destroyed\":false},"
        "\"x\":{}}}}";
    long cur = -1;
    json_t *custom = NULL, *out = NULL;
    assert_int_equal(vault_parse_metadata(B(meta), &cur, &custom, &out, &e), 0);
    assert_int_equal(cur, 10);
    assert_string_equal(json_string_value(json_object_get(custom, "owner")), "team");
    assert_null(json_object_get(custom, "n")); /* non-string values dropped */
    json_t *vs = json_object_get(out, "versions");
    assert_int_equal(json_array_size(vs), 2);
    json_t *v9 = json_array_get(vs, 0), *v10 = json_array_get(vs, 1);
    assert_string_equal(json_string_value(json_object_get(v9, "version")), "9"); /* numeric order */
    assert_true(json_is_true(json_object_get(v9, "deleted")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(v10, "stages"), 0)), "latest");
    assert_string_equal(json_string_value(json_array_get(json_object_get(v10, "stages"), 1)), "pending");
    json_decref(custom);
    json_decref(out);
    /* a key with metadata but no versions yet */
    assert_int_equal(vault_parse_metadata(B("{\"data\":{\"current_version\":0,\"versions\":{},\"custom_metadata\":null}}"),
                                          &cur, &custom, NULL, &e), 0);
    assert_int_equal(cur, 0);
    assert_int_equal(json_object_size(custom), 0);
    json_decref(custom);
    assert_int_not_equal(vault_parse_metadata(B("{\"data\":{\"current_version\":\"3\"}}"), &cur, NULL, NULL, &e), 0);
    assert_int_not_equal(vault_parse_metadata(B("{\"data\":{\"current_version\":1,\"versions\":[]}}"), &cur, NULL, NULL, &e), 0);
}

static void test_auth_lookup(void **st)
{
    (void)st;
    cb_error e = {0};
    char *tok = NULL;
    long ttl = 0;
    int ren = 0;
    const char *login = "{\"request_id\":\"r\",\"lease_id\":\"\",\"renewable\":false,\"lease_duration\":0,\"data\":null,"
                        "\"wrap_info\":null,\"warnings\":null,\"auth\":{\"client_token\":\"hvs.abc\",\"accessor\":\"acc\","
                        "\"policies\":[\"default\",\"app\"],\"token_policies\":[\"default\",\"app\"],\"metadata\":"
                        "{\"role_name\":\"app\"},\"lease_duration\":1200,\"renewable\":true,\"entity_id\":\"\","
                        "\"token_type\":\"service\",\"orphan\":true,\"mfa_requirement\":null,\"num_uses\":0}}";
    assert_int_equal(vault_parse_auth(B(login), &tok, &ttl, &ren, &e), 0);
    assert_string_equal(tok, "hvs.abc");
    assert_int_equal(ttl, 1200);
    assert_int_equal(ren, 1);
    free(tok);
    /* renew-self: token not needed */
    assert_int_equal(vault_parse_auth(B("{\"auth\":{\"lease_duration\":60,\"renewable\":false}}"), NULL, &ttl, &ren, &e), 0);
    assert_int_equal(ttl, 60);
    assert_int_equal(ren, 0);
    assert_int_not_equal(vault_parse_auth(B("{\"auth\":null}"), &tok, &ttl, &ren, &e), 0);
    assert_int_not_equal(vault_parse_auth(B("{\"auth\":{\"client_token\":\"\"}}"), &tok, &ttl, &ren, &e), 0);
    assert_int_not_equal(vault_parse_auth(B("{\"auth\":{\"client_token\":\"t\",\"lease_duration\":-5}}"), &tok, &ttl, &ren, &e), 0);

    assert_int_equal(vault_parse_lookup(B("{\"data\":{\"id\":\"hvs.abc\",\"ttl\":2764799,\"renewable\":true,"
                                          "\"policies\":[\"default\"],\"meta\":null,\"expire_time\":\"2024-02-01T00:00:00Z\"}}"),
                                        &ttl, &ren, &e), 0);
    assert_int_equal(ttl, 2764799);
    assert_int_equal(ren, 1);
    assert_int_equal(vault_parse_lookup(B("{\"data\":{\"ttl\":0,\"renewable\":false}}"), &ttl, &ren, &e), 0); /* root */
    assert_int_equal(ttl, 0);
    assert_int_not_equal(vault_parse_lookup(B("{\"data\":{}}"), &ttl, &ren, &e), 0);
}

static void test_errors(void **st)
{
    (void)st;
    cb_error e = {0};
    vault_error_from_response(400, B("{\"errors\":[\"check-and-set parameter did not match the current version\"]}"), "s/x", &e);
    assert_int_equal(e.kind, CB_K_CONFLICT);
    assert_int_equal(e.http_status, 400);
    vault_error_from_response(400, B("{\"errors\":[\"no data provided\"]}"), "s/x", &e);
    assert_int_equal(e.kind, CB_K_INVALID);
    assert_non_null(strstr(e.msg, "no data provided"));
    vault_error_from_response(403, B("{\"errors\":[\"permission denied\"]}"), "s/x", &e);
    assert_int_equal(e.kind, CB_K_DENIED);
    assert_non_null(strstr(e.msg, "denied"));
    vault_error_from_response(404, B("{\"errors\":[]}"), "s/x", &e);
    assert_int_equal(e.kind, CB_K_NOTFOUND);
    assert_non_null(strstr(e.msg, "s/x not found"));
    assert_null(strstr(e.msg, "denied"));
    vault_error_from_response(404, B("{\"data\":{\"data\":null,\"metadata\":{\"deletion_time\":\"\",\"destroyed\":true,\"version\":7}}}"),
                              "s/x", &e);
    assert_int_equal(e.kind, CB_K_NOTFOUND);
    assert_non_null(strstr(e.msg, "version 7 was destroyed"));
    int unavailable[] = {412, 429, 500, 502, 503};
    for (size_t i = 0; i < 5; i++) {
        vault_error_from_response(unavailable[i], B("{\"errors\":[\"Vault is sealed\"]}"), "s/x", &e);
        assert_int_equal(e.kind, CB_K_UNAVAILABLE);
    }
    /* hostile bodies: control characters scrubbed, length bounded, garbage tolerated */
    vault_error_from_response(500, B("{\"errors\":[\"a\\nb\\u001b[31m\"]}"), "s/x", &e);
    assert_null(strchr(e.msg, '\n'));
    assert_null(strchr(e.msg, 0x1b));
    char big[4096] = "{\"errors\":[\"";
    memset(big + strlen(big), 'A', 3000);
    strcpy(big + strlen(big), "\"]}");
    vault_error_from_response(500, B(big), "s/x", &e);
    assert_true(strlen(e.msg) < 300);
    vault_error_from_response(502, B("<html>bad gateway</html>"), "s/x", &e);
    assert_int_equal(e.kind, CB_K_UNAVAILABLE);
    vault_error_from_response(400, NULL, 0, "s/x", &e);
    assert_int_equal(e.kind, CB_K_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_object),
        cmocka_unit_test(test_read_single_value),
        cmocka_unit_test(test_read_deleted_destroyed),
        cmocka_unit_test(test_read_malformed),
        cmocka_unit_test(test_write_and_metadata),
        cmocka_unit_test(test_auth_lookup),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
