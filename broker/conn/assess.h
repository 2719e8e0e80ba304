/* Security assessment of one stored connection, shared by `credbroker assess` and the
 * MCP tool security_assess. Findings are {target, check, severity, message, fix}. */
#ifndef CB_ASSESS_H
#define CB_ASSESS_H
#include <jansson.h>
#include "store/store.h"

/* Appends the findings of connection `row` (from store_conn_list) to `out`. When fp is
 * given and the URL has a password, fp receives its keyed fingerprint (for reuse checks
 * across connections; the password itself is never kept). migrate_fix: the advice for an
 * unencrypted row. Returns 0, or -1 when the row could not be decrypted or parsed (a
 * finding says so). */
int assess_connection(cb_store *s, const store_conn *row, json_t *out, const uint8_t *fpkey,
                      size_t fpkeylen, char fp[65], const char *migrate_fix);
void assess_add(json_t *out, const char *target, const char *check, const char *severity,
                const char *message, const char *fix);

#endif
