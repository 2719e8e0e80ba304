/* HashiCorp Vault (KV version 2) provider: response parsers exposed for unit tests and
 * the fuzz target. Every function takes an untrusted body (not necessarily
 * NUL-terminated) and fails with a one-line cb_error that never quotes a value. */
#ifndef CB_HASHICORP_VAULT_H
#define CB_HASHICORP_VAULT_H
#include <stddef.h>
#include <jansson.h>
#include "secret_provider.h"

extern const secret_provider vault_provider;

/* Maps a non-2xx Vault response ({"errors":[...]}) to a cb_error; what names the
 * object for the message (e.g. "secret/app/db"). Always returns non-zero. */
int vault_error_from_response(long status, const char *body, size_t len, const char *what, cb_error *e);

/* GET {mount}/data/{path}: value (single "value" key, else data.data as compact JSON),
 * version, created. A deleted or destroyed version is CB_K_NOTFOUND. */
int vault_parse_kv_read(const char *body, size_t len, secret_value *out, cb_error *e);

/* POST {mount}/data/{path}: *version = data.version (malloc'd). */
int vault_parse_kv_write(const char *body, size_t len, char **version, cb_error *e);

/* GET {mount}/metadata/{path}: *current = data.current_version, *custom = new reference
 * to data.custom_metadata as an object (empty when null), *out (optional) = the
 * description: {"current_version","oldest_version","updated","versions":[...],
 * "custom_metadata"}. */
int vault_parse_metadata(const char *body, size_t len, long *current, json_t **custom, json_t **out, cb_error *e);

/* Login / renew-self responses: auth.client_token (may be NULL for renew),
 * auth.lease_duration, auth.renewable. */
int vault_parse_auth(const char *body, size_t len, char **token, long *ttl, int *renewable, cb_error *e);

/* lookup-self: data.ttl and data.renewable. */
int vault_parse_lookup(const char *body, size_t len, long *ttl, int *renewable, cb_error *e);

#endif
