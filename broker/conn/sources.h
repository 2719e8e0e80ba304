/* Connections whose URL lives in a secret manager (credbroker.json "sources" or
 * `conn add --from-ref`). The URL is cached sealed in the connections table; it is
 * fetched again after ttl_s; when the provider fails, the cached value is served with a
 * warning until it is older than max_staleness_s, then access fails closed. */
#ifndef CB_SOURCES_H
#define CB_SOURCES_H
#include <jansson.h>
#include "policy/config.h"
#include "store/store.h"

/* Fetches one source now and stores it (validated as a connection string first; a bad
 * value changes nothing). detail (may be NULL) gets {name, ref, version, outcome}. */
int source_fetch(cb_store *s, const char *name, const char *ref, const char *engine,
                 json_t *detail, cb_error *e);

/* The connection with a usable URL: plain connections as stored; provider-backed ones
 * refreshed when older than their TTL, served stale within max staleness, else an error
 * (CB_K_UNAVAILABLE). cfg may be NULL (then --from-ref connections use ttl 300 s and
 * max staleness 86400 s). *stale = 1 when a stale value was served. */
int conn_resolve(cb_store *s, const cb_config *cfg, const char *name, store_conn *out,
                 int *stale, cb_error *e);

/* Records a value just fetched and stored by the caller (conn add --from-ref), so that
 * cache list shows it and its TTL counts from now. */
void source_state_record(cb_store *s, const char *name, const char *ref, const char *version);
/* Drops that record (conn remove): cache list no longer shows the connection. */
void source_state_forget(cb_store *s, const char *name);

/* Pulls every configured source and every `conn add --from-ref` connection (default TTL
 * and staleness unless credbroker.json names it) (force = ignore TTL). report gets one
 * object per source. */
int sources_sync(cb_store *s, const cb_config *cfg, int force, json_t *report, cb_error *e);

/* Metadata of what is cached: [{name, ref, version, fetched_at, age_s, ttl_s,
 * max_staleness_s, state: fresh|expired|stale|failed, last_error}] - never a value. */
int sources_list(cb_store *s, const cb_config *cfg, json_t **out, cb_error *e);

#endif
