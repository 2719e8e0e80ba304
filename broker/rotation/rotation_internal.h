/* Shared by the rotation engine's files only (rotation*.c). */
#ifndef CB_ROTATION_INTERNAL_H
#define CB_ROTATION_INTERNAL_H
#include <stdint.h>
#include "util.h"

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

#endif
