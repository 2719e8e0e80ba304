/* The MySQL/MariaDB read-only prefilter (see mysql_target.h): a lexer that knows strings,
 * quoted names and comments, a first-word allow-list and a word deny-list. An extra
 * layer: the READ ONLY transaction, the one prepared statement and the reset are the guard. */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include "mysql_target.h"

/* ---------- the read-only prefilter ---------- */

static int word_char(char ch) { return isalnum((unsigned char)ch) || ch == '_' || ch == '$' || (unsigned char)ch >= 0x80; }

/* First words a read-only request may start with. CALL is not one: a procedure may COMMIT
 * and go on writing outside the read-only transaction. */
static const char *const ro_first[] = {"select", "with", "values", "table", "show", "explain", "describe", "desc", NULL};
/* Words that act outside the transaction, on files, or hold locks past the statement. */
static const char *const denied_word[] = {"outfile", "dumpfile", "load_file", "get_lock", "release_lock",
    "release_all_locks", "is_used_lock", "master_pos_wait", "master_gtid_wait", "source_pos_wait", "nextval",
    "setval", "lastval", "sys_exec", "sys_eval", "benchmark", NULL};

/* Lexes sql, calling back on every word outside strings and comments. Executable comments
 * ("/ *!", "/ *M!") and optimizer hints are refused: the server runs their text. */
static int lex_words(const char *sql, int (*cb)(const char *w, size_t n, void *arg), void *arg, cb_error *e)
{
    const char *p = sql;
    while (*p) {
        if (*p == '\'' || *p == '"' || *p == '`') {
            char q = *p++;
            while (*p) {
                if (*p == '\\' && q != '`' && p[1]) { p += 2; continue; }
                if (*p == q) { if (p[1] == q) { p += 2; continue; } break; }
                p++;
            }
            if (!*p) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "unterminated quoted string");
            p++;
        } else if (*p == '#' || (p[0] == '-' && p[1] == '-' && (isspace((unsigned char)p[2]) || iscntrl((unsigned char)p[2])))) {
            while (*p && *p != '\n') p++;
        } else if (p[0] == '/' && p[1] == '*') {
            if (p[2] == '!' || p[2] == '+' || ((p[2] == 'M' || p[2] == 'm') && p[3] == '!'))
                return cb_fail(e, CB_EUSAGE, CB_K_DENIED, "executable comments (/*! */, /*M! */) and optimizer hints are not allowed read-only");
            const char *end = strstr(p + 2, "*/");
            if (!end) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "unterminated comment");
            p = end + 2;
        } else if (word_char(*p)) {
            size_t n = 0;
            while (word_char(p[n])) n++;
            int rc = cb(p, n, arg);
            if (rc) return rc;
            p += n;
        } else if (*p == ';') {
            const char *q = p + 1;
            while (isspace((unsigned char)*q)) q++;
            if (*q) return cb_fail(e, CB_EUSAGE, CB_K_DENIED, "only one statement is allowed");
            p++;
        } else {
            p++;
        }
    }
    return 0;
}

struct ro_state { int n; int prev_for; int prev_lock, prev_in, prev_share; cb_error *e; };

static int weq(const char *w, size_t n, const char *s) { return strlen(s) == n && !strncasecmp(w, s, n); }

static int ro_word(const char *w, size_t n, void *arg)
{
    struct ro_state *s = arg;
    if (s->n++ == 0) {
        int ok = 0;
        for (size_t i = 0; ro_first[i] && !ok; i++) ok = weq(w, n, ro_first[i]);
        if (!ok) return cb_fail(s->e, CB_EUSAGE, CB_K_DENIED, "only SELECT, WITH, VALUES, TABLE, SHOW, EXPLAIN and DESCRIBE are allowed read-only");
    }
    for (size_t i = 0; denied_word[i]; i++)
        if (weq(w, n, denied_word[i])) return cb_fail(s->e, CB_EUSAGE, CB_K_DENIED, "statement uses a denied word (%s)", denied_word[i]);
    if (s->prev_for && weq(w, n, "update")) return cb_fail(s->e, CB_EUSAGE, CB_K_DENIED, "SELECT ... FOR UPDATE holds row locks: not allowed read-only");
    if (s->prev_share && weq(w, n, "mode")) return cb_fail(s->e, CB_EUSAGE, CB_K_DENIED, "LOCK IN SHARE MODE holds row locks: not allowed read-only");
    s->prev_share = s->prev_in && weq(w, n, "share");
    s->prev_in = s->prev_lock && weq(w, n, "in");
    s->prev_lock = weq(w, n, "lock");
    s->prev_for = weq(w, n, "for");
    return 0;
}

int mysql_readonly_check(const char *sql, cb_error *e)
{
    struct ro_state s = {0, 0, 0, 0, 0, e};
    int rc = lex_words(sql, ro_word, &s, e);
    if (!rc && s.n == 0) rc = cb_fail(e, CB_EUSAGE, CB_K_INVALID, "empty statement");
    return rc;
}
