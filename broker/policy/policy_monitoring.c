/* The "monitoring" object of the policy files: security monitor thresholds and the
 * optional webhook (see policy.h for the defaults). */
#include <string.h>
#include "policy.h"

void policy_monitoring_defaults(policy_monitoring *m)
{
    m->auth_failures = 10;
    m->rate_factor = 10;
    m->rate_min_calls = 100;
    m->export_rows = 100000;
    m->export_bytes = 100LL << 20;
    m->statement_timeouts = 5;
    m->denied_statements = 1;
    m->rotation_grace_s = 3600;
}

static int int_in(jdoc_ctx *c, json_t *o, const jdoc_pos *pos, const char *key, long long lo, long long hi,
                  long long *out)
{
    json_t *v = json_object_get(o, key);
    if (!v) return 0;
    const jdoc_pos *at = jdoc_member(pos, key);
    if (!at) at = pos;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        jdoc_err(c, at, "monitoring.%s: must be an integer %lld..%lld", key, lo, hi);
        return 0;
    }
    *out = json_integer_value(v);
    return 1;
}

void policy_monitoring_parse(jdoc_ctx *c, json_t *o, const jdoc_pos *pos, policy_monitoring *m)
{
    static const char *const keys[] = {"auth_failures", "rate_factor", "rate_min_calls", "export_rows",
                                       "export_bytes", "statement_timeouts", "denied_statements",
                                       "rotation_grace_s", "webhook", NULL};
    if (!json_is_object(o)) { jdoc_err(c, pos, "monitoring: must be an object"); return; }
    jdoc_check_keys(c, o, pos, "monitoring", keys);
    m->set = 1;
    m->origin.file = cb_strdup(c->file);
    m->origin.line = pos ? pos->key_line : 0;
    m->origin.column = pos ? pos->key_col : 0;
    long long x;
    if (int_in(c, o, pos, "auth_failures", 1, 1000000, &x)) m->auth_failures = (int)x;
    if (int_in(c, o, pos, "rate_factor", 2, 10000, &x)) m->rate_factor = (int)x;
    if (int_in(c, o, pos, "rate_min_calls", 1, 100000000, &x)) m->rate_min_calls = (int)x;
    if (int_in(c, o, pos, "export_rows", 1, 1000000000000LL, &x)) m->export_rows = x;
    if (int_in(c, o, pos, "export_bytes", 1024, 1LL << 50, &x)) m->export_bytes = x;
    if (int_in(c, o, pos, "statement_timeouts", 1, 1000000, &x)) m->statement_timeouts = (int)x;
    if (int_in(c, o, pos, "denied_statements", 1, 1000000, &x)) m->denied_statements = (int)x;
    if (int_in(c, o, pos, "rotation_grace_s", 0, 30 * 86400, &x)) m->rotation_grace_s = (int)x;
    json_t *w = json_object_get(o, "webhook");
    if (w) {
        const jdoc_pos *at = jdoc_member(pos, "webhook");
        if (!at) at = pos;
        const char *s = json_is_string(w) ? json_string_value(w) : "";
        size_t n = strlen(s), ok = n > 8 && n <= 2048 && !strncmp(s, "https://", 8) && s[8] != '/';
        for (size_t i = 0; ok && i < n; i++)
            if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f) ok = 0;
        if (!ok) jdoc_err(c, at, "monitoring.webhook: must be an https:// URL (no spaces or control characters)");
        else m->webhook = cb_strdup(s);
    }
}

json_t *policy_monitoring_json(const policy_monitoring *m)
{
    json_t *o = json_pack("{s:i,s:i,s:i,s:I,s:I,s:i,s:i,s:i}", "auth_failures", m->auth_failures, "rate_factor",
                          m->rate_factor, "rate_min_calls", m->rate_min_calls, "export_rows", (json_int_t)m->export_rows,
                          "export_bytes", (json_int_t)m->export_bytes, "statement_timeouts", m->statement_timeouts,
                          "denied_statements", m->denied_statements, "rotation_grace_s", m->rotation_grace_s);
    if (m->webhook) json_object_set_new(o, "webhook", json_string(m->webhook));
    return o;
}
