/* AWS-specific test driver (what secret_tool cannot reach through the generic interface):
 *   aws_sm_tool list     every secret name, one per line (ListSecrets, all pages)
 *   aws_sm_tool creds    where credentials came from and the access key id (never the secret)
 * Exit status: 0 ok, else the cb_error code; the message goes to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "secrets/aws_config.h"
#include "secrets/aws_secrets_manager.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: aws_sm_tool list|creds\n");
        return 2;
    }
    if (getenv("SECRET_TOOL_VERBOSE")) cb_log_level = 3;
    cb_error e = {0};
    int rc;
    if (strcmp(argv[1], "list") == 0) {
        void *st = NULL;
        rc = aws_sm_provider.open(&st, &e);
        json_t *names = NULL;
        if (!rc) rc = aws_sm_list(st, &names, &e);
        if (!rc) {
            size_t i;
            json_t *n;
            json_array_foreach(names, i, n) printf("%s\n", json_string_value(n));
        }
        json_decref(names);
        if (st) aws_sm_provider.close(st);
    } else if (strcmp(argv[1], "creds") == 0) {
        aws_creds c;
        rc = aws_resolve_credentials(&c, &e);
        if (!rc) {
            printf("%s %s %s %lld\n", c.source, c.access_key, c.session_token ? "token" : "no-token", (long long)c.expires);
            aws_creds_free(&c);
        }
    } else {
        fprintf(stderr, "unknown subcommand %s\n", argv[1]);
        return 2;
    }
    if (rc) fprintf(stderr, "%s\n", e.msg);
    return rc;
}
