/* The SQL Server read-only guard and T-SQL quoting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "databases/sqlserver.h"

static int ok(const char *sql) { char why[160]; return sqlserver_readonly_check(sql, why, sizeof why) == 0; }

static void test_accepts(void **s)
{
    (void)s;
    assert_true(ok("select 1"));
    assert_true(ok("SELECT name, n FROM dbo.t WHERE n > 3 ORDER BY n;"));
    assert_true(ok("select 1; -- trailing comment"));
    assert_true(ok("select a from x union all select a from y"));
    assert_true(ok("select a from x except select a from y"));
    assert_true(ok("with c as (select 1 a), d as (select 2 b) select * from c, d"));
    assert_true(ok("select (select max(n) from t) as m from t"));
    assert_true(ok("select 'insert; drop' as s, [delete] from t"));
    assert_true(ok("select n from t order by n offset 5 rows fetch next 5 rows only"));
    assert_true(ok("select /* nested /* comment */ still */ 1"));
    assert_true(ok("select N'it''s'"));
}

static void test_refuses(void **s)
{
    (void)s;
    static const char *const bad[] = {
        "", "   ", "-- only a comment", ";", "select 1; select 2", "select 1 select 2",
        "select (1) select 2", "insert into t values (1)", "update t set n = 1", "delete t",
        "exec sp_who", "select 1 exec('x')", "select * into x from t", "select 1; drop table t",
        "with c as (select 1 a) delete from c", "select * from openrowset('a','b','c')",
        "select * from opendatasource('a','b').x.y.z", "select * from openquery(s, 'x')",
        "select 1 waitfor delay '0:0:5'", "select xp_cmdshell", "select [sp_who]", "select \"xp_x\"",
        "select 1 /* unterminated", "select 'unterminated", "select [unterminated",
        "select next value for s", "(select 1)", "select (1", "select 1)", "select 1 ; ; select 2",
        "select 1\xc2\xa0" "delete from t", "select 1 output", "select 1 if 1=1 select 2",
        "select 1 begin tran", "select 1 commit", "select 1 set rowcount 0", "select 1 use master",
        "select 1 revert", "select 1 checkpoint", "select 1 kill 5", "select 1 dbcc x",
        "select 1 backup database x to disk='y'", "select 1 restore x", "select 1 shutdown",
        "grant select on t to u", "select 1 merge t using u on 1=1 when matched then delete;",
        "truncate table t", "create table x (a int)", "alter login x with password = 'y'",
        "deny select on t to u", "revoke select on t to u", "select 1 bulk insert",
        NULL,
    };
    for (size_t i = 0; bad[i]; i++) {
        char why[160] = "";
        if (sqlserver_readonly_check(bad[i], why, sizeof why) != -1) fail_msg("accepted: %s", bad[i]);
        assert_true(why[0] != 0);
        assert_null(strstr(why, "\n"));
    }
    assert_int_equal(sqlserver_readonly_check(NULL, NULL, 0), -1);
}

static void test_quoting(void **s)
{
    (void)s;
    char *q = sqlserver_quote_ident("a]b[c");
    assert_string_equal(q, "[a]]b[c]");
    free(q);
    q = sqlserver_quote_nstring("it's ]");
    assert_string_equal(q, "N'it''s ]'");
    free(q);
    assert_null(sqlserver_quote_ident(""));
    assert_null(sqlserver_quote_ident(NULL));
    char longname[600];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_null(sqlserver_quote_ident(longname));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_quoting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
