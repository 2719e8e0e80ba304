/* Metrics registry and Prometheus text format 0.0.4 exposition (see metrics.h). */
#include "metrics.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

#define MX_MAX_LABELS 8
#define MX_MAX_SERIES 5000 /* per family: a bound on memory whatever the label values */

typedef struct mx_series {
    char *values[MX_MAX_LABELS];
    double v;           /* counter/gauge value; histogram: sum */
    double count;       /* histogram */
    double *buckets;    /* histogram: per-bucket (non-cumulative) counts */
} mx_series;

struct mx_family {
    char *name, *help;
    mx_type type;
    char *labels[MX_MAX_LABELS];
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    mx_series *series;
    size_t nseries, cap;
    struct mx_family *next;
};

typedef struct mx_collector {
    void (*fn)(void *);
    void *arg;
    struct mx_collector *next;
} mx_collector;

static pthread_mutex_t mx_mu = PTHREAD_MUTEX_INITIALIZER;
static mx_family *mx_head, *mx_tail;
static mx_collector *mx_collectors;

static const double DEFAULT_BUCKETS[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

static int valid_name(const char *n)
{
    if (!n || !*n) return 0;
    for (const char *p = n; *p; p++) {
        int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':';
        if (!alpha && !(p != n && *p >= '0' && *p <= '9')) return 0;
    }
    return 1;
}

mx_family *mx_register(const char *name, mx_type type, const char *help, const char *labels, const double *buckets,
                       size_t nbuckets)
{
    if (!valid_name(name)) return NULL;
    pthread_mutex_lock(&mx_mu);
    for (mx_family *f = mx_head; f; f = f->next)
        if (!strcmp(f->name, name)) {
            pthread_mutex_unlock(&mx_mu);
            return f->type == type ? f : NULL;
        }
    mx_family *f = cb_calloc(1, sizeof *f);
    f->name = cb_strdup(name);
    f->help = cb_strdup(help ? help : name);
    f->type = type;
    if (labels && *labels) {
        char *dup = cb_strdup(labels), *save = NULL;
        for (char *t = strtok_r(dup, ",", &save); t && f->nlabels < MX_MAX_LABELS; t = strtok_r(NULL, ",", &save))
            f->labels[f->nlabels++] = cb_strdup(t);
        free(dup);
    }
    if (type == MX_HISTOGRAM) {
        if (!buckets) { buckets = DEFAULT_BUCKETS; nbuckets = sizeof DEFAULT_BUCKETS / sizeof DEFAULT_BUCKETS[0]; }
        f->bounds = cb_calloc(nbuckets ? nbuckets : 1, sizeof *f->bounds);
        memcpy(f->bounds, buckets, nbuckets * sizeof *buckets);
        f->nbounds = nbuckets;
    }
    if (mx_tail) mx_tail->next = f;
    else mx_head = f;
    mx_tail = f;
    pthread_mutex_unlock(&mx_mu);
    return f;
}

static int same_values(const mx_family *f, const mx_series *s, const char *const *values)
{
    for (size_t i = 0; i < f->nlabels; i++)
        if (strcmp(s->values[i], values && values[i] ? values[i] : "")) return 0;
    return 1;
}

/* Finds or creates the series (lock held); NULL past MX_MAX_SERIES. */
static mx_series *series_of(mx_family *f, const char *const *values)
{
    for (size_t i = 0; i < f->nseries; i++)
        if (same_values(f, &f->series[i], values)) return &f->series[i];
    if (f->nseries >= MX_MAX_SERIES) return NULL;
    if (f->nseries == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->series = cb_realloc(f->series, f->cap * sizeof *f->series);
    }
    mx_series *s = &f->series[f->nseries++];
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < f->nlabels; i++) s->values[i] = cb_strdup(values && values[i] ? values[i] : "");
    if (f->type == MX_HISTOGRAM) s->buckets = cb_calloc(f->nbounds ? f->nbounds : 1, sizeof *s->buckets);
    return s;
}

void mx_add(mx_family *f, double v, const char *const *values)
{
    if (!f || f->type == MX_HISTOGRAM) return;
    pthread_mutex_lock(&mx_mu);
    mx_series *s = series_of(f, values);
    if (s) s->v += v;
    pthread_mutex_unlock(&mx_mu);
}

void mx_set(mx_family *f, double v, const char *const *values)
{
    if (!f || f->type == MX_HISTOGRAM) return;
    pthread_mutex_lock(&mx_mu);
    mx_series *s = series_of(f, values);
    if (s) s->v = v;
    pthread_mutex_unlock(&mx_mu);
}

void mx_observe(mx_family *f, double v, const char *const *values)
{
    if (!f || f->type != MX_HISTOGRAM) return;
    pthread_mutex_lock(&mx_mu);
    mx_series *s = series_of(f, values);
    if (s) {
        s->v += v;
        s->count += 1;
        for (size_t i = 0; i < f->nbounds; i++)
            if (v <= f->bounds[i]) { s->buckets[i] += 1; break; }
    }
    pthread_mutex_unlock(&mx_mu);
}

double mx_get(mx_family *f, const char *const *values)
{
    if (!f) return 0;
    double r = 0;
    pthread_mutex_lock(&mx_mu);
    for (size_t i = 0; i < f->nseries; i++)
        if (same_values(f, &f->series[i], values)) { r = f->type == MX_HISTOGRAM ? f->series[i].count : f->series[i].v; break; }
    pthread_mutex_unlock(&mx_mu);
    return r;
}

static void series_free(mx_family *f)
{
    for (size_t i = 0; i < f->nseries; i++) {
        for (size_t j = 0; j < f->nlabels; j++) free(f->series[i].values[j]);
        free(f->series[i].buckets);
    }
    f->nseries = 0;
}

void mx_reset(mx_family *f)
{
    if (!f) return;
    pthread_mutex_lock(&mx_mu);
    series_free(f);
    pthread_mutex_unlock(&mx_mu);
}

void mx_add_collector(void (*fn)(void *), void *arg)
{
    mx_collector *c = cb_calloc(1, sizeof *c);
    c->fn = fn;
    c->arg = arg;
    pthread_mutex_lock(&mx_mu);
    mx_collector **p = &mx_collectors;
    while (*p) p = &(*p)->next;
    *p = c;
    pthread_mutex_unlock(&mx_mu);
}

void mx_remove_collector(void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&mx_mu);
    for (mx_collector **p = &mx_collectors; *p; p = &(*p)->next)
        if ((*p)->fn == fn && (*p)->arg == arg) {
            mx_collector *c = *p;
            *p = c->next;
            free(c);
            break;
        }
    pthread_mutex_unlock(&mx_mu);
}

/* HELP text escapes \ and newline; label values also escape ". */
static void put_escaped(cb_buf *b, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\') cb_buf_puts(b, "\\\\");
        else if (*s == '\n') cb_buf_puts(b, "\\n");
        else if (quote && *s == '"') cb_buf_puts(b, "\\\"");
        else cb_buf_append(b, s, 1);
    }
}

static void put_value(cb_buf *b, double v)
{
    if (isnan(v)) cb_buf_puts(b, "NaN");
    else if (isinf(v)) cb_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    else if (fabs(v) < 1e15 && v == (double)(long long)v) cb_buf_printf(b, "%lld", (long long)v);
    else cb_buf_printf(b, "%.15g", v); /* shortest readable form; 15 digits round-trip the usual values */
}

static void put_labels(cb_buf *b, const mx_family *f, const mx_series *s, const char *le)
{
    if (!f->nlabels && !le) return;
    cb_buf_puts(b, "{");
    for (size_t i = 0; i < f->nlabels; i++) {
        cb_buf_printf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
        put_escaped(b, s->values[i], 1);
        cb_buf_puts(b, "\"");
    }
    if (le) cb_buf_printf(b, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    cb_buf_puts(b, "}");
}

char *mx_render(void)
{
    /* collectors first, without the lock: they call mx_set */
    pthread_mutex_lock(&mx_mu);
    size_t nc = 0;
    for (mx_collector *c = mx_collectors; c; c = c->next) nc++;
    mx_collector *snap = cb_calloc(nc ? nc : 1, sizeof *snap);
    nc = 0;
    for (mx_collector *c = mx_collectors; c; c = c->next) snap[nc++] = *c;
    pthread_mutex_unlock(&mx_mu);
    for (size_t i = 0; i < nc; i++) snap[i].fn(snap[i].arg);
    free(snap);

    static const char *const TYPES[] = {"counter", "gauge", "histogram"};
    cb_buf b;
    cb_buf_init(&b, 0);
    pthread_mutex_lock(&mx_mu);
    for (mx_family *f = mx_head; f; f = f->next) {
        cb_buf_printf(&b, "# HELP %s ", f->name);
        put_escaped(&b, f->help, 0);
        cb_buf_printf(&b, "\n# TYPE %s %s\n", f->name, TYPES[f->type]);
        for (size_t i = 0; i < f->nseries; i++) {
            mx_series *s = &f->series[i];
            if (f->type != MX_HISTOGRAM) {
                cb_buf_puts(&b, f->name);
                put_labels(&b, f, s, NULL);
                cb_buf_puts(&b, " ");
                put_value(&b, s->v);
                cb_buf_puts(&b, "\n");
                continue;
            }
            double cum = 0;
            for (size_t k = 0; k <= f->nbounds; k++) {
                char le[40];
                if (k < f->nbounds) {
                    cum += s->buckets[k];
                    cb_buf tmp;
                    cb_buf_init(&tmp, 0);
                    put_value(&tmp, f->bounds[k]);
                    snprintf(le, sizeof le, "%s", tmp.data);
                    cb_buf_free(&tmp);
                } else {
                    cum = s->count;
                    snprintf(le, sizeof le, "+Inf");
                }
                cb_buf_printf(&b, "%s_bucket", f->name);
                put_labels(&b, f, s, le);
                cb_buf_puts(&b, " ");
                put_value(&b, cum);
                cb_buf_puts(&b, "\n");
            }
            cb_buf_printf(&b, "%s_sum", f->name);
            put_labels(&b, f, s, NULL);
            cb_buf_puts(&b, " ");
            put_value(&b, s->v);
            cb_buf_printf(&b, "\n%s_count", f->name);
            put_labels(&b, f, s, NULL);
            cb_buf_puts(&b, " ");
            put_value(&b, s->count);
            cb_buf_puts(&b, "\n");
        }
    }
    pthread_mutex_unlock(&mx_mu);
    return cb_buf_steal(&b);
}

void mx_clear(void)
{
    pthread_mutex_lock(&mx_mu);
    for (mx_family *f = mx_head, *n; f; f = n) {
        n = f->next;
        series_free(f);
        free(f->series);
        for (size_t i = 0; i < f->nlabels; i++) free(f->labels[i]);
        free(f->bounds);
        free(f->name);
        free(f->help);
        free(f);
    }
    mx_head = mx_tail = NULL;
    for (mx_collector *c = mx_collectors, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    mx_collectors = NULL;
    pthread_mutex_unlock(&mx_mu);
}
