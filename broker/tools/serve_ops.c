/* serve's operations: SIGHUP reload, the monitor pass with its webhook, the metrics token. */
#include "serve_ops.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "monitor/monitor.h"
#include "obs.h"
#include "secrets/http.h"
#include "secrets/secret_provider.h"
#include "store/audit.h"

/* Policies and configs replaced by a reload stay allocated until close: a request that
 * read the old pointer may still be using it. */
#define RETIRED_MAX 256
/* serve looks at the last hour: what is new is what a webhook is for */
#define SERVE_MONITOR_WINDOW_S 3600
static pthread_mutex_t ops_mu = PTHREAD_MUTEX_INITIALIZER;
static cb_policy *retired_pol[RETIRED_MAX];
static cb_config *retired_cfg[RETIRED_MAX];
static int nretired_pol, nretired_cfg;
static char **seen_keys;
static size_t nseen;
static int64_t last_monitor_ms;

static void audit_now(mcp_app *a, const char *outcome, json_t *d)
{
    cb_error e = {0};
    mcp_app_audit_flush(a);
    pthread_mutex_lock(&a->store_mu);
    if (audit_append(a->store, "serve", "serve.reload", NULL, outcome, d, 0, &e)) LOG_ERROR("audit: %s", e.msg);
    pthread_mutex_unlock(&a->store_mu);
}

int serve_reload(mcp_app *a)
{
    json_t *d = json_object(), *errs = json_array();
    cb_error e = {0};
    cb_diags dg = {0};
    cb_policy *p = NULL;
    int rc = policy_load(a->paths->policies_dir, &p, &dg, &e);
    cb_diags_free(&dg);
    if (rc) {
        LOG_ERROR("reload: policies: %s (keeping the previous policy)", e.msg);
        json_array_append_new(errs, json_pack("{s:s,s:s}", "what", "policies", "error", e.msg));
    } else {
        pthread_mutex_lock(&ops_mu);
        if (nretired_pol < RETIRED_MAX) {
            retired_pol[nretired_pol++] = __atomic_exchange_n(&a->pol, p, __ATOMIC_SEQ_CST);
            json_object_set_new(d, "policy_files", json_integer((json_int_t)p->nfiles));
        } else {
            policy_free(p);
            json_array_append_new(errs, json_pack("{s:s,s:s}", "what", "policies", "error", "too many reloads; restart"));
        }
        pthread_mutex_unlock(&ops_mu);
    }
    cb_config *c = NULL;
    memset(&e, 0, sizeof e);
    rc = config_load(a->paths->config_path, config_path_explicit(a->paths->config_path), &c, &dg, &e);
    cb_diags_free(&dg);
    if (rc) {
        LOG_ERROR("reload: config: %s (keeping the previous configuration)", e.msg);
        json_array_append_new(errs, json_pack("{s:s,s:s}", "what", "config", "error", e.msg));
    } else {
        pthread_mutex_lock(&ops_mu);
        audit_set_anchor(c->audit_anchor);
        if (nretired_cfg < RETIRED_MAX) retired_cfg[nretired_cfg++] = __atomic_exchange_n(&a->cfg, c, __ATOMIC_SEQ_CST);
        else config_free(c);
        pthread_mutex_unlock(&ops_mu);
    }
    /* API keys are read from the store on every request: a reload makes sure the next
     * read sees the newest committed state (no read transaction is left open). */
    int ok = json_array_size(errs) == 0;
    json_object_set_new(d, "errors", errs);
    audit_now(a, ok ? "ok" : "error", d);
    json_decref(d);
    obs_reload(ok);
    if (ok) cb_log_notice("reload done: policies, configuration and API keys");
    else LOG_ERROR("reload incomplete: the previous policy/configuration stays active (see above)");
    return ok ? 0 : CB_EUSAGE;
}

static int seen(const char *key)
{
    for (size_t i = 0; i < nseen; i++)
        if (!strcmp(seen_keys[i], key)) return 1;
    return 0;
}

/* One POST per new finding; the payload holds the finding (never a secret). */
static void fire(const char *url, json_t *finding)
{
    cb_error e = {0};
    http_client *hc = http_client_new(&(http_options){.max_attempts = 3}, &e);
    if (!hc) {
        LOG_WARN("monitor webhook: %s", e.msg);
        return;
    }
    json_t *body = json_pack("{s:s,s:O}", "source", "credbroker", "finding", finding);
    char *txt = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    const char *const hdrs[] = {"Content-Type: application/json", NULL};
    http_request rq = {.method = "POST", .url = url, .headers = hdrs, .body = txt, .body_len = strlen(txt)};
    http_response rs;
    memset(&rs, 0, sizeof rs);
    if (http_do(hc, &rq, &rs, &e)) LOG_WARN("monitor webhook: %s", e.msg);
    else if (rs.status < 200 || rs.status > 299) LOG_WARN("monitor webhook: HTTP %ld", rs.status);
    else LOG_INFO("monitor webhook: sent %s", json_string_value(json_object_get(finding, "kind")));
    http_response_free(&rs);
    free(txt);
    http_client_free(hc);
}

void serve_monitor_pass(mcp_app *a)
{
    const char *iv = getenv("CREDBROKER_MONITOR_INTERVAL_S");
    int every = iv ? atoi(iv) : 60;
    if (every < 1 || every > 86400) every = 60;
    int64_t now_ms = cb_now_ms();
    if (last_monitor_ms && now_ms - last_monitor_ms < (int64_t)every * 1000) return;
    last_monitor_ms = now_ms;
    const cb_policy *p = a->pol;
    monitor_counters ctr = {.have = 1, .pool_saturated = obs_pool_saturated_total(), .pool_waiting = obs_pool_waiting(),
                            .pool_max = a->pool_n};
    /* an own handle: the scan must not hold the handle the MCP threads share */
    cb_store *s = NULL;
    cb_error e = {0};
    json_t *findings = NULL;
    if (store_open_unlocked(a->paths->db_path, &s, &e) ||
        monitor_analyze(s, p, cb_now(), SERVE_MONITOR_WINDOW_S, &ctr, &findings, &e)) {
        LOG_WARN("monitor: %s", e.msg);
        if (s) store_close(s);
        return;
    }
    store_close(s);
    obs_findings_set(findings);
    size_t i;
    json_t *f;
    json_array_foreach(findings, i, f) {
        char *key = monitor_finding_key(f);
        if (seen(key)) {
            free(key);
            continue;
        }
        LOG_WARN("security finding: %s %s: %s", json_string_value(json_object_get(f, "severity")),
                 json_string_value(json_object_get(f, "kind")), json_string_value(json_object_get(f, "summary")));
        if (p->monitoring.webhook) fire(p->monitoring.webhook, f);
        seen_keys = cb_realloc(seen_keys, (nseen + 1) * sizeof *seen_keys);
        seen_keys[nseen++] = key;
    }
    json_decref(findings);
}

int serve_metrics_token(mcp_app *a, char **token, cb_error *e)
{
    *token = NULL;
    if (!a->cfg || !a->cfg->metrics_token_ref) return 0;
    secret_value v;
    if (secret_fetch(a->cfg->metrics_token_ref, &v, e)) {
        cb_error_prefix(e, "metrics.token_ref");
        return e->code ? e->code : CB_ERR;
    }
    *token = cb_strndup(v.value, strcspn(v.value, "\r\n"));
    secret_value_free(&v);
    if (strlen(*token) < 16) {
        cb_free_secret(*token);
        *token = NULL;
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "metrics.token_ref: the token must have at least 16 characters");
    }
    return 0;
}

void serve_ops_cleanup(mcp_app *a)
{
    (void)a;
    pthread_mutex_lock(&ops_mu);
    for (int i = 0; i < nretired_pol; i++) policy_free(retired_pol[i]);
    for (int i = 0; i < nretired_cfg; i++) config_free(retired_cfg[i]);
    nretired_pol = nretired_cfg = 0;
    for (size_t i = 0; i < nseen; i++) free(seen_keys[i]);
    free(seen_keys);
    seen_keys = NULL;
    nseen = 0;
    pthread_mutex_unlock(&ops_mu);
}
