/* Test driver over the secret_provider registry, for integration tests and benches:
 *   secret_tool get REF                      prints the value (tests only)
 *   secret_tool put REF [pending] [TOKEN]    value from stdin; prints the new version
 *   secret_tool promote REF VERSION
 *   secret_tool describe REF                 prints JSON metadata
 *   secret_tool bench REF N                  N gets on one provider state; prints CPU us/request
 * Exit status: 0 ok, else the cb_error code; the error message goes to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "secrets/secret_provider.h"

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: secret_tool get|put|promote|describe|bench REF [...]\n");
        return 2;
    }
    if (getenv("SECRET_TOOL_VERBOSE")) cb_log_level = 3;
    cb_error e = {0};
    secret_ref r;
    int rc = secret_ref_parse(argv[2], &r, &e);
    if (rc) { fprintf(stderr, "%s\n", e.msg); return rc; }
    const secret_provider *p = secret_provider_for(r.scheme);
    if (!p) { fprintf(stderr, "no provider for %s\n", r.scheme); secret_ref_free(&r); return 2; }
    void *st = NULL;
    rc = p->open(&st, &e);
    if (rc) goto out;
    if (strcmp(argv[1], "get") == 0) {
        secret_value v = {0};
        rc = p->get(st, &r, &v, &e);
        if (!rc && r.field) rc = secret_value_pick_field(&v, r.field, &e);
        if (!rc) printf("%s\n", v.value);
        if (!rc && getenv("SECRET_TOOL_SHOW_VERSION")) fprintf(stderr, "version=%s stages=%s\n", v.version ? v.version : "", v.stages ? v.stages : "");
        secret_value_free(&v);
    } else if (strcmp(argv[1], "put") == 0) {
        char *val = cb_read_stream_secret(0, 1 << 20, &e);
        if (!val) { rc = e.code; goto out; }
        char *ver = NULL;
        const char *stage = argc > 3 && strcmp(argv[3], "pending") == 0 ? SECRET_STAGE_PENDING : NULL;
        rc = p->put(st, &r, val, stage, argc > 4 ? argv[4] : NULL, &ver, &e);
        if (!rc) printf("%s\n", ver ? ver : "");
        free(ver);
        cb_free_secret(val);
    } else if (strcmp(argv[1], "promote") == 0 && argc > 3) {
        rc = p->promote(st, &r, argv[3], &e);
    } else if (strcmp(argv[1], "describe") == 0) {
        json_t *o = NULL;
        rc = p->describe(st, &r, &o, &e);
        if (!rc) { char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS); printf("%s\n", s); free(s); json_decref(o); }
    } else if (strcmp(argv[1], "bench") == 0 && argc > 3) {
        int n = atoi(argv[3]);
        double c0 = cpu_seconds();
        for (int i = 0; i < n && !rc; i++) {
            secret_value v = {0};
            rc = p->get(st, &r, &v, &e);
            secret_value_free(&v);
        }
        double c1 = cpu_seconds();
        if (!rc) printf("%.1f\n", (c1 - c0) * 1e6 / (n > 0 ? n : 1));
    } else {
        fprintf(stderr, "unknown subcommand %s\n", argv[1]);
        rc = 2;
    }
out:
    if (rc) fprintf(stderr, "%s\n", e.msg);
    if (st) p->close(st);
    secret_ref_free(&r);
    return rc;
}
