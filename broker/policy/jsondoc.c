/* Untrusted JSON documents with positions (see jsondoc.h for why a second scanner). */
#include "jsondoc.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util.h"

/* ---------------- diagnostics ---------------- */

void cb_diags_add(cb_diags *d, const char *file, int line, int column, const char *fmt, ...)
{
    if (!d) return;
    if (d->count == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->items = cb_realloc(d->items, d->cap * sizeof *d->items);
    }
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* one line per diagnostic, whatever the input held */
    for (char *q = buf; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f) *q = '?';
    cb_diag *g = &d->items[d->count++];
    g->file = cb_strdup(file ? file : "");
    g->line = line;
    g->column = column;
    g->message = cb_strdup(buf);
}

void cb_diags_free(cb_diags *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->count; i++) {
        free(d->items[i].file);
        free(d->items[i].message);
    }
    free(d->items);
    memset(d, 0, sizeof *d);
}

char *cb_diag_format(const cb_diag *g)
{
    if (g->line > 0) return cb_sprintf("%s:%d:%d: %s", g->file, g->line, g->column, g->message);
    return cb_sprintf("%s: %s", g->file, g->message);
}

void jdoc_quote(const char *s, char out[80])
{
    size_t o = 0;
    for (size_t i = 0; s && s[i] && o < 64; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (s && strlen(s) > 64) { memcpy(out + o, "...", 3); o += 3; }
    out[o] = 0;
}

/* ---------------- position scanner ---------------- */

#define SCAN_MAX_DEPTH 2048   /* jansson's own default nesting limit */

typedef struct scan {
    const unsigned char *s;
    size_t n, i;
    int line, col;   /* position of s[i] */
} scan;

static void adv(scan *sc)
{
    unsigned char c = sc->s[sc->i++];
    if (c == '\n') { sc->line++; sc->col = 1; }
    else if ((c & 0xC0) != 0x80) sc->col++;
}

static int peek(const scan *sc) { return sc->i < sc->n ? sc->s[sc->i] : -1; }

static void skip_ws(scan *sc)
{
    while (sc->i < sc->n) {
        unsigned char c = sc->s[sc->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        adv(sc);
    }
}

static int hex4(scan *sc, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int c = peek(sc);
        if (c < 0) return -1;
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
        adv(sc);
    }
    *out = v;
    return 0;
}

static void put_utf8(cb_buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18)); u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    cb_buf_append(b, u, n);
}

/* Reads a string starting at '"'; decodes it into out when out != NULL. */
static int scan_string(scan *sc, cb_buf *out)
{
    if (peek(sc) != '"') return -1;
    adv(sc);
    for (;;) {
        int c = peek(sc);
        if (c < 0) return -1;
        if (c == '"') { adv(sc); return 0; }
        if (c < 0x20) return -1;
        if (c != '\\') {
            if (out) { char ch = (char)c; cb_buf_append(out, &ch, 1); }
            adv(sc);
            continue;
        }
        adv(sc);
        c = peek(sc);
        if (c < 0) return -1;
        adv(sc);
        char ch;
        switch (c) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            unsigned cp;
            if (hex4(sc, &cp)) return -1;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (peek(sc) != '\\') return -1;
                adv(sc);
                if (peek(sc) != 'u') return -1;
                adv(sc);
                if (hex4(sc, &lo) || lo < 0xDC00 || lo > 0xDFFF) return -1;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return -1;
            }
            if (out) put_utf8(out, cp);
            continue;
        }
        default: return -1;
        }
        if (out) cb_buf_append(out, &ch, 1);
    }
}

static jdoc_pos *pos_new(const scan *sc)
{
    jdoc_pos *p = cb_calloc(1, sizeof *p);
    p->line = p->key_line = sc->line;
    p->col = p->key_col = sc->col;
    return p;
}

static void pos_push(jdoc_pos *parent, jdoc_pos *kid, size_t *cap)
{
    if (parent->nkids == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        parent->kids = cb_realloc(parent->kids, *cap * sizeof *parent->kids);
    }
    parent->kids[parent->nkids++] = kid;
}

static int cmp_key(const void *a, const void *b)
{
    const jdoc_pos *x = *(const jdoc_pos *const *)a, *y = *(const jdoc_pos *const *)b;
    return strcmp(x->key, y->key);
}

static jdoc_pos *scan_value(scan *sc, int depth)
{
    if (depth > SCAN_MAX_DEPTH) return NULL;
    skip_ws(sc);
    int c = peek(sc);
    if (c < 0) return NULL;
    jdoc_pos *p = pos_new(sc);
    size_t cap = 0;
    if (c == '{' || c == '[') {
        int obj = c == '{';
        adv(sc);
        skip_ws(sc);
        if (peek(sc) == (obj ? '}' : ']')) { adv(sc); return p; }
        for (;;) {
            skip_ws(sc);
            jdoc_pos *kid;
            if (obj) {
                int kl = sc->line, kc = sc->col;
                cb_buf key;
                cb_buf_init(&key, 0);
                if (scan_string(sc, &key)) { cb_buf_free(&key); goto bad; }
                skip_ws(sc);
                if (peek(sc) != ':') { cb_buf_free(&key); goto bad; }
                adv(sc);
                kid = scan_value(sc, depth + 1);
                if (!kid) { cb_buf_free(&key); goto bad; }
                kid->key = key.data ? cb_buf_steal(&key) : cb_strdup("");
                kid->key_line = kl;
                kid->key_col = kc;
            } else {
                kid = scan_value(sc, depth + 1);
                if (!kid) goto bad;
            }
            pos_push(p, kid, &cap);
            skip_ws(sc);
            c = peek(sc);
            if (c == ',') { adv(sc); continue; }
            if (c == (obj ? '}' : ']')) { adv(sc); break; }
            goto bad;
        }
        if (obj) qsort(p->kids, p->nkids, sizeof *p->kids, cmp_key);
        return p;
    }
    if (c == '"') {
        if (scan_string(sc, NULL)) goto bad;
        return p;
    }
    /* true, false, null, numbers: jansson already checked their grammar */
    size_t start = sc->i;
    while (sc->i < sc->n && strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.", sc->s[sc->i]) && sc->s[sc->i])
        adv(sc);
    if (sc->i == start) goto bad;
    return p;
bad:
    jdoc_pos_free(p);
    return NULL;
}

jdoc_pos *jdoc_scan(const char *text, size_t len)
{
    scan sc = {(const unsigned char *)text, len, 0, 1, 1};
    jdoc_pos *p = scan_value(&sc, 0);
    if (!p) return NULL;
    skip_ws(&sc);
    if (sc.i != sc.n) { jdoc_pos_free(p); return NULL; }
    return p;
}

void jdoc_pos_free(jdoc_pos *p)
{
    if (!p) return;
    /* iterative over siblings is not needed: depth is bounded by SCAN_MAX_DEPTH */
    for (size_t i = 0; i < p->nkids; i++) jdoc_pos_free(p->kids[i]);
    free(p->kids);
    free(p->key);
    free(p);
}

const jdoc_pos *jdoc_member(const jdoc_pos *obj, const char *key)
{
    if (!obj || !key) return NULL;
    size_t lo = 0, hi = obj->nkids;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const jdoc_pos *k = obj->kids[mid];
        if (!k->key) return NULL;   /* an array, not an object */
        int r = strcmp(key, k->key);
        if (r == 0) return k;
        if (r < 0) hi = mid; else lo = mid + 1;
    }
    return NULL;
}

const jdoc_pos *jdoc_item(const jdoc_pos *arr, size_t i)
{
    if (!arr || i >= arr->nkids) return NULL;
    return arr->kids[i];
}

/* ---------------- documents ---------------- */

int jdoc_parse(jdoc *doc, const char *file, const char *text, size_t len, cb_diags *d)
{
    memset(doc, 0, sizeof *doc);
    doc->file = cb_strdup(file);
    /* jansson silently skips a NUL byte right after a number or literal; JSON never
     * has one outside strings (where it must be escaped), so refuse it outright */
    const char *nul = memchr(text, 0, len);
    if (nul) {
        int line = 1, col = 1;
        for (const char *q = text; q < nul; q++) {
            if (*q == '\n') { line++; col = 1; }
            else if (((unsigned char)*q & 0xC0) != 0x80) col++;
        }
        cb_diags_add(d, file, line, col, "invalid JSON: NUL byte");
        return -1;
    }
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        int line = err.line > 0 ? err.line : 1, col = err.column > 0 ? err.column : 1;
        cb_diags_add(d, file, line, col, "invalid JSON: %s", err.text);
        return -1;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        jdoc_pos *p = jdoc_scan(text, len);
        cb_diags_add(d, file, p ? p->line : 1, p ? p->col : 1, "top level must be a JSON object");
        jdoc_pos_free(p);
        return -1;
    }
    doc->pos = jdoc_scan(text, len);
    if (!doc->pos) {
        /* jansson accepted what our scanner did not: refuse rather than guess */
        json_decref(root);
        cb_diags_add(d, file, 1, 1, "JSON not understood by the position scanner");
        return -1;
    }
    doc->root = root;
    return 0;
}

char *jdoc_read_file(const char *display, const char *path, size_t max_bytes, size_t *len, cb_diags *d)
{
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        cb_diags_add(d, display, 0, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        cb_diags_add(d, display, 0, 0, "not a regular file");
        return NULL;
    }
    cb_buf b;
    cb_buf_init(&b, 0);
    char chunk[8192];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int er = errno;
            close(fd);
            cb_buf_free(&b);
            cb_diags_add(d, display, 0, 0, "read failed: %s", strerror(er));
            return NULL;
        }
        if (r == 0) break;
        if (b.len + (size_t)r > max_bytes) {
            close(fd);
            cb_buf_free(&b);
            cb_diags_add(d, display, 0, 0, "file larger than %zu bytes", max_bytes);
            return NULL;
        }
        cb_buf_append(&b, chunk, (size_t)r);
    }
    close(fd);
    *len = b.len;
    return b.data ? cb_buf_steal(&b) : cb_strdup("");
}

int jdoc_load_file(jdoc *doc, const char *display, const char *path, size_t max_bytes, cb_diags *d)
{
    memset(doc, 0, sizeof *doc);
    size_t len;
    char *text = jdoc_read_file(display, path, max_bytes, &len, d);
    if (!text) return -1;
    int rc = jdoc_parse(doc, display, text, len, d);
    free(text);
    return rc;
}

void jdoc_free(jdoc *doc)
{
    if (!doc) return;
    json_decref(doc->root);
    jdoc_pos_free(doc->pos);
    free(doc->file);
    memset(doc, 0, sizeof *doc);
}

/* ---------------- validation helpers ---------------- */

void jdoc_err(jdoc_ctx *c, const jdoc_pos *at, const char *fmt, ...)
{
    char buf[560];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cb_diags_add(c->d, c->file, at ? at->key_line : 0, at ? at->key_col : 0, "%s", buf);
    c->errors++;
}

int jdoc_check_keys(jdoc_ctx *c, json_t *obj, const jdoc_pos *pos, const char *path,
                    const char *const *allowed)
{
    int bad = 0;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(k, allowed[i]) == 0) { ok = 1; break; }
        if (ok) continue;
        char q[80];
        jdoc_quote(k, q);
        const jdoc_pos *at = jdoc_member(pos, k);
        jdoc_err(c, at ? at : pos, "%s%sunknown key \"%s\"", path ? path : "", path && *path ? ": " : "", q);
        bad++;
    }
    return bad;
}

int cb_diags_fail(cb_diags *d, size_t before, cb_error *e, int kind)
{
    size_t n = d->count - before;
    char *first = cb_diag_format(&d->items[before]);
    if (n > 1) cb_fail(e, CB_EUSAGE, kind, "%s (and %zu more)", first, n - 1);
    else cb_fail(e, CB_EUSAGE, kind, "%s", first);
    free(first);
    return CB_EUSAGE;
}
