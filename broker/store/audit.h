/* Append-only, hash-chained audit log in the store. Each entry carries the SHA-256 of
 * the previous entry; the newest (id, hash) is also kept sealed in the store, so an
 * entry that is altered, removed (even the last one) or reordered is detected.
 * Never pass a secret in any field: callers record names, actions and outcomes. */
#ifndef CB_AUDIT_H
#define CB_AUDIT_H
#include <jansson.h>
#include "store.h"

/* detail may be NULL (borrowed, not stolen). outcome: "ok", "error", "denied", ... */
int audit_append(cb_store *s, const char *actor, const char *action, const char *target,
                 const char *outcome, json_t *detail, long duration_ms, cb_error *e);
/* Array of entries (newest last), at most limit (0 = all), ts >= since (0 = all). */
int audit_list(cb_store *s, int limit, int64_t since, json_t **out, cb_error *e);
/* Returns 0 when intact, CB_EFINDINGS with problems appended to `problems`
 * ({id, problem}) otherwise. *checked = entries checked. */
int audit_verify(cb_store *s, json_t *problems, long *checked, cb_error *e);
/* "user@cli" style actor for the current process user. */
const char *audit_cli_actor(void);

#endif
