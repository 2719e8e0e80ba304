/* MySQL / MariaDB db_target (libmariadb). */
#ifndef CB_MYSQL_H
#define CB_MYSQL_H
#include "db_target.h"

extern const db_target mysql_target;

/* 1 (default): query_readonly also applies the first-word allow-list, the deny-list of
 * words (OUTFILE, LOAD_FILE, GET_LOCK, FOR UPDATE...) and refuses executable comments.
 * Tests set 0 to show what the READ ONLY transaction, the one-statement prepared
 * statement and the session reset hold on their own. */
extern int mysql_readonly_prefilter;

/* mysql_native_password hash of pw: '*' + upper hex SHA1(SHA1(pw)), 42 chars + NUL. */
void mysql_native_hash(const char *pw, char out[42]);

/* Checks the model-supplied text of a read-only request (the prefilter above). */
int mysql_readonly_check(const char *sql, cb_error *e);

/* ssl-mode value (DISABLED..VERIFY_IDENTITY, case-insensitive, libpq spellings too) -> 0..4, -1 unknown. */
int mysql_ssl_mode_parse(const char *v);

#endif
