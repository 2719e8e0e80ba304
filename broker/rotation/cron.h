/* Vixie cron / cronie schedule expressions and next-fire computation.
 *
 * Syntax: five whitespace-separated fields (minute 0-59, hour 0-23, day of month 1-31,
 * month 1-12 or jan-dec, day of week 0-7 or sun-sat with 0 and 7 = Sunday), each a
 * comma list of `*`, `N`, `N-M`, `*\/S`, `N-M/S`; names are three letters,
 * case-insensitive, usable anywhere a number is (ranges and lists included, as in
 * cronie's get_number). Macros: @hourly @daily @midnight @weekly @monthly @yearly
 * @annually (lower case, as cronie); @reboot is refused (not a time specification).
 *
 * Day rule (cronie DOM_STAR/DOW_STAR): a day field is "star" when its text starts with
 * '*' (so `*\/2` is star). Either star: day-of-month AND day-of-week; neither: OR.
 *
 * Dialect choices (see docs/readme-cron.md):
 *   - `5/10` (a single number with a step) is an error, as in Vixie 3.0 / Debian cron.
 *   - `10-5` (reversed range) is an error, as in OpenBSD cron: Vixie accepts it silently
 *     and the job never runs; we refuse rather than accept a schedule that never fires.
 *   - A step must be 1..(number of values in the field), as OpenBSD cron; `*\/0` is an
 *     error, `*\/60` in minutes means minute 0 only.
 *   - An expression that can never fire (`0 0 30 2 *`) is an error at parse time.
 *
 * Time zones: matching is on the wall clock of the job's zone (cronie CRON_TZ). A job
 * is "wildcard" when its minute or hour field starts with '*' (cronie MIN_STAR/HR_STAR;
 * @hourly counts). Wildcard jobs follow the wall clock: they skip minutes that do not
 * exist (spring-forward gap) and run in both copies of a repeated hour (fall-back).
 * Fixed-time jobs whose time falls in a gap run once, at the end of the gap; in a
 * fall-back overlap they run once, at the first occurrence. */
#ifndef CB_CRON_H
#define CB_CRON_H
#include <stdint.h>
#include "util.h"

typedef struct cron_expr {
    uint64_t minute;   /* bits 0..59 */
    uint32_t hour;     /* bits 0..23 */
    uint32_t dom;      /* bits 1..31 */
    uint32_t month;    /* bits 1..12 */
    uint32_t dow;      /* bits 0..6 (7 folded into 0) */
    unsigned dom_star : 1, dow_star : 1;  /* field text started with '*' */
    unsigned wild : 1;                    /* minute or hour started with '*' (DST rule) */
} cron_expr;

/* Parses expr. CB_EUSAGE with a message naming the field and the reason, e.g.
 * "field 1 (minute): value 60 out of range 0-59". */
int cron_parse(const char *expr, cron_expr *out, cb_error *e);

/* First fire time strictly after after_utc (its seconds dropped), matching on the wall
 * clock of tz (NULL or "UTC" = UTC; otherwise an IANA name from /usr/share/zoneinfo).
 * The search is bounded (401 years of calendar, a full Gregorian cycle, skipping
 * field-wise); CB_EUSAGE for an unknown zone, an out-of-range time (years 1..9999),
 * or a schedule with no fire time in the bound. */
int cron_next(const cron_expr *c, int64_t after_utc, const char *tz, int64_t *next_utc, cb_error *e);

/* Catch-up rule for the scheduler: the next run is computed from the last successful
 * run, so a broker that was down runs a missed job once, not once per missed slot.
 * Returns 1 when at least one fire time lies in (last_success, now] — the job is due;
 * *next is then the earliest missed fire time. Returns 0 when not due; *next is the
 * upcoming fire time (> now). Returns -1 on error (e filled). After running a due job
 * the caller records last_success = the run's time and calls again. */
int cron_due(const cron_expr *c, const char *tz, int64_t last_success, int64_t now, int64_t *next, cb_error *e);

#endif
