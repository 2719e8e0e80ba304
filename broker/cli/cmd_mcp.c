/* credbroker mcp (stdio) and credbroker serve (Streamable HTTP). */
#include <stdio.h>
#include <string.h>
#include "cmd_mcp.h"
#include "tools/mcp_app.h"
#include "rotation/rotation_env.h"
#include "tools/mcp_unavailable.h"
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "store/store.h"

/* What is missing and how to fix it, in the words of someone who just pasted a client
 * snippet: every problem found (not only the first), with the absolute paths in use and
 * where they came from. e: why mcp_app_open failed, NULL when it did not. */
static char *mcp_problems(const cli_ctx *ctx, const cb_error *e)
{
    const cb_paths *p = &ctx->paths;
    struct stat sb;
    cb_buf b;
    cb_buf_init(&b, 0);
    int n = 0, known = 0;
    char *m;
#define ITEM(...) do { m = cb_sprintf(__VA_ARGS__); cb_buf_printf(&b, "%s%d) %s", n ? "\n" : "", n + 1, m); free(m); n++; } while (0)
    if (!sdb_is_url(p->db_path) && stat(p->db_path, &sb) != 0) {
        ITEM("no store at %s (store path from %s). Create it with: credbroker --db %s init (with the master key "
             "set), or set CREDBROKER_DB to the absolute path of your store.", p->db_path, ctx->db_from, p->db_path);
        known = e && e->kind == CB_K_NOTFOUND;
    }
    const char *cd = getenv("CREDENTIALS_DIRECTORY");
    char *cred = cd ? cb_sprintf("%s/%s", cd, STORE_CREDENTIAL_NAME) : NULL;
    int key_set = (getenv("CREDBROKER_MASTER_KEY") && *getenv("CREDBROKER_MASTER_KEY")) ||
                  (getenv("CREDBROKER_MASTER_KEY_REF") && *getenv("CREDBROKER_MASTER_KEY_REF")) ||
                  (cred && access(cred, F_OK) == 0) || store_master_key_config_ref;
    free(cred);
    if (!key_set || (e && e->code == CB_EKEY)) {
        ITEM("the master key is %s: %s In an MCP client's configuration set it in \"env\": "
             "CREDBROKER_MASTER_KEY_REF=file:///ABSOLUTE/PATH/master.key (a file of mode 0600) or a secret-manager "
             "reference.", key_set ? "wrong or unreadable" : "not set",
             e && e->code == CB_EKEY ? e->msg : "no CREDBROKER_MASTER_KEY, CREDBROKER_MASTER_KEY_REF or master_key_ref.");
        if (e && e->code == CB_EKEY) known = 1;
    }
    if (stat(p->policies_dir, &sb) != 0) {
        ITEM("no policy directory at %s (policies path from %s), so client 'local' may call no tool. Create it "
             "with a file granting client \"local\" (e.g. %s/clients.json: {\"clients\": {\"local\": "
             "{\"tools\": [\"*\"], \"connections\": [\"*\"]}}}; examples in policies/examples), or set "
             "CREDBROKER_POLICIES to the absolute path of your policy directory.",
             p->policies_dir, ctx->policies_from, p->policies_dir);
    } else if (!e) {
        ITEM("the policies in %s (from %s) define no client \"local\", the client of 'credbroker mcp', so it may "
             "call no tool. Add \"clients\": {\"local\": {...}} to a file there (see policies/examples; check "
             "with: credbroker --policies %s policy check).", p->policies_dir, ctx->policies_from, p->policies_dir);
    }
    if (e && !known)
        ITEM("%s (store %s from %s, policies %s from %s, config %s from %s)", e->msg, p->db_path, ctx->db_from,
             p->policies_dir, ctx->policies_from, p->config_path, ctx->config_from);
#undef ITEM
    return cb_buf_steal(&b);
}
#include "rotation/lease_reaper.h"

int cmd_mcp(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: credbroker mcp [--stdio]\n\n"
               "Serves MCP on standard input/output (newline-delimited JSON-RPC) as the policy client 'local'.\n"
               "Logs go to standard error; the server exits when standard input closes.\n");
        return 0;
    }
    cli_take_flag(&argc, argv, "--stdio");
    if (cli_no_unknown_opts(argc, argv) || argc != 1) return CB_EUSAGE;
    mcp_app *a;
    cb_error e = {0};
    int rc = mcp_app_open(&ctx->paths, &a, &e);
    /* never a silent exit or an unexplained empty tool list: see mcp_unavailable.h */
    if (rc) {
        char *why = mcp_problems(ctx, &e);
        mcp_unavailable_serve_stdio(why, 0, 1);
        free(why);
        return rc;
    }
    if (!policy_client(a->pol, "local")) {
        char *why = mcp_problems(ctx, NULL);
        mcp_app_close(a);
        mcp_unavailable_serve_stdio(why, 0, 1);
        free(why);
        return CB_EUSAGE;
    }
    rc = mcp_app_serve_stdio(a, &e);
    mcp_app_close(a);
    return rc && e.msg[0] ? cli_report_error(ctx, &e) : rc;
}

/* On its own thread: a hanging database must delay neither the endpoint nor SIGTERM (the
 * serving thread waits for signals). A rotation cut short at exit is finished by the next
 * start, like any interrupted one; the database lock keeps the scheduler's tick out. */
static void *resume_thread(void *paths)
{
    serve_resume_rotations(paths);
    serve_lease_recover(paths); /* leased logins left by a crash, orphans */
    return NULL;
}

static void resume_after_bind(void *paths)
{
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, resume_thread, paths) != 0) resume_thread(paths);
    pthread_attr_destroy(&at);
}

int cmd_serve(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: credbroker serve [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE]\n\n"
               "Serves MCP over Streamable HTTP at /mcp (default 127.0.0.1:8787, or \"listen\" in credbroker.json).\n"
               "Every request needs 'Authorization: Bearer <key>' (credbroker apikey create). Binding anything but\n"
               "loopback prints a warning. Stops on SIGTERM or SIGINT.\n"
               "It also runs the rotation scheduler (policies' schedules, every CREDBROKER_SCHEDULER_INTERVAL_S,\n"
               "default 30 s) and, once its port is bound, finishes any rotation that was interrupted.\n");
        return 0;
    }
    const char *listen = cli_take_opt(&argc, argv, "--listen");
    const char *cert = cli_take_opt(&argc, argv, "--tls-cert");
    const char *key = cli_take_opt(&argc, argv, "--tls-key");
    if (cli_no_unknown_opts(argc, argv) || argc != 1) return CB_EUSAGE;
    mcp_app *a;
    cb_error e = {0};
    int rc = mcp_app_open(&ctx->paths, &a, &e);
    if (rc) return cli_report_error(ctx, &e);
    /* bind first, then finish interrupted rotations and recover leased logins left by a
     * crash (a database that hangs must not keep the endpoint down), then run the
     * scheduler next to the endpoint; scheduler work is audited as actor "serve"
     * (MCP-triggered rotations name the client) */
    static cb_paths sched;
    sched = ctx->paths;
    sched.actor = "serve";
    a->on_listening = resume_after_bind;
    a->on_listening_arg = &sched;
    rc = mcp_app_serve_http(a, listen, cert, key, serve_scheduler_tick, &sched, serve_tick_interval(), &e);
    mcp_app_close(a);
    return rc && e.msg[0] ? cli_report_error(ctx, &e) : rc;
}
