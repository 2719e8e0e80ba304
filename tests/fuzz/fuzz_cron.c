/* libFuzzer: cron_parse + cron_next on arbitrary text. The first byte picks a zone and the
 * next eight a start time, so the DST paths are exercised too. Every call must end
 * quickly (the search is bounded) and parsed expressions must yield ordered fire times. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "rotation/cron.h"

static const char *const zones[] = {NULL, "UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney",
                                    "Pacific/Apia", "Asia/Kathmandu", "America/St_Johns", "Nope/Zone"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9) return 0;
    const char *tz = zones[data[0] % (sizeof zones / sizeof zones[0])];
    uint64_t raw = 0;
    memcpy(&raw, data + 1, 8);
    /* Start between 1900 and 2200 so the search is meaningful; out-of-range is unit-tested. */
    int64_t t = -2208988800LL + (int64_t)(raw % 9467280000ULL);
    char *s = malloc(size - 9 + 1);
    memcpy(s, data + 9, size - 9);
    s[size - 9] = 0;
    cron_expr c;
    cb_error e = {0};
    if (cron_parse(s, &c, &e) == 0) {
        for (int i = 0; i < 3; i++) {
            int64_t n;
            if (cron_next(&c, t, tz, &n, &e) != 0) break;
            if (n <= t) abort();  /* must be strictly after */
            t = n;
        }
        int64_t nx;
        cron_due(&c, tz, t - 86400, t, &nx, &e);
    } else if (e.msg[0] == 0) {
        abort();  /* every rejection carries a reason */
    }
    free(s);
    return 0;
}
