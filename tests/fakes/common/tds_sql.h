/* A small T-SQL tokenizer and statement classifier for the fake SQL Server: just the
 * statements the broker and FreeTDS send (see fake_tds.c). Untrusted input: every
 * function is bounds-checked and fuzzed (tests/fuzz/fuzz_tds_packet.c). */
#ifndef TDSF_SQL_H
#define TDSF_SQL_H
#include <stddef.h>
#include <stdint.h>

enum tdsf_tk { TDSF_TK_WORD = 1, TDSF_TK_QIDENT, TDSF_TK_STR, TDSF_TK_NUM, TDSF_TK_VAR,
               TDSF_TK_SYSVAR, TDSF_TK_PUNCT, TDSF_TK_SEMI };
typedef struct tdsf_tok {
    int kind;
    char *text;    /* words as written; QIDENT/STR decoded (brackets, quotes, doubled
                      escapes removed); VAR/SYSVAR without the @ signs; PUNCT the symbol */
    int national;  /* STR written N'..' */
} tdsf_tok;

/* 0 ok, -1 on an unterminated literal, identifier or comment. */
int tdsf_tokenize(const char *sql, tdsf_tok **toks, size_t *n);
void tdsf_toks_free(tdsf_tok *t, size_t n);

enum tdsf_st {
    TDSF_ST_EMPTY = 0, TDSF_ST_SELECT_SPID, TDSF_ST_SELECT_VERSION, TDSF_ST_SELECT_VAR,
    TDSF_ST_SELECT_INT, TDSF_ST_SELECT_STR, TDSF_ST_SELECT_SESSIONS, TDSF_ST_SELECT_INFOSCHEMA,
    TDSF_ST_SELECT_T, TDSF_ST_SET, TDSF_ST_USE, TDSF_ST_BEGIN, TDSF_ST_COMMIT, TDSF_ST_ROLLBACK,
    TDSF_ST_ALTER_LOGIN, TDSF_ST_KILL, TDSF_ST_DECLARE, TDSF_ST_EXEC,
    TDSF_ST_CREATE_LOGIN, TDSF_ST_CREATE_USER, TDSF_ST_ALTER_ROLE_ADD, TDSF_ST_DROP_USER, TDSF_ST_DROP_LOGIN,
    TDSF_ST_SELECT_PRINCIPALS,   /* SELECT name FROM sys.server_principals WHERE name LIKE N'p%' */
    TDSF_ST_BAD_OBJECT,   /* SELECT from an unknown table: error 208 */
    TDSF_ST_SYNTAX        /* anything else: error 102/156 */
};

#define TDSF_MAX_COLS 32
#define TDSF_MAX_PARAMS 8
typedef struct tdsf_stmt {
    int kind;
    /* Pointers into the token array (valid while it lives). */
    const char *name;        /* login (ALTER LOGIN, sessions query), db (USE), variable
                                (DECLARE, SELECT @v), object (BAD_OBJECT), near (SYNTAX) */
    const char *password, *old_password;  /* ALTER LOGIN, CREATE LOGIN */
    const char *role;        /* ALTER ROLE role ADD MEMBER name; CREATE USER name FOR LOGIN role */
    int exclude_self;        /* sessions query had AND session_id <> @@SPID */
    int64_t num;             /* KILL n, SELECT n */
    const char *proc, *ret_var;            /* EXEC [@ret_var =] proc */
    const char *pnames[TDSF_MAX_PARAMS], *pvalues[TDSF_MAX_PARAMS];
    size_t nparams;
    const char *cols[TDSF_MAX_COLS];       /* select list names ("*" for a star) */
    size_t ncols;
} tdsf_stmt;

/* Classifies toks[0..n) (one statement, no ';'). */
void tdsf_classify(const tdsf_tok *t, size_t n, tdsf_stmt *st);

#endif
