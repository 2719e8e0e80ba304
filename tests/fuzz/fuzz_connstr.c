/* libFuzzer: parse -> format -> re-parse must be stable and keep the password; the
 * redacted form and error messages never hold the password; conn_redact_text never
 * returns the known password. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "conn/conn_assess.h"
#include "conn/connstr.h"

static const char *const hints[] = {NULL, "postgres", "sqlserver", "mysql", "sqlite"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096) return 0;
    const char *hint = hints[data[0] % 5];
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    conn_url u;
    cb_error e = {0};
    if (conn_url_parse(s, hint, &u, &e) == 0) {
        char *f = conn_url_format(&u);
        conn_url v;
        cb_error e2 = {0};
        if (!*f) { /* e.g. "port=": every field default, nothing to write back */
            cb_free_secret(f);
            conn_url_free(&u);
            free(s);
            return 0;
        }
        if (conn_url_parse(f, u.engine, &v, &e2) != 0) abort();
        if (strcmp(v.engine, u.engine) || v.port != u.port || v.format != u.format) abort();
        if (!!v.password != !!u.password || (u.password && strcmp(u.password, v.password))) abort();
        if (u.user && *u.user && (!v.user || strcmp(u.user, v.user))) abort();
        if (u.dbname && *u.dbname && (!v.dbname || strcmp(u.dbname, v.dbname))) abort();
        char *f2 = conn_url_format(&v);
        if (strcmp(f, f2)) abort();
        char *r = conn_url_redacted(&u);
        /* The redacted form parses back with the password "****". (A plain substring test
         * would misfire: the password may also occur inside other fields.) */
        if (u.password) {
            conn_url x;
            if (conn_url_parse(r, u.engine, &x, &e2) != 0) abort();
            if (!x.password || strcmp(x.password, "****")) abort();
            conn_url_free(&x);
        }
        if (!strcmp(u.engine, "postgres")) {
            char *l = conn_url_to_libpq(&u);
            conn_url w;
            if (!*l) { cb_free_secret(l); goto skip_libpq; } /* all defaults: empty conninfo */
            if (conn_url_parse(l, "postgres", &w, &e2) != 0) abort();
            if (!!w.password != !!u.password || (u.password && strcmp(w.password, u.password))) abort();
            conn_url_free(&w);
            cb_free_secret(l);
        }
    skip_libpq:
        if (u.password && strlen(u.password) >= 4 && !strstr("****", u.password)) {
            char *t = conn_redact_text(s, u.password);
            if (strstr(t, u.password)) abort();
            cb_free_secret(t);
        }
        json_t *fa = json_array();
        conn_assess(&u, fa);
        json_decref(fa);
        free(r);
        cb_free_secret(f);
        cb_free_secret(f2);
        conn_url_free(&v);
        conn_url_free(&u);
    }
    free(s);
    return 0;
}
