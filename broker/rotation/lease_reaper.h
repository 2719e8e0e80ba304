/* The lifecycle of leased query logins after their creation (tools/mcp_leases.c creates
 * and renews them): revocation (by id, client, connection, all), the scheduler's reaper
 * (expired, no longer in the policy, or left half-done by a crash) and the orphan search
 * (logins with the broker's prefix and no live record). Shared by `credbroker lease`,
 * `serve` (start and tick) and emergency rotation. Every revocation is audited. */
#ifndef CB_LEASE_REAPER_H
#define CB_LEASE_REAPER_H
#include <jansson.h>
#include "databases/db_target.h"
#include "policy/config.h"
#include "policy/policy.h"
#include "store/leases.h"
#include "store/store.h"

/* Resolves and connects the stored connection `admin` (the login that creates roles). */
int lease_admin_connect(cb_store *s, const cb_config *cfg, const char *admin, const db_target **t, db_conn **c,
                        cb_error *e);

/* Revokes one lease: state revoking (journal) -> the engine drops the login (sessions
 * ended first) -> state revoked, sealed password deleted, audit row "lease.revoke". */
int lease_revoke_one(cb_store *s, const cb_config *cfg, const store_lease *l, const char *actor, const char *reason,
                     cb_error *e);

/* Which leases to revoke; NULL/0 fields do not filter. At least one must be set. */
typedef struct lease_filter {
    const char *id, *client, *connection;
    int all;
} lease_filter;
/* Revokes every non-revoked lease matching f; report (may be NULL) gets one object per
 * lease. *count = leases revoked. Returns 0 when every revocation succeeded. */
int lease_revoke_where(cb_store *s, const cb_config *cfg, const lease_filter *f, const char *actor, const char *reason,
                       json_t *report, int *count, cb_error *e);

/* The reaper: revokes leases that expired, that the policy no longer lists (client gone,
 * connection without query_identity or not allowed to the client), and creating/revoking
 * records whose owner process is gone or that are older than grace_s seconds. */
int lease_reap(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *actor, int64_t grace_s, json_t *report,
               cb_error *e);

/* Drops logins named like ours (LEASE_LOGIN_PREFIX..._8hex) that have no live lease, on
 * every admin connection the policy or the lease records name. *count = logins dropped. */
int lease_drop_orphans(cb_store *s, const cb_policy *p, const cb_config *cfg, const char *actor, json_t *report,
                       int *count, cb_error *e);

/* Half-done records of a live process are left alone this long (a dead owner on this
 * host is detected at once). */
#define LEASE_REAP_GRACE_S 120
/* serve/mcp start: reap and drop orphans (serve's tick runs lease_reap too). */
int serve_lease_recover(const cb_paths *paths);

/* Test hook: when CREDBROKER_TEST_LEASE_PAUSE equals step, prints "lease pause STEP pid N" on
 * stderr and sleeps 60 s (tests kill -9 the process there). */
void lease_test_pause(const char *step);

#endif
