#include "cli.h"
#include <string.h>

int cli_report_error(cli_ctx *ctx, const cb_error *e)
{
    int code = e->code ? e->code : CB_ERR;
    if (ctx && ctx->json) {
        json_t *o = json_pack("{s:b,s:s,s:i}", "ok", 0, "error", e->msg[0] ? e->msg : "failed", "exit_code", code);
        cli_print_json(o);
    }
    fprintf(stderr, "credbroker: %s\n", e->msg[0] ? e->msg : "failed");
    return code;
}

void cli_print_json(json_t *v)
{
    if (!v) return;
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(v);
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    }
    return 0;
}
