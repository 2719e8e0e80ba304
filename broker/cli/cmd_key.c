/* credbroker key generate | rotate [--reencrypt] | migrate */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/audit.h"
#include "commands.h"
#include "conn/connstr.h"
#include "store/crypto.h"
#include "secrets/secret_provider.h"
#include "store/store.h"
#include "store/key_ref.h"

static int usage(void)
{
    printf("usage: credbroker key generate [--length N] [--format hex|base64]\n"
           "       credbroker key rotate [--reencrypt]\n"
           "       credbroker key migrate\n\n"
           "generate  prints N (default 32) random bytes from the OS CSPRNG; use it as CREDBROKER_MASTER_KEY.\n"
           "rotate    re-wraps the data key under the key in CREDBROKER_NEW_MASTER_KEY (or _REF).\n"
           "          --reencrypt also replaces the data key and re-encrypts every row in one\n"
           "          transaction, verifying each; any failure leaves the store unchanged.\n"
           "migrate   encrypts any value that is still plaintext (e.g. after a manual SQL insert).\n");
    return 0;
}

static int key_generate(cli_ctx *ctx, int argc, char **argv)
{
    const char *len = cli_take_opt(&argc, argv, "--length"), *fmt = cli_take_opt(&argc, argv, "--format");
    if (cli_no_unknown_opts(argc, argv) || argc > 1) return CB_EUSAGE;
    long n = 32;
    if (len) {
        char *end;
        n = strtol(len, &end, 10);
        if (*end || n < 16 || n > 1024) { fprintf(stderr, "credbroker: --length must be 16..1024 bytes\n"); return CB_EUSAGE; }
    }
    if (fmt && strcmp(fmt, "hex") != 0 && strcmp(fmt, "base64") != 0) { fprintf(stderr, "credbroker: --format is hex or base64\n"); return CB_EUSAGE; }
    uint8_t *b = cb_malloc((size_t)n);
    if (cb_random(b, (size_t)n)) {
        free(b);
        cb_error e;
        cb_fail(&e, CB_ERR, CB_K_INTERNAL, "the random generator failed");
        return cli_report_error(ctx, &e);
    }
    char *s = fmt && strcmp(fmt, "base64") == 0 ? cb_base64_encode(b, (size_t)n) : cb_hex_encode(b, (size_t)n);
    cb_free_secret_n(b, (size_t)n);
    if (ctx->json) {
        json_t *o = json_pack("{s:s,s:i,s:s}", "key", s, "bytes", (int)n, "format", fmt ? fmt : "hex");
        cli_print_json(o);
    } else {
        printf("%s\n", s);
    }
    cb_free_secret(s);
    return 0;
}

static int new_master_key(char **key, cb_error *e)
{
    const char *v = getenv("CREDBROKER_NEW_MASTER_KEY");
    if (v && *v) {
        *key = cb_strdup(v);
        return 0;
    }
    const char *ref = getenv("CREDBROKER_NEW_MASTER_KEY_REF");
    if (ref && *ref) {
        /* read twice, file:// checked: a reference must not re-key the store to a value
         * nobody can read again (store/key_ref.h) */
        if (store_key_from_ref(ref, key, e)) return e->code == CB_EUSAGE ? CB_EUSAGE : CB_ERR;
        return 0;
    }
    return cb_fail(e, CB_EKEY, CB_K_INVALID, "no new master key: set CREDBROKER_NEW_MASTER_KEY (see credbroker key generate) or CREDBROKER_NEW_MASTER_KEY_REF");
}

static int key_rotate(cli_ctx *ctx, int argc, char **argv)
{
    int reenc = cli_take_flag(&argc, argv, "--reencrypt");
    if (cli_no_unknown_opts(argc, argv) || argc > 1) return CB_EUSAGE;
    cb_error e = {0};
    char *nk = NULL;
    int rc = new_master_key(&nk, &e);
    if (rc) return cli_report_error(ctx, &e);
    cb_store *s;
    if ((rc = cli_open_store(ctx, &s))) {
        cb_free_secret(nk);
        return rc;
    }
    json_t *report = json_object();
    char fpr[17];
    store_key_fingerprint(nk, fpr);
    rc = store_rekey(s, nk, reenc, report, &e);
    cb_free_secret(nk);
    store_kdf k;
    store_get_kdf(s, &k);
    json_t *d = json_pack("{s:b,s:O?,s:I,s:s,s:s}", "reencrypt", reenc, "rows", json_object_get(report, "rows"),
                          "failed", (json_int_t)json_array_size(json_object_get(report, "failures")), "kdf", k.kdf,
                          "key_fingerprint", fpr);
    audit_append(s, ctx->paths.actor, reenc ? "key.rotate.reencrypt" : "key.rotate", ctx->paths.db_path, rc ? "error" : "ok", d,
                 cli_elapsed_ms(), NULL);
    json_decref(d);
    store_close(s);
    json_t *fails = json_object_get(report, "failures");
    if (ctx->json) {
        json_object_set_new(report, "ok", json_boolean(rc == 0));
        if (rc) json_object_set_new(report, "error", json_string(e.msg));
        cli_print_json(report);
        if (rc) fprintf(stderr, "credbroker: %s\n", e.msg);
        return rc ? (e.code ? e.code : CB_ERR) : 0;
    }
    size_t i;
    json_t *f;
    json_array_foreach(fails, i, f)
        fprintf(stderr, "row %s.%s: %s\n", json_string_value(json_object_get(f, "table")),
                json_string_value(json_object_get(f, "row")), json_string_value(json_object_get(f, "error")));
    if (!rc) {
        if (reenc) cli_say(ctx, "master key rotated; data key replaced and %lld values re-encrypted (key version %lld)",
                           (long long)json_integer_value(json_object_get(report, "rows")),
                           (long long)json_integer_value(json_object_get(report, "key_version")));
        else cli_say(ctx, "master key rotated; data key re-wrapped (no row changed)");
        cli_say(ctx, "from now on set CREDBROKER_MASTER_KEY to the new key; the old key no longer opens this store");
    }
    json_decref(report);
    return rc ? cli_report_error(ctx, &e) : 0;
}

static int key_migrate(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_no_unknown_opts(argc, argv) || argc > 1) return CB_EUSAGE;
    cb_store *s;
    int rc = cli_open_store(ctx, &s);
    if (rc) return rc;
    cb_error e = {0};
    int n = 0;
    rc = store_migrate_plaintext(s, &n, &e);
    /* no redacted copies to refresh: the redacted form is derived from the sealed URL on read */
    json_t *d = json_pack("{s:i}", "migrated", n);
    audit_append(s, ctx->paths.actor, "key.migrate", ctx->paths.db_path, rc ? "error" : "ok", d, cli_elapsed_ms(), NULL);
    json_decref(d);
    store_close(s);
    if (rc) return cli_report_error(ctx, &e);
    if (ctx->json) cli_print_json(json_pack("{s:b,s:i}", "ok", 1, "migrated", n));
    else cli_say(ctx, "%d plaintext value%s encrypted", n, n == 1 ? "" : "s");
    return 0;
}

int cmd_key(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2) return usage(), CB_EUSAGE;
    if (cli_wants_help(argc, argv)) return usage();
    const char *sub = argv[1];
    if (strcmp(sub, "generate") == 0) return key_generate(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "rotate") == 0) return key_rotate(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "migrate") == 0) return key_migrate(ctx, argc - 1, argv + 1);
    fprintf(stderr, "credbroker: unknown key subcommand '%s'\n", sub);
    return CB_EUSAGE;
}
