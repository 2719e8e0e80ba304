/* CLI plumbing shared by every command file (broker/cmd_*.c). */
#ifndef CB_CLI_H
#define CB_CLI_H
#include <stdio.h>
#include <jansson.h>
#include "util.h"

typedef struct cli_ctx {
    const char *prog;
    const char *db_path;       /* --db / CREDBROKER_DB / ./credbroker.db */
    const char *config_path;   /* --config / CREDBROKER_CONFIG / ./credbroker.json */
    const char *policies_dir;  /* --policies / CREDBROKER_POLICIES / ./policies */
    int json;                  /* --json */
    int quiet;                 /* -q */
    int verbose;               /* -v (repeatable) */
    const char *actor;         /* who runs this, for the audit log: $USER@cli */
} cli_ctx;

/* A command handler: argv[0] is the command name. Returns the exit code. */
typedef int (*cli_cmd_fn)(cli_ctx *ctx, int argc, char **argv);

typedef struct cli_command {
    const char *name;
    cli_cmd_fn fn;
    const char *summary;
} cli_command;

/* Prints an error (one line) in text or JSON form and returns e->code. */
int cli_report_error(cli_ctx *ctx, const cb_error *e);
/* Prints a JSON value to stdout (compact with a newline) and decrefs it. */
void cli_print_json(json_t *v);
/* True when argv has -h/--help. */
int cli_wants_help(int argc, char **argv);

#endif
