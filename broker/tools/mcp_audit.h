/* The MCP audit writer (mcp_audit.c): one thread, its own store connection, group
 * commit. A caller that asks to wait returns only once its row is committed, so every
 * tools/call's audit row is in the store before its response leaves the process; rows
 * that arrive while a batch commits form the next batch, so waiting costs little. */
#ifndef CB_MCP_AUDIT_H
#define CB_MCP_AUDIT_H
#include <pthread.h>
#include <jansson.h>
#include "store/store.h"

typedef struct mcp_audit mcp_audit;

/* Opens a sibling connection of main (synchronous=NORMAL) and starts the writer. main and
 * main_mu (the mutex that guards main) are used only to follow a re-key. */
mcp_audit *mcp_audit_start(cb_store *main, pthread_mutex_t *main_mu, cb_error *e);
/* Drains the queue, stops the thread, closes the connection. Safe with NULL. */
void mcp_audit_stop(mcp_audit *w);
/* Queues one audit row (detail borrowed). wait: return after it is committed. Returns 0,
 * or -1 when a waited-for row could not be committed (logged). */
int mcp_audit_write(mcp_audit *w, const char *actor, const char *action, const char *target, const char *outcome,
                    json_t *detail, long ms, int wait);
/* Records that API key `name` was used now (api_keys.last_used), without waiting. */
void mcp_audit_touch_key(mcp_audit *w, const char *name);
/* Rows queued and not yet being written (a gauge for /metrics); 0 for NULL. */
int mcp_audit_queue_len(mcp_audit *w);
/* Waits until every row queued so far is committed. */
void mcp_audit_flush(mcp_audit *w);

#endif
