/* Writing result cells straight into JSON text (no json_t per cell), shared by the
 * engines that stream results (db_target.query_json). */
#ifndef CB_DB_JSON_H
#define CB_DB_JSON_H
#include <stddef.h>
#include "util.h"

/* Appends s[0..n) as a JSON string (quotes included). Invalid UTF-8 bytes become U+FFFD,
 * control characters are escaped, so the output is always valid JSON. */
void db_json_string(cb_buf *b, const char *s, size_t n);
/* Length of the longest prefix of s[0..n) that is at most max bytes and does not end
 * inside a UTF-8 sequence (for cutting a value to a byte budget). */
size_t db_utf8_cut(const char *s, size_t n, size_t max);
/* Whether s is a JSON number as PostgreSQL/SQL engines print integers and floats
 * (no NaN/Infinity, no leading '+', no leading zeros). */
int db_json_is_number(const char *s, size_t n);

#endif
