/* libFuzzer: the TZif reader (RFC 8536 data + POSIX TZ footer) on arbitrary bytes, then
 * offset lookups across the supported time range. */
#include <stdint.h>
#include <stdlib.h>
#include "rotation/tzfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cb_error e = {0};
    cb_tz *z = cb_tz_parse(data, size, &e);
    if (!z) return 0;
    int32_t lo, hi;
    cb_tz_offset_bounds(z, &lo, &hi);
    for (int64_t t = -62135596800LL; t < 253402300800LL; t += 86400LL * 397 + 3607) {
        int32_t o = cb_tz_offset_at(z, t);
        if (o < lo || o > hi) abort();
    }
    cb_tz_free(z);
    return 0;
}
