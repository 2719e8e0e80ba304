/* A small process-wide metrics registry and its Prometheus text exposition (format
 * 0.0.4): counters, gauges and histograms with string labels. It knows no product
 * series: the application registers its families (tools/obs.c) and, for values read
 * at scrape time (pool, queue, schedules), collectors that set gauges just before
 * rendering. Thread-safe. */
#ifndef CB_MCP_METRICS_H
#define CB_MCP_METRICS_H
#include <stddef.h>

typedef enum { MX_COUNTER, MX_GAUGE, MX_HISTOGRAM } mx_type;
typedef struct mx_family mx_family;

/* Registers (or returns the already registered) family. labels: comma-separated label
 * names ("tool,client,outcome"), "" for none. buckets: upper bounds, ascending, for
 * histograms (NULL: a default latency ladder in seconds). Names must match
 * [a-zA-Z_:][a-zA-Z0-9_:]*; counters end in _total. */
mx_family *mx_register(const char *name, mx_type type, const char *help, const char *labels, const double *buckets,
                       size_t nbuckets);
/* Label values in the order of the family's label names (NULL treated as ""). */
void mx_add(mx_family *f, double v, const char *const *values);     /* counter/gauge += v */
void mx_set(mx_family *f, double v, const char *const *values);     /* gauge = v (counter too: collectors) */
void mx_observe(mx_family *f, double v, const char *const *values); /* histogram */
/* Drops every series of a family (a collector about to set the current ones). */
void mx_reset(mx_family *f);
/* Current value of a counter/gauge series (0 when absent); histograms: the count. */
double mx_get(mx_family *f, const char *const *values);

/* Called (in registration order) before every render; arg is passed back. */
void mx_add_collector(void (*fn)(void *arg), void *arg);
void mx_remove_collector(void (*fn)(void *arg), void *arg);

/* The whole exposition (malloc'd). Content type: MX_CONTENT_TYPE. */
#define MX_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
char *mx_render(void);

/* Tests: forget every family and collector. */
void mx_clear(void);

#endif
