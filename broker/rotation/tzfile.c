/* TZif reader (RFC 8536) with the POSIX TZ footer rule for instants after the last
 * explicit transition. Only what the scheduler needs: the UTC offset at an instant. */
#include "tzfile.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_MAX_FILE (1u << 20)
#define TZ_MAX_OFF (26 * 3600)  /* RFC 8536 bounds offsets to (-25h, +26h) */

typedef struct tz_rule {
    char kind;        /* 'J' (1..365, no Feb 29), 'D' (0..365), 'M' (month.week.day) */
    int day, week, mon;
    int32_t time;     /* seconds after local midnight, may be negative or > 24h */
} tz_rule;

typedef struct tz_footer {
    int present, has_dst;
    int32_t std_off, dst_off;  /* east positive */
    tz_rule start, end;
} tz_footer;

struct cb_tz {
    int utc;
    size_t timecnt, typecnt;
    int64_t *times;
    uint8_t *idx;
    int32_t *offs;
    tz_footer ft;
    int32_t minoff, maxoff;
};

static cb_tz tz_utc = { .utc = 1 };

/* ---- civil calendar (proleptic Gregorian, Howard Hinnant's algorithms) ---- */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t year_of_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    return yoe + era * 400 + (m <= 2);
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

/* ---- POSIX TZ string (the TZif footer) ---- */
static const char *parse_name(const char *p)
{
    if (*p == '<') {
        const char *q = strchr(p, '>');
        if (!q || q - p < 4) return NULL;
        return q + 1;
    }
    const char *s = p;
    while (isalpha((unsigned char)*p)) p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] with hh <= maxh; returns seconds. */
static const char *parse_hms(const char *p, int maxh, int32_t *out)
{
    int sign = 1;
    if (*p == '+' || *p == '-') { if (*p == '-') sign = -1; p++; }
    if (!isdigit((unsigned char)*p)) return NULL;
    int v[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (i > 0) { if (*p != ':') break; p++; }
        if (!isdigit((unsigned char)*p)) return NULL;
        int n = 0, digits = 0;
        while (isdigit((unsigned char)*p) && digits < 3) { n = n * 10 + (*p - '0'); p++; digits++; }
        if (isdigit((unsigned char)*p)) return NULL;
        if ((i == 0 && n > maxh) || (i > 0 && n > 59)) return NULL;
        v[i] = n;
    }
    *out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
    return p;
}

static const char *parse_num(const char *p, int lo, int hi, int *out)
{
    if (!isdigit((unsigned char)*p)) return NULL;
    int n = 0;
    while (isdigit((unsigned char)*p)) { n = n * 10 + (*p - '0'); if (n > hi) return NULL; p++; }
    if (n < lo) return NULL;
    *out = n;
    return p;
}

static const char *parse_rule(const char *p, tz_rule *r)
{
    memset(r, 0, sizeof *r);
    if (*p == 'J') { r->kind = 'J'; p = parse_num(p + 1, 1, 365, &r->day); }
    else if (*p == 'M') {
        r->kind = 'M';
        p = parse_num(p + 1, 1, 12, &r->mon);
        if (!p || *p != '.') return NULL;
        p = parse_num(p + 1, 1, 5, &r->week);
        if (!p || *p != '.') return NULL;
        p = parse_num(p + 1, 0, 6, &r->day);
    } else { r->kind = 'D'; p = parse_num(p, 0, 365, &r->day); }
    if (!p) return NULL;
    r->time = 2 * 3600;
    if (*p == '/') p = parse_hms(p + 1, 167, &r->time);  /* RFC 8536 extension: -167..167 h */
    return p;
}

static int parse_footer(const char *s, tz_footer *f)
{
    memset(f, 0, sizeof *f);
    if (!*s) return 0;  /* empty footer: no rule, keep the last type */
    const char *p = parse_name(s);
    int32_t off;
    if (!p || !(p = parse_hms(p, 24, &off))) return -1;
    f->std_off = -off;  /* POSIX offsets are west-positive */
    f->present = 1;
    if (!*p) return 0;
    if (!(p = parse_name(p))) return -1;
    f->has_dst = 1;
    f->dst_off = f->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = parse_hms(p, 24, &off))) return -1;
        f->dst_off = -off;
    }
    if (!*p) {  /* POSIX default rule (US) when none is given */
        f->start = (tz_rule){'M', 0, 2, 3, 7200};
        f->end = (tz_rule){'M', 0, 1, 11, 7200};
        return 0;
    }
    if (*p != ',' || !(p = parse_rule(p + 1, &f->start))) return -1;
    if (*p != ',' || !(p = parse_rule(p + 1, &f->end))) return -1;
    return *p ? -1 : 0;
}

/* Day index (days since epoch) of rule r in year y. */
static int64_t rule_day(const tz_rule *r, int64_t y)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    if (r->kind == 'J') return jan1 + r->day - 1 + (is_leap(y) && r->day >= 60);
    if (r->kind == 'D') return jan1 + r->day;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t first = days_from_civil(y, r->mon, 1);
    int wd = (int)(((first % 7) + 11) % 7);  /* 1970-01-01 was a Thursday (4) */
    int64_t d = first + ((r->day - wd + 7) % 7) + (int64_t)(r->week - 1) * 7;
    int len = mdays[r->mon - 1] + (r->mon == 2 && is_leap(y));
    while (d >= first + len) d -= 7;  /* week 5 means "last" */
    return d;
}

static int32_t footer_offset(const tz_footer *f, int64_t t)
{
    if (!f->has_dst) return f->std_off;
    int64_t y = year_of_days(floor_div(t, 86400));
    int64_t best_t = INT64_MIN;
    int32_t best = f->std_off;
    /* Transitions of neighbouring years: the latest one at or before t decides. */
    for (int64_t yy = y - 2; yy <= y + 1; yy++) {
        int64_t s = rule_day(&f->start, yy) * 86400 + f->start.time - f->std_off;
        int64_t en = rule_day(&f->end, yy) * 86400 + f->end.time - f->dst_off;
        /* On a tie the start wins, so "DST all year" footers stay in DST. */
        if (en <= t && en > best_t) { best_t = en; best = f->std_off; }
        if (s <= t && s >= best_t) { best_t = s; best = f->dst_off; }
    }
    return best;
}

/* ---- TZif ---- */
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static int64_t be64(const uint8_t *p) { return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4)); }

void cb_tz_free(cb_tz *z)
{
    if (!z || z == &tz_utc) return;
    free(z->times); free(z->idx); free(z->offs); free(z);
}

cb_tz *cb_tz_parse(const uint8_t *buf, size_t len, cb_error *e)
{
    const uint8_t *p = buf, *end = buf + len;
    if (len < 44 || memcmp(p, "TZif", 4) != 0) { cb_fail(e, CB_EUSAGE, CB_K_INVALID, "not a TZif file"); return NULL; }
    int version = p[4];
    int tsize = 4;
    for (int pass = 0; pass < 2; pass++) {
        if ((size_t)(end - p) < 44 || memcmp(p, "TZif", 4) != 0) break;
        uint32_t isutcnt = be32(p + 20), isstdcnt = be32(p + 24), leapcnt = be32(p + 28);
        uint32_t timecnt = be32(p + 32), typecnt = be32(p + 36), charcnt = be32(p + 40);
        if (timecnt > 100000 || typecnt == 0 || typecnt > 256 || charcnt > 100000 || leapcnt > 10000 ||
            isutcnt > 256 || isstdcnt > 256) break;
        size_t need = (size_t)timecnt * tsize + timecnt + (size_t)typecnt * 6 + charcnt +
                      (size_t)leapcnt * (tsize + 4) + isstdcnt + isutcnt;
        p += 44;
        if ((size_t)(end - p) < need) break;
        if (pass == 0 && version >= '2') { p += need; tsize = 8; continue; }
        if (leapcnt) { cb_fail(e, CB_EUSAGE, CB_K_INVALID, "time zones with leap seconds (right/...) are not supported"); return NULL; }
        cb_tz *z = cb_calloc(1, sizeof *z);
        z->timecnt = timecnt; z->typecnt = typecnt;
        z->times = cb_calloc(timecnt ? timecnt : 1, sizeof *z->times);
        z->idx = cb_calloc(timecnt ? timecnt : 1, 1);
        z->offs = cb_calloc(typecnt, sizeof *z->offs);
        for (uint32_t i = 0; i < timecnt; i++) {
            z->times[i] = tsize == 8 ? be64(p + (size_t)i * 8) : (int32_t)be32(p + (size_t)i * 4);
            if (i && z->times[i] <= z->times[i - 1]) goto bad;
        }
        p += (size_t)timecnt * tsize;
        for (uint32_t i = 0; i < timecnt; i++) { z->idx[i] = p[i]; if (p[i] >= typecnt) goto bad; }
        p += timecnt;
        z->minoff = INT32_MAX; z->maxoff = INT32_MIN;
        for (uint32_t i = 0; i < typecnt; i++) {
            int32_t o = (int32_t)be32(p + (size_t)i * 6);
            if (o <= -TZ_MAX_OFF || o >= TZ_MAX_OFF) goto bad;
            z->offs[i] = o;
            if (o < z->minoff) z->minoff = o;
            if (o > z->maxoff) z->maxoff = o;
        }
        p += need - (size_t)timecnt * tsize - timecnt;
        if (tsize == 8) {  /* footer: "\n" POSIX-TZ "\n" */
            if (p >= end || *p != '\n') goto bad;
            const uint8_t *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
            if (!nl || nl - p > 256) goto bad;
            char s[257];
            memcpy(s, p + 1, (size_t)(nl - p - 1));
            s[nl - p - 1] = 0;
            if (parse_footer(s, &z->ft) != 0) goto bad;
            if (z->ft.present) {
                const int32_t o[2] = {z->ft.std_off, z->ft.has_dst ? z->ft.dst_off : z->ft.std_off};
                for (int i = 0; i < 2; i++) {
                    if (o[i] <= -TZ_MAX_OFF || o[i] >= TZ_MAX_OFF) goto bad;
                    if (o[i] < z->minoff) z->minoff = o[i];
                    if (o[i] > z->maxoff) z->maxoff = o[i];
                }
            }
        }
        return z;
    bad:
        cb_tz_free(z);
        break;
    }
    cb_fail(e, CB_EUSAGE, CB_K_INVALID, "malformed TZif data");
    return NULL;
}

int cb_tz_is_utc(const cb_tz *z) { return !z || z->utc; }

int32_t cb_tz_offset_at(const cb_tz *z, int64_t t)
{
    if (cb_tz_is_utc(z)) return 0;
    if (z->timecnt == 0) return z->ft.present ? footer_offset(&z->ft, t) : z->offs[0];
    if (t < z->times[0]) return z->offs[0];
    if (t >= z->times[z->timecnt - 1] && z->ft.present) return footer_offset(&z->ft, t);
    size_t lo = 0, hi = z->timecnt;  /* last i with times[i] <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->times[mid] <= t) lo = mid; else hi = mid;
    }
    return z->offs[z->idx[lo]];
}

void cb_tz_offset_bounds(const cb_tz *z, int32_t *min, int32_t *max)
{
    if (cb_tz_is_utc(z)) { *min = *max = 0; return; }
    *min = z->minoff; *max = z->maxoff;
}

/* ---- loading and the process-wide cache ---- */
static int valid_zone_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 200 || n[0] == '/' || n[0] == '-') return 0;
    const char *comp = n;
    for (const char *p = n;; p++) {
        if (*p == '/' || *p == 0) {
            size_t cl = (size_t)(p - comp);
            if (cl == 0 || comp[0] == '.') return 0;  /* empty, ".", ".." or hidden */
            if (!*p) break;
            comp = p + 1;
            continue;
        }
        if (!isalnum((unsigned char)*p) && !strchr("_+-.", *p)) return 0;
    }
    return 1;
}

static cb_tz *load_zone(const char *name, cb_error *e)
{
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir) dir = "/usr/share/zoneinfo";
    char *path = cb_sprintf("%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0) { cb_fail(e, CB_EUSAGE, CB_K_INVALID, "unknown time zone '%s'", name); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 44 || (size_t)st.st_size > TZ_MAX_FILE) {
        close(fd);
        cb_fail(e, CB_EUSAGE, CB_K_INVALID, "unknown time zone '%s'", name);
        return NULL;
    }
    size_t n = (size_t)st.st_size, got = 0;
    uint8_t *buf = cb_malloc(n);
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    cb_tz *z = got == n ? cb_tz_parse(buf, n, e) : NULL;
    free(buf);
    if (!z) cb_fail(e, CB_EUSAGE, CB_K_INVALID, "time zone '%s': not a readable TZif file", name);
    return z;
}

typedef struct tz_entry { struct tz_entry *next; char *name; cb_tz *zone; } tz_entry;
static tz_entry *tz_cache;  /* bounded by the number of zone files on the system */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

const cb_tz *cb_tz_get(const char *name, cb_error *e)
{
    if (!name || !*name || strcmp(name, "UTC") == 0) return &tz_utc;
    if (!valid_zone_name(name)) {
        cb_fail(e, CB_EUSAGE, CB_K_INVALID, "invalid time zone name (expected an IANA name such as Europe/Berlin)");
        return NULL;
    }
    pthread_mutex_lock(&tz_lock);
    for (tz_entry *t = tz_cache; t; t = t->next)
        if (strcmp(t->name, name) == 0) { pthread_mutex_unlock(&tz_lock); return t->zone; }
    cb_tz *z = load_zone(name, e);
    if (z) {
        tz_entry *t = cb_calloc(1, sizeof *t);
        t->name = cb_strdup(name);
        t->zone = z;
        t->next = tz_cache;
        tz_cache = t;
    }
    pthread_mutex_unlock(&tz_lock);
    return z;
}
