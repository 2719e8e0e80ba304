/* Incident response: the core behind `credbroker emergency-rotate` and the MCP tool
 * credentials_emergency_rotate. It lives beside the engine so that neither caller
 * reaches the other's layer. */
#include <stdlib.h>
#include <string.h>
#include "emergency.h"
#include "lease_reaper.h"
#include "rotation.h"
#include "store/apikeys.h"
#include "store/audit.h"
#include "conn/connstr.h"

/* The incident record goes to the append-only audit log (never re-encrypted): an error
 * there loses the database users the rotations so far reported. */
static json_t *failure(const char *cred, const char *action, const char *msg, json_t *reports)
{
    const char *names[16];
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(reports, i, r) {
        const char *u = json_string_value(json_object_get(r, "user"));
        if (u && n < 16) names[n++] = u;
    }
    char *clean = conn_redact_names(msg, names, n);
    json_t *o = json_pack("{s:s,s:s,s:s}", "credential", cred, "action", action, "error", clean ? clean : "");
    free(clean);
    return o;
}

/* See emergency.h. */
int emergency_run(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *actor, json_t *names,
                  const char *incident, const char *reason, int revoke, json_t **record, json_t **reports_out)
{
    struct { cb_store *s; const cb_policy *p; const cb_config *cfg; } vv = {s, p, cfg}, *vp = &vv;
    int64_t t0 = cb_now_ms();

    json_t *rotated = json_array(), *failures = json_array(), *sessions = json_object(), *reports = json_array();
    long sessions_total = 0, leases_revoked = 0;
    size_t i;
    json_t *nj;
    json_array_foreach(names, i, nj) {
        const char *name = json_string_value(nj);
        const policy_credential *c = policy_credential(vp->p, name);
        /* leased query logins on the rotated connection go first: their sessions end, and
         * with them any lock a model took to block this rotation */
        if (c) {
            lease_filter lf = {.connection = c->connection};
            int nl = 0;
            cb_error le = {0};
            char *why = cb_sprintf("emergency rotation (incident %s)", incident ? incident : "?");
            if (lease_revoke_where(vp->s, vp->cfg, &lf, actor, why, NULL, &nl, &le))
                json_array_append_new(failures, json_pack("{s:s,s:s,s:s}", "credential", name, "action", "revoke_leases", "error", le.msg));
            free(why);
            leases_revoked += nl;
        }
        /* alternating-users: rotate twice so neither old password survives */
        int rounds = c && c->strategy == POLICY_ALTERNATING_USERS ? 2 : 1, ok = 1;
        for (int r = 0; r < rounds && ok; r++) {
            rotation_opts o = {.actor = actor, .emergency = 1, .incident = incident};
            json_t *rep = json_object();
            cb_error e = {0};
            if (rotation_run(vp->s, vp->p, vp->cfg, name, &o, rep, &e)) {
                ok = 0;
                json_array_append_new(reports, rep);
                json_array_append_new(failures, failure(name, "rotate", e.msg, reports));
                continue;
            }
            json_array_append_new(reports, rep);
        }
        if (ok) json_array_append_new(rotated, json_string(name));
        /* end sessions even when the rotation failed: cutting an attacker off still helps */
        int n = 0;
        cb_error e = {0};
        if (rotation_terminate_sessions(vp->s, vp->p, vp->cfg, name, &n, &e))
            json_array_append_new(failures, failure(name, "terminate_sessions", e.msg, reports));
        json_object_set_new(sessions, name, json_integer(n));
        sessions_total += n;
    }
    int keys = 0;
    if (revoke) {
        cb_error e = {0};
        if (apikey_revoke_all(vp->s, &keys, &e))
            json_array_append_new(failures, json_pack("{s:s,s:s,s:s}", "credential", "*", "action", "revoke_api_keys", "error", e.msg));
    }
    int okall = json_array_size(failures) == 0;
    json_t *rec = json_pack("{s:s,s:s,s:O,s:O,s:O,s:I,s:b,s:O}", "incident", incident, "reason", reason, "requested", names,
                            "rotated", rotated, "sessions_ended", sessions, "sessions_ended_total", (json_int_t)sessions_total,
                            "api_keys_revoked_requested", revoke, "failures", failures);
    if (revoke) json_object_set_new(rec, "api_keys_revoked", json_integer(keys));
    json_object_set_new(rec, "leases_revoked", json_integer(leases_revoked));
    cb_error ae = {0};
    int arc = audit_append(vp->s, actor, "incident", incident, okall ? "ok" : "partial", rec, (long)(cb_now_ms() - t0), &ae);
    if (arc) {
        okall = 0;
        json_array_append_new(failures, json_pack("{s:s,s:s,s:s}", "credential", "*", "action", "audit", "error", ae.msg));
    }
    json_object_set_new(rec, "ok", json_boolean(okall));
    json_decref(rotated);
    json_decref(failures);
    json_decref(sessions);
    *record = rec;
    *reports_out = reports;
    return okall;
}
