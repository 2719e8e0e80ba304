/* API keys for the MCP HTTP transport. A key is a random bearer token
 * "cbk_" + 8 hex (lookup prefix) + "_" + 43 base64url characters (32 random bytes); it is
 * shown once. Only HMAC-SHA256(k, token) is stored, with k a random 32-byte key kept
 * sealed in the store (meta "apikey_hmac_key"), so a copy of the database alone cannot
 * be used to test guesses, and the stored value is never itself a valid token.
 * Comparison is constant time. Each key is bound to one policy client. */
#ifndef CB_APIKEYS_H
#define CB_APIKEYS_H
#include <jansson.h>
#include "store.h"

#define APIKEY_TOKEN_PREFIX "cbk_"

/* Creates a key bound to policy (a client name). *token: cb_free_secret. The name must
 * be unused (revoked keys keep their name). */
int apikey_create(cb_store *s, const char *name, const char *policy, char **token, cb_error *e);
/* [{name, policy, prefix, created_at, last_used, revoked_at}] (ISO 8601 or null); never a
 * hash or a token. */
int apikey_list(cb_store *s, json_t **out, cb_error *e);
/* CB_K_NOTFOUND when absent; revoking twice is an error (CB_K_CONFLICT). */
int apikey_revoke(cb_store *s, const char *name, cb_error *e);
/* Revokes every active key (emergency rotation); *count = keys revoked. */
int apikey_revoke_all(cb_store *s, int *count, cb_error *e);
/* Checks a presented token. Returns 0 with *name and *policy (malloc'd) for an active
 * key, else CB_K_DENIED (unknown, malformed, revoked) without saying which. Updates
 * last_used at most once a minute. */
int apikey_verify(cb_store *s, const char *token, char **name, char **policy, cb_error *e);
/* For a server that keeps the hashing key in memory (wipe it when done): the unsealed
 * key, CB_K_NOTFOUND when no API key was ever created. */
int apikey_hmac_key_get(cb_store *s, uint8_t out[32], cb_error *e);
/* Looks up mac = HMAC(key, token) among the keys with this prefix on db (any connection
 * to the store; no key needed). 0: an active key (*name, *policy malloc'd, *last_used);
 * 1: a revoked key; -1: none (or an error). */
int apikey_lookup_mac(sdb *db, const char *prefix, const uint8_t mac[32], char **name, char **policy,
                      int64_t *last_used);
/* Whether token equals any stored key, active or revoked (*name: its name, malloc'd). */
int apikey_matches_any(cb_store *s, const char *token, char **name);
/* The API keys' generation (changes whenever a key is created or revoked); -1 on error. */
int64_t apikey_generation(sdb *db);

/* Parses the lookup prefix out of a token (8 hex chars + NUL); 0 when well-formed. */
int apikey_token_prefix(const char *token, char out[9]);

#endif
