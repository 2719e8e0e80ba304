/* The redacted display form of a stored connection, derived on read from its sealed URL
 * (the store keeps no host, user or database in clear). */
#ifndef CB_CONN_REDACTED_H
#define CB_CONN_REDACTED_H
#include "store/store.h"

/* Sets c->redacted (malloc'd) from the connection's URL when it is NULL; leaves it NULL
 * when the URL is absent or does not parse. The store must be unlocked. */
void conn_fill_redacted(cb_store *s, store_conn *c);

#endif
