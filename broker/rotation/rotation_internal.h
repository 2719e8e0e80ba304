/* Shared by the rotation engine's files only (rotation*.c). */
#ifndef CB_ROTATION_INTERNAL_H
#define CB_ROTATION_INTERNAL_H
#include <stdint.h>
#include <jansson.h>
#include "util.h"
#include "store/store.h"

enum { STEP_NONE = 0, STEP_CREATE = 1, STEP_SET = 2, STEP_TEST = 3, STEP_FINISH = 4 };

/* 1 when pid is a live process on this host (a zombie counts as dead). */
int rotation_pid_alive(long pid);
void rotation_hostname(char out[256]);
/* 1 when a journal row's owner is another live process (see rotation_owner.c). */
int rotation_owner_live(long pid, const char *host, int64_t updated_at);
/* The set of credentials this process is rotating (threads share one pid): add returns
 * 0 when added, 1 when cred is already in it or the set is full (fail closed). */
int rotation_active_add(const char *cred);
void rotation_active_del(const char *cred);

/* The journal row's sealed columns (rotation_journal.c). insert: a new row at step create,
 * target user and publish_to sealed. meta: opens the sealed meta at column col (its key
 * version at kv_col) of st's row; CB_K_TAMPERED when absent or unreadable (publish_to
 * may be NULL). error: records why the owning run stopped (sealed) and gives the row up. */
int rotation_journal_insert(cb_store *s, const char *credential, const char *id, const char *strategy,
                            const char *target, const char *connection, const char *publish_to, int64_t now,
                            long pid, const char *host, cb_error *e);
int rotation_journal_meta(cb_store *s, sdb_stmt *st, int col, int kv_col, const char *credential, char **target,
                          char **publish_to, cb_error *e);
void rotation_journal_error(cb_store *s, const char *credential, const char *id, const char *msg);

#endif
