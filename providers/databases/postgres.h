/* PostgreSQL db_target (libpq). */
#ifndef CB_POSTGRES_H
#define CB_POSTGRES_H
#include "db_target.h"

extern const db_target postgres_target;

/* 1 (default): query_readonly also applies the first-word allow-list and the
 * admin-function deny-list. Tests set 0 to prove that the READ ONLY transaction and the
 * one-statement extended protocol hold on their own. */
extern int pg_readonly_prefilter;

/* The 64-bit advisory lock key for a lock name: first 8 bytes of
 * SHA-256("credbroker:" || name), big endian, as a signed int64. */
long long pg_lock_key(const char *name);

#endif
