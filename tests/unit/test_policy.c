/* Policy files: parsing, validation with exact file:line:column, merging, access checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "policy/policy.h"

/* ---- helpers ---- */

static char *mkdir_tmp(void)
{
    char tmpl[] = "/tmp/cbpolicy.XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *p = cb_sprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static void rm_tree(const char *dir)
{
    char *cmd = cb_sprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

/* Loads one buffer expecting failure; returns the diagnostics. */
static cb_diags load_bad(const char *text)
{
    cb_diags d = {0};
    cb_error e = {0};
    cb_policy *p = (cb_policy *)1;
    int rc = policy_load_buffer("t.json", text, strlen(text), &p, &d, &e);
    if (rc == 0) { policy_free(p); fail_msg("accepted: %s", text); }
    assert_int_equal(rc, CB_EUSAGE);
    assert_null(p);
    assert_true(d.count > 0);
    assert_non_null(strstr(e.msg, "t.json:"));
    return d;
}

static cb_policy *load_ok(const char *text)
{
    cb_diags d = {0};
    cb_error e = {0};
    cb_policy *p = NULL;
    int rc = policy_load_buffer("t.json", text, strlen(text), &p, &d, &e);
    if (rc != 0) fail_msg("rejected: %s\n%s", text, e.msg);
    assert_int_equal(d.count, 0);
    return p;
}

/* Asserts that some diagnostic contains msg at line:col. */
static void expect_diag(const cb_diags *d, const char *file, int line, int col, const char *msg)
{
    for (size_t i = 0; i < d->count; i++) {
        const cb_diag *g = &d->items[i];
        if (strstr(g->message, msg) && (!file || strcmp(g->file, file) == 0)) {
            if (g->line != line || g->column != col)
                fail_msg("'%s' at %d:%d, want %d:%d", g->message, g->line, g->column, line, col);
            return;
        }
    }
    for (size_t i = 0; i < d->count; i++) fprintf(stderr, "# have: %s:%d:%d: %s\n", d->items[i].file, d->items[i].line, d->items[i].column, d->items[i].message);
    fail_msg("no diagnostic containing '%s'", msg);
}

static void expect_bad(const char *text, int line, int col, const char *msg)
{
    cb_diags d = load_bad(text);
    expect_diag(&d, "t.json", line, col, msg);
    cb_diags_free(&d);
}

/* ---- tests ---- */

static const char FULL[] =
    "{\n"
    "  \"requirements\": { \"min_sslmode\": \"verify-full\", \"max_connect_timeout_s\": 30, \"require_encryption\": true },\n"
    "  \"credentials\": {\n"
    "    \"app-db\": { \"connection\": \"app\", \"admin_connection\": \"pgadmin\", \"schedule\": \"0 3 * * *\",\n"
    "                \"timezone\": \"Europe/Berlin\", \"strategy\": \"single-user\",\n"
    "                \"password\": { \"length\": 40, \"classes\": [\"lower\",\"digit\"], \"exclude\": \"0O1l\" },\n"
    "                \"publish_to\": \"aws-sm://prod/app-db\" },\n"
    "    \"orders\": { \"connection\": \"orders\", \"strategy\": \"alternating-users\", \"users\": [\"o_a\", \"o_b\"] }\n"
    "  },\n"
    "  \"clients\": {\n"
    "    \"local\":   { \"tools\": [\"*\"], \"connections\": \"*\", \"mode\": \"read-write\", \"max_rows\": 1000,\n"
    "                 \"statement_timeout_ms\": 5000, \"reveal\": true, \"sensitive_params\": true,\n"
    "                 \"max_bytes\": 65536, \"rate_limit_per_min\": 120 },\n"
    "    \"analyst\": { \"tools\": [\"connections_list\", \"schema_describe\", \"query_readonly\"], \"connections\": [\"app\"] }\n"
    "  }\n"
    "}\n";

static void test_full_file(void **s)
{
    (void)s;
    cb_policy *p = load_ok(FULL);
    assert_int_equal(p->requirements.min_sslmode, POLICY_SSL_VERIFY_FULL);
    assert_int_equal(p->requirements.max_connect_timeout_s, 30);
    assert_int_equal(p->requirements.require_encryption, 1);
    assert_int_equal(p->ncredentials, 2);
    const policy_credential *c = policy_credential(p, "app-db");
    assert_non_null(c);
    assert_string_equal(c->connection, "app");
    assert_string_equal(c->admin_connection, "pgadmin");
    assert_string_equal(c->schedule, "0 3 * * *");
    assert_string_equal(c->timezone, "Europe/Berlin");
    assert_int_equal(c->strategy, POLICY_SINGLE_USER);
    assert_int_equal(c->password.length, 40);
    assert_int_equal(c->password.classes, POLICY_CLASS_LOWER | POLICY_CLASS_DIGIT);
    assert_string_equal(c->password.exclude, "0O1l");
    assert_string_equal(c->publish_to, "aws-sm://prod/app-db");
    assert_string_equal(c->origin.file, "t.json");
    assert_int_equal(c->origin.line, 4);
    assert_int_equal(c->origin.column, 5);
    const policy_credential *o = policy_credential(p, "orders");
    assert_non_null(o);
    assert_int_equal(o->strategy, POLICY_ALTERNATING_USERS);
    assert_string_equal(o->users[0], "o_a");
    assert_string_equal(o->users[1], "o_b");
    /* defaults */
    assert_null(o->schedule);
    assert_null(o->admin_connection);
    assert_null(o->publish_to);
    assert_string_equal(o->timezone, "UTC");
    assert_int_equal(o->password.length, 32);
    assert_int_equal(o->password.classes, 15);
    assert_string_equal(o->password.exclude, POLICY_PASSWORD_DEFAULT_EXCLUDE);
    assert_null(policy_credential(p, "nope"));

    const policy_client *l = policy_client(p, "local");
    assert_non_null(l);
    assert_int_equal(l->mode, POLICY_READ_WRITE);
    assert_true(l->all_tools);
    assert_true(l->all_connections);
    assert_int_equal(l->max_bytes, 65536);
    assert_int_equal(l->rate_limit_per_min, 120);
    assert_true(l->reveal);
    assert_true(l->sensitive_params);
    assert_int_equal(l->origin.line, 11);
    const policy_client *a = policy_client(p, "analyst");
    assert_non_null(a);
    assert_int_equal(a->mode, POLICY_READ_ONLY);
    assert_int_equal(a->max_rows, 1000);
    assert_int_equal(a->statement_timeout_ms, 5000);
    assert_false(a->reveal);
    assert_false(a->sensitive_params);
    assert_int_equal(a->ntools, 3);
    assert_false(policy_is_empty(p));
    policy_free(p);
}

static void test_tool_classes(void **s)
{
    (void)s;
    cb_policy *p = load_ok("{\"clients\": {"
                           "\"ro\": {\"tools\": [\"*\"]},"
                           "\"rw\": {\"tools\": [\"*\"], \"mode\": \"read-write\"},"
                           "\"named\": {\"tools\": [\"security_rotate_key\", \"query_execute\"]},"
                           "\"adm\": {\"tools\": [\"connections_list\"], \"admin\": true}}}");
    const policy_client *ro = policy_client(p, "ro"), *rw = policy_client(p, "rw"), *nm = policy_client(p, "named"),
                        *ad = policy_client(p, "adm");
    for (size_t i = 0; policy_admin_tools[i]; i++) {
        assert_int_equal(policy_tool_class_of(policy_admin_tools[i]), POLICY_TOOL_ADMIN);
        assert_false(policy_client_may_call(ro, policy_admin_tools[i]));
        assert_false(policy_client_may_call(rw, policy_admin_tools[i]));
        assert_true(policy_client_may_call(ad, policy_admin_tools[i]));
    }
    assert_int_equal(policy_tool_class_of("query_execute"), POLICY_TOOL_WRITE);
    assert_int_equal(policy_tool_class_of("connections_list"), POLICY_TOOL_READ);
    assert_true(policy_client_may_call(ro, "query_readonly"));
    assert_false(policy_client_may_call(ro, "query_execute"));
    assert_true(policy_client_may_call(rw, "query_execute"));
    assert_true(policy_client_may_call(nm, "security_rotate_key"));
    assert_false(policy_client_may_call(nm, "credentials_emergency_rotate"));
    assert_false(policy_client_may_call(nm, "query_execute")); /* named, but read-only */
    assert_false(policy_client_may_call(ad, "query_readonly"));
    const char **lost = NULL;
    assert_int_equal(policy_client_lost_tools(ro, &lost), 5);
    free(lost);
    assert_int_equal(policy_client_lost_tools(nm, &lost), 0);
    json_t *j = policy_to_json(p);
    assert_true(json_is_true(json_object_get(json_object_get(json_object_get(j, "clients"), "adm"), "admin")));
    json_decref(j);
    policy_free(p);
}

static void test_access(void **s)
{
    (void)s;
    cb_policy *p = load_ok(FULL);
    const policy_client *l = policy_client(p, "local"), *a = policy_client(p, "analyst");
    assert_true(policy_client_may_call(l, "query_readonly"));
    /* issue 11: "*" grants the read-only class only; admin tools must be named */
    assert_false(policy_client_may_call(l, "security_rotate_key"));
    assert_true(policy_client_may_use(l, "anything"));
    assert_false(policy_client_may_call(l, ""));
    assert_false(policy_client_may_call(l, NULL));
    assert_true(policy_client_may_call(a, "schema_describe"));
    assert_false(policy_client_may_call(a, "security_rotate_key"));
    assert_false(policy_client_may_call(a, "schema"));          /* exact match, no prefix */
    assert_false(policy_client_may_call(a, "*"));
    assert_true(policy_client_may_use(a, "app"));
    assert_false(policy_client_may_use(a, "ap"));
    assert_false(policy_client_may_use(a, "orders"));
    /* unknown client: deny */
    const policy_client *none = policy_client(p, "mallory");
    assert_null(none);
    assert_false(policy_client_may_call(none, "connections_list"));
    assert_false(policy_client_may_use(none, "app"));
    assert_null(policy_client(NULL, "local"));
    policy_free(p);

    /* a client with no tools and no connections gets nothing */
    p = load_ok("{\"clients\": {\"bare\": {}}}");
    const policy_client *b = policy_client(p, "bare");
    assert_non_null(b);
    assert_false(policy_client_may_call(b, "connections_list"));
    assert_false(policy_client_may_use(b, "app"));
    policy_free(p);
}

static void test_merge_order_and_selection(void **s)
{
    (void)s;
    char *dir = mkdir_tmp();
    write_file(dir, "20-b.json", "{\"clients\": {\"b\": {\"tools\": [\"x\"]}}, \"requirements\": {\"max_connect_timeout_s\": 9}}");
    write_file(dir, "10-a.json", "{\"credentials\": {\"a\": {\"connection\": \"a\"}}, \"requirements\": {\"min_sslmode\": \"prefer\"}}");
    write_file(dir, "100-c.json", "{\"clients\": {\"c\": {}}}");
    /* not loaded: schema, hidden files, other extensions, sub-directories */
    write_file(dir, "schema.json", "{\"type\": \"object\", \"properties\": {}}");
    write_file(dir, "x.schema.json", "not json");
    write_file(dir, ".hidden.json", "not json");
    write_file(dir, "README.md", "not json");
    write_file(dir, "notes.json~", "not json");
    char *sub = cb_sprintf("%s/examples", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file(sub, "bad.json", "not json");
    char *subj = cb_sprintf("%s/dir.json", dir);
    assert_int_equal(mkdir(subj, 0700), 0);

    cb_policy *p = NULL;
    cb_diags d = {0};
    cb_error e = {0};
    assert_int_equal(policy_load(dir, &p, &d, &e), 0);
    assert_int_equal(d.count, 0);
    assert_int_equal(p->nfiles, 3);
    /* strcmp order: "100-c" < "10-a" ('0' < '-' is false: '-'=0x2d < '0'=0x30) */
    char *f0 = cb_sprintf("%s/10-a.json", dir), *f1 = cb_sprintf("%s/100-c.json", dir), *f2 = cb_sprintf("%s/20-b.json", dir);
    assert_string_equal(p->files[0], f0);
    assert_string_equal(p->files[1], f1);
    assert_string_equal(p->files[2], f2);
    assert_string_equal(p->clients[0].name, "c");
    assert_string_equal(p->clients[1].name, "b");
    assert_string_equal(p->credentials[0].origin.file, f0);
    /* requirements merged key-wise from two files */
    assert_int_equal(p->requirements.min_sslmode, POLICY_SSL_PREFER);
    assert_int_equal(p->requirements.max_connect_timeout_s, 9);
    assert_int_equal(p->requirements.require_encryption, -1);
    assert_string_equal(p->requirements.max_connect_timeout_origin.file, f2);
    policy_free(p);
    free(f0); free(f1); free(f2); free(sub); free(subj);
    rm_tree(dir);
    free(dir);
}

static void test_duplicates_across_files(void **s)
{
    (void)s;
    char *dir = mkdir_tmp();
    write_file(dir, "10-a.json",
               "{\n  \"credentials\": {\n    \"db\": {\"connection\": \"a\"}\n  },\n"
               "  \"clients\": { \"cli\": {} },\n  \"requirements\": { \"require_encryption\": false }\n}\n");
    write_file(dir, "20-b.json",
               "{\n  \"clients\": {\n      \"cli\": {}\n  },\n  \"credentials\": {\n    \"other\": {\"connection\": \"b\"},\n"
               "    \"db\": {\"connection\": \"b\"}\n  },\n  \"requirements\": {\n    \"require_encryption\": true }\n}\n");
    cb_policy *p = (cb_policy *)1;
    cb_diags d = {0};
    cb_error e = {0};
    assert_int_equal(policy_load(dir, &p, &d, &e), CB_EUSAGE);
    assert_null(p);
    assert_int_equal(d.count, 3);
    char *fa = cb_sprintf("%s/10-a.json", dir), *fb = cb_sprintf("%s/20-b.json", dir);
    char *m1 = cb_sprintf("credential \"db\" already defined in %s:3:5", fa);
    char *m2 = cb_sprintf("client \"cli\" already defined in %s:5:16", fa);
    char *m3 = cb_sprintf("requirement \"require_encryption\" already defined in %s:6:21", fa);
    expect_diag(&d, fb, 7, 5, m1);
    expect_diag(&d, fb, 3, 7, m2);
    expect_diag(&d, fb, 10, 5, m3);
    assert_non_null(strstr(e.msg, "(and 2 more)"));
    free(m1); free(m2); free(m3); free(fa); free(fb);
    cb_diags_free(&d);
    rm_tree(dir);
    free(dir);
}

static void test_unknown_keys(void **s)
{
    (void)s;
    expect_bad("{\n  \"clients\": {},\n  \"credential\": {}\n}", 3, 3, "unknown key \"credential\"");
    expect_bad("{\"credentials\": {\"a\": {\"connection\": \"a\",\n   \"shedule\": \"@daily\"}}}", 2, 4,
               "credentials.a: unknown key \"shedule\"");
    expect_bad("{\"credentials\": {\"a\": {\"connection\": \"a\", \"password\": {\n\t\"length\": 20,\n\t\"lenght\": 20}}}}", 3, 2,
               "credentials.a.password: unknown key \"lenght\"");
    expect_bad("{\"clients\": {\"c\": {\"tools\": [],\n      \"max_row\": 5}}}", 2, 7, "clients.c: unknown key \"max_row\"");
    expect_bad("{\"requirements\": {\n\"min_ssl_mode\": \"require\"}}", 2, 1, "requirements: unknown key \"min_ssl_mode\"");
    /* a typo must not silently disable a rule: the whole policy is refused */
    cb_diags d = load_bad("{\"clients\": {\"c\": {\"mode\": \"read-only\", \"Mode\": \"read-write\"}}}");
    assert_int_equal(d.count, 1);
    cb_diags_free(&d);
}

/* issue 10: connections.*.query_identity, session_settings, requirements.mcp_least_privilege */
static void test_least_privilege(void **s)
{
    (void)s;
    cb_policy *p = load_ok("{\"requirements\": {\"mcp_least_privilege\": true},"
                           " \"connections\": {\"app\": {\"query_identity\": {\"admin_connection\": \"pgadmin\","
                           " \"member_of\": [\"mcp_readers\", \"r2\"], \"ttl_s\": 600, \"connection_limit\": 2}}, \"other\": {}},"
                           " \"clients\": {\"c\": {\"session_settings\": {\"app.current_user_id\": \"${apikey.attr.user_id}\","
                           " \"app.client\": \"x-${client}\"}}}}");
    assert_int_equal(p->requirements.mcp_least_privilege, 1);
    const policy_query_identity *q = policy_query_identity_get(p, "app");
    assert_non_null(q);
    assert_string_equal(q->admin_connection, "pgadmin");
    assert_int_equal(q->nmember_of, 2);
    assert_string_equal(q->member_of[1], "r2");
    assert_int_equal(q->ttl_s, 600);
    assert_int_equal(q->connection_limit, 2);
    assert_null(policy_query_identity_get(p, "other"));
    assert_null(policy_query_identity_get(p, "nope"));
    const policy_client *c = policy_client(p, "c");
    assert_int_equal(c->nsettings, 2);
    assert_string_equal(c->setting_names[0], "app.current_user_id");
    assert_string_equal(c->setting_values[1], "x-${client}");
    /* round trip through policy_to_json */
    json_t *j = policy_to_json(p);
    char *txt = json_dumps(j, 0);
    json_decref(j);
    policy_free(p);
    p = load_ok(txt);
    free(txt);
    assert_int_equal(policy_query_identity_get(p, "app")->ttl_s, 600);
    assert_int_equal(policy_client(p, "c")->nsettings, 2);
    policy_free(p);
    /* defaults */
    p = load_ok("{\"connections\": {\"app\": {\"query_identity\": {\"admin_connection\": \"a\", \"member_of\": [\"r\"]}}}}");
    assert_int_equal(policy_query_identity_get(p, "app")->ttl_s, 3600);
    assert_int_equal(policy_query_identity_get(p, "app")->connection_limit, 4);
    assert_int_equal(p->requirements.mcp_least_privilege, -1);
    policy_free(p);
    /* errors: unknown keys, missing keys, ranges, names, templates */
    static const char *const bad[] = {
        "{\"connections\": {\"app\": {\"query_identiy\": {}}}}",
        "{\"connections\": {\"app\": {\"query_identity\": {\"admin_connection\": \"a\", \"member_of\": [\"r\"], \"ttl\": 5}}}}",
        "{\"connections\": {\"app\": {\"query_identity\": {\"member_of\": [\"r\"]}}}}",
        "{\"connections\": {\"app\": {\"query_identity\": {\"admin_connection\": \"a\"}}}}",
        "{\"connections\": {\"app\": {\"query_identity\": {\"admin_connection\": \"a\", \"member_of\": []}}}}",
        "{\"connections\": {\"app\": {\"query_identity\": {\"admin_connection\": \"app\", \"member_of\": [\"r\"]}}}}",
        "{\"connections\": {\"app\": {\"query_identity\": {\"admin_connection\": \"a\", \"member_of\": [\"r\"], \"ttl_s\": 10}}}}",
        "{\"connections\": {\"app\": {\"query_identity\": {\"admin_connection\": \"a\", \"member_of\": [\"r\"], \"connection_limit\": 0}}}}",
        "{\"connections\": {\"app\": {\"query_identity\": {\"admin_connection\": \"a\", \"member_of\": [\"bad name\"]}}}}",
        "{\"connections\": {\"app\": {\"query_identity\": \"yes\"}}}",
        "{\"connections\": []}",
        "{\"requirements\": {\"mcp_least_privilege\": 1}}",
        "{\"clients\": {\"c\": {\"session_settings\": {\"role\": \"admin\"}}}}",
        "{\"clients\": {\"c\": {\"session_settings\": {\"search_path\": \"x\"}}}}",
        "{\"clients\": {\"c\": {\"session_settings\": {\"App.X\": \"x\"}}}}",
        "{\"clients\": {\"c\": {\"session_settings\": {\"app.x\": \"${env.HOME}\"}}}}",
        "{\"clients\": {\"c\": {\"session_settings\": {\"app.x\": \"${client\"}}}}",
        "{\"clients\": {\"c\": {\"session_settings\": {\"app.x\": \"${apikey.attr.a-b}\"}}}}",
        "{\"clients\": {\"c\": {\"session_settings\": {\"app.x\": 42}}}}",
        "{\"clients\": {\"c\": {\"session_settings\": [\"app.x\"]}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cb_diags d = load_bad(bad[i]);
        cb_diags_free(&d);
    }
    /* a connection or the requirement defined in two files is an error naming both */
    cb_policy *m = policy_new();
    cb_diags d = {0};
    const char *f1 = "{\"connections\": {\"app\": {}}, \"requirements\": {\"mcp_least_privilege\": true}}";
    assert_int_equal(policy_add_buffer(m, "a.json", f1, strlen(f1), &d), 0);
    const char *f2 = "{\"connections\": {\"app\": {}}}";
    assert_true(policy_add_buffer(m, "b.json", f2, strlen(f2), &d) > 0);
    assert_non_null(strstr(d.items[0].message, "connection \"app\" already defined in a.json"));
    const char *f3 = "{\"requirements\": {\"mcp_least_privilege\": false}}";
    assert_true(policy_add_buffer(m, "c.json", f3, strlen(f3), &d) > 0);
    cb_diags_free(&d);
    policy_free(m);
}

static void test_ranges(void **s)
{
    (void)s;
    static const struct { const char *json; const char *msg; } bad[] = {
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"password\":{\"length\":7}}}}", "length: 7 out of range 8..256"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"password\":{\"length\":257}}}}", "out of range 8..256"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"password\":{\"length\":\"32\"}}}}", "must be an integer"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"password\":{\"length\":32.0}}}}", "must be an integer"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"password\":{\"classes\":[]}}}}", "non-empty array"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"password\":{\"classes\":\"lower\"}}}}", "non-empty array"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"password\":{\"classes\":[\"lower\",\"lower\"]}}}}", "listed twice"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"password\":{\"classes\":[\"Lower\"]}}}}", "not one of lower"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"password\":{\"exclude\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}}}", "longer than 128"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"password\":{\"exclude\":\"a\\n\"}}}}", "printable ASCII"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"password\":{\"classes\":[\"digit\"],\"exclude\":\"0123456789\"}}}}", "no character of class digit"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"password\":7}}}", "password: must be an object"},
        {"{\"credentials\":{\"a\":{}}}", "missing required key \"connection\""},
        {"{\"credentials\":{\"a\":{\"connection\":\"\"}}}", "must not be empty"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a b\"}}}", "not a valid name"},
        {"{\"credentials\":{\"a\":{\"connection\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}}", "not a valid name"},
        {"{\"credentials\":{\"a/b\":{\"connection\":\"a\"}}}", "not a valid credential name"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"admin_connection\":\"x;y\"}}}", "not a valid name"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"schedule\":\"\"}}}", "schedule: must not be empty"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"schedule\":5}}}", "schedule: must be a string"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"timezone\":\"../../etc/passwd\"}}}", "not a path"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"timezone\":\"/etc/localtime\"}}}", "not a path"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"timezone\":\"Europe/../UTC\"}}}", "not a path"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"timezone\":\"Europe/\"}}}", "not a path"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"timezone\":\"Mars/Olympus\"}}}", "unknown time zone"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"timezone\":\"Europe\"}}}", "unknown time zone"},   /* a directory */
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"timezone\":\"zone1970.tab\"}}}", "invalid character"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"strategy\":\"dual\"}}}", "not one of single-user, alternating-users"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"strategy\":\"alternating-users\"}}}", "alternating-users needs"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"strategy\":\"alternating-users\",\"users\":[\"x\"]}}}", "exactly two"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"strategy\":\"alternating-users\",\"users\":[\"x\",\"x\"]}}}", "must differ"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"strategy\":\"alternating-users\",\"users\":[\"x\",\"y\"],\"alternate_connection\":\"b\"}}}", "not both"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"strategy\":\"alternating-users\",\"alternate_connection\":\"a\"}}}", "must differ from connection"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"users\":[\"x\",\"y\"]}}}", "only allowed with strategy alternating-users"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"alternate_connection\":\"b\"}}}", "only allowed with strategy alternating-users"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"publish_to\":\"s3://bucket/x\"}}}", "malformed secret reference"},
        {"{\"credentials\":{\"a\":{\"connection\":\"a\",\"publish_to\":\"aws-sm://\"}}}", "malformed secret reference"},
        {"{\"credentials\":[]}", "credentials: must be an object"},
        {"{\"credentials\":{\"a\":[]}}", "credentials.a: must be an object"},
        {"{\"clients\":{\"c\":{\"max_rows\":0}}}", "max_rows: 0 out of range 1..100000"},
        {"{\"clients\":{\"c\":{\"max_rows\":100001}}}", "out of range 1..100000"},
        {"{\"clients\":{\"c\":{\"statement_timeout_ms\":99}}}", "out of range 100..600000"},
        {"{\"clients\":{\"c\":{\"statement_timeout_ms\":600001}}}", "out of range 100..600000"},
        {"{\"clients\":{\"c\":{\"max_bytes\":10}}}", "max_bytes: 10 out of range"},
        {"{\"clients\":{\"c\":{\"rate_limit_per_min\":0}}}", "rate_limit_per_min: 0 out of range"},
        {"{\"clients\":{\"c\":{\"mode\":\"write\"}}}", "not one of read-only, read-write"},
        {"{\"clients\":{\"c\":{\"reveal\":\"yes\"}}}", "reveal: must be true or false"},
        {"{\"clients\":{\"c\":{\"sensitive_params\":0}}}", "sensitive_params: must be true or false"},
        {"{\"clients\":{\"c\":{\"tools\":\"all\"}}}", "must be \\\"*\\\" or an array"},
        {"{\"clients\":{\"c\":{\"tools\":[\"*\",\"x\"]}}}", "must be the only entry"},
        {"{\"clients\":{\"c\":{\"tools\":[\"x y\"]}}}", "not a valid name"},
        {"{\"clients\":{\"c\":{\"connections\":[1]}}}", "must be a string"},
        {"{\"clients\":{\"c d\":{}}}", "not a valid client name"},
        {"{\"requirements\":{\"min_sslmode\":\"required\"}}", "not one of disable, allow"},
        {"{\"requirements\":{\"max_connect_timeout_s\":0}}", "out of range 1..600"},
        {"{\"requirements\":{\"max_connect_timeout_s\":601}}", "out of range 1..600"},
        {"{\"requirements\":{\"require_encryption\":\"true\"}}", "must be true or false"},
        {"{\"requirements\":[]}", "requirements: must be an object"},
        {"{\"$schema\":1}", "$schema: must be a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cb_diags d = load_bad(bad[i].json);
        int found = 0;
        for (size_t k = 0; k < d.count; k++) {
            /* the table escapes quotes for C; compare against the unescaped message */
            char want[200];
            size_t o = 0;
            for (const char *q = bad[i].msg; *q && o < sizeof want - 1; q++) {
                if (q[0] == '\\' && q[1] == '"') continue;
                want[o++] = *q;
            }
            want[o] = 0;
            if (strstr(d.items[k].message, want)) found = 1;
        }
        if (!found) fail_msg("case %zu: %s: got '%s'", i, bad[i].json, d.items[0].message);
        cb_diags_free(&d);
    }
    /* boundaries accepted */
    static const char *const good[] = {
        "{\"credentials\":{\"a\":{\"connection\":\"a\",\"password\":{\"length\":8}}}}",
        "{\"credentials\":{\"a\":{\"connection\":\"a\",\"password\":{\"length\":256,\"exclude\":\"\"}}}}",
        "{\"credentials\":{\"a\":{\"connection\":\"a\",\"timezone\":\"America/Argentina/Buenos_Aires\"}}}",
        "{\"credentials\":{\"a\":{\"connection\":\"a\",\"timezone\":\"Etc/GMT+5\"}}}",
        "{\"credentials\":{\"a\":{\"connection\":\"a\",\"strategy\":\"alternating-users\",\"alternate_connection\":\"b\"}}}",
        "{\"credentials\":{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":{\"connection\":\"a.b-c_D9\"}}}",
        "{\"clients\":{\"c\":{\"max_rows\":1,\"statement_timeout_ms\":100,\"max_bytes\":1024,\"rate_limit_per_min\":1}}}",
        "{\"clients\":{\"c\":{\"max_rows\":100000,\"statement_timeout_ms\":600000,\"max_bytes\":1073741824,\"rate_limit_per_min\":100000}}}",
        "{\"clients\":{\"c\":{\"tools\":[\"security.rotateKey\"]}}}",
        "{\"requirements\":{\"max_connect_timeout_s\":1,\"min_sslmode\":\"disable\"}}",
        "{\"requirements\":{\"max_connect_timeout_s\":600}}",
        "{\"$schema\":\"./schema.json\"}",
        "{}",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) policy_free(load_ok(good[i]));
}

/* Positions on multi-line files: nested keys with the same name, escapes, UTF-8. */
static void test_positions(void **s)
{
    (void)s;
    const char *text =
        "{\n"
        "  \"credentials\": {\n"
        "    \"one\": {\n"
        "      \"connection\": \"a\",\n"
        "      \"password\": { \"length\": 20 }\n"
        "    },\n"
        "    \"two\": {\n"
        "      \"connection\": \"b\",\n"
        "      \"password\": {\n"
        "        \"classes\": [\"lower\",\n"
        "                    \"upper\", \"cyrillic\"],\n"
        "        \"length\": 2000\n"
        "      }\n"
        "    }\n"
        "  },\n"
        "  \"clients\": { \"\\u00e9t\\u00e9\": { \"mode\": \"x\" }, \"ok\": { \"max_rows\": -1 } }\n"
        "}\n";
    cb_diags d = load_bad(text);
    expect_diag(&d, "t.json", 12, 9, "credentials.two.password.length: 2000 out of range");
    expect_diag(&d, "t.json", 11, 30, "\"cyrillic\" is not one of");
    /* "\u00e9t\u00e9" is not a valid name: reported at the key, columns count characters */
    expect_diag(&d, "t.json", 16, 16, "not a valid client name");
    expect_diag(&d, "t.json", 16, 35, "mode: \"x\" is not one of");
    expect_diag(&d, "t.json", 16, 58, "clients.ok.max_rows: -1 out of range");
    assert_int_equal(d.count, 5);
    cb_diags_free(&d);

    /* a multibyte character earlier on the line counts as one column */
    d = load_bad("{\"clients\": {\"c\": {\"tools\": [\"\xc3\xa9\xc3\xa9\"], \"mode\": 1}}}");
    expect_diag(&d, "t.json", 1, 30, "tools: \"????\" is not a valid name");
    expect_diag(&d, "t.json", 1, 37, "mode: must be one of");
    cb_diags_free(&d);

    /* CRLF line endings */
    d = load_bad("{\r\n  \"clients\": {\r\n    \"c\": { \"bogus\": 1 }\r\n  }\r\n}\r\n");
    expect_diag(&d, "t.json", 3, 12, "clients.c: unknown key \"bogus\"");
    cb_diags_free(&d);
}

static void test_syntax_errors(void **s)
{
    (void)s;
    expect_bad("{\n  \"clients\": {\n    \"c\": {},\n  }\n}\n", 4, 3, "invalid JSON");
    expect_bad("", 1, 1, "invalid JSON");
    expect_bad("{\"clients\": {}} trailing", 1, 24, "invalid JSON");
    expect_bad("[1, 2]", 1, 1, "top level must be a JSON object");
    expect_bad("\n\n  \"str\"", 3, 7, "invalid JSON");
    /* a key defined twice in one object is refused (jansson would otherwise keep the last) */
    expect_bad("{\"clients\": {\"c\": {\"mode\": \"read-only\",\n \"mode\": \"read-write\"}}}", 2, 7, "duplicate object key");
    expect_bad("{\"a\": \"\\u0000\"}", 1, 14, "invalid JSON");
    expect_bad("{\"a\": \"\xff\"}", 1, 7, "invalid JSON");
    /* jansson would skip a NUL after a number; we refuse it where it is */
    cb_diags dn = {0};
    cb_error en = {0};
    cb_policy *pn = NULL;
    static const char nul[] = "{\n  \"clients\": {\"c\": {\"max_rows\": 30\0, \"mode\": 1}}}";
    assert_int_equal(policy_load_buffer("t.json", nul, sizeof nul - 1, &pn, &dn, &en), CB_EUSAGE);
    assert_null(pn);
    expect_diag(&dn, "t.json", 2, 35, "NUL byte");
    cb_diags_free(&dn);
    /* nesting: 1000 levels parse (scanner recursion is bounded), 3000 are refused by jansson */
    for (int depth = 1000; depth <= 3000; depth += 2000) {
        cb_buf b;
        cb_buf_init(&b, 0);
        cb_buf_puts(&b, "{\"a\":");
        for (int i = 0; i < depth; i++) cb_buf_puts(&b, "[");
        for (int i = 0; i < depth; i++) cb_buf_puts(&b, "]");
        cb_buf_puts(&b, "}");
        cb_diags d = {0};
        cb_error e = {0};
        cb_policy *p;
        assert_int_equal(policy_load_buffer("t.json", b.data, b.len, &p, &d, &e), CB_EUSAGE);
        assert_int_equal(d.count, 1);
        if (depth == 1000) expect_diag(&d, "t.json", 1, 2, "unknown key \"a\"");
        else assert_non_null(strstr(d.items[0].message, "invalid JSON"));
        cb_buf_free(&b);
        cb_diags_free(&d);
    }
}

static void test_dirs(void **s)
{
    (void)s;
    cb_policy *p = (cb_policy *)1;
    cb_diags d = {0};
    cb_error e = {0};
    assert_int_equal(policy_load("/nonexistent/policies", &p, &d, &e), CB_EUSAGE);
    assert_null(p);
    assert_int_equal(e.kind, CB_K_NOTFOUND);
    assert_int_equal(d.count, 1);
    assert_string_equal(d.items[0].file, "/nonexistent/policies");
    assert_non_null(strstr(e.msg, "/nonexistent/policies: policies directory"));
    cb_diags_free(&d);

    /* diags may be NULL */
    assert_int_equal(policy_load("/nonexistent/policies", &p, NULL, &e), CB_EUSAGE);

    char *dir = mkdir_tmp();
    assert_int_equal(policy_load(dir, &p, &d, &e), 0);
    assert_non_null(p);
    assert_true(policy_is_empty(p));
    assert_int_equal(p->nfiles, 0);
    assert_null(policy_client(p, "local"));
    policy_free(p);

    /* one good and one bad file: nothing is loaded, the good file's content is not used */
    write_file(dir, "10-ok.json", "{\"clients\": {\"local\": {\"tools\": \"*\"}}}");
    write_file(dir, "20-bad.json", "{\"clients\": {\"x\": {\"mode\": 3}}}");
    p = (cb_policy *)1;
    assert_int_equal(policy_load(dir, &p, &d, &e), CB_EUSAGE);
    assert_null(p);
    assert_int_equal(d.count, 1);
    cb_diags_free(&d);

    /* a file that is too large */
    char *big = cb_malloc(POLICY_MAX_FILE_BYTES + 10);
    memset(big, ' ', POLICY_MAX_FILE_BYTES + 9);
    big[0] = '{';
    big[POLICY_MAX_FILE_BYTES + 8] = '}';
    big[POLICY_MAX_FILE_BYTES + 9] = 0;
    write_file(dir, "20-bad.json", big);
    free(big);
    assert_int_equal(policy_load(dir, &p, &d, &e), CB_EUSAGE);
    assert_non_null(strstr(d.items[0].message, "larger than"));
    cb_diags_free(&d);
    rm_tree(dir);
    free(dir);
}

static const char *last_tz;
static int fake_cron(const char *expr, const char *tz, cb_error *e)
{
    last_tz = tz;
    if (strcmp(expr, "0 3 * * *") == 0) return 0;
    return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "bad cron '%s'", expr);
}

static void test_schedule_hook(void **s)
{
    (void)s;
    /* default: only non-empty string */
    policy_free(load_ok("{\"credentials\":{\"a\":{\"connection\":\"a\",\"schedule\":\"whenever\"}}}"));
    policy_schedule_validator = fake_cron;
    cb_policy *p = load_ok("{\"credentials\":{\"a\":{\"connection\":\"a\",\"schedule\":\"0 3 * * *\",\"timezone\":\"Asia/Tokyo\"}}}");
    assert_string_equal(last_tz, "Asia/Tokyo");
    policy_free(p);
    expect_bad("{\"credentials\":{\"a\":{\"connection\":\"a\",\n  \"schedule\":\"61 * * * *\"}}}", 2, 3,
               "credentials.a.schedule: bad cron '61 * * * *'");
    policy_schedule_validator = NULL;
}

static void test_round_trip(void **s)
{
    (void)s;
    cb_policy *p = load_ok(FULL);
    json_t *j = policy_to_json(p);
    char *txt = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    cb_policy *q = load_ok(txt);
    json_t *j2 = policy_to_json(q);
    assert_true(json_equal(j, j2));
    assert_int_equal(q->ncredentials, 2);
    assert_int_equal(q->nclients, 2);
    json_decref(j);
    json_decref(j2);
    free(txt);
    policy_free(p);
    policy_free(q);
}

static void test_scanner(void **s)
{
    (void)s;
    const char *t = "{ \"a\" : [ 1, {\"b\\\"c\": null}, -2.5e3 ], \"\\ud83d\\ude00\": true }";
    jdoc_pos *p = jdoc_scan(t, strlen(t));
    assert_non_null(p);
    const jdoc_pos *a = jdoc_member(p, "a");
    assert_non_null(a);
    assert_int_equal(a->key_col, 3);
    assert_int_equal(a->col, 9);
    const jdoc_pos *o = jdoc_item(a, 1);
    assert_non_null(o);
    assert_int_equal(o->col, 14);
    assert_non_null(jdoc_member(o, "b\"c"));
    assert_null(jdoc_item(a, 3));
    const jdoc_pos *smile = jdoc_member(p, "\xf0\x9f\x98\x80");
    assert_non_null(smile);
    assert_int_equal(smile->key_col, 40);
    assert_null(jdoc_member(a, "x"));   /* array has no members */
    jdoc_pos_free(p);
    assert_null(jdoc_scan("{\"a\":}", 6));
    assert_null(jdoc_scan("{\"a\":1", 6));
    assert_null(jdoc_scan("{} x", 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_access),
        cmocka_unit_test(test_tool_classes),
        cmocka_unit_test(test_merge_order_and_selection),
        cmocka_unit_test(test_duplicates_across_files),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_least_privilege),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_dirs),
        cmocka_unit_test(test_schedule_hook),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_scanner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
