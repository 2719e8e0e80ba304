/* Who owns a journal row: a live process on this host (its pid), another host (its
 * heartbeat), or a thread of this process (the active set). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rotation_internal.h"

int rotation_pid_alive(long pid)
{
    if (pid <= 0) return 0;
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM) return 0;
    /* a zombie is dead for our purpose */
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return !(p && p[1] == ' ' && p[2] == 'Z');
}

void rotation_hostname(char out[256])
{
    if (gethostname(out, 255) != 0) snprintf(out, 256, "unknown");
    out[255] = 0;
}

/* A journal row owned by another host counts as live while its heartbeat (updated_at,
 * written at every step) is younger than this: its pid cannot be checked from here. */
#define OWNER_STALE_S 300

/* 1 when the row's owner is another live process: same host and its pid alive (our own
 * pid: a leftover of this process, since the active set below already excludes a
 * concurrent run in another thread), or another host with a fresh heartbeat. A heartbeat
 * up to OWNER_STALE_S in the future is fresh too: brokers of a fleet share one store but
 * not one clock, and a host whose clock runs a second ahead is still alive (taking its row
 * as stale would resume a rotation that is running). Further ahead the clock is wrong, not
 * skewed, and the row counts as stale rather than blocking the credential for ever. */
int rotation_owner_live(long pid, const char *host, int64_t updated_at)
{
    char me[256];
    rotation_hostname(me);
    if (!host || !*host || pid <= 0) return 0;
    if (strcmp(host, me) == 0) return pid != (long)getpid() && rotation_pid_alive(pid);
    int64_t age = cb_now() - updated_at;
    return age > -OWNER_STALE_S && age < OWNER_STALE_S;
}

/* Credentials being rotated by this process (serve: the scheduler tick and MCP calls run
 * in threads of one pid, which the journal's owner_pid cannot tell apart). */
#define ACTIVE_MAX 64
static pthread_mutex_t active_mu = PTHREAD_MUTEX_INITIALIZER;
static char *active[ACTIVE_MAX];

int rotation_active_add(const char *cred)
{
    int rc = 1, freeslot = -1;
    pthread_mutex_lock(&active_mu);
    for (int i = 0; i < ACTIVE_MAX; i++) {
        if (active[i] && strcmp(active[i], cred) == 0) { freeslot = -2; break; }
        if (!active[i] && freeslot == -1) freeslot = i;
    }
    if (freeslot >= 0) {
        active[freeslot] = cb_strdup(cred);
        rc = 0;
    }
    pthread_mutex_unlock(&active_mu);
    return rc; /* 1: already active here (or the set is full: fail closed, as in progress) */
}

void rotation_active_del(const char *cred)
{
    pthread_mutex_lock(&active_mu);
    for (int i = 0; i < ACTIVE_MAX; i++)
        if (active[i] && strcmp(active[i], cred) == 0) {
            free(active[i]);
            active[i] = NULL;
        }
    pthread_mutex_unlock(&active_mu);
}
