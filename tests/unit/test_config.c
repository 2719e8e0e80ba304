/* credbroker.json: shape, validation with positions, listen/origin parsing, optional file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "policy/config.h"

static cb_diags load_bad(const char *text)
{
    cb_diags d = {0};
    cb_error e = {0};
    cb_config *c = (cb_config *)1;
    int rc = config_load_buffer("c.json", text, strlen(text), &c, &d, &e);
    if (rc == 0) { config_free(c); fail_msg("accepted: %s", text); }
    assert_int_equal(rc, CB_EUSAGE);
    assert_null(c);
    assert_true(d.count > 0);
    assert_non_null(strstr(e.msg, "c.json"));
    return d;
}

static cb_config *load_ok(const char *text)
{
    cb_diags d = {0};
    cb_error e = {0};
    cb_config *c = NULL;
    if (config_load_buffer("c.json", text, strlen(text), &c, &d, &e) != 0) fail_msg("rejected: %s\n%s", text, e.msg);
    assert_int_equal(d.count, 0);
    return c;
}

static void expect_bad(const char *text, int line, int col, const char *msg)
{
    cb_diags d = load_bad(text);
    for (size_t i = 0; i < d.count; i++) {
        if (!strstr(d.items[i].message, msg)) continue;
        if (d.items[i].line != line || d.items[i].column != col)
            fail_msg("'%s' at %d:%d, want %d:%d", d.items[i].message, d.items[i].line, d.items[i].column, line, col);
        cb_diags_free(&d);
        return;
    }
    for (size_t i = 0; i < d.count; i++) fprintf(stderr, "# have: %d:%d: %s\n", d.items[i].line, d.items[i].column, d.items[i].message);
    fail_msg("no diagnostic containing '%s' for %s", msg, text);
}

static const char FULL[] =
    "{\n"
    "  \"sources\": {\n"
    "    \"app\": { \"ref\": \"vault://secret/app#url\", \"ttl_s\": 60, \"max_staleness_s\": 3600, \"engine\": \"postgres\" },\n"
    "    \"pgadmin\": { \"ref\": \"aws-sm://prod/pgadmin?stage=AWSCURRENT\" }\n"
    "  },\n"
    "  \"listen\": \"[::1]:9000\",\n"
    "  \"allowed_origins\": [\"http://localhost:6274\", \"https://inspector.example.com\"],\n"
    "  \"allowed_hosts\": [\"localhost:9000\", \"[::1]:9000\", \"127.0.0.1\"],\n"
    "  \"tls\": { \"cert\": \"/etc/credbroker/cert.pem\", \"key\": \"/etc/credbroker/key.pem\" },\n"
    "  \"api_key_rate_limit\": { \"per_min\": 600, \"burst\": 50 },\n"
    "  \"master_key_ref\": \"env://CB_KEY\"\n"
    "}\n";

static void test_full(void **s)
{
    (void)s;
    cb_config *c = load_ok(FULL);
    assert_string_equal(c->file, "c.json");
    assert_int_equal(c->nsources, 2);
    const config_source *a = config_source_get(c, "app");
    assert_non_null(a);
    assert_string_equal(a->ref, "vault://secret/app#url");
    assert_int_equal(a->ttl_s, 60);
    assert_int_equal(a->max_staleness_s, 3600);
    assert_string_equal(a->engine, "postgres");
    assert_int_equal(a->line, 3);
    assert_int_equal(a->column, 5);
    const config_source *b = config_source_get(c, "pgadmin");
    assert_int_equal(b->ttl_s, 300);
    assert_int_equal(b->max_staleness_s, 86400);
    assert_null(b->engine);
    assert_null(config_source_get(c, "nope"));
    assert_string_equal(c->listen_host, "::1");
    assert_int_equal(c->listen_port, 9000);
    assert_int_equal(c->norigins, 2);
    assert_int_equal(c->nhosts, 3);
    assert_string_equal(c->tls_cert, "/etc/credbroker/cert.pem");
    assert_string_equal(c->tls_key, "/etc/credbroker/key.pem");
    assert_int_equal(c->rate_per_min, 600);
    assert_int_equal(c->rate_burst, 50);
    assert_string_equal(c->master_key_ref, "env://CB_KEY");
    /* the JSON form loads again to the same thing */
    json_t *j = config_to_json(c);
    char *t = json_dumps(j, 0);
    cb_config *c2 = load_ok(t);
    json_t *j2 = config_to_json(c2);
    assert_true(json_equal(j, j2));
    json_decref(j); json_decref(j2); free(t);
    config_free(c2);
    config_free(c);
}

static void test_defaults_and_files(void **s)
{
    (void)s;
    cb_config *c = load_ok("{}");
    assert_string_equal(c->listen, "127.0.0.1:8787");
    assert_string_equal(c->listen_host, "127.0.0.1");
    assert_int_equal(c->listen_port, 8787);
    assert_int_equal(c->nsources, 0);
    assert_null(c->tls_cert);
    assert_int_equal(c->rate_per_min, 0);
    config_free(c);

    char path[] = "/tmp/cbconfig.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_true(write(fd, FULL, strlen(FULL)) == (ssize_t)strlen(FULL));
    close(fd);
    cb_diags d = {0};
    cb_error e = {0};
    assert_int_equal(config_load(path, 1, &c, &d, &e), 0);
    assert_string_equal(c->file, path);
    assert_int_equal(c->nsources, 2);
    config_free(c);
    unlink(path);

    /* absent: defaults when optional, an error when the path was given */
    assert_int_equal(config_load(path, 0, &c, &d, &e), 0);
    assert_null(c->file);
    assert_int_equal(c->listen_port, 8787);
    config_free(c);
    c = (cb_config *)1;
    assert_int_equal(config_load(path, 1, &c, &d, &e), CB_EUSAGE);
    assert_null(c);
    assert_int_equal(e.kind, CB_K_NOTFOUND);
    assert_int_equal(d.count, 1);
    assert_non_null(strstr(d.items[0].message, "not found"));
    cb_diags_free(&d);

    /* a directory is not a config file */
    assert_int_equal(config_load("/tmp", 0, &c, &d, &e), CB_EUSAGE);
    cb_diags_free(&d);

    unsetenv("CREDBROKER_CONFIG");
    assert_false(config_path_explicit("credbroker.json"));
    assert_false(config_path_explicit(NULL));
    assert_true(config_path_explicit("/etc/credbroker.json"));
    setenv("CREDBROKER_CONFIG", "credbroker.json", 1);
    assert_true(config_path_explicit("credbroker.json"));
    unsetenv("CREDBROKER_CONFIG");
}

static void test_unknown_keys(void **s)
{
    (void)s;
    expect_bad("{\n  \"listen\": \"127.0.0.1:1\",\n  \"lisen\": \"x\"\n}", 3, 3, "unknown key \"lisen\"");
    expect_bad("{\"sources\": {\"app\": {\"ref\": \"env://X\",\n    \"ttl\": 5}}}", 2, 5, "sources.app: unknown key \"ttl\"");
    expect_bad("{\"tls\": {\"cert\": \"a\", \"key\": \"b\", \"ca\": \"c\"}}", 1, 35, "tls: unknown key \"ca\"");
    expect_bad("{\"api_key_rate_limit\": {\"per_min\": 5, \"per_hour\": 5}}", 1, 39, "api_key_rate_limit: unknown key \"per_hour\"");
}

/* database_pool: the MCP session caps (defaults when absent; bounded; unknown keys refused) */
static void test_database_pool(void **s)
{
    (void)s;
    cb_config *c = load_ok("{}");
    assert_int_equal(c->pool_max, 0);
    assert_int_equal(c->pool_per_client, 0);
    config_free(c);
    c = load_ok("{\"database_pool\": {\"max_sessions\": 8, \"max_sessions_per_client\": 3}}");
    assert_int_equal(c->pool_max, 8);
    assert_int_equal(c->pool_per_client, 3);
    json_t *j = config_to_json(c);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "database_pool"), "max_sessions")), 8);
    json_decref(j);
    config_free(c);
    static const struct { const char *json; const char *msg; } bad[] = {
        {"{\"database_pool\": 64}", "database_pool: must be an object"},
        {"{\"database_pool\": {\"max_sessions\": 0}}", "out of range 1..4096"},
        {"{\"database_pool\": {\"max_sessions_per_client\": 5000}}", "out of range 1..4096"},
        {"{\"database_pool\": {\"max_session\": 4}}", "max_session"},
        {"{\"database_pool\": {\"max_sessions\": \"64\"}}", "max_sessions"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cb_diags d = load_bad(bad[i].json);
        int found = 0;
        for (size_t k = 0; k < d.count; k++) found |= strstr(d.items[k].message, bad[i].msg) != NULL;
        if (!found) fail_msg("%s: no diagnostic containing '%s' (first: %s)", bad[i].json, bad[i].msg, d.items[0].message);
        cb_diags_free(&d);
    }
}

static void test_values(void **s)
{
    (void)s;
    static const struct { const char *json; const char *msg; } bad[] = {
        {"{\"sources\": {\"app\": {}}}", "missing required key \"ref\""},
        {"{\"sources\": {\"app\": {\"ref\": \"postgresql://u:p@h/db\"}}}", "malformed secret reference"},
        {"{\"sources\": {\"app\": {\"ref\": \"\"}}}", "must not be empty"},
        {"{\"sources\": {\"a b\": {\"ref\": \"env://X\"}}}", "not a valid connection name"},
        {"{\"sources\": {\"app\": {\"ref\": \"env://X\", \"ttl_s\": -1}}}", "ttl_s: -1 out of range 0..86400"},
        {"{\"sources\": {\"app\": {\"ref\": \"env://X\", \"ttl_s\": 86401}}}", "out of range 0..86400"},
        {"{\"sources\": {\"app\": {\"ref\": \"env://X\", \"max_staleness_s\": 2592001}}}", "out of range 0..2592000"},
        {"{\"sources\": {\"app\": {\"ref\": \"env://X\", \"ttl_s\": 600, \"max_staleness_s\": 60}}}", "must be >= ttl_s"},
        {"{\"sources\": {\"app\": {\"ref\": \"env://X\", \"engine\": \"oracle\"}}}", "engine: must be one of"},
        {"{\"sources\": []}", "sources: must be an object"},
        {"{\"sources\": {\"app\": \"env://X\"}}", "sources.app: must be an object"},
        {"{\"listen\": 8787}", "listen: must be a string"},
        {"{\"allowed_origins\": \"http://localhost\"}", "must be an array"},
        {"{\"allowed_origins\": [\"*\"]}", "must start with http:// or https://"},
        {"{\"allowed_origins\": [\"http://localhost:6274/\"]}", "must not have a path"},
        {"{\"allowed_origins\": [\"ftp://x\"]}", "must start with http"},
        {"{\"allowed_origins\": [\"http://\"]}", "invalid host"},
        {"{\"allowed_origins\": [\"http://a:0\"]}", "port must be 1..65535"},
        {"{\"allowed_hosts\": [\"a b\"]}", "invalid host"},
        {"{\"allowed_hosts\": [\"::1\"]}", "[brackets]"},
        {"{\"allowed_hosts\": [5]}", "must be a string"},
        {"{\"tls\": {\"cert\": \"a\"}}", "needs both"},
        {"{\"tls\": {\"cert\": \"a\", \"key\": \"\"}}", "tls.key: must not be empty"},
        {"{\"tls\": true}", "tls: must be an object"},
        {"{\"api_key_rate_limit\": {}}", "missing required key \"per_min\""},
        {"{\"api_key_rate_limit\": {\"per_min\": 0}}", "out of range 1..100000"},
        {"{\"api_key_rate_limit\": {\"per_min\": 5, \"burst\": 100001}}", "out of range 1..100000"},
        {"{\"master_key_ref\": \"vault://\"}", "malformed secret reference"},
        {"{\"master_key_ref\": 1}", "must be a string"},
        {"[]", "top level must be a JSON object"},
        {"{\"sources\": {\"a\": {\"ref\": \"env://X\"},}}", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cb_diags d = load_bad(bad[i].json);
        int found = 0;
        for (size_t k = 0; k < d.count; k++)
            if (strstr(d.items[k].message, bad[i].msg)) found = 1;
        if (!found) fail_msg("case %zu: %s: got '%s'", i, bad[i].json, d.items[0].message);
        cb_diags_free(&d);
    }
    /* a bad value is reported at its key, on its line */
    expect_bad("{\n  \"sources\": {\n    \"app\": {\n      \"ref\": \"nope://x\"\n    }\n  }\n}", 4, 7, "sources.app.ref: malformed");
    expect_bad("{\n  \"allowed_origins\": [\n    \"http://ok\",\n    \"http://bad/\"\n  ]\n}", 4, 5, "must not have a path");
    /* the ttl default raises the staleness default rather than failing */
    cb_config *c = load_ok("{\"sources\": {\"app\": {\"ref\": \"env://X\", \"ttl_s\": 86400}}}");
    assert_int_equal(c->sources[0].max_staleness_s, 86400);
    config_free(c);
    c = load_ok("{\"sources\": {\"app\": {\"ref\": \"env://X\", \"ttl_s\": 0, \"max_staleness_s\": 0}}, \"api_key_rate_limit\": {\"per_min\": 7}}");
    assert_int_equal(c->sources[0].ttl_s, 0);
    assert_int_equal(c->rate_burst, 7);
    config_free(c);
}

static void test_listen(void **s)
{
    (void)s;
    static const struct { const char *in; const char *host; int port; } good[] = {
        {"127.0.0.1:8787", "127.0.0.1", 8787}, {"[::1]:1", "::1", 1}, {"localhost:65535", "localhost", 65535},
        {"0.0.0.0:80", "0.0.0.0", 80}, {"[fe80::1]:443", "fe80::1", 443}, {"my-host.example:8080", "my-host.example", 8080},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char *h = NULL;
        int port = 0;
        const char *why = NULL;
        if (config_parse_listen(good[i].in, &h, &port, &why) != 0) fail_msg("%s: %s", good[i].in, why);
        assert_string_equal(h, good[i].host);
        assert_int_equal(port, good[i].port);
        free(h);
    }
    static const char *const bad[] = {"", "host", "host:", ":80", "host:0", "host:65536", "host:080000", "host:8o",
                                      "host:-1", "::1:8787", "[::1]", "[::1]8787", "[zz]:80", "[]:80", "[::1:80",
                                      "a b:80", "h\xc3\xa9:80", "1.2.3.4:80:81"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *h = (char *)1;
        int port = 0;
        const char *why = NULL;
        if (config_parse_listen(bad[i], &h, &port, &why) == 0) fail_msg("accepted listen '%s'", bad[i]);
        assert_non_null(why);
        assert_null(h);
    }
    expect_bad("{\n  \"listen\": \"127.0.0.1:99999\"\n}", 2, 3, "listen: \"127.0.0.1:99999\": port must be 1..65535");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_defaults_and_files),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_database_pool),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_listen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
