/* libFuzzer: the MySQL/MariaDB read-only prefilter (its lexer of strings, quoted names,
 * comments and executable comments) must never crash, must answer 0 or CB_EUSAGE with
 * a one-line message, and any input quoted as a string literal ('...' with '' and \\
 * escaped, as mysql_real_escape_string would) must be accepted inside SELECT: the
 * lexer and the server agree on where a literal ends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "databases/mysql_target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    cb_error e = {0};
    int r = mysql_readonly_check(s, &e);
    if (r != 0 && r != CB_EUSAGE) abort();
    if (r && (!e.msg[0] || strchr(e.msg, '\n'))) abort();
    if (strlen(s) == size) {
        char *q = malloc(2 * size + 16), *p = q;
        p += sprintf(p, "SELECT '");
        for (size_t i = 0; i < size; i++) {
            if (s[i] == '\'' || s[i] == '\\') *p++ = '\\';
            *p++ = s[i];
        }
        strcpy(p, "'");
        cb_error e2 = {0};
        if (mysql_readonly_check(q, &e2) != 0) abort();
        free(q);
    }
    free(s);
    return 0;
}
