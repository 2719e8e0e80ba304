/* store migrate: a store copied to a new location on any backend (a SQLite file, a
 * PostgreSQL schema), row for row, in one transaction on the target, verified before it
 * commits. */
#ifndef CB_STORE_MIGRATE_H
#define CB_STORE_MIGRATE_H
#include <jansson.h>
#include "store.h"

/* Copies every row of every table of src (open and unlocked; open it read-only with
 * store_open_unlocked_readonly: it is only read) into a new store at target: a SQLite
 * path that must not exist yet, or a postgresql:// URL whose schema holds no table.
 * The columns come from each backend's catalog, not from a list here, so a column added
 * by a later migration is copied too. Before the commit, on the target: its key metadata
 * is unlocked with the master key from the environment (the same key opens it), every
 * sealed value is authenticated (store_verify), the audit chain and its sealed head are
 * verified (audit_verify), and each table's rows are compared with the source's (a
 * SHA-256 over the rows, order-independent). Then one audit entry "store.migrate" is
 * appended to the target's chain (actor; the source location and backend in its detail).
 * Any failure rolls the target back (a new SQLite file is removed) and returns the
 * reason; nothing is written to the target otherwise. Refused while a rotation is in
 * progress in src (a journal row): the copy would carry a half-done rotation to a store
 * the interrupted broker does not use.
 * report (may be NULL) gets {"source":{backend,location},"target":{backend,location},
 * "tables":[{table,rows,sha256}],"rows":N,"sealed_verified":N,"audit_verified":N,
 * "audit_entry":ID}; on a verification failure "failures" or "problems". */
int store_migrate(cb_store *src, const char *target, const char *actor, json_t *report, cb_error *e);

/* "postgresql://user:****@host/db" for a URL that names a password; anything else as is.
 * Free with free(). */
char *store_location_redacted(const char *where);
/* 1 when a postgresql:// URL carries a password (user:pw@ or ?password=). */
int store_location_has_password(const char *where);

/* Test hook: CREDBROKER_TEST_MIGRATE_TAMPER=table.column[@row] flips the last byte of that
 * (blob) column in the first copied row that has a value (and whose first column is row),
 * so a test can prove that a copy which does not verify is rolled back. */

#endif
