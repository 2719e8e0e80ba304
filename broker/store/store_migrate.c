/* store migrate (store_migrate.h): the copy follows the schema each backend reports in
 * its catalog, table by table and column by column, so a table or column added by a
 * later migration (sealed metadata columns, say) is copied without a change here. */
#include "store_migrate.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "audit.h"
#include "crypto.h"
#include "store_internal.h"

typedef struct strv {
    char **v;
    size_t n;
} strv;

static void strv_add(strv *s, const char *x)
{
    s->v = cb_realloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n++] = cb_strdup(x);
}

static void strv_free(strv *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static int db_fail(sdb *db, cb_error *e, const char *side, const char *what)
{
    return cb_fail(e, CB_ERR, CB_K_INTERNAL, "%s: %s: %s", side, what, sdb_errmsg(db));
}

/* The first column of a query's rows (and the second into out2 when given), with at
 * most one '?' (bound to arg). */
static int query_names(sdb *db, const char *sql, const char *arg, strv *out, strv *out2)
{
    sdb_stmt *st;
    if (sdb_prepare(db, sql, &st) != SDB_OK) return -1;
    if (arg) sdb_bind_text(st, 1, arg, -1);
    int r;
    while ((r = sdb_step(st)) == SDB_ROW) {
        const char *t = (const char *)sdb_column_text(st, 0);
        if (!t) continue;
        strv_add(out, t);
        if (out2) {
            const char *t2 = (const char *)sdb_column_text(st, 1);
            strv_add(out2, t2 ? t2 : "");
        }
    }
    sdb_finalize(st);
    return r == SDB_DONE ? 0 : -1;
}

/* The store's tables and a table's columns, from the backend's own catalog (the one
 * place that differs by backend): SQLite's sqlite_master and table_info, PostgreSQL's
 * information_schema for the store's schema (first on the search_path). A backend's own
 * record of its schema version (PostgreSQL's schema_version table; SQLite keeps it in
 * the file header) is not store data: each side's is written by its own migrations. */
static int list_tables(sdb *db, strv *out)
{
    return query_names(db, sdb_kind_of(db) == SDB_KIND_POSTGRES
        ? "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
          " AND table_type = 'BASE TABLE' AND table_name <> 'schema_version' ORDER BY table_name"
        : "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name",
        NULL, out, NULL);
}

/* Names, and (types != NULL) declared types: "bytea", "bigint", "text"; "BLOB", ... */
static int list_columns(sdb *db, const char *table, strv *out, strv *types)
{
    return query_names(db, sdb_kind_of(db) == SDB_KIND_POSTGRES
        ? "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema()"
          " AND table_name = ? ORDER BY ordinal_position"
        : "SELECT name, type FROM pragma_table_info(?) ORDER BY cid",
        table, out, types);
}

static int strv_has(const strv *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0) return 1;
    return 0;
}

/* "SELECT "a", "b" FROM "t"" or "INSERT INTO "t"("a", "b") VALUES(?, ?)". Names come from
 * the catalog; quoted anyway, and one with a quote in it is refused. */
static char *build_sql(const char *table, const strv *cols, int insert)
{
    size_t cap = 64 + strlen(table);
    for (size_t i = 0; i < cols->n; i++) cap += strlen(cols->v[i]) + 8;
    char *sql = cb_malloc(cap), *p = sql;
    p += sprintf(p, insert ? "INSERT INTO \"%s\"(" : "SELECT ", table);
    for (size_t i = 0; i < cols->n; i++) p += sprintf(p, "%s\"%s\"", i ? ", " : "", cols->v[i]);
    if (insert) {
        p += sprintf(p, ") VALUES(");
        for (size_t i = 0; i < cols->n; i++) p += sprintf(p, "%s?", i ? ", " : "");
        sprintf(p, ")");
    } else {
        sprintf(p, " FROM \"%s\"", table);
    }
    return sql;
}

/* ---- an order-independent digest of a table's rows ----
 * Each row hashes its values in column order (NULL, or the value's bytes, an integer as
 * its decimal digits); the table's digest is the SHA-256 of its sorted row hashes. Row
 * order differs between backends (collations), the bytes must not. */
typedef struct digest {
    uint8_t *rows;   /* 32 bytes per row */
    size_t n, cap;
} digest;

typedef struct rowbuf {
    uint8_t *b;
    size_t n, cap;
} rowbuf;

static void rb_add(rowbuf *r, const void *p, size_t n)
{
    if (r->n + n > r->cap) {
        r->cap = (r->n + n) * 2 + 64;
        r->b = cb_realloc(r->b, r->cap);
    }
    if (n) memcpy(r->b + r->n, p, n);
    r->n += n;
}

/* Appends column i of st to the row buffer. */
static void rb_value(rowbuf *r, sdb_stmt *st, int i)
{
    int t = sdb_column_type(st, i);
    if (t == SDB_NULL) {
        rb_add(r, "N", 1);
        return;
    }
    char num[32];
    const void *p;
    size_t n;
    if (t == SDB_INTEGER) {
        n = (size_t)snprintf(num, sizeof num, "%lld", (long long)sdb_column_int64(st, i));
        p = num;
    } else {
        p = t == SDB_BLOB ? sdb_column_blob(st, i) : (const void *)sdb_column_text(st, i);
        n = (size_t)sdb_column_bytes(st, i);
    }
    uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    rb_add(r, "V", 1);
    rb_add(r, len, 4);
    rb_add(r, p, n);
}

static void digest_add(digest *d, const rowbuf *r)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 256;
        d->rows = cb_realloc(d->rows, d->cap * 32);
    }
    cb_sha256(r->b, r->n, d->rows + d->n * 32);
    d->n++;
}

static int cmp32(const void *a, const void *b) { return memcmp(a, b, 32); }

static void digest_final(digest *d, char hex[65])
{
    uint8_t h[32];
    if (d->n) qsort(d->rows, d->n, 32, cmp32);
    cb_sha256(d->rows ? d->rows : (uint8_t *)"", d->n * 32, h);
    for (int i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", h[i]);
    free(d->rows);
    memset(d, 0, sizeof *d);
}

/* The digest of a table as it is now in db (the target, read back inside its transaction). */
static int table_digest(sdb *db, const char *table, const strv *cols, long *rows, char hex[65])
{
    char *sql = build_sql(table, cols, 0);
    sdb_stmt *st;
    int rc = sdb_prepare(db, sql, &st) == SDB_OK ? 0 : -1;
    free(sql);
    if (rc) return -1;
    digest d = {0};
    rowbuf rb = {0};
    int r;
    while ((r = sdb_step(st)) == SDB_ROW) {
        rb.n = 0;
        for (size_t i = 0; i < cols->n; i++) rb_value(&rb, st, (int)i);
        digest_add(&d, &rb);
    }
    sdb_finalize(st);
    if (rb.b) cb_wipe(rb.b, rb.cap);
    free(rb.b);
    *rows = (long)d.n;
    digest_final(&d, hex);
    return r == SDB_DONE ? 0 : -1;
}

/* ---- the copy ---- */
typedef struct tamper {
    char table[64], column[64], row[128];   /* row: the first column's value, "" = any row */
    int done;
} tamper;

/* CREDBROKER_TEST_MIGRATE_TAMPER=table.column[@row] */
static void tamper_init(tamper *t)
{
    memset(t, 0, sizeof *t);
    const char *v = getenv("CREDBROKER_TEST_MIGRATE_TAMPER");
    const char *dot = v ? strchr(v, '.') : NULL;
    if (!dot || (size_t)(dot - v) >= sizeof t->table) {
        t->done = 1;
        return;
    }
    snprintf(t->table, sizeof t->table, "%.*s", (int)(dot - v), v);
    const char *at = strchr(dot + 1, '@');
    snprintf(t->column, sizeof t->column, "%.*s", at ? (int)(at - dot - 1) : (int)strlen(dot + 1), dot + 1);
    if (at) snprintf(t->row, sizeof t->row, "%s", at + 1);
}

static int tamper_here(const tamper *tp, const char *table, const char *column, sdb_stmt *q)
{
    if (tp->done || strcmp(tp->table, table) != 0 || strcmp(tp->column, column) != 0) return 0;
    const char *first = (const char *)sdb_column_text(q, 0);
    return !tp->row[0] || (first && strcmp(first, tp->row) == 0);
}

/* How a value is bound on the target. SQLite keeps each value's own type (its columns
 * are dynamically typed: meta.v holds text, blobs and the API-key generation as an
 * integer); PostgreSQL's columns are typed, so a value goes as the column's declared
 * type: bytea takes the bytes (an integer as its decimal digits, as the PostgreSQL
 * schema keeps the API-key generation), an integer column an integer, text the text.
 * The bytes are the same either way, which is what the digest compares. */
enum { AS_SOURCE, AS_BLOB, AS_INT, AS_TEXT };

static int bind_kind(sdb *dst, const char *decl)
{
    if (sdb_kind_of(dst) != SDB_KIND_POSTGRES) return AS_SOURCE;
    if (strstr(decl, "bytea")) return AS_BLOB;
    if (strstr(decl, "int")) return AS_INT;
    return AS_TEXT;
}

/* Binds column c of the source row q as parameter c + 1 of w; -1 when the value does not
 * fit the target column (text where an integer is declared). flip: the test hook, the last byte flipped. */
static int bind_copy(sdb_stmt *w, sdb_stmt *q, int c, int as, int flip, rowbuf *tb)
{
    int t = sdb_column_type(q, c);
    if (t == SDB_NULL) return sdb_bind_null(w, c + 1) == SDB_OK ? 0 : -1;
    if (t == SDB_INTEGER && (as == AS_SOURCE || as == AS_INT))
        return sdb_bind_int64(w, c + 1, sdb_column_int64(q, c)) == SDB_OK ? 0 : -1;
    char num[32];
    const void *v;
    int n;
    if (t == SDB_INTEGER) {
        n = snprintf(num, sizeof num, "%lld", (long long)sdb_column_int64(q, c));
        v = num;
    } else {
        v = t == SDB_BLOB ? sdb_column_blob(q, c) : (const void *)sdb_column_text(q, c);
        n = sdb_column_bytes(q, c);
    }
    if (!v) v = "";   /* an empty blob stays an empty blob (a NULL pointer would bind NULL) */
    if (flip && n > 0) {
        tb->n = 0;
        rb_add(tb, v, (size_t)n);
        tb->b[n - 1] ^= 0x01;
        v = tb->b;
    }
    if (as == AS_INT) {
        /* digits only: a value the column cannot hold is an error, never a silent 0 */
        char d[32];
        if (n <= 0 || n >= (int)sizeof d) return -1;
        memcpy(d, v, (size_t)n);
        d[n] = 0;
        char *end;
        long long x = strtoll(d, &end, 10);
        if (*end) return -1;
        return sdb_bind_int64(w, c + 1, x) == SDB_OK ? 0 : -1;
    }
    if (as == AS_TEXT || (as == AS_SOURCE && t != SDB_BLOB))
        return sdb_bind_text(w, c + 1, v, n) == SDB_OK ? 0 : -1;
    return sdb_bind_blob(w, c + 1, v, n) == SDB_OK ? 0 : -1;
}

/* Copies one table; its source digest and row count into hex/rows. decl: the target's
 * declared type of each column, in cols' order. */
static int copy_table(sdb *src, sdb *dst, const char *table, const strv *cols, const strv *decl, tamper *tp,
                      long *rows, char hex[65], cb_error *e)
{
    char *sel = build_sql(table, cols, 0), *ins = build_sql(table, cols, 1);
    sdb_stmt *q = NULL, *w = NULL;
    int rc = 0;
    if (sdb_prepare(src, sel, &q) != SDB_OK) rc = db_fail(src, e, "source", table);
    else if (sdb_prepare(dst, ins, &w) != SDB_OK) rc = db_fail(dst, e, "target", table);
    free(sel);
    free(ins);
    digest d = {0};
    rowbuf rb = {0}, tb = {0};
    int r = SDB_DONE;
    while (!rc && (r = sdb_step(q)) == SDB_ROW) {
        rb.n = 0;
        for (size_t i = 0; i < cols->n && !rc; i++) {
            rb_value(&rb, q, (int)i);
            int flip = sdb_column_type(q, (int)i) == SDB_BLOB && tamper_here(tp, table, cols->v[i], q);
            if (bind_copy(w, q, (int)i, bind_kind(dst, decl->v[i]), flip, &tb))
                rc = cb_fail(e, CB_ERR, CB_K_INVALID, "target: %s.%s (%s) cannot hold a value of the source's", table,
                             cols->v[i], decl->v[i]);
            if (flip) tp->done = 1;
        }
        digest_add(&d, &rb);
        if (!rc && sdb_step(w) != SDB_DONE) rc = db_fail(dst, e, "target", table);
        sdb_reset(w);
    }
    if (!rc && r != SDB_DONE) rc = db_fail(src, e, "source", table);
    sdb_finalize(q);
    sdb_finalize(w);
    if (rb.b) cb_wipe(rb.b, rb.cap);
    free(rb.b);
    if (tb.b) cb_wipe(tb.b, tb.cap);
    free(tb.b);
    *rows = (long)d.n;
    digest_final(&d, hex);
    return rc;
}

char *store_location_redacted(const char *where)
{
    const char *p = sdb_is_url(where) ? strstr(where, "://") : NULL;
    if (!p) return cb_strdup(where);
    p += 3;
    const char *at = strchr(p, '@'), *slash = strchr(p, '/');
    const char *colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
    if (!at || (slash && slash < at) || !colon) return cb_strdup(where);
    return cb_sprintf("%.*s:****%s", (int)(colon - where), where, at);
}

int store_location_has_password(const char *where)
{
    if (!sdb_is_url(where)) return 0;
    char *r = store_location_redacted(where);
    int userinfo = strcmp(r, where) != 0;
    free(r);
    const char *q = strchr(where, '?');
    return userinfo || (q && strcasestr(q, "password="));
}

static json_t *side(cb_store *s, const char *where)
{
    /* no password, and for PostgreSQL the schema: "postgresql://u@h/db (schema s)" */
    char loc[1400];
    sdb_describe(where, loc, sizeof loc);
    return json_pack("{s:s,s:s}", "backend", store_db(s)->ops->name, "location", loc);
}

/* Refused while a rotation is in progress: its journal names a pending password and a
 * broker (pid, host) that would resume it against the old store, not the copy. */
static int check_no_rotation(cb_store *src, cb_error *e)
{
    sdb_stmt *st;
    if (sdb_prepare(store_db(src), "SELECT credential, step FROM rotation_journal ORDER BY credential", &st) != SDB_OK)
        return db_fail(store_db(src), e, "source", "rotation_journal");
    int rc = 0;
    if (sdb_step(st) == SDB_ROW)
        rc = cb_fail(e, CB_ERR, CB_K_CONFLICT, "a rotation of '%s' is in progress (step %s): finish it with "
                     "'credbroker rotate --resume' or discard it with 'credbroker rotate --journal --discard %s', then "
                     "migrate; nothing was written", (const char *)sdb_column_text(st, 0),
                     (const char *)sdb_column_text(st, 1), (const char *)sdb_column_text(st, 0));
    sdb_finalize(st);
    return rc;
}

/* Everything after the target's schema exists, inside its transaction. */
static int copy_all(cb_store *src, cb_store *dst, json_t *tables, long *total, cb_error *e)
{
    sdb *a = store_db(src), *b = store_db(dst);
    strv ta = {0}, tb = {0};
    int rc = 0;
    if (list_tables(a, &ta)) rc = db_fail(a, e, "source", "listing tables");
    else if (list_tables(b, &tb)) rc = db_fail(b, e, "target", "listing tables");
    for (size_t i = 0; !rc && i < ta.n; i++)
        if (!strv_has(&tb, ta.v[i]))
            rc = cb_fail(e, CB_ERR, CB_K_INVALID, "target has no table %s: the two schemas differ", ta.v[i]);
    for (size_t i = 0; !rc && i < tb.n; i++)
        if (!strv_has(&ta, tb.v[i]))
            rc = cb_fail(e, CB_ERR, CB_K_INVALID, "source has no table %s: the two schemas differ", tb.v[i]);
    /* What the migrations seeded (meta's apikeys_gen) goes: the copy holds the source's
     * rows and nothing else. meta is copied last: triggers on api_keys bump a meta row,
     * which then does not exist yet, so meta ends up exactly as in the source. */
    for (size_t i = 0; !rc && i < tb.n; i++) {
        if (strcmp(tb.v[i], "audit") == 0) continue;   /* append-only, and empty in a new store */
        char *sql = cb_sprintf("DELETE FROM \"%s\"", tb.v[i]);
        if (sdb_exec(b, sql) != SDB_OK) rc = db_fail(b, e, "target", "clearing seeded rows");
        free(sql);
    }
    tamper tp;
    tamper_init(&tp);
    /* meta last: see above */
    for (int pass = 0; pass < 2 && !rc; pass++) {
        for (size_t i = 0; !rc && i < ta.n; i++) {
            const char *t = ta.v[i];
            if ((strcmp(t, "meta") == 0) != (pass == 1)) continue;
            strv ca = {0}, cbv = {0}, cbt = {0}, decl = {0};
            if (list_columns(a, t, &ca, NULL) || !ca.n) rc = db_fail(a, e, "source", t);
            else if (list_columns(b, t, &cbv, &cbt)) rc = db_fail(b, e, "target", t);
            for (size_t j = 0; !rc && j < ca.n; j++) {
                size_t k = 0;
                while (k < cbv.n && strcmp(cbv.v[k], ca.v[j]) != 0) k++;
                if (strchr(ca.v[j], '"') || k == cbv.n)
                    rc = cb_fail(e, CB_ERR, CB_K_INVALID, "target table %s has no column %s: the two schemas differ", t, ca.v[j]);
                else
                    strv_add(&decl, cbt.v[k]);
            }
            for (size_t j = 0; !rc && j < cbv.n; j++)
                if (!strv_has(&ca, cbv.v[j]))
                    rc = cb_fail(e, CB_ERR, CB_K_INVALID, "source table %s has no column %s: the two schemas differ", t, cbv.v[j]);
            long rows = 0;
            char hex[65] = "";
            if (!rc) rc = copy_table(a, b, t, &ca, &decl, &tp, &rows, hex, e);
            if (!rc) {
                /* the column names, in the order hashed, for compare_all (then removed) */
                json_t *names = json_array();
                for (size_t j = 0; j < ca.n; j++) json_array_append_new(names, json_string(ca.v[j]));
                json_array_append_new(tables, json_pack("{s:s,s:I,s:s,s:o}", "table", t, "rows", (json_int_t)rows,
                                                        "sha256", hex, "cols", names));
                *total += rows;
            }
            strv_free(&ca);
            strv_free(&cbv);
            strv_free(&cbt);
            strv_free(&decl);
        }
    }
    strv_free(&ta);
    strv_free(&tb);
    return rc;
}

/* Each table read back from the target must hash as the source did (same column order). */
static int compare_all(cb_store *dst, json_t *tables, cb_error *e)
{
    size_t i, j;
    json_t *t, *c;
    json_array_foreach(tables, i, t) {
        const char *name = json_string_value(json_object_get(t, "table"));
        strv cols = {0};
        json_array_foreach(json_object_get(t, "cols"), j, c) strv_add(&cols, json_string_value(c));
        long rows = 0;
        char hex[65] = "";
        int bad = table_digest(store_db(dst), name, &cols, &rows, hex);
        strv_free(&cols);
        json_object_del(t, "cols");
        if (bad) return db_fail(store_db(dst), e, "target", name);
        if (rows != (long)json_integer_value(json_object_get(t, "rows")) ||
            strcmp(hex, json_string_value(json_object_get(t, "sha256"))) != 0)
            return cb_fail(e, CB_ERR, CB_K_TAMPERED, "target table %s differs from the source after the copy "
                           "(%ld rows, source %lld); rolled back",
                           name, rows, (long long)json_integer_value(json_object_get(t, "rows")));
    }
    return 0;
}

int store_migrate(cb_store *src, const char *target, const char *actor, json_t *report, cb_error *e)
{
    if (!src->unlocked) return cb_fail(e, CB_EKEY, CB_K_DENIED, "store is locked");
    if (strcmp(target, src->path) == 0) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "the target is the source store");
    json_t *rep = report ? report : json_object();
    sdb *a = store_db(src);
    /* one snapshot of the source for every table (a serving broker may be writing) */
    int rc = sdb_exec(a, sdb_kind_of(a) == SDB_KIND_POSTGRES ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN") == SDB_OK
                 ? 0 : db_fail(a, e, "source", "begin");
    if (!rc) rc = check_no_rotation(src, e);
    cb_store *dst = NULL;
    if (!rc) rc = store_i_open_new(target, &dst, e);
    int created = !rc && !sdb_is_url(target);
    if (rc) goto done;
    json_object_set_new(rep, "source", side(src, src->path));
    json_object_set_new(rep, "target", side(dst, target));
    /* a PostgreSQL schema that already holds tables is someone's store, never written */
    strv existing = {0};
    if (list_tables(store_db(dst), &existing)) rc = db_fail(store_db(dst), e, "target", "listing tables");
    else if (existing.n)
        rc = cb_fail(e, CB_ERR, CB_K_CONFLICT, "target %s is not empty (%zu tables, e.g. %s): store migrate writes only a new store",
                     target, existing.n, existing.v[0]);
    strv_free(&existing);
    if (rc) goto done;
    rc = store_begin(dst, e);
    if (rc) goto done;
    rc = store_i_create_schema(dst, e);
    if (!rc && store_i_schema_version(dst) != store_i_schema_version(src))
        rc = cb_fail(e, CB_ERR, CB_K_INVALID, "target schema %d differs from the source's %d", store_i_schema_version(dst),
                     store_i_schema_version(src));
    json_t *tables = json_array();
    long total = 0;
    if (!rc) rc = copy_all(src, dst, tables, &total, e);
    json_object_set_new(rep, "tables", tables);
    json_object_set_new(rep, "rows", json_integer(total));
    /* the copied key metadata opens with the master key, to the same data key */
    char *key = NULL;
    if (!rc) rc = store_master_key_from_env(&key, NULL, e);
    if (!rc && store_unlock(dst, key, e)) {
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e->msg);
        rc = cb_fail(e, CB_ERR, CB_K_TAMPERED, "target: the copied key metadata does not open with the master key (%s); rolled back", why);
    }
    cb_free_secret(key);
    if (!rc && (dst->key_version != src->key_version || !cb_ct_equal(dst->dek, src->dek, CB_KEY_LEN)))
        rc = cb_fail(e, CB_ERR, CB_K_TAMPERED, "the target's key metadata does not unwrap the source's data key");
    if (!rc) {
        json_t *fails = json_array();
        int checked = 0;
        rc = store_verify(dst, fails, &checked, e);
        json_object_set_new(rep, "sealed_verified", json_integer(checked));
        if (rc) {
            json_object_set_new(rep, "failures", fails);
            cb_fail(e, CB_ERR, CB_K_TAMPERED, "target: %zu of %d sealed values do not authenticate after the copy; rolled back",
                    json_array_size(fails), checked);
            rc = CB_ERR;
        } else {
            json_decref(fails);
        }
    }
    if (!rc) {
        json_t *probs = json_array();
        long checked = 0;
        rc = audit_verify(dst, probs, &checked, e);
        json_object_set_new(rep, "audit_verified", json_integer(checked));
        if (rc) {
            json_object_set_new(rep, "problems", probs);
            cb_fail(e, CB_ERR, CB_K_TAMPERED, "target: the audit chain does not verify after the copy (%zu problems); rolled back",
                    json_array_size(probs));
            rc = CB_ERR;
        } else {
            json_decref(probs);
        }
    }
    if (!rc) rc = compare_all(dst, tables, e);
    if (!rc) {
        /* the move itself is on the record, at the end of the copied chain */
        json_t *src_side = json_object_get(rep, "source");
        json_t *d = json_pack("{s:O,s:I}", "from", src_side, "rows", (json_int_t)total);
        char loc[1400];
        sdb_describe(target, loc, sizeof loc);
        rc = audit_append(dst, actor, "store.migrate", loc, "ok", d, 0, e);
        json_decref(d);
    }
    if (!rc) {
        sdb_stmt *st;
        if (sdb_prepare(store_db(dst), "SELECT max(id) FROM audit", &st) == SDB_OK) {
            if (sdb_step(st) == SDB_ROW) json_object_set_new(rep, "audit_entry", json_integer(sdb_column_int64(st, 0)));
            sdb_finalize(st);
        }
        rc = store_commit(dst, e);
    } else {
        store_rollback(dst);
    }
done:
    if (sdb_in_transaction(a)) sdb_exec(a, "ROLLBACK");
    store_close(dst);
    if (rc && created) {
        /* nothing of a failed copy stays behind */
        char *w = cb_sprintf("%s-wal", target), *s = cb_sprintf("%s-shm", target);
        unlink(target);
        unlink(w);
        unlink(s);
        free(w);
        free(s);
    }
    if (!report) json_decref(rep);
    return rc;
}
