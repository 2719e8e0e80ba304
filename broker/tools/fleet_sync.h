/* What other brokers sharing the store (or the CLI) changed, applied to this broker within
 * a poll: a thread with its own store connection asks the backend's cheap change counter
 * (data_version: SQLite's PRAGMA, PostgreSQL's LISTEN/NOTIFY) every FLEET_POLL_MS, and only
 * when it moved re-reads the generation counters (store.h) and drops what changed:
 *   leases      a revoked lease's pooled sessions are closed (mcp_pool_drop_login);
 *   policy      `credbroker policy reload`: this broker reloads as on SIGHUP;
 *   key_version a re-encryption under a new data key: the key is read again with this
 *               broker's master key source and copied into the shared store handle;
 *   apikeys_gen the token cache: mcp_auth.c checks it on every request itself (a revoked
 *               key must not pass even once after the commit), and this thread drops the
 *               cache too, so an idle broker holds no stale principal either. */
#ifndef CB_TOOLS_FLEET_SYNC_H
#define CB_TOOLS_FLEET_SYNC_H
#include "mcp_app.h"

#define FLEET_POLL_MS 200

int fleet_sync_start(mcp_app *a, cb_error *e);
void fleet_sync_stop(mcp_app *a);

#endif
