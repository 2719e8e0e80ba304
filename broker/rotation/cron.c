/* Vixie cron / cronie expression parser and next-fire search (semantics in cron.h). */
#include "cron.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "tzfile.h"

typedef struct field_def { const char *name; int lo, hi; const char *const *names; int name_base; } field_def;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const field_def fields[5] = {
    {"minute", 0, 59, NULL, 0},
    {"hour", 0, 23, NULL, 0},
    {"day of month", 1, 31, NULL, 0},
    {"month", 1, 12, month_names, 1},
    {"day of week", 0, 7, dow_names, 0},
};

#define MIN_TIME (-62135596800LL)  /* 0001-01-01T00:00:00Z */
#define MAX_TIME 253402300799LL    /* 9999-12-31T23:59:59Z */
#define SEARCH_YEARS 401           /* a full Gregorian cycle (400 y) plus slack */

/* Copies an untrusted token into a short printable form for an error message. */
static void show(char *dst, size_t cap, const char *s, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 4 < cap; i++)
        dst[j++] = isprint((unsigned char)s[i]) ? s[i] : '?';
    if (n > cap - 4 && j + 3 < cap) { dst[j++] = '.'; dst[j++] = '.'; dst[j++] = '.'; }
    dst[j] = 0;
}

#define FERR(fi, ...) ferr(e, fi, __VA_ARGS__)
static int ferr(cb_error *e, int fi, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ferr(cb_error *e, int fi, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "field %d (%s): %s", fi + 1, fields[fi].name, why);
}

/* A number or (where the field has names) a three-letter name, as cronie get_number. */
static int get_value(const char **pp, const char *end, int fi, int allow_names, int *out, cb_error *e)
{
    const field_def *f = &fields[fi];
    const char *s = *pp, *p = s;
    while (p < end && isalnum((unsigned char)*p)) p++;
    size_t n = (size_t)(p - s);
    if (n == 0) {
        if (s >= end) return FERR(fi, "missing value");
        char c[8];
        show(c, sizeof c, s, 1);
        return FERR(fi, "unexpected character '%s'", c);
    }
    int digits = 1;
    for (size_t i = 0; i < n; i++) if (!isdigit((unsigned char)s[i])) digits = 0;
    if (digits) {
        long v = 0;
        for (size_t i = 0; i < n && v < 100000; i++) v = v * 10 + (s[i] - '0');
        *out = (int)v;
    } else {
        int found = -1;
        if (allow_names && f->names && n == 3)
            for (int i = 0; f->names[i]; i++)
                if (strncasecmp(s, f->names[i], 3) == 0) found = i + f->name_base;
        if (found < 0) {
            char tok[40];
            show(tok, sizeof tok, s, n);
            if (f->names && allow_names) return FERR(fi, "unknown name '%s' (expected %s-%s or a number)", tok, f->names[0], fi == 3 ? "dec" : "sat");
            return FERR(fi, "'%s' is not a number", tok);
        }
        *out = found;
    }
    *pp = p;
    return 0;
}

static int check_range(int fi, int v, cb_error *e)
{
    if (v < fields[fi].lo || v > fields[fi].hi)
        return FERR(fi, "value %d out of range %d-%d", v, fields[fi].lo, fields[fi].hi);
    return 0;
}

/* One comma-separated item: `*`, `*\/S`, `N`, `N-M`, `N-M/S`. Sets bits in *bits. */
static int parse_item(const char *s, const char *end, int fi, uint64_t *bits, cb_error *e)
{
    const field_def *f = &fields[fi];
    int lo = 0, hi = 0, step = 1, ranged = 0;
    const char *p = s;
    if (p == end) return FERR(fi, "empty list item");
    if (*p == '*') {
        lo = f->lo; hi = f->hi; ranged = 1; p++;
    } else {
        if (get_value(&p, end, fi, 1, &lo, e)) return CB_EUSAGE;
        if (check_range(fi, lo, e)) return CB_EUSAGE;
        hi = lo;
        if (p < end && *p == '-') {
            p++;
            if (get_value(&p, end, fi, 1, &hi, e)) return CB_EUSAGE;
            if (check_range(fi, hi, e)) return CB_EUSAGE;
            ranged = 1;
            if (hi < lo)
                return FERR(fi, "reversed range %d-%d (Vixie cron accepts it and never runs the job; "
                                "write it as a list, e.g. %d-%d,%d-%d)", lo, hi, lo, f->hi, f->lo, hi);
        }
    }
    if (p < end && *p == '/') {
        if (!ranged)
            return FERR(fi, "a step needs a range or '*' (write %d-%d/S, not %d/S)", lo, f->hi, lo);
        p++;
        if (get_value(&p, end, fi, 0, &step, e)) return CB_EUSAGE;
        /* Upper bound as OpenBSD cron: the number of values in the field. */
        if (step < 1 || step > f->hi - f->lo + 1) return FERR(fi, "step %d out of range 1-%d", step, f->hi - f->lo + 1);
    }
    if (p != end) {
        char c[8];
        show(c, sizeof c, p, 1);
        return FERR(fi, "unexpected character '%s'", c);
    }
    for (int v = lo; v <= hi; v += step) *bits |= 1ULL << v;
    return 0;
}

static int parse_field(const char *s, size_t n, int fi, uint64_t *bits, cb_error *e)
{
    const char *end = s + n, *p = s;
    *bits = 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *ie = comma ? comma : end;
        if (parse_item(p, ie, fi, bits, e)) return CB_EUSAGE;
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

static const struct { const char *name; const char *expr; } macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"}, {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

static int max_mday(int m) { return m == 2 ? 29 : (m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31; }

int cron_parse(const char *expr, cron_expr *out, cb_error *e)
{
    memset(out, 0, sizeof *out);
    if (!expr) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "empty cron expression");
    const char *p = expr;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '@') {
        const char *w = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        size_t wn = (size_t)(p - w);
        while (*p == ' ' || *p == '\t') p++;
        char tok[40];
        show(tok, sizeof tok, w, wn);
        if (*p) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "unexpected text after %s (a macro stands for all five fields)", tok);
        if (wn == 7 && strncmp(w, "@reboot", 7) == 0)
            return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "@reboot runs once at daemon start and is not a schedule; give a time expression such as @daily");
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
            if (strlen(macros[i].name) == wn && strncmp(w, macros[i].name, wn) == 0) {
                int rc = cron_parse(macros[i].expr, out, e);
                if (!rc && strcmp(macros[i].name, "@hourly") == 0) out->wild = 1;  /* cronie sets HR_STAR */
                return rc;
            }
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "unknown macro '%s' (expected @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually)", tok);
    }
    const char *fs[6];
    size_t fl[6];
    int nf = 0;
    while (*p) {
        const char *s = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        if (nf < 6) { fs[nf] = s; fl[nf] = (size_t)(p - s); }
        nf++;
        while (*p == ' ' || *p == '\t') p++;
    }
    if (nf != 5)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "expected 5 fields (minute hour day-of-month month day-of-week), got %d", nf);
    uint64_t b[5];
    for (int i = 0; i < 5; i++)
        if (parse_field(fs[i], fl[i], i, &b[i], e)) { memset(out, 0, sizeof *out); return CB_EUSAGE; }
    out->minute = b[0];
    out->hour = (uint32_t)b[1];
    out->dom = (uint32_t)b[2];
    out->month = (uint32_t)b[3];
    out->dow = (uint32_t)((b[4] | (b[4] >> 7)) & 0x7f);  /* 7 is Sunday, like 0 */
    out->dom_star = fs[2][0] == '*';
    out->dow_star = fs[4][0] == '*';
    out->wild = fs[0][0] == '*' || fs[1][0] == '*';
    if (out->dom_star || out->dow_star) {  /* AND: some selected month must hold a selected day */
        int possible = 0;
        for (int m = 1; m <= 12; m++)
            if ((out->month >> m & 1) && (out->dom & (uint32_t)((2ULL << max_mday(m)) - 2))) possible = 1;
        if (!possible) {
            memset(out, 0, sizeof *out);
            return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "the expression never fires: no selected month has any of the selected days of month");
        }
    }
    return 0;
}

/* ---- calendar ---- */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t fdiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

static int days_in_month(int64_t y, int m)
{
    if (m != 2) return max_mday(m);
    return ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : 28;
}

/* Lowest set bit >= from, or -1. */
static int next_bit(uint64_t bits, int from, int hi)
{
    for (int i = from; i <= hi; i++) if (bits >> i & 1) return i;
    return -1;
}

static int day_matches(const cron_expr *c, int64_t y, int m, int d)
{
    int64_t days = days_from_civil(y, m, d);
    int wd = (int)(((days + 4) % 7 + 7) % 7);  /* 1970-01-01 was a Thursday */
    int dm = (int)(c->dom >> d & 1), wm = (int)(c->dow >> wd & 1);
    return (c->dom_star || c->dow_star) ? (dm && wm) : (dm || wm);
}

/* First matching wall-clock minute >= w (naive seconds: wall time read as if UTC),
 * skipping field-wise; fails past year ylimit. */
static int next_match(const cron_expr *c, int64_t w, int64_t ylimit, int64_t *out)
{
    int64_t days = fdiv(w, 86400), secs = w - days * 86400, y;
    int mo, d;
    civil_from_days(days, &y, &mo, &d);
    int h = (int)(secs / 3600), mi = (int)(secs % 3600 / 60);
    if (secs % 60) mi++;  /* round up to the minute */
    for (;;) {
        if (mi > 59) { mi = 0; h++; }
        if (h > 23) { h = 0; mi = 0; d++; }
        if (d > days_in_month(y, mo)) { d = 1; h = 0; mi = 0; mo++; }
        if (mo > 12) { mo = 1; y++; }
        if (y > ylimit) return -1;
        if (!(c->month >> mo & 1)) {
            int nm = next_bit(c->month, mo, 12);
            if (nm < 0) { y++; mo = next_bit(c->month, 1, 12); }
            else mo = nm;
            d = 1; h = 0; mi = 0;
            continue;
        }
        if (!day_matches(c, y, mo, d)) { d++; h = 0; mi = 0; continue; }
        if (!(c->hour >> h & 1)) {
            int nh = next_bit(c->hour, h, 23);
            if (nh < 0) { d++; h = 0; mi = 0; continue; }
            h = nh; mi = 0;
        }
        if (!(c->minute >> mi & 1)) {
            int nmi = next_bit(c->minute, mi, 59);
            if (nmi < 0) { h++; mi = 0; continue; }
            mi = nmi;
        }
        *out = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60;
        return 0;
    }
}

static int64_t year_of(int64_t t)
{
    int64_t y;
    int m, d;
    civil_from_days(fdiv(t, 86400), &y, &m, &d);
    return y;
}

int cron_next(const cron_expr *c, int64_t after_utc, const char *tz, int64_t *next_utc, cb_error *e)
{
    if (!c->minute || !c->hour || !c->dom || !c->month || !c->dow)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "cron expression not parsed");
    if (after_utc < MIN_TIME || after_utc > MAX_TIME)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "start time out of range (years 0001-9999)");
    const cb_tz *z = cb_tz_get(tz, e);
    if (!z) return CB_EUSAGE;
    int64_t a = fdiv(after_utc, 60) * 60 + 60;  /* seconds dropped; strictly after */
    int64_t ylimit = year_of(a) + SEARCH_YEARS, w;
    if (cb_tz_is_utc(z)) {
        if (next_match(c, a, ylimit, &w)) goto never;
        *next_utc = w;
        return 0;
    }
    int32_t minoff, maxoff;
    cb_tz_offset_bounds(z, &minoff, &maxoff);
    /* Every instant of wall time W lies in [W-maxoff, W-minoff]: scan wall candidates from
     * the earliest that can reach a, and stop once none can beat the best found. */
    int64_t best = INT64_MAX, from = a + minoff;
    for (;;) {
        if (next_match(c, from, ylimit, &w)) break;
        if (w - maxoff > best) break;
        from = w + 60;
        int32_t o1 = cb_tz_offset_at(z, w - maxoff), o2 = cb_tz_offset_at(z, w - minoff);
        int64_t inst[2];
        int n = 0;
        if (cb_tz_offset_at(z, w - o1) == o1) inst[n++] = w - o1;
        if (o2 != o1 && cb_tz_offset_at(z, w - o2) == o2) inst[n++] = w - o2;
        if (n == 2 && inst[1] < inst[0]) { int64_t t = inst[0]; inst[0] = inst[1]; inst[1] = t; }
        if (n == 0) {
            if (c->wild) continue;  /* wildcard jobs skip minutes that do not exist */
            /* Fixed-time job in a spring-forward gap: runs once when the gap ends, i.e. at
             * the first instant whose wall time is past w. */
            int64_t lo = w - maxoff, hi = w - minoff;
            while (lo < hi) {
                int64_t mid = lo + (hi - lo) / 2;
                if (mid + cb_tz_offset_at(z, mid) > w) hi = mid; else lo = mid + 1;
            }
            inst[n++] = lo;
        } else if (n == 2 && !c->wild) {
            n = 1;  /* fixed-time job in a fall-back overlap: first occurrence only */
        }
        for (int i = 0; i < n; i++)
            if (inst[i] >= a && inst[i] < best) best = inst[i];
    }
    if (best == INT64_MAX) goto never;
    *next_utc = best;
    return 0;
never:
    return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "the expression never fires (no match within %d years)", SEARCH_YEARS);
}

int cron_due(const cron_expr *c, const char *tz, int64_t last_success, int64_t now, int64_t *next, cb_error *e)
{
    int64_t f = 0;
    if (cron_next(c, last_success, tz, &f, e)) return -1;
    *next = f;
    if (f <= now) return 1;
    return 0;
}
