/* One scheduler for every broker sharing a store: each `serve` holds a connection of its
 * own for leadership and tries the store backend's named lock "scheduler" every tick
 * (SQLite: an flock next to the file; PostgreSQL: a session advisory lock). The holder
 * runs scheduled rotations, resumes and lease expiry; the others serve MCP only. The
 * lock belongs to the connection, so a leader killed with -9 loses it with its process
 * (or its connection), and another broker takes over at its next tick. The database
 * lock each rotation takes stays as the second line of defence against a double
 * rotation (two leaders for a moment, a CLI `rotate`). */
#ifndef CB_ROTATION_LEADER_H
#define CB_ROTATION_LEADER_H

#define LEADER_LOCK_NAME "scheduler"

/* Opens the leadership connection to the store at path (no key needed) and sets this
 * broker's id ("host:pid"). 0 or -1 (logged; every later check then retries the open). */
int leader_open(const char *store_path);
void leader_close(void);
/* Tries (or keeps) the lock: 1 when this broker leads now, 0 when another does or the
 * store cannot be reached (a lost connection is closed and reopened at the next check,
 * and leadership is given up: another broker may hold the lock by then). Logs one line
 * when leadership is gained or lost. *gained (may be NULL) is set when it was just
 * gained (the new leader resumes what a dead one left). Thread-safe. */
int leader_check(int *gained);
/* The last check's answer, without touching the store (for /healthz, /metrics). */
int leader_is(void);
/* "host:pid", for logs, /healthz and /metrics. */
const char *leader_self_id(void);

#endif
