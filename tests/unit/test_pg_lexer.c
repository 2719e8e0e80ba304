/* The PostgreSQL lexer (tokens, every quoting and escape form) and the read-only text
 * check (first keyword, one statement, writes, locking clauses, and every deny-list entry
 * under every spelling the server accepts). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "databases/pg_lexer.h"

#define MAXT 64
typedef struct { int n, err; pg_token t[MAXT]; char errmsg[160]; } toks;

static void lex(const char *sql, int scs, toks *o)
{
    pg_lexer lx;
    memset(o, 0, sizeof *o);
    pg_lex_init(&lx, sql, strlen(sql), scs);
    for (;;) {
        pg_token t;
        int r = pg_lex_next(&lx, &t);
        if (r < 0) { o->err = 1; snprintf(o->errmsg, sizeof o->errmsg, "%s", lx.err); return; }
        if (r == 0) return;
        if (o->n < MAXT) o->t[o->n++] = t;
        else pg_token_free(&t);
    }
}
static void unlex(toks *o) { for (int i = 0; i < o->n; i++) pg_token_free(&o->t[i]); }

/* The decoded value of the single token of kind k that sql must lex to. */
static void one(const char *sql, int scs, pg_tok_kind k, const char *val)
{
    toks o;
    lex(sql, scs, &o);
    if (o.err || o.n != 1 || o.t[0].kind != k || strcmp(o.t[0].val ? o.t[0].val : "", val)) {
        print_error("%s: err=%d (%s) n=%d kind=%d val='%s' want kind=%d val='%s'\n", sql, o.err, o.errmsg, o.n,
                    o.n ? (int)o.t[0].kind : -1, o.n && o.t[0].val ? o.t[0].val : "", (int)k, val);
        unlex(&o);
        fail();
    }
    unlex(&o);
}
static void lex_error(const char *sql, int scs)
{
    toks o;
    lex(sql, scs, &o);
    unlex(&o);
    if (!o.err) { print_error("lexed without error: %s\n", sql); fail(); }
}

static int ok(const char *sql) { char why[400]; return pg_readonly_check(sql, why, sizeof why) == 0; }
static void accepted(const char *sql)
{
    char why[400];
    if (pg_readonly_check(sql, why, sizeof why)) { print_error("refused: %s: %s\n", sql, why); fail(); }
}
static void refused(const char *sql, const char *reason_part)
{
    char why[400];
    if (pg_readonly_check(sql, why, sizeof why) == 0) { print_error("accepted: %s\n", sql); fail(); }
    if (reason_part && !strstr(why, reason_part)) { print_error("%s: reason '%s' lacks '%s'\n", sql, why, reason_part); fail(); }
    if (!memchr(why, 0, sizeof why) || !why[0]) fail();
}

static void test_tokens(void **s)
{
    (void)s;
    toks o;
    lex("SELECT a.b, \"Quo\"\"ted\", 'it''s', 1.5e3, $1, x::int FROM t -- c\n"
        "/* a /* nested */ b */ WHERE a <> $$x$$;", 1, &o);
    assert_false(o.err);
    const pg_tok_kind want[] = {PGT_IDENT, PGT_IDENT, PGT_PUNCT, PGT_IDENT, PGT_PUNCT, PGT_QIDENT, PGT_PUNCT, PGT_STRING,
                                PGT_PUNCT, PGT_NUMBER, PGT_PUNCT, PGT_PARAM, PGT_PUNCT, PGT_IDENT, PGT_PUNCT, PGT_IDENT,
                                PGT_IDENT, PGT_IDENT, PGT_IDENT, PGT_IDENT, PGT_OP, PGT_STRING, PGT_PUNCT};
    assert_int_equal(o.n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < o.n; i++) assert_int_equal(o.t[i].kind, want[i]);
    assert_string_equal(o.t[0].val, "select");
    assert_string_equal(o.t[5].val, "Quo\"ted");
    assert_string_equal(o.t[7].val, "it's");
    assert_int_equal(o.t[9].len, 5);
    assert_int_equal(o.t[14].len, 2); /* :: */
    assert_int_equal(o.t[20].len, 2); /* <> */
    assert_string_equal(o.t[21].val, "x");
    unlex(&o);
    /* case folding of unquoted names only, ASCII only; quoted names kept */
    one("SeLeCt", 1, PGT_IDENT, "select");
    one("\"SeLeCt\"", 1, PGT_QIDENT, "SeLeCt");
    one("\xc3\x89t\xc3\xa9", 1, PGT_IDENT, "\xc3\x89t\xc3\xa9");
    one("a$b$c", 1, PGT_IDENT, "a$b$c"); /* $ inside a name: not a dollar quote */
    /* NAMEDATALEN: names are cut at 63 bytes, never inside a character */
    char lng[100];
    memset(lng, 'x', 70);
    lng[70] = 0;
    char cut[64];
    memset(cut, 'x', 63);
    cut[63] = 0;
    one(lng, 1, PGT_IDENT, cut);
    memset(lng, 'x', 62);
    memcpy(lng + 62, "\xc3\xa9zz", 5);
    memset(cut, 'x', 62);
    cut[62] = 0;
    one(lng, 1, PGT_IDENT, cut);
}

static void test_numbers_and_operators(void **s)
{
    (void)s;
    toks o;
    lex("1.5 .5 1e10 1e 1..2 123abc 0x1F +--c\n*/*c*/", 1, &o);
    assert_false(o.err);
    const pg_tok_kind want[] = {PGT_NUMBER, PGT_NUMBER, PGT_NUMBER, PGT_NUMBER, PGT_IDENT, PGT_NUMBER, PGT_PUNCT,
                                PGT_NUMBER, PGT_NUMBER, PGT_IDENT, PGT_NUMBER, PGT_IDENT, PGT_OP, PGT_OP};
    assert_int_equal(o.n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < o.n; i++) assert_int_equal(o.t[i].kind, want[i]);
    assert_string_equal(o.t[4].val, "e");
    assert_string_equal(o.t[9].val, "abc");
    assert_string_equal(o.t[11].val, "x1f");
    assert_int_equal(o.t[12].len, 1);
    assert_int_equal(o.t[13].len, 1);
    unlex(&o);
    one("$12", 1, PGT_PARAM, "");
}

static void test_strings(void **s)
{
    (void)s;
    one("'it''s'", 1, PGT_STRING, "it's");
    one("'a'\n  'b'", 1, PGT_STRING, "ab");       /* continuation across a newline */
    one("'a' -- c\n -- d\n'b'", 1, PGT_STRING, "ab"); /* with comments */
    toks o;
    lex("'a' 'b'", 1, &o); /* no newline: two literals (a syntax error for the server) */
    assert_int_equal(o.n, 2);
    unlex(&o);
    /* standard_conforming_strings: a backslash is a character when on, an escape when off */
    one("'C:\\'", 1, PGT_STRING, "C:\\");
    lex_error("'C:\\'", 0);
    one("'\\''", 0, PGT_STRING, "'");
    lex_error("'\\''", 1);
    /* E'' escapes */
    one("E'\\b\\f\\n\\r\\t'", 1, PGT_STRING, "\b\f\n\r\t");
    one("e'\\101\\x41\\u0041\\U00000041'", 1, PGT_STRING, "AAAA");
    one("E'\\x4'", 1, PGT_STRING, "\x04");
    one("E'\\xg'", 1, PGT_STRING, "xg");
    one("E'\\U0001F600\\uD83D\\uDE00'", 1, PGT_STRING, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80");
    one("E'it\\'s' ", 1, PGT_STRING, "it's");
    one("E'a''b'", 1, PGT_STRING, "a'b");
    one("E'\\q\\\\'", 1, PGT_STRING, "q\\");
    one("E'a'\n'\\n'", 1, PGT_STRING, "a\n"); /* the continuation is an E string too */
    lex_error("E'\\0'", 1);
    lex_error("E'\\x00'", 1);
    lex_error("E'\\u12'", 1);
    lex_error("E'\\uD83D'", 1);
    lex_error("E'\\uDE00'", 1);
    lex_error("E'\\U00110000'", 1);
    lex_error("E'abc\\'", 1);
    lex_error("'abc", 1);
    /* U&'' strings */
    one("U&'\\0041\\+000042\\\\'", 1, PGT_STRING, "AB\\");
    one("u&'!0041' UESCAPE '!'", 1, PGT_STRING, "A");
    one("U&'\\0041'\n'\\0042'", 1, PGT_STRING, "AB");
    one("U&'d\\0061t''a'", 1, PGT_STRING, "dat'a");
    /* bit strings and N'' */
    one("B'0101'", 1, PGT_BITSTR, "0101");
    one("x'1F'", 1, PGT_BITSTR, "1F");
    lex_error("B'012'", 1);
    lex("N'x'", 1, &o);
    assert_int_equal(o.n, 2);
    assert_string_equal(o.t[0].val, "nchar");
    assert_string_equal(o.t[1].val, "x");
    unlex(&o);
}

static void test_unicode_identifiers(void **s)
{
    (void)s;
    one("U&\"d\\0061t\\+000061\"", 1, PGT_QIDENT, "data");
    one("u&\"d!0061t!+000061\" UESCAPE '!'", 1, PGT_QIDENT, "data");
    one("U&\"d!0061\" /* c */ uescape\n'!'", 1, PGT_QIDENT, "da");
    one("U&\"d!0061\" uescape E'!'", 1, PGT_QIDENT, "da");
    one("U&\"a\\\\b\"", 1, PGT_QIDENT, "a\\b");
    one("U&\"!!x\" UESCAPE '!'", 1, PGT_QIDENT, "!x");
    one("U&\"\\D83D\\DE00\"", 1, PGT_QIDENT, "\xf0\x9f\x98\x80");
    one("U&\"a\"\"b\"", 1, PGT_QIDENT, "a\"b");
    one("U&\"\\0070G\"", 1, PGT_QIDENT, "pG"); /* not case-folded */
    lex_error("U&\"\\D83D\"", 1);
    lex_error("U&\"\\DE00\"", 1);
    lex_error("U&\"\\D83Dx\"", 1);
    lex_error("U&\"\\12\"", 1);
    lex_error("U&\"\\+12\"", 1);
    lex_error("U&\"\\0000\"", 1);
    lex_error("U&\"\\+110000\"", 1);
    lex_error("U&\"\"", 1);
    lex_error("U&\"abc", 1);
    lex_error("U&\"x\" UESCAPE '+'", 1);
    lex_error("U&\"x\" UESCAPE 'a'", 1);
    lex_error("U&\"x\" UESCAPE '\"'", 1);
    lex_error("U&\"x\" UESCAPE ' '", 1);
    lex_error("U&\"x\" UESCAPE '!!'", 1);
    lex_error("U&\"x\" UESCAPE U&'!'", 1);
    lex_error("U&\"x\" UESCAPE 1", 1);
    lex_error("U&\"x\" UESCAPE", 1);
    lex_error("\"\"", 1);
    lex_error("\"abc", 1);
    toks o;
    lex("U&\"x\" uescapex", 1, &o); /* a different word: no UESCAPE clause */
    assert_false(o.err);
    assert_int_equal(o.n, 2);
    unlex(&o);
}

static void test_dollar_and_comments(void **s)
{
    (void)s;
    one("$$a$b$$", 1, PGT_STRING, "a$b");
    one("$tag$ x $$ y $ta$ $tag$", 1, PGT_STRING, " x $$ y $ta$ ");
    one("$a$ $b$ $a$", 1, PGT_STRING, " $b$ ");
    one("$_1\xc3\xa9$x$_1\xc3\xa9$", 1, PGT_STRING, "x");
    one("$$'\"--/*$$", 1, PGT_STRING, "'\"--/*");
    lex_error("$TAG$x$tag$", 1); /* tags are case-sensitive */
    lex_error("$$abc", 1);
    toks o;
    lex("$q", 1, &o); /* dolqfailed: a lone $ then a name */
    assert_int_equal(o.n, 2);
    assert_int_equal(o.t[0].kind, PGT_OTHER);
    unlex(&o);
    lex("/* a /* b */ c */ 1 -- x\n2 --", 1, &o);
    assert_false(o.err);
    assert_int_equal(o.n, 2);
    unlex(&o);
    lex_error("/* a /* b */ 1", 1);
    lex_error("1 /*", 1);
    lex_error("/*/", 1);
}

static void test_accepts(void **s)
{
    (void)s;
    accepted("select 1");
    accepted("  SELECT name FROM t WHERE id = $1 ORDER BY 1;;  -- end");
    accepted("(select 1) union (select 2)");
    accepted("with x as (select 1) select * from x");
    accepted("values (1), (2)");
    accepted("table t");
    accepted("show search_path");
    accepted("explain select 1");
    accepted("explain analyze verbose select 1");
    accepted("explain (analyze, format json) with x as (select 1) select * from x");
    accepted("select 'pg_terminate_backend(1); delete from t' as s");
    accepted("select $$ insert into t $$");
    accepted("select 1 as \"update\", \"delete\" from t");
    accepted("select substring('abc' from 1 for 2)");
    accepted("select * from pg_stat_activity");
    accepted("select pg_sleep(0.1), current_setting('work_mem'), pg_backend_pid()");
    accepted("select * from pg_locks where locktype = 'advisory'");
    accepted("select 'C:\\'"); /* legal with standard_conforming_strings on (the default) */
    accepted("select E'a\\'b'");
    accepted("select U&'\\0041' as u, U&\"\\0061\" from t");
}

static void test_refuses_statements(void **s)
{
    (void)s;
    refused("", "empty");
    refused("  -- nothing\n", "empty");
    refused(";", "only SELECT");
    refused("select 1; select 2", "one statement");
    refused("select 1; commit", "one statement");
    refused("select 1 /* unterminated", "tokenize");
    refused("select 'unterminated", "tokenize");
    static const char *const first[] = {
        "commit", "rollback", "begin", "start transaction read write", "end", "abort", "savepoint a",
        "prepare transaction 'x'", "commit prepared 'x'", "set transaction_read_only = off", "set local work_mem = '1MB'",
        "SET ROLE postgres", "SET SESSION AUTHORIZATION postgres", "reset all", "reset role", "discard all",
        "listen ch", "notify ch, 'x'", "unlisten *", "declare c cursor with hold for select 1", "fetch c",
        "close c", "move c", "prepare p as select 1", "execute p", "deallocate all", "do $$begin end$$",
        "call p()", "copy t to stdout", "lock t", "create temp table t(i int)", "drop table t", "alter role x superuser",
        "grant all on t to public", "truncate t", "vacuum", "analyze t", "load 'x'", "checkpoint", "cluster t",
        "refresh materialized view m", "security label on table t is 'x'", "comment on table t is 'x'",
        "insert into t values (1)", "update t set a = 1", "delete from t", "merge into t using s on true when matched then delete",
        "import foreign schema s from server x into y", "U&\"select\" 1", NULL};
    for (int i = 0; first[i]; i++) refused(first[i], "only SELECT");
    refused("explain analyze delete from t", "EXPLAIN");
    refused("explain (analyze) insert into t values (1)", "EXPLAIN");
    refused("explain execute p", "EXPLAIN");
    refused("explain create table x as select 1", "EXPLAIN");
    refused("with d as (delete from t returning *) select * from d", "delete");
    refused("WITH i AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT 1", "insert");
    refused("with u as (update t set a = 1 returning 1) select 1", "update");
    refused("with m as (merge into t using s on true when matched then delete) select 1", "merge");
    refused("select * into t2 from t", "INTO");
    refused("with x as (select 1) select * into t2 from x", "INTO");
    refused("select * from t for update", "locking");
    refused("select * from t for share", "locking");
    refused("select * from t for no key update", "locking");
    refused("select * from t FOR KEY SHARE skip locked", "locking");
}

/* Every way to write a denied name must be refused: plain, upper-case quoted,
 * schema-qualified with comments, U& with every character escaped (\XXXX, then
 * \+XXXXXX with UESCAPE), and in a nested subquery. */
static void refuse_all_spellings(const char *name)
{
    char sql[1024], u4[600] = "", u6[600] = "", up[128];
    size_t n = strlen(name);
    for (size_t i = 0; i < n; i++) {
        snprintf(u4 + strlen(u4), sizeof u4 - strlen(u4), "\\%04X", (unsigned char)name[i]);
        snprintf(u6 + strlen(u6), sizeof u6 - strlen(u6), "!+%06x", (unsigned char)name[i]);
        up[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
    }
    up[n] = 0;
    snprintf(sql, sizeof sql, "select %s(1)", name);
    refused(sql, "not allowed read-only");
    snprintf(sql, sizeof sql, "SELECT \"%s\"(1)", up);
    refused(sql, "not allowed read-only");
    snprintf(sql, sizeof sql, "select pg_catalog . /* x */ %s (1)", name);
    refused(sql, "not allowed read-only");
    snprintf(sql, sizeof sql, "select * from (select 1 from t where %s(1) is null) s", name);
    refused(sql, "not allowed read-only");
    snprintf(sql, sizeof sql, "select U&\"%s\"(pid) from pg_stat_activity", u4);
    refused(sql, "not allowed read-only");
    snprintf(sql, sizeof sql, "select pg_catalog.U&\"%s\" UESCAPE '!' (1)", u6);
    refused(sql, "not allowed read-only");
    snprintf(sql, sizeof sql, "values (%s(1))", up);
    refused(sql, "not allowed read-only");
}

static void test_deny_list_every_entry(void **s)
{
    (void)s;
    int count = 0;
    for (const pg_denied_fn *d = pg_denied_functions; d->name; d++, count++) {
        assert_non_null(d->why);
        refuse_all_spellings(d->name);
    }
    for (const pg_denied_fn *d = pg_denied_prefixes; d->name; d++, count++) {
        char name[80];
        snprintf(name, sizeof name, "%sx", d->name);
        refuse_all_spellings(name);
    }
    assert_true(count > 50);
    /* the functions the issue names, each through an escape */
    refused("select U&\"pg\\005fterminate\\005fbackend\"(pid) from pg_stat_activity where usename=current_user", "signals");
    refused("select query_to_xml('select pg_'||'cancel_backend(1)', true, false, '')", "runs SQL");
    refused("select * from ts_stat('select to_tsvector(''a'')')", "runs SQL");
    refused("select U&\"pg\\005fadvisory\\005flock\"(42)", "advisory lock");
    refused("select ts_rewrite('a'::tsquery, 'select ''a''::tsquery, ''b''::tsquery')", "runs SQL");
    refused("select cursor_to_xml('c', 1, false, false, '')", "runs SQL");
    refused("select table_to_xml('v'::regclass, true, false, '')", "runs SQL");
    refused("select query_to_xml_and_xmlschema('select 1', true, false, '')", "runs SQL");
    refused("select set_config('role', 'postgres', true)", "settings");
    refused("select pg_catalog.\"set_config\"('transaction_read_only', 'off', false)", "settings");
    refused("select nextval('s')", "sequence");
    refused("select dblink_exec('x', 'drop table t')", "connection");
    refused("select lo_import('/etc/passwd')", "large objects");
    refused("select pg_notify('ch', 'x')", "notification");
    refused("select pg_read_file('/etc/passwd')", "files");
    /* not denied: names that only contain a denied name */
    accepted("select my_pg_terminate_backend_log from t");
    accepted("select \"pg_terminate_backend \" from t");
}

/* Long inputs stay linear and shallow: a chain of U& literals each naming the next as its
 * UESCAPE, deep comment nesting and many dollar signs in a long-tagged quote. */
static void test_long_inputs(void **s)
{
    (void)s;
    size_t n = 200000;
    char *b = malloc(n * 20 + 64), *p = b;
    p += sprintf(p, "select ");
    for (size_t i = 0; i < n; i++) p += sprintf(p, "U&'a' UESCAPE ");
    strcpy(p, "'!'");
    refused(b, "UESCAPE");
    p = b + sprintf(b, "select ");
    for (size_t i = 0; i < n; i++) p += sprintf(p, "/*");
    for (size_t i = 0; i < n; i++) p += sprintf(p, "*/");
    strcpy(p, " 1");
    accepted(b);
    p = b + sprintf(b, "select $");
    memset(p, 'a', 1000);
    p += 1000;
    *p++ = '$';
    for (size_t i = 0; i < n; i++) *p++ = (i % 7) ? '$' : 'a';
    p += sprintf(p, "$");
    memset(p, 'a', 1000);
    p += 1000;
    strcpy(p, "$");
    accepted(b);
    free(b);
}

static void test_scs_off_reading(void **s)
{
    (void)s;
    /* With standard_conforming_strings off the server sees the call outside the string. */
    refused("select 'a\\'' , pg_terminate_backend(1) --'", "standard_conforming_strings off");
    refused("select 'x\\'; select 1 --'", NULL);
    /* and with it on, the call hidden in E'' is inside a string either way */
    accepted("select E'a\\'' as s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_numbers_and_operators),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_unicode_identifiers),
        cmocka_unit_test(test_dollar_and_comments),
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_refuses_statements),
        cmocka_unit_test(test_deny_list_every_entry),
        cmocka_unit_test(test_scs_off_reading),
        cmocka_unit_test(test_long_inputs),
    };
    (void)ok;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
