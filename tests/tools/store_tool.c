/* Test/bench driver for the store (master key from CREDBROKER_MASTER_KEY):
 *   store_tool fill DB N            adds N postgres connections in one transaction
 *   store_tool rekey-fail DB AT     key rotate --reencrypt with a failure injected at row AT
 *   store_tool bench DB N           prints markdown rows: re-encrypt N connections; get/put cost vs raw SQLite */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "store/crypto.h"
#include "store/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int die(const cb_error *e)
{
    fprintf(stderr, "store_tool: %s\n", e->msg);
    return e->code ? e->code : 1;
}

static int fill(cb_store *s, long n, cb_error *e)
{
    if (store_begin(s, e)) return 1;
    for (long i = 0; i < n; i++) {
        char name[64], url[256];
        uint8_t pw[12];
        cb_random(pw, sizeof pw);
        char *hx = cb_hex_encode(pw, sizeof pw);
        snprintf(name, sizeof name, "conn%06ld", i);
        snprintf(url, sizeof url, "postgresql://user%ld:%s@db%ld.internal:5432/app?sslmode=verify-full", i, hx, i % 50);
        free(hx);
        if (store_conn_put(s, name, "postgres", url, "postgresql://...", NULL, NULL, 1, e)) {
            store_rollback(s);
            return 1;
        }
    }
    return store_commit(s, e) ? 1 : 0;
}

/* The raw SQLite floor: same rows, same pragmas, no crypto. */
static double raw_sqlite(const char *path, long n, int get)
{
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE IF NOT EXISTS t(k TEXT PRIMARY KEY, v BLOB)", NULL, NULL, NULL);
    uint8_t blob[128];
    memset(blob, 7, sizeof blob);
    double t0 = now_s();
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, get ? "SELECT v FROM t WHERE k = ?" : "INSERT OR REPLACE INTO t(k, v) VALUES(?, ?)", -1, &st, NULL);
    for (long i = 0; i < n; i++) {
        char k[32];
        snprintf(k, sizeof k, "k%ld", i % 1000);
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, k, -1, SQLITE_TRANSIENT);
        if (!get) sqlite3_bind_blob(st, 2, blob, sizeof blob, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
        }
    }
    sqlite3_finalize(st);
    double t = now_s() - t0;
    sqlite3_close(db);
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: store_tool fill|rekey-fail|bench DB N\n");
        return 2;
    }
    cb_error e = {0};
    const char *db = argv[2];
    long n = atol(argv[3]);
    if (strcmp(argv[1], "bench") == 0) {
        unlink(db);
        const char *mk = getenv("CREDBROKER_MASTER_KEY");
        if (store_create(db, mk, &e)) return die(&e);
    }
    cb_store *s;
    if (store_open_unlocked(db, &s, &e)) return die(&e);
    int rc = 0;
    if (strcmp(argv[1], "fill") == 0) {
        rc = fill(s, n, &e) ? die(&e) : 0;
    } else if (strcmp(argv[1], "rekey-fail") == 0) {
        store_test_fail_reencrypt_at = n;
        json_t *rep = json_object();
        const char *nk = getenv("CREDBROKER_NEW_MASTER_KEY");
        rc = store_rekey(s, nk, 1, rep, &e);
        char *t = json_dumps(rep, JSON_COMPACT);
        printf("%s\n", t);
        free(t);
        json_decref(rep);
        if (rc) fprintf(stderr, "store_tool: %s\n", e.msg);
    } else if (strcmp(argv[1], "bench") == 0) {
        double t0 = now_s();
        if (fill(s, n, &e)) return die(&e);
        double tfill = now_s() - t0;
        char nk[65];
        uint8_t r[32];
        cb_random(r, 32);
        char *hx = cb_hex_encode(r, 32);
        snprintf(nk, sizeof nk, "%s", hx);
        free(hx);
        t0 = now_s();
        if (store_rekey(s, nk, 1, NULL, &e)) return die(&e);
        double trekey = now_s() - t0;
        /* per-operation cost: one autocommitted put/get each, like a CLI call's store work */
        long ops = 2000;
        char val[129];
        memset(val, 'x', 128);
        val[128] = 0;
        t0 = now_s();
        for (long i = 0; i < ops; i++) {
            char k[32];
            snprintf(k, sizeof k, "k%ld", i % 1000);
            if (store_secret_put(s, "bench", k, val, 128, "v1", NULL, &e)) return die(&e);
        }
        double tput = now_s() - t0;
        t0 = now_s();
        for (long i = 0; i < ops; i++) {
            char k[32];
            store_secret v;
            snprintf(k, sizeof k, "k%ld", i % 1000);
            if (store_secret_get(s, "bench", k, &v, &e)) return die(&e);
            store_secret_free(&v);
        }
        double tget = now_s() - t0;
        char raw[4096];
        snprintf(raw, sizeof raw, "%s.raw", db);
        unlink(raw);
        double rput = raw_sqlite(raw, ops, 0), rget = raw_sqlite(raw, ops, 1);
        unlink(raw);
        printf("| store: add %ld connections (one transaction) | %.2f s | - | - |\n", n, tfill);
        printf("| store: key rotate --reencrypt of %ld connections | %.2f s (%.1f us/row) | - | - |\n", n, trekey, trekey * 1e6 / (double)n);
        printf("| store: put (sealed, autocommit, synchronous=FULL) | %.1f us | %.1f us (raw SQLite, same pragmas) | %.2f |\n",
               tput * 1e6 / ops, rput * 1e6 / ops, tput / rput);
        printf("| store: get (unseal) | %.1f us | %.1f us (raw SQLite) | %.2f |\n", tget * 1e6 / ops, rget * 1e6 / ops, tget / rget);
        char wal[4096], shm[4096];
        snprintf(wal, sizeof wal, "%s-wal", db);
        snprintf(shm, sizeof shm, "%s-shm", db);
        store_close(s);
        unlink(db); unlink(wal); unlink(shm);
        return 0;
    } else {
        fprintf(stderr, "unknown command %s\n", argv[1]);
        rc = 2;
    }
    store_close(s);
    return rc;
}
