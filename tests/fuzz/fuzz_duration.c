/* libFuzzer: monitor_parse_duration (credbroker monitor --since, security_monitor's
 * "since") on arbitrary text: accepted values are 1 s .. 366 d and never overflow. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "monitor/monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    int64_t t = 0;
    if (monitor_parse_duration(s, &t) == 0 && (t < 1 || t > 366LL * 86400)) abort();
    free(s);
    return 0;
}
