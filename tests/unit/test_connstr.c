/* Connection strings: every format, round trips with hostile passwords, redaction,
 * malformed input, assessment findings. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "conn/conn_assess.h"
#include "conn/connstr.h"

static conn_url P(const char *s, const char *hint)
{
    conn_url u;
    cb_error e = {0};
    int rc = conn_url_parse(s, hint, &u, &e);
    if (rc) fail_msg("parse failed for [%s]: %s", s, e.msg);
    return u;
}

static void expect_err(const char *s, const char *hint, const char *msgpart, const char *secret)
{
    conn_url u;
    cb_error e = {0};
    int rc = conn_url_parse(s, hint, &u, &e);
    if (rc == 0) fail_msg("expected an error for [%s]", s);
    assert_int_equal(e.kind, CB_K_INVALID);
    if (msgpart && !strstr(e.msg, msgpart)) fail_msg("message [%s] lacks [%s]", e.msg, msgpart);
    if (secret && strstr(e.msg, secret)) fail_msg("message [%s] leaks the secret", e.msg);
}

static void test_postgres_uri(void **st)
{
    (void)st;
    conn_url u = P("postgresql://app%40x:p%40ss%3Aw@db.example.com:6543/my%20db?sslmode=verify-full&application_name=a%26b", NULL);
    assert_string_equal(u.engine, "postgres");
    assert_int_equal(u.format, CONN_FMT_URI);
    assert_string_equal(u.scheme, "postgresql");
    assert_string_equal(u.user, "app@x");
    assert_string_equal(u.password, "p@ss:w");
    assert_string_equal(u.host, "db.example.com");
    assert_int_equal(u.port, 6543);
    assert_string_equal(u.dbname, "my db");
    assert_string_equal(conn_url_param(&u, "SSLMODE"), "verify-full");
    assert_string_equal(conn_url_param(&u, "application_name"), "a&b");
    conn_url_free(&u);

    u = P("postgres://[::1]:5433/x", "postgresql");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 5433);
    assert_null(u.user);
    assert_null(u.password);
    char *f = conn_url_format(&u);
    assert_string_equal(f, "postgres://[::1]:5433/x");
    cb_free_secret(f);
    conn_url_free(&u);

    u = P("postgresql://", NULL);
    assert_null(u.host);
    assert_int_equal(u.port, 0);
    conn_url_free(&u);

    u = P("postgresql://u@/db?host=%2Fvar%2Frun&port=5439&ssl=true", NULL);
    assert_string_equal(u.host, "/var/run");
    assert_int_equal(u.port, 5439);
    assert_string_equal(conn_url_param(&u, "sslmode"), "require");
    assert_string_equal(u.user, "u");
    conn_url_free(&u);

    u = P("postgresql://u:@h", NULL);
    assert_string_equal(u.password, "");
    conn_url_free(&u);
}

static void test_keyvalue(void **st)
{
    (void)st;
    conn_url u = P("host=localhost port=5432 dbname = 'my db' user=bob password='it\\'s a \\\\ secret' sslmode=require connect_timeout=5 options='-c search_path=x'", NULL);
    assert_string_equal(u.engine, "postgres");
    assert_int_equal(u.format, CONN_FMT_KEYVALUE);
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 5432);
    assert_string_equal(u.dbname, "my db");
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.password, "it's a \\ secret");
    assert_string_equal(conn_url_param(&u, "options"), "-c search_path=x");
    assert_string_equal(conn_url_param(&u, "connect_timeout"), "5");
    char *r = conn_url_redacted(&u);
    assert_non_null(strstr(r, "password=****"));
    assert_null(strstr(r, "secret"));
    free(r);
    char *l = conn_url_to_libpq(&u);
    assert_non_null(strstr(l, "password='it\\'s a \\\\ secret'"));
    assert_non_null(strstr(l, "dbname='my db'"));
    cb_free_secret(l);
    conn_url_free(&u);

    u = P("user=x password=unq\\ uoted", NULL); /* libpq: backslash escapes in unquoted values */
    assert_string_equal(u.password, "unq uoted");
    conn_url_free(&u);
}

static void test_mysql(void **st)
{
    (void)st;
    conn_url u = P("mysql://root:pa%23ss@127.0.0.1:3307/shop?ssl-mode=REQUIRED", NULL);
    assert_string_equal(u.engine, "mysql");
    assert_string_equal(u.password, "pa#ss");
    assert_int_equal(u.port, 3307);
    assert_string_equal(u.dbname, "shop");
    assert_int_equal(conn_default_port(u.engine), 3306);
    conn_url_free(&u);
}

static void test_sqlserver_forms(void **st)
{
    (void)st;
    conn_url u = P("sqlserver://db.corp:1444;databaseName=Sales;user=sa;password={a;b}}c};encrypt=true;trustServerCertificate=false", NULL);
    assert_string_equal(u.engine, "sqlserver");
    assert_string_equal(u.host, "db.corp");
    assert_int_equal(u.port, 1444);
    assert_string_equal(u.dbname, "Sales");
    assert_string_equal(u.user, "sa");
    assert_string_equal(u.password, "a;b}c");
    assert_string_equal(conn_url_param(&u, "Encrypt"), "true");
    char *f = conn_url_format(&u);
    conn_url v = P(f, "sqlserver");
    assert_string_equal(v.password, "a;b}c");
    assert_int_equal(v.port, 1444);
    conn_url_free(&v);
    cb_free_secret(f);
    conn_url_free(&u);

    u = P("jdbc:sqlserver://;serverName=fe80::1;portNumber=1500;databaseName=x", NULL);
    assert_string_equal(u.host, "fe80::1");
    assert_int_equal(u.port, 1500);
    f = conn_url_format(&u);
    assert_string_equal(f, "jdbc:sqlserver://;serverName=fe80::1;portNumber=1500;databaseName=x");
    cb_free_secret(f);
    conn_url_free(&u);
    expect_err("sqlserver://;serverName=a/b", NULL, "invalid host", NULL);

    u = P("jdbc:sqlserver://host\\INST;databaseName=x", NULL);
    assert_string_equal(u.host, "host");
    assert_string_equal(conn_url_param(&u, "instanceName"), "INST");
    conn_url_free(&u);

    u = P("mssql://sa:p%3Bw@10.0.0.5:1433/master", NULL);
    assert_string_equal(u.engine, "sqlserver");
    assert_string_equal(u.password, "p;w");
    assert_string_equal(u.dbname, "master");
    conn_url_free(&u);

    u = P("sqlserver://sa:pw@host/SQLEXPRESS?database=app&encrypt=true", NULL);
    assert_string_equal(conn_url_param(&u, "instance"), "SQLEXPRESS");
    assert_string_equal(u.dbname, "app");
    f = conn_url_format(&u);
    assert_string_equal(f, "sqlserver://sa:pw@host/SQLEXPRESS?database=app&encrypt=true");
    cb_free_secret(f);
    conn_url_free(&u);
}

static void test_ado(void **st)
{
    (void)st;
    conn_url u = P("Server=tcp:sql.example.com,1433;Initial Catalog=Shop;Persist Security Info=False;"
                   "User ID=app;Password=\"x;y\"\"z\";MultipleActiveResultSets=False;Encrypt=True;"
                   "TrustServerCertificate=False;Connection Timeout=30;", NULL);
    assert_string_equal(u.engine, "sqlserver");
    assert_int_equal(u.format, CONN_FMT_ADO);
    assert_string_equal(u.host, "sql.example.com");
    assert_int_equal(u.port, 1433);
    assert_string_equal(u.dbname, "Shop");
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "x;y\"z");
    assert_string_equal(conn_url_param(&u, "connection timeout"), "30");
    char *r = conn_url_redacted(&u);
    assert_non_null(strstr(r, "Password=****;"));
    assert_null(strstr(r, "x;y"));
    free(r);
    conn_url_free(&u);

    u = P("data source = (local) ; UID = 'sa' ; PWD='it''s';database=m", NULL);
    assert_string_equal(u.host, "(local)");
    assert_string_equal(u.user, "sa");
    assert_string_equal(u.password, "it's");
    assert_string_equal(u.dbname, "m");
    conn_url_free(&u);

    u = P("User=sa;Password=x;Address=h", NULL); /* shared key names, ';' decides */
    assert_string_equal(u.engine, "sqlserver");
    conn_url_free(&u);
}

static void test_sqlite(void **st)
{
    (void)st;
    conn_url u = P("sqlite:///var/lib/app.db", NULL);
    assert_string_equal(u.engine, "sqlite");
    assert_string_equal(u.dbname, "/var/lib/app.db");
    char *f = conn_url_format(&u);
    assert_string_equal(f, "sqlite:///var/lib/app.db");
    cb_free_secret(f);
    conn_url_free(&u);
    u = P("./data/app.sqlite", NULL);
    assert_string_equal(u.engine, "sqlite");
    assert_string_equal(u.dbname, "./data/app.sqlite");
    conn_url_free(&u);
}

static void test_engine_hint(void **st)
{
    (void)st;
    expect_err("postgresql://u:hunter2secret@h/db", "sqlserver", "expected sqlserver", "hunter2secret");
    expect_err("Server=h;Password=hunter2secret", "mysql", NULL, "hunter2secret");
    conn_url u = P("host=h user=u", "postgres");
    conn_url_free(&u);
}

static void test_malformed(void **st)
{
    (void)st;
    const char *pw = "Sup3rS3cret";
    expect_err("postgresql://u:Sup3rS3cret@h:99999/db", NULL, "invalid port", pw);
    expect_err("postgresql://u:Sup3rS3cret@h:12ab/db", NULL, "invalid port", pw);
    expect_err("postgresql://u:Sup3rS3cret%zz@h/db", NULL, "invalid percent-encoding", pw);
    expect_err("postgresql://u:Sup3rS3cret%00@h/db", NULL, "%00", pw);
    expect_err("postgresql://u:Sup3rS3cret@[::1/db", NULL, "IPv6", pw);
    expect_err("postgresql://u:Sup3rS3cret@h/db?sslmode", NULL, "separator", pw);
    expect_err("postgresql://u:Sup3rS3cret@h1,h2/db", NULL, "multiple hosts", pw);
    expect_err("host=h password='Sup3rS3cret", NULL, "unterminated quote at position 16", pw);
    expect_err("host=h Sup3rS3cret", NULL, "missing", pw);
    expect_err("Server=h;Password=\"Sup3rS3cret", NULL, "unterminated quote at position 18", pw);
    expect_err("Server=h;Password=\"Sup3rS3cret\"x;", NULL, "unexpected character", pw);
    expect_err("Server=h;Sup3rS3cret;", NULL, "missing", pw);
    expect_err("sqlserver://h;password={Sup3rS3cret", NULL, "unterminated brace", pw);
    expect_err("Server=h,port99;Password=Sup3rS3cret", NULL, "invalid port", pw);
    expect_err("ftp://u:Sup3rS3cret@h", NULL, "unsupported scheme", pw);
    expect_err("   ", NULL, "empty", NULL);
    expect_err("Sup3rS3cret", "postgres", NULL, pw);
    /* an ADO/Npgsql-style string forced to postgres must not hide the password in a value */
    expect_err("Host=h;Username=u;Password=Sup3rS3cret", "postgres", "invalid option name at position 0", pw);
}

/* Hostile passwords survive format -> parse in every format. */
static const char *const nasty[] = {
    "p@ss:w/o?r#d%25;'\"=\\ x",
    " leading and trailing ",
    "''\"\"\\\\;;==@@",
    "}{}}{;",
    "%00%zz%",
    "tab\there",
    "ünïcödé€",
    "a",
    "",
    "&k=v?x=y#frag",
    "$(rm -rf /)`x`",
};
static const char *const bases[] = {
    "postgresql://u@h:5432/db?sslmode=require",
    "postgres://u@[::1]/db",
    "host=h port=5432 dbname=db user=u sslmode=disable",
    "mysql://u@h:3306/db",
    "mssql://u@h:1433/db",
    "sqlserver://h:1433;databaseName=db;user=u;encrypt=true",
    "sqlserver://u@h/INST?database=db",
    "Server=tcp:h,1433;Database=db;User Id=u;Encrypt=True",
};

static void test_roundtrip_property(void **st)
{
    (void)st;
    for (size_t b = 0; b < sizeof bases / sizeof *bases; b++)
        for (size_t i = 0; i < sizeof nasty / sizeof *nasty; i++) {
            conn_url u = P(bases[b], NULL);
            conn_url_set_password(&u, nasty[i]);
            const char *user = nasty[(i + 1) % (sizeof nasty / sizeof *nasty)];
            conn_url_set_user(&u, *user ? user : "u"); /* an empty user means "default" */
            char *f = conn_url_format(&u);
            conn_url v;
            cb_error e = {0};
            if (conn_url_parse(f, u.engine, &v, &e)) fail_msg("base %zu pw %zu: reparse failed: %s", b, i, e.msg);
            if (!v.password || !v.user) fail_msg("base %zu pw %zu: password or user lost", b, i);
            assert_string_equal(v.password, nasty[i]);
            assert_string_equal(v.user, u.user);
            assert_int_equal(v.format, u.format);
            assert_int_equal(v.port, u.port);
            if (u.host) assert_string_equal(v.host, u.host);
            if (u.dbname) assert_string_equal(v.dbname, u.dbname);
            assert_int_equal(v.nparams, u.nparams);
            for (size_t k = 0; k < u.nparams; k++) {
                assert_string_equal(v.params[k].key, u.params[k].key);
                assert_string_equal(v.params[k].value, u.params[k].value);
            }
            /* stable: formatting the re-parsed value gives the same text */
            char *f2 = conn_url_format(&v);
            assert_string_equal(f, f2);
            /* redacted form never holds the password */
            char *r = conn_url_redacted(&v);
            if (strlen(nasty[i]) >= 3) assert_null(strstr(r, nasty[i]));
            assert_non_null(strstr(r, "****"));
            if (!strcmp(u.engine, "postgres")) {
                char *l = conn_url_to_libpq(&v);
                conn_url w;
                if (conn_url_parse(l, "postgres", &w, &e)) fail_msg("libpq conninfo reparse failed: %s", e.msg);
                assert_string_equal(w.password, nasty[i]);
                conn_url_free(&w);
                cb_free_secret(l);
            }
            free(r);
            cb_free_secret(f);
            cb_free_secret(f2);
            conn_url_free(&u);
            conn_url_free(&v);
        }
}

static void test_redacted(void **st)
{
    (void)st;
    conn_url u = P("postgresql://app:s3cr3t@db/x", NULL);
    char *r = conn_url_redacted(&u);
    assert_string_equal(r, "postgresql://app:****@db/x");
    free(r);
    conn_url_free(&u);
    u = P("mysql://a:b@h/d?sslpassword=keypass", NULL);
    r = conn_url_redacted(&u);
    assert_null(strstr(r, "keypass"));
    free(r);
    conn_url_free(&u);
}

static void test_redact_text(void **st)
{
    (void)st;
    struct { const char *in, *pw, *bad; } cases[] = {
        {"could not connect: postgresql://bob:hunter2@db:5432/x failed", NULL, "hunter2"},
        {"error in 'host=h user=u password=topsecret sslmode=disable'", NULL, "topsecret"},
        {"Login failed: Server=h;User Id=sa;Password=Tr0ub4dor&3;Encrypt=True", NULL, "Tr0ub4dor"},
        {"password='quoted secret' x", NULL, "quoted secret"},
        {"PWD=\"a;b\";", NULL, "a;b"},
        {"ALTER ROLE x PASSWORD 'plainpw'", NULL, "plainpw"},
        {"the value zq9!xx appears raw", "zq9!xx", "zq9!xx"},
        {"encoded p%40ss appears", "p@ss", "p%40ss"},
        {"mysql://u:p@ss@host/db", NULL, "ss@host"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *r = conn_redact_text(cases[i].in, cases[i].pw);
        if (strstr(r, cases[i].bad)) fail_msg("case %zu not redacted: %s", i, r);
        assert_non_null(strstr(r, "****"));
        cb_free_secret(r);
    }
    char *r = conn_redact_text("nothing to see here", "abc");
    assert_string_equal(r, "nothing to see here");
    cb_free_secret(r);
}

/* names (logins, hosts, databases) leave text only where they stand as whole words */
static void test_redact_names(void **state)
{
    (void)state;
    const char *names[] = {"app", NULL, "db.example.com", "x", "file:///srv/ref/app"};
    char *r = conn_redact_names("role \"app\" on db.example.com: application app_x app; see file:///srv/ref/app",
                                names, 5);
    assert_string_equal(r, "role \"****\" on ****: application app_x ****; see ****");
    free(r);
    assert_null(conn_redact_names(NULL, names, 5));
    r = conn_redact_names("x marks", names, 5);   /* a name shorter than 2 is left alone */
    assert_string_equal(r, "x marks");
    free(r);
}

static int has_check(json_t *f, const char *check, const char *sev)
{
    size_t i;
    json_t *x;
    json_array_foreach(f, i, x) {
        if (!strcmp(json_string_value(json_object_get(x, "check")), check) &&
            (!sev || !strcmp(json_string_value(json_object_get(x, "severity")), sev))) {
            assert_non_null(json_string_value(json_object_get(x, "message")));
            assert_non_null(json_string_value(json_object_get(x, "fix")));
            return 1;
        }
    }
    return 0;
}

static json_t *assess(const char *s)
{
    conn_url u = P(s, NULL);
    json_t *f = json_array();
    int n = conn_assess(&u, f);
    assert_int_equal((size_t)n, json_array_size(f));
    char *dump = json_dumps(f, 0);
    if (u.password && strpbrk(u.password, "0123456789$!") && strstr(dump, u.password)) fail_msg("finding leaks password");
    free(dump);
    conn_url_free(&u);
    return f;
}

static void test_assess(void **st)
{
    (void)st;
    json_t *f = assess("postgresql://app:password@db.example.com/x?sslmode=disable");
    assert_true(has_check(f, "tls_mode", "high"));
    assert_true(has_check(f, "connect_timeout", "low"));
    assert_true(has_check(f, "password_common", "high"));
    assert_true(has_check(f, "password_short", "high"));
    assert_true(has_check(f, "default_port_public", "low"));
    json_decref(f);

    f = assess("postgresql://app:Xk3$9vQ!mZ2#pL7w@10.1.2.3/x?sslmode=verify-full&sslrootcert=/ca.pem&connect_timeout=10");
    assert_int_equal(json_array_size(f), 0);
    json_decref(f);

    f = assess("postgresql://app:Xk3$9vQ!mZ2#pL7w@127.0.0.1/x?sslmode=verify-full&connect_timeout=10");
    assert_true(has_check(f, "tls_rootcert", "medium"));
    assert_false(has_check(f, "default_port_public", NULL));
    json_decref(f);

    f = assess("host=db.example.com port=6432 user=appuser password=appuser sslmode=prefer");
    assert_true(has_check(f, "tls_mode", "medium"));
    assert_true(has_check(f, "password_equals_user", "high"));
    assert_false(has_check(f, "default_port_public", NULL));
    json_decref(f);

    f = assess("host=h user=u password=lowercaseonly1 sslmode=require connect_timeout=3");
    assert_true(has_check(f, "password_classes", "medium"));
    assert_true(has_check(f, "tls_verify", "low"));
    json_decref(f);

    f = assess("Server=tcp:sql.example.com,1433;Database=d;User Id=u;Password=Xk3$9vQ!mZ2#pL7w;Encrypt=False;TrustServerCertificate=True");
    assert_true(has_check(f, "tls_mode", "high"));
    assert_true(has_check(f, "tls_trust_server_certificate", "high"));
    assert_true(has_check(f, "connect_timeout", "low"));
    assert_true(has_check(f, "default_port_public", "low"));
    json_decref(f);

    f = assess("Server=192.168.1.4;User Id=u;Password=Xk3$9vQ!mZ2#pL7w;Encrypt=True;Connect Timeout=15");
    assert_int_equal(json_array_size(f), 0);
    json_decref(f);

    f = assess("Server=192.168.1.4;User Id=u;Password=Xk3$9vQ!mZ2#pL7w;Connect Timeout=15");
    assert_true(has_check(f, "tls_mode", "medium"));
    json_decref(f);

    f = assess("mysql://u:Xk3$9vQ!mZ2#pL7w@localhost/db?ssl-mode=DISABLED");
    assert_true(has_check(f, "tls_mode", "high"));
    json_decref(f);

    f = assess("sqlite:///tmp/x.db");
    assert_int_equal(json_array_size(f), 0);
    json_decref(f);

    assert_true(conn_host_is_private("::1"));
    assert_true(conn_host_is_private("172.20.0.1"));
    assert_false(conn_host_is_private("172.32.0.1"));
    assert_false(conn_host_is_private("8.8.8.8"));
    assert_true(conn_host_is_private("fd00::1"));

    char a[65], b[65], c[65];
    assert_int_equal(conn_password_fingerprint("same", (const unsigned char *)"k", 1, a), 0);
    assert_int_equal(conn_password_fingerprint("same", (const unsigned char *)"k", 1, b), 0);
    assert_int_equal(conn_password_fingerprint("other", (const unsigned char *)"k", 1, c), 0);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(conn_password_fingerprint("abc", NULL, 0, c), 0);
    assert_string_equal(c, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_control_characters(void **st)
{
    (void)st;
    /* a newline inside (stored, then in logs and crontabs) is refused in every form */
    expect_err("postgresql://app:pw@db/app\nx", NULL, "control character", "pw");
    expect_err("host=db user=app\rpassword=s3cret dbname=x", NULL, "control character", "s3cret");
    expect_err("Server=db;Database=x\x01;User Id=sa;Password=s3cret", NULL, "control character", "s3cret");
    expect_err("mysql://u:p@h/d\x7f", NULL, "control character", NULL);
    /* surrounding whitespace (stdin's newline) is still trimmed, percent-encoding still works */
    conn_url u = P("  postgresql://app:p%0Aw@db/app\n", NULL);
    assert_string_equal(u.password, "p\nw");
    conn_url_free(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postgres_uri),
        cmocka_unit_test(test_keyvalue),
        cmocka_unit_test(test_mysql),
        cmocka_unit_test(test_sqlserver_forms),
        cmocka_unit_test(test_ado),
        cmocka_unit_test(test_sqlite),
        cmocka_unit_test(test_engine_hint),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_roundtrip_property),
        cmocka_unit_test(test_redacted),
        cmocka_unit_test(test_redact_text),
        cmocka_unit_test(test_redact_names),
        cmocka_unit_test(test_assess),
        cmocka_unit_test(test_control_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
