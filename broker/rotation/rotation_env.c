#include "rotation_env.h"
#include <stdlib.h>
#include <string.h>
#include "policy/config.h"
#include "policy/policy.h"
#include "lease_reaper.h"
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
    rotation_env v;
    cb_error e = {0};
    if (rotation_env_open(ctx, &v, &e)) {
        if (e.kind != CB_K_NOTFOUND) LOG_WARN("scheduler: %s", e.msg);
        return 0;
    }
    json_t *rep = json_array();
    if (scheduler_tick(v.s, v.p, v.cfg, ctx->actor, rep, &e)) LOG_WARN("scheduler: %s", e.msg);
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
