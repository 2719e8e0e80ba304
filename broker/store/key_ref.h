/* Master keys that come from a provider reference (key rotation): checked so that a
 * reference cannot brick the store. A new key is read twice and both reads must agree
 * (a value that changes between reads, like /proc/sys/kernel/random/uuid, is refused);
 * a file:// reference must be a regular file owned by the broker's user and not
 * readable or writable by group/others, never under /proc, /dev or /sys (also through a
 * symlink). The fingerprint lets an operator match the key the audit record names. */
#ifndef CB_KEY_REF_H
#define CB_KEY_REF_H
#include "util.h"

/* Fetches the key named by ref under the rules above. *key: cb_free_secret. On failure e
 * holds a one-line reason without the key; CB_EUSAGE for a bad reference. */
int store_key_from_ref(const char *ref, char **key, cb_error *e);
/* Checks a key file (the file:// rules above). 0 or CB_ERR with the reason. */
int store_key_file_check(const char *path, cb_error *e);
/* First 16 hex characters of SHA-256(key): the same fingerprint security_generate_secure_key
 * shows, so the operator can tell which key the store is now under. */
void store_key_fingerprint(const char *key, char out[17]);

#endif
