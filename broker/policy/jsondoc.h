/* Untrusted JSON files with positions: shared by the policy and config loaders.
 *
 * jansson parses the text (and reports line/column for syntax errors) but keeps no
 * position for values. So, once jansson has accepted a document, a tiny position
 * scanner of our own walks the same bytes and builds a parallel tree (jdoc_pos) that
 * records where every value and every object key starts. Validators walk the json_t
 * tree and the jdoc_pos tree together, so a semantic error ("unknown key", "out of
 * range") is reported at the exact line:column of the offending key, also in nested
 * objects and for keys written with \u escapes. The scanner only ever sees text that
 * jansson accepted, but it is still written defensively (bounds, depth) and fuzzed.
 *
 * Lines and columns are 1-based; a column counts characters (UTF-8 continuation bytes
 * do not advance it), like jansson's own error columns. */
#ifndef CB_JSONDOC_H
#define CB_JSONDOC_H
#include <stddef.h>
#include <jansson.h>
#include "util.h"

/* One diagnostic: "file:line:column: message". line/column 0 = whole file. */
typedef struct cb_diag {
    char *file;
    int line, column;
    char *message;
} cb_diag;

typedef struct cb_diags {
    cb_diag *items;
    size_t count, cap;
} cb_diags;

void cb_diags_add(cb_diags *d, const char *file, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void cb_diags_free(cb_diags *d);
/* "file:line:column: message" (line/column omitted when 0); malloc'd. */
char *cb_diag_format(const cb_diag *g);
/* Puts the first diagnostic added since `before` into e ("file:line:col: msg (and N more)")
 * and returns CB_EUSAGE. */
int cb_diags_fail(cb_diags *d, size_t before, cb_error *e, int kind);

/* Position of one JSON value. For an object member, key_line/key_col locate its key. */
typedef struct jdoc_pos jdoc_pos;
struct jdoc_pos {
    int line, col;          /* where the value starts */
    int key_line, key_col;  /* member key; equal to line/col for array items / root */
    char *key;              /* decoded key (members only) */
    jdoc_pos **kids;        /* members (objects) or items (arrays), in text order */
    size_t nkids;
};

/* Member of an object position by decoded key, item of an array by index; NULL when
 * absent (callers pass NULL through and get the parent's position via jdoc_line/col). */
const jdoc_pos *jdoc_member(const jdoc_pos *obj, const char *key);
const jdoc_pos *jdoc_item(const jdoc_pos *arr, size_t i);

typedef struct jdoc {
    char *file;     /* name used in diagnostics */
    json_t *root;   /* always an object when jdoc_parse succeeds */
    jdoc_pos *pos;
} jdoc;

/* Parses text (len bytes, need not be NUL-terminated). Duplicate keys in one object
 * are rejected. On failure adds one diagnostic (jansson's line:column) and returns -1. */
int jdoc_parse(jdoc *doc, const char *file, const char *text, size_t len, cb_diags *d);
/* Reads a regular file of at most max_bytes; NULL + one diagnostic on failure.
 * The result is NUL-terminated; *len excludes the NUL. */
char *jdoc_read_file(const char *display, const char *path, size_t max_bytes, size_t *len, cb_diags *d);
/* Reads a file (max max_bytes) then jdoc_parse. */
int jdoc_load_file(jdoc *doc, const char *display, const char *path, size_t max_bytes, cb_diags *d);
void jdoc_free(jdoc *doc);

/* Builds a position tree for text jansson accepted; NULL if the scanner disagrees. */
jdoc_pos *jdoc_scan(const char *text, size_t len);
void jdoc_pos_free(jdoc_pos *p);

/* ---- validation helpers: report at the key's position (or value's, for items) ---- */
typedef struct jdoc_ctx {
    const char *file;
    cb_diags *d;
    int errors;     /* count added through this context */
} jdoc_ctx;

void jdoc_err(jdoc_ctx *c, const jdoc_pos *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reports every member of obj whose key is not in allowed (NULL-terminated).
 * Returns the number of unknown keys. */
int jdoc_check_keys(jdoc_ctx *c, json_t *obj, const jdoc_pos *pos, const char *path,
                    const char *const *allowed);
/* Copy of s for messages: at most 64 chars, control/non-ASCII bytes shown as '?'. */
void jdoc_quote(const char *s, char out[80]);

#endif
