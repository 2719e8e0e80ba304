/* The floor for `make bench`: the broker's own per-call sequence for query_readonly, sent
 * through libpq's pipeline on one connection with no MCP, JSON or audit around it:
 *   BEGIN READ ONLY; SET LOCAL statement_timeout; SET LOCAL idle_in_transaction_session_timeout;
 *   SELECT 1; <sql>; SYNC; ROLLBACK; SYNC; DISCARD ALL; SYNC
 * Connection from the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE),
 * never argv. Usage: pg_floor SECONDS SQL. Prints
 *   {"calls":n,"calls_per_s":x,"p50_ms":x,"p99_ms":x,"bytes_per_call":x}            */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int send0(PGconn *pg, const char *sql) { return PQsendQueryParams(pg, sql, 0, NULL, NULL, NULL, NULL, 0); }

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: pg_floor SECONDS SQL\n"); return 2; }
    double seconds = atof(argv[1]);
    const char *sql = argv[2];
    PGconn *pg = PQconnectdb("");
    if (PQstatus(pg) != CONNECTION_OK) { fprintf(stderr, "pg_floor: %s", PQerrorMessage(pg)); return 1; }
    size_t cap = 1 << 16, n = 0;
    double *lat = malloc(cap * sizeof *lat), t0 = now_s(), t;
    double bytes = 0;
    int warm = 20;
    while ((t = now_s()) - t0 < seconds || warm > 0) {
        PQenterPipelineMode(pg);
        send0(pg, "BEGIN READ ONLY");
        send0(pg, "SET LOCAL statement_timeout = 5000");
        send0(pg, "SET LOCAL idle_in_transaction_session_timeout = 10000");
        send0(pg, "SELECT 1");
        send0(pg, sql);
        PQpipelineSync(pg);
        send0(pg, "ROLLBACK");
        PQpipelineSync(pg);
        send0(pg, "DISCARD ALL");
        PQpipelineSync(pg);
        int syncs = 0, step = 0;
        while (syncs < 3) {
            if (step == 4) PQsetSingleRowMode(pg);
            PGresult *r = PQgetResult(pg);
            if (!r) { step++; continue; }
            ExecStatusType st = PQresultStatus(r);
            if (st == PGRES_PIPELINE_SYNC) syncs++;
            else if (st == PGRES_FATAL_ERROR) { fprintf(stderr, "pg_floor: %s", PQresultErrorMessage(r)); return 1; }
            else if (step == 4)
                for (int i = 0; i < PQntuples(r); i++)
                    for (int j = 0; j < PQnfields(r); j++) bytes += PQgetlength(r, i, j);
            PQclear(r);
        }
        PQexitPipelineMode(pg);
        if (warm > 0) { if (--warm == 0) { t0 = now_s(); bytes = 0; } continue; }
        if (n == cap) lat = realloc(lat, (cap *= 2) * sizeof *lat);
        lat[n++] = (now_s() - t) * 1000.0;
    }
    double secs = now_s() - t0;
    qsort(lat, n, sizeof *lat, cmp);
    printf("{\"calls\":%zu,\"calls_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"bytes_per_call\":%.0f}\n", n,
           (double)n / secs, n ? lat[n / 2] : 0, n ? lat[(size_t)((double)n * 0.99)] : 0, n ? bytes / (double)n : 0);
    PQfinish(pg);
    free(lat);
    return 0;
}
