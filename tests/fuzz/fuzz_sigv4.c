/* Arbitrary path, query and header bytes into the SigV4 canonicalizer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "secrets/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* split the input on NUL bytes into path, query, header name, header value */
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    const char *part[4] = {"", "", "x-h", ""};
    char *p = buf;
    for (int i = 0; i < 4 && p <= buf + size; i++) {
        part[i] = p;
        p += strlen(p) + 1;
    }
    sigv4_header h[] = {{"Host", "h"}, {"X-Amz-Date", "20150830T123600Z"}, {part[2], part[3]}, {part[2], part[0]}};
    sigv4_request rq = {.method = "GET", .path = part[0], .query = part[1], .headers = h, .nheaders = 4,
                        .body = data, .body_len = size, .access_key = "AKID", .secret_key = "s",
                        .region = "us-east-1", .service = "service", .amz_date = "20150830T123600Z",
                        .s3 = size & 1};
    sigv4_result r;
    if (sigv4_sign(&rq, &r, NULL) == 0) {
        if (strlen(r.signature) != 64) abort();
        sigv4_result_free(&r);
    }
    free(buf);
    return 0;
}
