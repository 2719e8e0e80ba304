/* Arbitrary bytes into the AWS Secrets Manager response parsers (GetSecretValue,
 * DescribeSecret, errors, retry decision) and the shared-file INI reader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "secrets/aws_config.h"
#include "secrets/aws_secrets_manager.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *b = (const char *)data;
    secret_value v;
    cb_error e = {0};
    if (aws_sm_parse_get(b, size, &v, &e) == 0) {
        cb_error fe;
        secret_value_pick_field(&v, "a.b", &fe);
        secret_value_free(&v);
    }
    json_t *o = NULL;
    if (aws_sm_parse_describe(b, size, &o, &e) == 0) json_decref(o);
    long status = size ? 200 + data[0] * 2 : 0;
    aws_sm_parse_error(status, b, size, "GetSecretValue", "id", size > 4 ? "abcd" : NULL, &e);
    if (strchr(e.msg, '\n')) abort(); /* error messages stay on one line */
    aws_sm_body_retryable(b, size);
    char *s = aws_ini_get(b, size, "default", "aws_access_key_id");
    free(s);
    s = aws_ini_get(b, size, "profile x", "region");
    free(s);
    return 0;
}
