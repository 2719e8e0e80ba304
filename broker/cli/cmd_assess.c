/* credbroker assess: the security assessment of every connection and of the store. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "conn/assess.h"
#include "store/audit.h"
#include "commands.h"
#include "store/key_ref.h"
#include "secrets/secret_provider.h"
#include "store/crypto.h"
#include "conn/connstr.h"
#include "store/store.h"
#include "tools/mcp_leases.h"

static int usage(void)
{
    printf("usage: credbroker assess [--json]\n\n"
           "Checks each connection (encryption at rest, sslmode/Encrypt, TrustServerCertificate,\n"
           "connect timeout, weak or reused passwords, default port on a public host) and the store\n"
           "(KDF strength, file and directory mode, master key source), and what the login of each\n"
           "connection MCP clients query read-only can do (without a query_identity). Exit 3 when anything of\n"
           "severity low or above is found; --json prints an array with one object per finding.\n");
    return 0;
}

static void store_findings(cb_store *s, json_t *out)
{
    const char *path = store_path(s);
    store_kdf k;
    store_get_kdf(s, &k);
    char msg[256];
    if (strcmp(k.kdf, "hkdf-sha256") == 0) {
        assess_add(out, "store", "kdf", "info", "master key is a 256-bit random key (HKDF-SHA256)", "none needed");
    } else if (k.t < 3 || k.m_kib < 65536 || k.p < 1) {
        snprintf(msg, sizeof msg, "Argon2id parameters below the default (t=%u, m=%u KiB, p=%u; default t=3, m=65536 KiB)", k.t, k.m_kib, k.p);
        assess_add(out, "store", "kdf", "medium", msg, "rotate the master key with default parameters: credbroker key rotate");
    } else {
        snprintf(msg, sizeof msg, "passphrase master key through Argon2id (t=%u, m=%u KiB, p=%u)", k.t, k.m_kib, k.p);
        assess_add(out, "store", "kdf", "info", msg, "a random key from 'credbroker key generate' is stronger than any passphrase");
    }
    struct stat st;
    if (stat(path, &st) == 0) {
        snprintf(msg, sizeof msg, "store file mode %04o", (unsigned)(st.st_mode & 07777));
        assess_add(out, "store", "file_mode", (st.st_mode & 077) ? "high" : "info", msg, "chmod 600 the store");
    }
    char *dup = cb_strdup(path);
    const char *dir = dirname(dup);
    if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
        snprintf(msg, sizeof msg, "directory %s is world-writable: anyone can replace the store", dir);
        assess_add(out, "store", "dir_mode", "high", msg, "keep the store in a directory only its owner can write");
    }
    free(dup);
    const char *src = store_key_source(s);
    if (strcmp(src, "env") == 0)
        assess_add(out, "store", "key_source", "info", "master key from CREDBROKER_MASTER_KEY (process environment)",
            "prefer CREDBROKER_MASTER_KEY_REF so the key lives in a secret manager");
    else
        assess_add(out, "store", "key_source", "info", "master key from a secret manager reference", "none needed");
    /* a master key in a file others can read is a key everyone on the machine has */
    secret_ref kr;
    cb_error ke = {0};
    if (!strncmp(src, "ref:", 4) && secret_ref_parse(src + 4, &kr, &ke) == 0) {
        if (!strcmp(kr.scheme, "file") && stat(kr.path, &st) == 0 && (st.st_mode & 077)) {
            snprintf(msg, sizeof msg, "master key file %s is accessible by group/others (mode %04o)", kr.path,
                     (unsigned)(st.st_mode & 07777));
            assess_add(out, "store", "key_file_mode", (st.st_mode & 044) ? "high" : "medium", msg,
                       "chmod 600 the key file (and keep it owned by the broker's user)");
        } else if (!strcmp(kr.scheme, "file") && store_key_file_check(kr.path, &ke)) {
            assess_add(out, "store", "key_file", "medium", ke.msg, "keep the key in a regular file owned by the broker's user");
        }
        secret_ref_free(&kr);
    }
    if (!audit_has_anchor())
        assess_add(out, "store", "rollback", "info",
                   "no audit anchor: a store replaced by an older copy of itself cannot be detected",
                   "set \"audit\": {\"anchor\": \"file:///other/disk/credbroker.anchor\"} (or a secret manager "
                   "reference) in credbroker.json; audit verify then compares");
}

int cmd_assess(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) return usage();
    if (cli_no_unknown_opts(argc, argv) || argc > 1) return CB_EUSAGE;
    cb_store *s;
    int rc = cli_open_store(ctx, &s);
    if (rc) return rc;
    cb_error e = {0};
    store_conn *list;
    size_t n;
    if (store_conn_list(s, &list, &n, &e)) {
        store_close(s);
        return cli_report_error(ctx, &e);
    }
    json_t *out = json_array();
    json_t *fps = json_object(); /* fingerprint -> [names]: reuse without keeping passwords */
    uint8_t fpkey[32];
    cb_random(fpkey, sizeof fpkey);
    for (size_t i = 0; i < n; i++) {
        char fp[65];
        assess_connection(s, &list[i], out, fpkey, sizeof fpkey, fp, "run: credbroker key migrate");
        if (fp[0]) {
            json_t *names = json_object_get(fps, fp);
            if (!names) json_object_set_new(fps, fp, names = json_array());
            json_array_append_new(names, json_string(list[i].name));
        }
    }
    cb_wipe(fpkey, sizeof fpkey);
    const char *fp;
    json_t *names;
    json_object_foreach(fps, fp, names) {
        if (json_array_size(names) < 2) continue;
        cb_buf b;
        cb_buf_init(&b, 0);
        size_t j;
        json_t *nm;
        json_array_foreach(names, j, nm) cb_buf_printf(&b, "%s%s", j ? ", " : "", json_string_value(nm));
        char msg[512];
        snprintf(msg, sizeof msg, "the same password is used by: %s", b.data);
        json_array_foreach(names, j, nm)
            assess_add(out, json_string_value(nm), "password_reuse", "medium", msg, "give each connection its own password (credbroker rotate)");
        cb_buf_free(&b);
    }
    json_decref(fps);
    for (size_t i = 0; i < n; i++) store_conn_free(&list[i]);
    free(list);
    store_findings(s, out);
    {   /* what the login of each connection MCP clients query read-only can do */
        mcp_app *app = NULL;
        cb_error ae = {0};
        if (mcp_app_open(&ctx->paths, &app, &ae) == 0) mcp_lp_assess(app, NULL, NULL, out);
        else assess_add(out, "policy", "mcp_least_privilege", "low", ae.msg, "fix the policy files, then assess again");
        mcp_app_close(app);
    }
    size_t counted = 0, i;
    json_t *o;
    json_array_foreach(out, i, o)
        if (strcmp(json_string_value(json_object_get(o, "severity")), "info") != 0) counted++;
    json_t *d = json_pack("{s:I,s:I}", "connections", (json_int_t)n, "findings", (json_int_t)counted);
    audit_append(s, ctx->paths.actor, "assess", store_path(s), counted ? "findings" : "ok", d, cli_elapsed_ms(), NULL);
    json_decref(d);
    store_close(s);
    if (ctx->json) {
        cli_print_json(out);
    } else {
        json_array_foreach(out, i, o) {
            const char *sev = json_string_value(json_object_get(o, "severity"));
            if (ctx->quiet && strcmp(sev, "info") == 0) continue;
            printf("[%-6s] %-16s %-18s %s\n         fix: %s\n", sev, json_string_value(json_object_get(o, "target")),
                   json_string_value(json_object_get(o, "check")), json_string_value(json_object_get(o, "message")),
                   json_string_value(json_object_get(o, "fix")));
        }
        if (!ctx->quiet) printf("%zu connection%s assessed, %zu finding%s\n", n, n == 1 ? "" : "s", counted, counted == 1 ? "" : "s");
        json_decref(out);
    }
    return counted ? CB_EFINDINGS : 0;
}
