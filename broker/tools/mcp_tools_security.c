/* MCP security tools: security_assess, security_rotate_key,
 * security_migrate_connections_to_encrypted, security_generate_secure_key.
 * No tool takes a secret as an argument: new keys come from the server's environment or
 * a provider reference naming where the key is. */
#include <stdlib.h>
#include <string.h>
#include "store/apikeys.h"
#include "store/crypto.h"
#include "store/key_ref.h"
#include "conn/assess.h"
#include "mcp_leases.h"
#include "mcp_app.h"
#include "secrets/secret_provider.h"

/* ---- security_assess ---- */

static int sev_rank(const char *s)
{
    return !s ? 0 : !strcmp(s, "high") ? 3 : !strcmp(s, "medium") ? 2 : !strcmp(s, "low") ? 1 : 0;
}

/* A model learns that a password is weak and how bad, never which rule it failed ("equals
 * the user name" beside connections_list's user is the password): password findings
 * become one "weak_password" finding per connection with the worst severity. The
 * operator's `credbroker assess` keeps the detail. */
static json_t *redact_password_findings(json_t *in)
{
    json_t *out = json_array(), *weak = json_object(); /* connection -> finding in out */
    size_t i;
    json_t *f;
    json_array_foreach(in, i, f) {
        const char *check = json_string_value(json_object_get(f, "check"));
        if (!check || strncmp(check, "password_", 9) != 0) {
            json_array_append(out, f);
            continue;
        }
        const char *conn = json_string_value(json_object_get(f, "target"));
        const char *sev = json_string_value(json_object_get(f, "severity"));
        json_t *w = json_object_get(weak, conn ? conn : "");
        if (w) {
            if (sev_rank(sev) > sev_rank(json_string_value(json_object_get(w, "severity"))))
                json_object_set_new(w, "severity", json_string(sev));
            continue;
        }
        w = json_deep_copy(f);
        json_object_set_new(w, "check", json_string("weak_password"));
        json_object_set_new(w, "message", json_string("weak password"));
        json_object_set_new(w, "fix", json_string("rotate to a long random password (credentials_rotate)"));
        json_object_set(weak, conn ? conn : "", w);
        json_array_append_new(out, w);
    }
    json_decref(weak);
    json_decref(in);
    return out;
}

static int t_assess(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)text;
    mcp_app *a = cx->app;
    const policy_client *c = policy_client(a->pol, cx->principal);
    const char *only = json_string_value(json_object_get(args, "connection"));
    store_conn *list = NULL;
    size_t n = 0;
    json_t *out = json_array();
    int assessed = 0;
    pthread_mutex_lock(&a->store_mu);
    int rc = store_conn_list(a->store, &list, &n, e);
    for (size_t i = 0; !rc && i < n; i++) {
        const char *name = list[i].name;
        if (!policy_client_may_use(c, name) || (only && strcmp(only, name))) continue;
        assessed++;
        assess_connection(a->store, &list[i], out, NULL, 0, NULL,
                          "call security_migrate_connections_to_encrypted (or run: credbroker key migrate)");
    }
    pthread_mutex_unlock(&a->store_mu);
    for (size_t i = 0; i < n; i++) store_conn_free(&list[i]);
    free(list);
    if (rc) {
        json_decref(out);
        return mcp_sanitize_error(e, NULL);
    }
    if (only && !assessed) {
        json_decref(out);
        return cb_fail(e, CB_ERR, CB_K_NOTFOUND, "no connection named '%s'", only);
    }
    mcp_lp_assess(a, c, only, out); /* what each read-only query login can do (issue 10) */
    out = redact_password_findings(out);
    int high = 0, medium = 0, low = 0;
    size_t i;
    json_t *o;
    json_array_foreach(out, i, o) {
        const char *sev = json_string_value(json_object_get(o, "severity"));
        if (!strcmp(sev, "high")) high++;
        else if (!strcmp(sev, "medium")) medium++;
        else if (!strcmp(sev, "low")) low++;
    }
    cx->audit_summary = json_pack("{s:i,s:i,s:i,s:i}", "connections", assessed, "high", high, "medium", medium, "low", low);
    if (only) json_object_set_new(cx->audit_summary, "connection", json_string(only));
    *structured = json_pack("{s:o,s:i,s:{s:i,s:i,s:i}}", "findings", out, "connections_assessed", assessed, "counts",
                            "high", high, "medium", medium, "low", low);
    return 0;
}

/* ---- security_rotate_key ---- */

/* read twice and file:// checked (store/key_ref.h): a reference chosen by a client must
 * not re-key the store to a value nobody can read again */
static int key_from_ref(const char *ref, char **key, cb_error *e)
{
    int rc = store_key_from_ref(ref, key, e);
    if (rc == CB_EUSAGE) return rc;
    return rc ? mcp_sanitize_error(e, NULL) : 0;
}

static int t_rotate_key(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)text;
    mcp_app *a = cx->app;
    int reenc = json_is_true(json_object_get(args, "reencrypt"));
    const char *ref = json_string_value(json_object_get(args, "new_key_ref"));
    char *nk = NULL;
    const char *source;
    if (ref) {
        source = "reference";
        if (key_from_ref(ref, &nk, e)) return e->code;
    } else {
        const char *v = getenv("CREDBROKER_NEW_MASTER_KEY");
        if (!v || !*v)
            return cb_fail(e, CB_EUSAGE, CB_K_INVALID,
                           "no new master key: give new_key_ref (a secret reference such as vault://secret/broker#key) "
                           "or start the server with CREDBROKER_NEW_MASTER_KEY set");
        source = "CREDBROKER_NEW_MASTER_KEY";
        nk = cb_strdup(v);
    }
    char fpr[17];
    store_key_fingerprint(nk, fpr);
    cx->audit_summary = json_pack("{s:b,s:s,s:s?,s:s}", "reencrypt", reenc, "key_source", source, "ref", ref,
                                  "key_fingerprint", fpr);
    json_t *report = json_object();
    pthread_mutex_lock(&a->store_mu);
    int rc = store_rekey(a->store, nk, reenc, report, e);
    int kv = store_key_version(a->store);
    pthread_mutex_unlock(&a->store_mu);
    cb_free_secret(nk);
    if (rc) {
        json_decref(report);
        return mcp_sanitize_error(e, NULL);
    }
    *structured = json_pack("{s:b,s:b,s:I,s:i,s:s,s:s,s:s}", "rotated", 1, "reencrypted", reenc, "rows",
                            json_integer_value(json_object_get(report, "rows")), "key_version", kv, "key_source", source,
                            "key_fingerprint", fpr, "note", "the old master key no longer opens the store: start credbroker with the new key");
    json_decref(report);
    return 0;
}

/* ---- security_migrate_connections_to_encrypted ---- */

static int t_migrate(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)args; (void)text;
    mcp_app *a = cx->app;
    int n = 0;
    pthread_mutex_lock(&a->store_mu);
    int rc = store_migrate_plaintext(a->store, &n, e);
    pthread_mutex_unlock(&a->store_mu);
    if (rc) return mcp_sanitize_error(e, NULL);
    cx->audit_summary = json_pack("{s:i}", "migrated", n);
    *structured = json_pack("{s:i}", "migrated", n);
    return 0;
}

/* ---- security_generate_secure_key ---- */

static int t_generate(mcp_call_ctx *cx, json_t *args, json_t **structured, char **text, cb_error *e)
{
    (void)text;
    mcp_app *a = cx->app;
    const policy_client *c = policy_client(a->pol, cx->principal);
    const char *name = json_string_value(json_object_get(args, "name"));
    const char *fmt = json_string_value(json_object_get(args, "format"));
    const char *ref = json_string_value(json_object_get(args, "store_to"));
    json_t *bj = json_object_get(args, "bytes");
    size_t nb = bj ? (size_t)json_integer_value(bj) : 32;
    if (!fmt) fmt = "hex";
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("_.-", *p)))
            return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "name: only letters, digits, '_', '.' and '-'");
    secret_ref r = {0};
    const secret_provider *prov = NULL;
    if (ref) {
        if (secret_ref_parse(ref, &r, e)) return CB_EUSAGE;
        prov = secret_provider_for(r.scheme);
        if (!prov || !prov->put) {
            secret_ref_free(&r);
            return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "provider %s cannot store values", r.scheme ? r.scheme : "?");
        }
    }
    uint8_t *raw = cb_malloc(nb);
    if (cb_random(raw, nb)) {
        cb_free_secret_n(raw, nb);
        secret_ref_free(&r);
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "the random generator failed");
    }
    char *key = !strcmp(fmt, "base64") ? cb_base64_encode(raw, nb) : cb_hex_encode(raw, nb);
    cb_free_secret_n(raw, nb);
    uint8_t h[32];
    cb_sha256(key, strlen(key), h);
    char *hx = cb_hex_encode(h, 8);
    char *version = NULL;
    int rc = 0;
    const char *stored_in;
    /* Never overwrite: a model must not be able to replace an existing secret (a database
     * URL, a master key) with a value nobody else knows. */
    if (prov) {
        stored_in = ref;
        void *st = NULL;
        rc = prov->open(&st, e);
        if (!rc) {
            secret_value old = {0};
            cb_error ge = {0};
            if (prov->get(st, &r, &old, &ge) == 0) {
                secret_value_free(&old);
                rc = cb_fail(e, CB_ERR, CB_K_CONFLICT, "%s already holds a value: choose a new location", ref);
            } else if (ge.kind != CB_K_NOTFOUND) {
                rc = cb_fail(e, CB_ERR, ge.kind ? ge.kind : CB_K_UNAVAILABLE,
                             "cannot check that %s is free: %s", ref, ge.msg);
            }
        }
        if (!rc) rc = prov->put(st, &r, key, NULL, NULL, &version, e);
        if (st) prov->close(st);
        if (rc) rc = mcp_sanitize_error(e, NULL);
    } else {
        stored_in = "local store (generated)";
        json_t *meta = json_pack("{s:s,s:I,s:s}", "format", fmt, "bytes", (json_int_t)nb, "fingerprint", hx);
        char *mt = json_dumps(meta, JSON_COMPACT);
        json_decref(meta);
        store_secret old = {0};
        cb_error ge = {0};
        pthread_mutex_lock(&a->store_mu);
        if (store_secret_get(a->store, "generated", name, &old, &ge) == 0) {
            store_secret_free(&old);
            rc = cb_fail(e, CB_ERR, CB_K_CONFLICT, "a generated key named '%s' already exists: choose a new name", name);
        } else {
            rc = store_secret_put(a->store, "generated", name, key, strlen(key), NULL, mt, e);
        }
        pthread_mutex_unlock(&a->store_mu);
        free(mt);
    }
    secret_ref_free(&r);
    cx->audit_summary = json_pack("{s:s,s:s,s:s,s:I,s:b}", "name", name, "stored_in", stored_in, "fingerprint", hx,
                                  "bytes", (json_int_t)nb, "revealed", !rc && c && c->reveal);
    if (rc) {
        cb_free_secret(key);
        free(hx);
        free(version);
        return rc;
    }
    *structured = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s*}", "name", name, "stored_in", stored_in, "fingerprint", hx,
                            "bytes", (json_int_t)nb, "format", fmt, "version", version);
    if (c && c->reveal) json_object_set_new(*structured, "key", json_string(key));
    cb_free_secret(key);
    free(hx);
    free(version);
    return 0;
}

/* ---- registration ---- */

static const char *const rotate_aliases[] = {"security.rotateKey", NULL};
static const char *const migrate_aliases[] = {"security.migrateConnectionsToEncrypted", NULL};
static const char *const generate_aliases[] = {"security.generateSecureKey", NULL};

#define FINDING "{\"type\":\"object\",\"properties\":{\"target\":{\"type\":\"string\"},\"check\":{\"type\":\"string\"}," \
    "\"severity\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"},\"fix\":{\"type\":\"string\"}},"              \
    "\"required\":[\"target\",\"check\",\"severity\",\"message\"]}"

static const mcp_tool SECURITY_TOOLS[] = {
    {"security_assess", "Security assessment",
     "Assesses the connections this client may use: encryption at rest, TLS settings (sslmode/Encrypt, "
     "TrustServerCertificate), connect timeouts, weak passwords, default ports on public hosts. Findings carry a "
     "severity and a fix; never a secret.",
     "{\"type\":\"object\",\"properties\":{\"connection\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64,"
     "\"description\":\"only this connection\"}},\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"findings\":{\"type\":\"array\",\"items\":" FINDING "},"
     "\"connections_assessed\":{\"type\":\"integer\"},\"counts\":{\"type\":\"object\"}},"
     "\"required\":[\"findings\",\"connections_assessed\",\"counts\"]}",
     1, 0, 1, 0, NULL, t_assess},
    {"security_rotate_key", "Rotate the master key",
     "Re-wraps the store's data key under a new master key (reencrypt: also replaces the data key and re-encrypts "
     "every value, all or nothing). The new key is NEVER an argument: it comes from new_key_ref, a secret reference "
     "naming where it is (vault://, aws-sm://, azure-kv://, file://, env://), or from CREDBROKER_NEW_MASTER_KEY in "
     "the server's environment.",
     "{\"type\":\"object\",\"properties\":{\"reencrypt\":{\"type\":\"boolean\"},\"new_key_ref\":{\"type\":\"string\","
     "\"minLength\":1,\"maxLength\":1024}},\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"rotated\":{\"type\":\"boolean\"},\"reencrypted\":{\"type\":\"boolean\"},"
     "\"rows\":{\"type\":\"integer\"},\"key_version\":{\"type\":\"integer\"},\"key_source\":{\"type\":\"string\"},\"key_fingerprint\":{\"type\":\"string\"},"
     "\"note\":{\"type\":\"string\"}},\"required\":[\"rotated\",\"reencrypted\",\"key_version\"]}",
     0, 1, 0, 0, rotate_aliases, t_rotate_key},
    {"security_migrate_connections_to_encrypted", "Encrypt plaintext values",
     "Encrypts (AES-256-GCM) every value of the store that is still plaintext, e.g. after a manual insert. "
     "Returns how many values were migrated.",
     NULL, "{\"type\":\"object\",\"properties\":{\"migrated\":{\"type\":\"integer\"}},\"required\":[\"migrated\"]}",
     0, 0, 1, 0, migrate_aliases, t_migrate},
    {"security_generate_secure_key", "Generate a secure key",
     "Generates a random key (16..256 bytes, hex or base64) and stores it, either in the local encrypted store "
     "(namespace generated) or in a secret manager named by store_to. Returns its name and fingerprint (SHA-256 "
     "prefix); the key itself only when this client's policy allows reveal. Never overwrites: the name or location "
     "must be new.",
     "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64},"
     "\"bytes\":{\"type\":\"integer\",\"minimum\":16,\"maximum\":256},\"format\":{\"type\":\"string\","
     "\"enum\":[\"hex\",\"base64\"]},\"store_to\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1024}},"
     "\"required\":[\"name\"],\"additionalProperties\":false}",
     "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"stored_in\":{\"type\":\"string\"},"
     "\"fingerprint\":{\"type\":\"string\"},\"bytes\":{\"type\":\"integer\"},\"format\":{\"type\":\"string\"},"
     "\"version\":{\"type\":\"string\"},\"key\":{\"type\":\"string\"}},\"required\":[\"name\",\"stored_in\","
     "\"fingerprint\",\"bytes\"]}",
     0, 0, 0, 0, generate_aliases, t_generate},
};

const mcp_tool_set mcp_tools_security = {SECURITY_TOOLS, sizeof SECURITY_TOOLS / sizeof SECURITY_TOOLS[0], 0};
