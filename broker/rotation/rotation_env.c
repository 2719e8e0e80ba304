#include "rotation_env.h"
#include <stdlib.h>
#include <string.h>
#include "policy/config.h"
#include "policy/policy.h"
#include "lease_reaper.h"
#include "leader.h"
#include "rotation.h"
#include "scheduler.h"
#include "store/store.h"

void rotation_env_close(rotation_env *v)
{
    if (v->s) store_close(v->s);
    policy_free(v->p);
    config_free(v->cfg);
    memset(v, 0, sizeof *v);
}

int rotation_env_open(const cb_paths *ctx, rotation_env *v, cb_error *e)
{
    memset(v, 0, sizeof *v);
    cb_diags d = {0};
    int rc = policy_load(ctx->policies_dir, &v->p, &d, e);
    cb_diags_free(&d);
    if (!rc) {
        cb_diags d2 = {0};
        rc = config_load(ctx->config_path, config_path_explicit(ctx->config_path), &v->cfg, &d2, e);
        cb_diags_free(&d2);
    }
    if (!rc) rc = store_open_unlocked(ctx->db_path, &v->s, e);
    if (rc) rotation_env_close(v);
    return rc;
}

int serve_resume_rotations(const cb_paths *ctx)
{
    rotation_env v;
    cb_error e = {0};
    if (rotation_env_open(ctx, &v, &e)) {
        /* no policy means nothing to rotate; anything else is worth saying */
        if (e.kind != CB_K_NOTFOUND) LOG_WARN("rotation resume skipped: %s", e.msg);
        return 0;
    }
    json_t *rep = json_array();
    if (rotation_resume_all(v.s, v.p, v.cfg, ctx->actor, rep, &e)) LOG_WARN("rotation resume: %s", e.msg);
    else if (json_array_size(rep)) LOG_INFO("resumed %zu interrupted rotation(s)", json_array_size(rep));
    json_decref(rep);
    rotation_env_close(&v);
    return 0;
}

int serve_scheduler_tick(void *arg)
{
    const cb_paths *ctx = arg;
    /* one scheduler for every broker on this store (leader.h): the others serve MCP only */
    int gained = 0;
    if (!leader_check(&gained)) return 0;
    if (gained) {
        /* taken over from a broker that stopped or died: finish what it left */
        serve_resume_rotations(ctx);
        serve_lease_recover(ctx);
    }
    rotation_env v;
    cb_error e = {0};
    if (rotation_env_open(ctx, &v, &e)) {
        if (e.kind == CB_K_NOTFOUND) return 0; /* no policy: nothing to schedule */
        LOG_WARN("scheduler: %s", e.msg);
        return 1; /* the pass could not run (health says so) */
    }
    json_t *rep = json_array();
    if (scheduler_tick(v.s, v.p, v.cfg, ctx->actor, rep, &e)) LOG_WARN("scheduler: %s", e.msg);
    /* one line per rotation the pass ran, with its outcome (the audit row has the rest) */
    size_t i;
    json_t *r;
    json_array_foreach(rep, i, r) {
        const char *cred = json_string_value(json_object_get(r, "credential"));
        const char *out = json_string_value(json_object_get(r, "outcome"));
        const char *err = json_string_value(json_object_get(r, "error"));
        long long ms = (long long)json_integer_value(json_object_get(r, "duration_ms"));
        const char *kind = json_is_true(json_object_get(r, "scheduled")) ? "scheduled" : "resumed";
        if (out && !strcmp(out, "ok")) cb_log_notice("%s rotation of %s: ok (%lld ms)", kind, cred ? cred : "?", ms);
        else LOG_ERROR("%s rotation of %s: %s after %lld ms: %s", kind, cred ? cred : "?", out ? out : "error", ms,
                       err ? err : "failed");
    }
    if (lease_reap(v.s, v.p, v.cfg, ctx->actor, LEASE_REAP_GRACE_S, NULL, &e)) LOG_WARN("lease reaper: %s", e.msg);
    json_decref(rep);
    rotation_env_close(&v);
    return 0;
}

int serve_tick_interval(void)
{
    const char *v = getenv("CREDBROKER_SCHEDULER_INTERVAL_S");
    int n = v ? atoi(v) : 0;
    return n >= 1 && n <= 3600 ? n : 30;
}
