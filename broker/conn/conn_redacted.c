/* Redacted connection URLs derived from the sealed URL on read. */
#include "conn_redacted.h"
#include <stdlib.h>
#include "connstr.h"

void conn_fill_redacted(cb_store *s, store_conn *c)
{
    if (c->redacted) return;
    store_conn full;
    conn_url u;
    if (store_conn_get(s, c->name, 1, &full, NULL)) return;
    if (full.url && conn_url_parse(full.url, full.engine, &u, NULL) == 0) {
        c->redacted = conn_url_redacted(&u);
        conn_url_free(&u);
    }
    store_conn_free(&full);
}
