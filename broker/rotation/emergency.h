/* Incident response core, shared by `emergency-rotate` (cli/) and the MCP tool (tools/). */
#ifndef CB_EMERGENCY_H
#define CB_EMERGENCY_H
#include <jansson.h>
#include "policy/config.h"
#include "policy/policy.h"
#include "store/store.h"

/* Rotates each credential of `names` now (alternating-users twice, so no password in use
 * before the incident survives), ends the users' sessions even when a rotation failed,
 * revokes every API key when `revoke`, and writes one incident record to the audit log.
 * Returns 1 when everything was done. *record: the incident record (+ "rotated",
 * "failures", "ok"); *reports: per-rotation reports. Both are new references. */
int emergency_run(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *actor, json_t *names,
                  const char *incident, const char *reason, int revoke, json_t **record, json_t **reports);

#endif
