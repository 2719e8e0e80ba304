/* IANA time zones read straight from TZif files (RFC 8536), so that the scheduler can
 * convert between UTC and a zone's wall clock without setenv("TZ")/tzset(), which is
 * process-global and races with every other thread calling localtime(). */
#ifndef CB_TZFILE_H
#define CB_TZFILE_H
#include <stddef.h>
#include <stdint.h>
#include "util.h"

typedef struct cb_tz cb_tz;

/* Loads zone NAME ("Europe/Berlin") from $TZDIR or /usr/share/zoneinfo. NULL, "" and
 * "UTC" give the built-in UTC zone. Names are validated (no "..", no absolute paths,
 * only [A-Za-z0-9/_+-.]). Zones are cached for the life of the process and thread-safe;
 * never free the result. CB_EUSAGE on an unknown or invalid zone. */
const cb_tz *cb_tz_get(const char *name, cb_error *e);

/* Parses a TZif image (for the fuzzer and cb_tz_get). The result is freed with cb_tz_free. */
cb_tz *cb_tz_parse(const uint8_t *buf, size_t len, cb_error *e);
void cb_tz_free(cb_tz *z);

int cb_tz_is_utc(const cb_tz *z);
/* UTC offset in seconds (east positive) in effect at instant t. */
int32_t cb_tz_offset_at(const cb_tz *z, int64_t t);
/* Smallest and largest offsets the zone ever uses (bounds wall->UTC searches). */
void cb_tz_offset_bounds(const cb_tz *z, int32_t *min, int32_t *max);

#endif
