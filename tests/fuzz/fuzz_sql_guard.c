/* libFuzzer: the SQL Server read-only statement guard and the T-SQL quoting helpers
 * must never crash; and any input, quoted as N'...', is one literal, so
 * SELECT N'<input>' must always be accepted (checks quoting and tokenizer agree). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "databases/sqlserver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    char why[160];
    int r = sqlserver_readonly_check(s, why, sizeof why);
    if (r != 0 && r != -1) abort();
    if (r == -1 && !memchr(why, 0, sizeof why)) abort();
    /* A quoted literal is always one token: SELECT N'...' must be accepted. */
    char *lit = sqlserver_quote_nstring(s);
    if (lit && strlen(s) == size) {
        char *q = malloc(strlen(lit) + 8);
        strcpy(q, "SELECT ");
        strcat(q, lit);
        if (sqlserver_readonly_check(q, why, sizeof why) != 0) abort();
        free(q);
    }
    free(lit);
    free(sqlserver_quote_ident(s));
    free(s);
    return 0;
}
