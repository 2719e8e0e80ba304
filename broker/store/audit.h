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

/* ---- rollback detection: the chain's head anchored outside the store ----
 * credbroker.json "audit": {"anchor": REF} names a secret reference (file:// on another
 * disk, or a secret manager) that receives "<id>:<hex hash>" of the newest entry after
 * every commit (audit_append outside a transaction; serve's writer after each batch).
 * A store replaced by an older copy of itself, or a WAL SQLite dropped, then ends before
 * the anchored entry (or holds another entry there), which audit_anchor_check reports. */
void audit_set_anchor(const char *ref);       /* NULL = none; copied */
int audit_has_anchor(void);
/* Writes the current head to the anchor (no-op without one, or when unchanged). */
int audit_anchor_write(cb_store *s, cb_error *e);
/* 0 when the store is at or past the anchored entry; CB_EFINDINGS with problems
 * ({id, problem}) appended otherwise; an error when the anchor cannot be read. */
int audit_anchor_check(cb_store *s, json_t *problems, cb_error *e);
