/* Security assessment of one parsed connection URL: TLS settings, timeouts, password
 * strength, exposed default ports. Findings are appended to a JSON array as
 * {"check","severity":"high|medium|low","message","fix"}; messages never hold secrets. */
#ifndef CB_CONN_ASSESS_H
#define CB_CONN_ASSESS_H
#include <jansson.h>
#include "connstr.h"

/* Returns the number of findings appended to findings (a JSON array). */
int conn_assess(const conn_url *u, json_t *findings);

/* Password-only checks (length, character classes, common list, equals user); user may
 * be NULL. Same finding shape; returns the number appended. */
int conn_assess_password(const char *password, const char *user, json_t *findings);

/* Fingerprint to detect one password reused across connections without keeping it:
 * HMAC-SHA-256(key, password) as 64 hex chars + NUL (plain SHA-256 when key is NULL;
 * prefer a per-store key so the fingerprint cannot be brute-forced offline). */
int conn_password_fingerprint(const char *password, const unsigned char *key, size_t keylen,
                              char out[65]);

/* 1 for loopback, RFC 1918 / RFC 4193 / link-local, localhost, unix sockets and
 * empty hosts; 0 for anything that may be public. */
int conn_host_is_private(const char *host);

#endif
