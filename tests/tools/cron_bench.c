/* Bench driver: parse + next for every expression in FILE (one per line), from START.
 *   cron_bench FILE START [REPEAT] [OUT]
 * Prints "<best total ms> <ns per expression>" for the best of REPEAT (default 3) passes;
 * with OUT, writes each expression's next time (epoch seconds, or "error") for cross-checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rotation/cron.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: cron_bench FILE START [REPEAT] [OUT]\n"); return 2; }
    FILE *f = fopen(argv[1], "r");
    if (!f) { perror(argv[1]); return 1; }
    int64_t start;
    if (cb_parse_iso8601(argv[2], &start)) { fprintf(stderr, "bad START\n"); return 2; }
    int repeat = argc > 3 ? atoi(argv[3]) : 3;
    size_t n = 0, cap = 1024;
    char **lines = malloc(cap * sizeof *lines), buf[512];
    while (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = 0;
        if (n == cap) lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[n++] = strdup(buf);
    }
    fclose(f);
    if (n == 0) { fprintf(stderr, "no expressions\n"); return 1; }
    double best = 1e300;
    volatile int64_t sink = 0;
    for (int r = 0; r < (repeat < 1 ? 1 : repeat); r++) {
        double t0 = now_ns();
        for (size_t i = 0; i < n; i++) {
            cron_expr c;
            int64_t next = 0;
            if (cron_parse(lines[i], &c, NULL) == 0 && cron_next(&c, start, NULL, &next, NULL) == 0) sink += next;
        }
        double dt = now_ns() - t0;
        if (dt < best) best = dt;
    }
    printf("%.2f %.0f\n", best / 1e6, best / (double)n);
    if (argc > 4) {
        FILE *o = fopen(argv[4], "w");
        if (!o) { perror(argv[4]); return 1; }
        for (size_t i = 0; i < n; i++) {
            cron_expr c;
            int64_t next;
            if (cron_parse(lines[i], &c, NULL) == 0 && cron_next(&c, start, NULL, &next, NULL) == 0) fprintf(o, "%lld\n", (long long)next);
            else fprintf(o, "error\n");
        }
        fclose(o);
    }
    for (size_t i = 0; i < n; i++) free(lines[i]);
    free(lines);
    return 0;
}
