/* credbroker rotate | schedule | emergency-rotate. Nothing printed here holds a secret:
 * reports carry names, steps, versions and (sanitized) error lines only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd_rotate.h"
#include "rotation/rotation_env.h"
#include "store/audit.h"
#include "commands.h"
#include "policy/config.h"
#include "policy/policy.h"
#include "rotation/rotation.h"
#include "rotation/scheduler.h"
#include "rotation/emergency.h"
#include "store/store.h"

typedef rotation_env env;

/* CLI form of rotation_env_open: reports the error and returns the exit code. */
static int env_open(cli_ctx *ctx, env *v)
{
    cb_error e = {0};
    return rotation_env_open(&ctx->paths, v, &e) ? cli_report_error(ctx, &e) : 0;
}

static void say_report(cli_ctx *ctx, json_t *r)
{
    if (ctx->json || ctx->quiet) return;
    const char *out = json_string_value(json_object_get(r, "outcome"));
    const char *cred = json_string_value(json_object_get(r, "credential"));
    const char *user = json_string_value(json_object_get(r, "user"));
    const char *strat = json_string_value(json_object_get(r, "strategy"));
    const char *from = json_string_value(json_object_get(r, "from_step"));
    if (out && strcmp(out, "ok") == 0)
        printf("rotated %s (%s, user %s)%s%s in %lld ms\n", cred, strat ? strat : "?", user ? user : "?",
               from ? ", resumed from step " : "", from ? from : "",
               (long long)json_integer_value(json_object_get(r, "duration_ms")));
    else if (out && strcmp(out, "nothing") == 0)
        printf("%s: no interrupted rotation\n", cred);
    else if (out && strcmp(out, "rotated-elsewhere") == 0 && !json_object_get(r, "error"))
        printf("%s: rotated by another broker just now (done)\n", cred); /* --due: what was due is done */
}

static int rotate_names(cli_ctx *ctx, env *v, char **names, int n, int resume_only)
{
    json_t *arr = json_array();
    int worst = 0;
    for (int i = 0; i < n; i++) {
        rotation_opts o = {.actor = ctx->paths.actor, .resume_only = resume_only};
        json_t *rep = json_object();
        cb_error e = {0};
        int rc = rotation_run(v->s, v->p, v->cfg, names[i], &o, rep, &e);
        if (rc) {
            if (!ctx->json) fprintf(stderr, "credbroker: %s\n", e.msg);
            if (!worst || rc == ROTATION_EXIT_IN_PROGRESS) worst = rc;
        }
        say_report(ctx, rep);
        json_array_append_new(arr, rep);
    }
    if (ctx->json) cli_print_json(json_pack("{s:b,s:o}", "ok", worst == 0, "rotations", arr));
    else json_decref(arr);
    return worst;
}

static int print_batch(cli_ctx *ctx, json_t *arr, int rc, const cb_error *e, const char *what)
{
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r) {
        say_report(ctx, r);
        const char *err = json_string_value(json_object_get(r, "error"));
        if (err && !ctx->json) fprintf(stderr, "credbroker: %s\n", err);
    }
    if (ctx->json) cli_print_json(json_pack("{s:b,s:O}", "ok", rc == 0, "rotations", arr));
    else if (!ctx->quiet && json_array_size(arr) == 0) printf("%s\n", what);
    (void)e;
    return rc;
}

static int usage_rotate(void)
{
    printf("usage: credbroker rotate NAME...            rotate now (finishes an interrupted rotation first)\n"
           "       credbroker rotate --resume [NAME...] finish interrupted rotations only\n"
           "       credbroker rotate --due              finish interrupted ones, then rotate what is due\n"
           "       credbroker rotate --journal          list rotations in progress (the journal)\n"
           "       credbroker rotate --journal --discard NAME\n"
           "                                            drop the journal row of a credential no longer in\n"
           "                                            the policy (audited; the stored URL is unchanged)\n\n"
           "Credentials, schedules and strategies come from the policy files (--policies).\n"
           "Exit: 0 ok, 1 failed (the stored credential still logs in), 2 refused by policy or usage,\n"
           "4 master key, 5 a rotation of the credential is already in progress elsewhere (or another\n"
           "broker rotated it just now; for --due that counts as done).\n");
    return 0;
}

int cmd_rotate(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) return usage_rotate();
    int resume = cli_take_flag(&argc, argv, "--resume");
    int due = cli_take_flag(&argc, argv, "--due");
    int journal = cli_take_flag(&argc, argv, "--journal");
    const char *discard = cli_take_opt(&argc, argv, "--discard");
    if (cli_no_unknown_opts(argc, argv)) return CB_EUSAGE;
    if (discard && (!journal || argc > 1)) {
        usage_rotate();
        return CB_EUSAGE;
    }
    if (resume + due + journal > 1 || ((due || journal) && argc > 1) || (!resume && !due && !journal && argc < 2)) {
        usage_rotate();
        return CB_EUSAGE;
    }
    env v;
    int rc = env_open(ctx, &v);
    if (rc) return rc;
    cb_error e = {0};
    if (discard) {
        rc = rotation_journal_discard(v.s, v.p, discard, ctx->paths.actor, &e);
        rotation_env_close(&v);
        if (rc) return cli_report_error(ctx, &e);
        if (ctx->json) cli_print_json(json_pack("{s:b,s:s}", "ok", 1, "discarded", discard));
        else cli_say(ctx, "discarded the journal row of %s (audited)", discard);
        return 0;
    }
    if (journal) {
        json_t *rows = NULL;
        rc = rotation_journal_list(v.s, &rows, &e);
        if (!rc) {
            if (ctx->json) cli_print_json(rows);
            else {
                size_t i;
                json_t *r;
                if (!json_array_size(rows) && !ctx->quiet) printf("no rotation in progress\n");
                json_array_foreach(rows, i, r)
                    printf("%-20s step=%-7s user=%-16s since %s pid %lld%s%s\n", json_string_value(json_object_get(r, "credential")),
                           json_string_value(json_object_get(r, "step")), json_string_value(json_object_get(r, "user")),
                           json_string_value(json_object_get(r, "started_at")),
                           (long long)json_integer_value(json_object_get(r, "owner_pid")),
                           json_is_string(json_object_get(r, "error")) ? "  last error: " : "",
                           json_is_string(json_object_get(r, "error")) ? json_string_value(json_object_get(r, "error")) : "");
                json_decref(rows);
            }
        }
        rotation_env_close(&v);
        return rc ? cli_report_error(ctx, &e) : 0;
    }
    if (resume && argc < 2) {
        json_t *arr = json_array();
        rc = rotation_resume_all(v.s, v.p, v.cfg, ctx->paths.actor, arr, &e);
        rc = print_batch(ctx, arr, rc, &e, "no interrupted rotation");
        json_decref(arr);
    } else if (due) {
        json_t *arr = json_array();
        rc = rotation_resume_all(v.s, v.p, v.cfg, ctx->paths.actor, arr, &e);
        cb_error e2 = {0};
        int rc2 = scheduler_tick(v.s, v.p, v.cfg, ctx->paths.actor, arr, &e2);
        if (!rc) rc = rc2;
        rc = print_batch(ctx, arr, rc, &e, "nothing due");
        json_decref(arr);
    } else {
        rc = rotate_names(ctx, &v, argv + 1, argc - 1, resume);
    }
    rotation_env_close(&v);
    return rc;
}

/* ---- schedule ---- */

int cmd_schedule(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv) || argc < 2) {
        printf("usage: credbroker schedule list\n\nEach credential of the policy files with its schedule, last run, result and next run.\n"
               "The next run is computed from the last successful rotation, so a broker that was down\n"
               "catches up once. Run what is due with 'credbroker rotate --due' (system cron) or serve.\n");
        return argc < 2 ? CB_EUSAGE : 0;
    }
    if (strcmp(argv[1], "list") != 0 || argc != 2 || cli_no_unknown_opts(argc, argv)) {
        fprintf(stderr, "credbroker: schedule takes 'list'\n");
        return CB_EUSAGE;
    }
    env v;
    int rc = env_open(ctx, &v);
    if (rc) return rc;
    cb_error e = {0};
    json_t *arr = NULL;
    rc = scheduler_list(v.s, v.p, &arr, &e);
    rotation_env_close(&v);
    if (rc) return cli_report_error(ctx, &e);
    if (ctx->json) {
        cli_print_json(arr);
        return 0;
    }
    printf("%-20s %-16s %-21s %-21s %-21s %s\n", "CREDENTIAL", "SCHEDULE", "LAST RUN", "LAST SUCCESS", "NEXT RUN", "RESULT");
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
#define S(k) (json_string_value(json_object_get(o, k)) ? json_string_value(json_object_get(o, k)) : "-")
        printf("%-20s %-16s %-21s %-21s %-21s %s%s\n", S("credential"), S("schedule"), S("last_run"), S("last_success"),
               S("next_run"), S("last_result"), json_is_true(json_object_get(o, "due")) ? " (due)" : "");
#undef S
    }
    json_decref(arr);
    return 0;
}

/* ---- emergency ---- */

static int printable_line(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return 0;
    return 1;
}

static int usage_emergency(void)
{
    printf("usage: credbroker emergency-rotate (NAME... | --all) --incident ID --reason TEXT [--revoke-api-keys]\n\n"
           "Rotates now (schedules ignored; alternating-users rotates both logins so no old password\n"
           "survives), ends every session of the affected logins, optionally revokes every API key,\n"
           "and writes an incident record to the audit log. Exit 0 only if everything was done.\n");
    return 0;
}

int cmd_emergency(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) return usage_emergency();
    int all = cli_take_flag(&argc, argv, "--all");
    int revoke = cli_take_flag(&argc, argv, "--revoke-api-keys");
    const char *incident = cli_take_opt(&argc, argv, "--incident");
    const char *reason = cli_take_opt(&argc, argv, "--reason");
    if (cli_no_unknown_opts(argc, argv)) return CB_EUSAGE;
    if (!incident || !reason || (all && argc > 1) || (!all && argc < 2)) {
        usage_emergency();
        return CB_EUSAGE;
    }
    if (!printable_line(incident, 128) || !printable_line(reason, 1000)) {
        fprintf(stderr, "credbroker: --incident (1-128) and --reason (1-1000) must be printable single-line text\n");
        return CB_EUSAGE;
    }
    env v;
    int rc = env_open(ctx, &v);
    if (rc) return rc;
    json_t *names = json_array();
    if (all) for (size_t i = 0; i < v.p->ncredentials; i++) json_array_append_new(names, json_string(v.p->credentials[i].name));
    else for (int i = 1; i < argc; i++) json_array_append_new(names, json_string(argv[i]));
    json_t *rec = NULL, *reports = NULL;
    int okall = emergency_run(v.s, v.p, v.cfg, ctx->paths.actor, names, incident, reason, revoke, &rec, &reports);
    json_t *rotated = json_object_get(rec, "rotated"), *failures = json_object_get(rec, "failures");
    long sessions_total = (long)json_integer_value(json_object_get(rec, "sessions_ended_total"));
    int keys = (int)json_integer_value(json_object_get(rec, "api_keys_revoked"));
    size_t i;
    json_t *nj;
    if (ctx->json) {
        json_object_set_new(rec, "rotations", json_incref(reports));
        cli_print_json(json_incref(rec));
    } else if (!ctx->quiet) {
        printf("incident %s: %zu of %zu credential(s) rotated, %ld session(s) ended", incident, json_array_size(rotated),
               json_array_size(names), sessions_total);
        if (revoke) printf(", %d API key(s) revoked", keys);
        printf("\n");
        json_array_foreach(reports, i, nj) say_report(ctx, nj);
        json_t *f;
        json_array_foreach(failures, i, f)
            printf("FAILED %s %s: %s\n", json_string_value(json_object_get(f, "action")),
                   json_string_value(json_object_get(f, "credential")), json_string_value(json_object_get(f, "error")));
        printf("%s\n", okall ? "all done; incident recorded in the audit log" : "NOT everything was done (see above); incident recorded");
    }
    json_decref(rec);
    json_decref(names);
    json_decref(reports);
    rotation_env_close(&v);
    return okall ? 0 : CB_ERR;
}
