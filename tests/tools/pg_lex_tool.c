/* Test driver for the PostgreSQL lexer (pg_lexer.c), for comparing it with the server:
 *   pg_lex_tool tokens SQL   one line per token: KIND VALUE-AS-HEX ("-" when none)
 *   pg_lex_tool tokens-scs-off SQL   the same, read with standard_conforming_strings off
 *   pg_lex_tool check SQL    "ok" or "refused: REASON" (the read-only text check)
 * Exit 0, or 1 when the lexer (tokens) or the check refuses; 2 on usage. */
#include <stdio.h>
#include <string.h>
#include "databases/pg_lexer.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: pg_lex_tool tokens|check SQL\n");
        return 2;
    }
    if (!strcmp(argv[1], "check")) {
        char why[400];
        if (pg_readonly_check(argv[2], why, sizeof why) == 0) { puts("ok"); return 0; }
        printf("refused: %s\n", why);
        return 1;
    }
    int scs = strcmp(argv[1], "tokens-scs-off") != 0;
    if (scs && strcmp(argv[1], "tokens")) return 2;
    static const char *const kinds[] = {"eof", "ident", "qident", "string", "bitstr", "number", "param", "op", "punct", "other"};
    pg_lexer lx;
    pg_lex_init(&lx, argv[2], strlen(argv[2]), scs);
    for (;;) {
        pg_token t;
        int r = pg_lex_next(&lx, &t);
        if (r < 0) { printf("error %s\n", lx.err); return 1; }
        if (r == 0) return 0;
        printf("%s ", kinds[t.kind]);
        if (!t.val) printf("-");
        for (size_t i = 0; t.val && i < t.val_len; i++) printf("%02x", (unsigned char)t.val[i]);
        printf("\n");
        pg_token_free(&t);
    }
}
