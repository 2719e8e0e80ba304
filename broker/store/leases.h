/* Lease records: the per-(client, connection) query logins the broker creates in a
 * database (see docs/readme-least-privilege.md). A record is written in state
 * "creating", with its password sealed in secrets ns "lease", BEFORE the login exists,
 * so after a kill -9 at any instant every login the broker made has a record:
 *   creating -> active -> revoking -> revoked   (creating/revoking left by a crash are
 *   finished by the reaper: the login is dropped, idempotently). */
#ifndef CB_LEASES_H
#define CB_LEASES_H
#include <stdint.h>
#include <jansson.h>
#include "store.h"

#define LEASE_NS "lease"          /* secrets namespace of the sealed lease passwords */
#define LEASE_LOGIN_PREFIX "cb_"  /* every leased login starts with it (orphan search) */

typedef struct store_lease {
    char id[40];
    char *client, *connection, *login, *admin_connection, *state, *error;
    int64_t created_at, expires_at, updated_at;
    int64_t owner_pid; char *owner_host;  /* the process that last changed the state */
} store_lease;
void store_lease_free(store_lease *l);

/* Journals a new lease (state creating) and seals its password, in one transaction of
 * its own. CB_K_CONFLICT when (client, connection) already has a live lease. */
int lease_journal_create(cb_store *s, const store_lease *l, const char *password, cb_error *e);
/* Sets state (and expires_at when > 0, error when not NULL). */
int lease_set_state(cb_store *s, const char *id, const char *state, int64_t expires_at, const char *error, cb_error *e);
/* The live (creating/active) lease of (client, connection). CB_K_NOTFOUND when none. */
int lease_get_live(cb_store *s, const char *client, const char *connection, store_lease *out, cb_error *e);
int lease_get(cb_store *s, const char *id, store_lease *out, cb_error *e);
/* Every lease not revoked (all = 1: revoked ones too), oldest first. */
int lease_list(cb_store *s, int all, store_lease **out, size_t *n, cb_error *e);
/* The sealed password of a lease (cb_free_secret). */
int lease_password(cb_store *s, const char *id, char **password, cb_error *e);
/* Deletes the sealed password (after the login is dropped). */
int lease_forget_password(cb_store *s, const char *id, cb_error *e);
/* True when the process that last changed the lease is known to be dead (same host). */
int lease_owner_gone(const store_lease *l);
/* JSON for lease list: {id,client,connection,login,admin_connection,created,expires,state[,error]}. Never a password. */
json_t *lease_to_json(const store_lease *l);
/* True when login looks like one of ours: LEASE_LOGIN_PREFIX ... "_" 8 hex. */
int lease_login_is_ours(const char *login);
/* A fresh login name for client: cb_<client, lower-cased, [a-z0-9_], at most 40>_<8 hex>. */
void lease_make_login(const char *client, char out[64]);

#endif
