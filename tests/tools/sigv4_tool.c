/* Exposes the SigV4 signer to interop oracles. Reads one JSON request on stdin (secrets
 * never in argv):
 *   {"method","path","query","headers":[[name,value],...],"body","access_key",
 *    "secret_key","session_token","region","service","amz_date"}
 * and prints {"canonical_request","string_to_sign","signature","authorization"}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "secrets/sigv4.h"

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

int main(void)
{
    json_error_t je;
    json_t *in = json_loadf(stdin, 0, &je);
    if (!json_is_object(in)) {
        fprintf(stderr, "sigv4_tool: bad JSON on stdin: %s\n", je.text);
        return 2;
    }
    json_t *hs = json_object_get(in, "headers");
    size_t n = json_array_size(hs);
    sigv4_header *h = cb_calloc(n + 1, sizeof *h);
    for (size_t i = 0; i < n; i++) {
        json_t *pair = json_array_get(hs, i);
        h[i].name = json_string_value(json_array_get(pair, 0));
        h[i].value = json_string_value(json_array_get(pair, 1));
    }
    const char *body = str(in, "body");
    sigv4_request rq = {.method = str(in, "method"), .path = str(in, "path"), .query = str(in, "query"),
                        .headers = h, .nheaders = n, .body = body, .body_len = body ? strlen(body) : 0,
                        .access_key = str(in, "access_key"), .secret_key = str(in, "secret_key"),
                        .session_token = str(in, "session_token"), .region = str(in, "region"),
                        .service = str(in, "service"), .amz_date = str(in, "amz_date")};
    sigv4_result r;
    cb_error e = {0};
    int rc = sigv4_sign(&rq, &r, &e);
    if (rc) {
        fprintf(stderr, "sigv4_tool: %s\n", e.msg);
    } else {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "canonical_request", r.canonical_request, "string_to_sign",
                              r.string_to_sign, "signature", r.signature, "authorization", r.authorization);
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(o);
        sigv4_result_free(&r);
    }
    free(h);
    json_decref(in);
    return rc;
}
