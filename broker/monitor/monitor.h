/* Security monitoring: findings from the audit log, the rotation schedule state and
 * (in serve) the server's live counters. Thresholds come from the policy files'
 * "monitoring" object (policy.h, defaults there). Shared by `credbroker monitor`, the
 * MCP tool security_monitor and serve's /metrics series and webhook. */
#ifndef CB_MONITOR_H
#define CB_MONITOR_H
#include <stdint.h>
#include <jansson.h>
#include "policy/policy.h"
#include "store/store.h"

/* Every finding kind, NULL-terminated (a /metrics series each). */
extern const char *const monitor_kinds[];

/* Live counters only a running server has; have = 0 when there are none (CLI). */
typedef struct monitor_counters {
    int have;
    double pool_saturated;   /* acquisitions that found every pooled session busy */
    double pool_waiting;     /* callers waiting for a session now */
    int pool_max;
} monitor_counters;

/* Findings for the window (now - window_s, now]: an array of {kind, severity ("high",
 * "medium", "low"), subject, summary, evidence{...}}, newest facts only, never a secret.
 * Returns 0 (findings may be empty) or an error. */
int monitor_analyze(cb_store *s, const cb_policy *p, int64_t now, int64_t window_s, const monitor_counters *ctr,
                    json_t **findings, cb_error *e);

/* Parses a duration: "90s", "30m", "24h", "7d" or plain seconds; 1 s .. 366 d. */
int monitor_parse_duration(const char *s, int64_t *secs);

/* A stable key for a finding (kind + subject), for "fire once per new finding". */
char *monitor_finding_key(json_t *finding);

#endif
