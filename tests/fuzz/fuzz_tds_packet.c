/* libFuzzer: the fake SQL Server's parsers on arbitrary bytes: packet reassembly,
 * PRELOGIN, LOGIN7, SQL batch, then the T-SQL tokenizer and statement classifier on
 * whatever text the batch yields. The first byte picks the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../fakes/common/tds_proto.c"
#include "../fakes/common/tds_sql.c"

static void sql_path(const char *sql)
{
    tdsf_tok *t;
    size_t n;
    if (tdsf_tokenize(sql, &t, &n)) return;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && t[i].kind != TDSF_TK_SEMI) continue;
        tdsf_stmt st;
        tdsf_classify(t + start, i - start, &st);
        start = i + 1;
    }
    tdsf_toks_free(t, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t sel = data[0];
    data++;
    size--;
    switch (sel % 5) {
    case 0: {
        uint8_t type;
        size_t used;
        tdsf_buf out;
        tdsf_buf_init(&out);
        tdsf_unframe(data, size, &type, &out, &used);
        tdsf_buf_free(&out);
        break;
    }
    case 1: {
        tdsf_prelogin p;
        tdsf_prelogin_parse(data, size, &p);
        break;
    }
    case 2: {
        tdsf_login7 l;
        if (tdsf_login7_parse(data, size, &l) == 0) {
            tdsf_buf b;
            tdsf_buf_init(&b);
            /* The fake echoes the user name in its error message. */
            tdsf_tok_message(&b, TDSF_TOK_ERROR, 18456, 1, 14, l.username, "x", "", 1);
            tdsf_buf_free(&b);
            tdsf_login7_free(&l);
        }
        break;
    }
    case 3: {
        char *sql;
        if (tdsf_batch_parse(data, size, sel & 0x80, &sql) == 0) {
            sql_path(sql);
            free(sql);
        }
        break;
    }
    default: {
        char *s = malloc(size + 1);
        memcpy(s, data, size);
        s[size] = 0;
        sql_path(s);
        /* The writers must accept any UTF-8-ish string. */
        tdsf_buf b;
        tdsf_buf_init(&b);
        tdsf_put_bvarchar(&b, s);
        tdsf_val_nvarchar(&b, s);
        tdsf_buf_free(&b);
        free(s);
        break;
    }
    }
    return 0;
}
