/* CLI plumbing shared by every command file (broker/cmd_*.c). */
#ifndef CB_CLI_H
#define CB_CLI_H
#include <stdio.h>
#include <jansson.h>
#include "util.h"
#include "policy/config.h"

typedef struct cli_ctx {
    const char *prog;
    cb_paths paths;            /* store, config, policies, audit actor */
    int json;                  /* --json */
    int quiet;                 /* -q */
    int verbose;               /* -v (repeatable) */
    /* where each path came from, for -v ("--db", "CREDBROKER_DB", "XDG_DATA_HOME", ...) */
    const char *db_from, *config_from, *policies_from;
    int config_explicit;       /* --config or CREDBROKER_CONFIG: the file must exist */
} cli_ctx;

/* System-wide defaults (root, or run by credbroker.service); see cli_paths.c. */
#define CLI_SYSTEM_STATE_DIR "/var/lib/credbroker"
#define CLI_SYSTEM_CONFIG_DIR "/etc/credbroker"

/* A command handler: argv[0] is the command name. Returns the exit code. */
typedef int (*cli_cmd_fn)(cli_ctx *ctx, int argc, char **argv);

typedef struct cli_command {
    const char *name;
    cli_cmd_fn fn;
    const char *summary;
} cli_command;

/* Fills ctx from the environment and the global options (--db, --config, --policies,
 * --json, -q, -v), which are accepted anywhere before "--" and removed from argv; sets
 * the log level, the audit actor and the policy schedule validator. Returns 0, 1 when
 * -h/--help came before the command, 2 for an unknown option before it (*bad), 3 for
 * --version before it. */
int cli_init(cli_ctx *ctx, int *argc, char **argv, const char **bad);

/* Fills the paths flags and environment left unset (cli_paths.c: systemd directories,
 * system defaults as root, XDG for a user), recording where each came from. */
void cli_default_paths(cli_ctx *ctx);
/* -v: which store, policy directory and config this command uses, on stderr. */
void cli_say_paths(const cli_ctx *ctx);
/* Makes credbroker.json's "master_key_ref" a master-key source (after the paths are set). */
void cli_config_master_key_ref(const cli_ctx *ctx);
/* mkdir -p (0700) of a file's directory, for `init` at a default path. */
int cli_make_parent_dir(const char *path, cb_error *e);

/* Prints an error (one line) in text or JSON form and returns e->code. */
int cli_report_error(cli_ctx *ctx, const cb_error *e);
/* Prints a JSON value to stdout (compact with a newline) and decrefs it. */
void cli_print_json(json_t *v);
/* True when argv has -h/--help. */
int cli_wants_help(int argc, char **argv);

struct cb_store;
/* Opens and unlocks the store named by ctx (master key from the environment).
 * On failure prints the error and returns the exit code (4 for a missing/wrong key). */
int cli_open_store(cli_ctx *ctx, struct cb_store **out);
/* Reads a secret (URL, key) from stdin; prompts without echo when stdin is a terminal.
 * Returns NULL after printing an error. Free with cb_free_secret. */
char *cli_read_secret_stdin(cli_ctx *ctx, const char *prompt);
/* Valid connection/credential/API key name: [A-Za-z0-9_.-]{1,64}. */
int cli_valid_name(const char *name);
/* Tiny option parser: returns the value of --opt (or --opt=value) and removes both
 * from argv; *argc updated. NULL when absent. flag variant returns 1 if present. */
const char *cli_take_opt(int *argc, char **argv, const char *opt);
int cli_take_flag(int *argc, char **argv, const char *flag);
/* After options are taken, any remaining "-x" argument is an error: returns 0 if ok. */
int cli_no_unknown_opts(int argc, char **argv);
/* Prints a one-line message to stdout unless -q / --json. */
void cli_say(cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Milliseconds since the command started, for audit durations. */
long cli_elapsed_ms(void);

#endif
