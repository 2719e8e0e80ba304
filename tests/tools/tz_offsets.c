/* Test driver for the TZif reader: for each zone name on stdin prints
 *   ZONE OFF1 OFF2 ... OFFn
 * the UTC offsets (seconds) at START, START+STEP, ... (n = COUNT), or "ZONE error MSG".
 *   tz_offsets START STEP COUNT < zones.txt */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rotation/tzfile.h"

int main(int argc, char **argv)
{
    if (argc != 4) { fprintf(stderr, "usage: tz_offsets START STEP COUNT < zones\n"); return 2; }
    long long start = atoll(argv[1]), step = atoll(argv[2]);
    int count = atoi(argv[3]);
    char name[256];
    while (fgets(name, sizeof name, stdin)) {
        name[strcspn(name, "\r\n")] = 0;
        if (!*name) continue;
        cb_error e = {0};
        const cb_tz *z = cb_tz_get(name, &e);
        if (!z) { printf("%s error %s\n", name, e.msg); continue; }
        printf("%s", name);
        for (int i = 0; i < count; i++) printf(" %d", cb_tz_offset_at(z, start + step * i));
        printf("\n");
    }
    return 0;
}
