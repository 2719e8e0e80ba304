/* The MySQL/MariaDB engine's pure parts: the client-side password hash (the value
 * MariaDB's PASSWORD() computes) and the read-only prefilter's lexer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "databases/mysql_target.h"

static void test_native_hash(void **st)
{
    (void)st;
    char h[42];
    mysql_native_hash("password", h); /* SELECT PASSWORD('password') on MariaDB 10.11 */
    assert_string_equal(h, "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19");
    mysql_native_hash("Xk3$9vQ!mZ2#pL7w", h);
    assert_int_equal(strlen(h), 41);
    assert_int_equal(h[0], '*');
}

static int ok(const char *sql) { cb_error e = {0}; return mysql_readonly_check(sql, &e) == 0; }

static void test_prefilter(void **st)
{
    (void)st;
    assert_true(ok("SELECT 1"));
    assert_true(ok("  select id from t where a = ? -- trailing\n"));
    assert_true(ok("/* lead */ WITH x AS (SELECT 1) SELECT * FROM x"));
    assert_true(ok("SHOW TABLES"));
    assert_true(ok("explain select 1"));
    assert_true(ok("SELECT 'INTO OUTFILE', \"get_lock\", `for update` FROM t"));
    assert_true(ok("SELECT 'it''s', 'a\\'b' FROM t;"));
    assert_true(ok("SELECT 1 # hash comment"));
    assert_false(ok(""));
    assert_false(ok("-- only a comment"));
    assert_false(ok("INSERT INTO t VALUES (1)"));
    assert_false(ok("CALL p()"));
    assert_false(ok("DO 1"));
    assert_false(ok("SET @a = 1"));
    assert_false(ok("SET STATEMENT max_statement_time=0 FOR SELECT 1"));
    assert_false(ok("SELECT 1; SELECT 2"));
    assert_false(ok("SELECT 1 /*!50000 , 2 */"));
    assert_false(ok("SELECT 1 /*! , 2 */"));
    assert_false(ok("SELECT 1 /*M! , 2 */"));
    assert_false(ok("SELECT /*+ MAX_EXECUTION_TIME(0) */ 1"));
    assert_false(ok("SELECT * FROM t INTO OUTFILE '/tmp/x'"));
    assert_false(ok("SELECT LOAD_FILE('/etc/passwd')"));
    assert_false(ok("SELECT GET_LOCK('x', 0)"));
    assert_false(ok("SELECT * FROM t FOR UPDATE"));
    assert_false(ok("SELECT * FROM t for  /* c */ update"));
    assert_false(ok("SELECT * FROM t LOCK IN SHARE MODE"));
    assert_false(ok("SELECT 'unterminated"));
    assert_false(ok("SELECT 1 /* unterminated"));
    assert_true(ok("SELECT 1 --x")); /* "--x" is not a comment in MySQL: minus minus x */
    assert_false(ok("SELECT 1 -- x\n; DELETE FROM t"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_hash),
        cmocka_unit_test(test_prefilter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
