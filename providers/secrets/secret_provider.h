/* The secret_provider interface: the only thing the broker core knows about secret
 * managers. One implementation per file in providers/secrets/, registered in
 * providers/secrets/registry.c. Like curl's vtls backends: a struct of function pointers. */
#ifndef CB_SECRET_PROVIDER_H
#define CB_SECRET_PROVIDER_H
#include <stdint.h>
#include <jansson.h>
#include "util.h"

/* A parsed reference. References never contain secrets, so they may be logged.
 *   aws-sm://<secret-id>[?stage=AWSCURRENT|versionId=..][#json.field]
 *   azure-kv://<vault-name or host[:port]>/<secret>[/<version>][#field]
 *   vault://<mount>/<path>[?version=N][#field]          (KV v2)
 *   env://VAR[#field]     file:///abs/path[#field]                                     */
typedef struct secret_ref {
    char *text;     /* the reference as given */
    char *scheme;   /* "aws-sm", "azure-kv", "vault", "env", "file" */
    char *host;     /* azure-kv: vault host (name expanded to <name>.vault.azure.net) */
    char *mount;    /* vault: mount */
    char *path;     /* aws: secret id; azure: secret name; vault: path in mount; env: var; file: path */
    char *version;  /* aws VersionId, azure version, vault version number (string) */
    char *stage;    /* aws VersionStage */
    char *field;    /* JSON field to extract, dot-separated; NULL = whole value */
} secret_ref;

/* Parses a reference; malformed input returns CB_EUSAGE with what is wrong. */
int secret_ref_parse(const char *s, secret_ref *out, cb_error *e);
void secret_ref_free(secret_ref *r);

typedef struct secret_value {
    char *value;     /* NUL-terminated; wiped by secret_value_free */
    size_t len;
    char *version;   /* provider version id (AWS VersionId, KV version, Vault version number) */
    char *stages;    /* optional: comma-separated labels/tags, e.g. "AWSCURRENT" */
    int64_t created; /* epoch seconds, 0 if unknown */
} secret_value;
void secret_value_free(secret_value *v);

/* Stages for put(): */
#define SECRET_STAGE_CURRENT NULL
#define SECRET_STAGE_PENDING "pending"

typedef struct secret_provider {
    const char *scheme;       /* "aws-sm" ... */
    const char *name;         /* "AWS Secrets Manager" */
    /* Creates provider state (credentials from the SDK's environment conventions). */
    int (*open)(void **state, cb_error *e);
    /* Reads the version the ref names (current when none). ref->field is NOT applied
     * here; secret_fetch() does that for every provider alike. */
    int (*get)(void *state, const secret_ref *ref, secret_value *out, cb_error *e);
    /* Writes a new version. stage NULL = becomes current; "pending" = staged (AWSPENDING,
     * Key Vault tag, Vault new version with CAS). token: idempotency token (AWS
     * ClientRequestToken), may be NULL. *version_out: malloc'd id of the new version. */
    int (*put)(void *state, const secret_ref *ref, const char *value, const char *stage,
               const char *token, char **version_out, cb_error *e);
    /* Makes version current (previous kept as previous). */
    int (*promote)(void *state, const secret_ref *ref, const char *version, cb_error *e);
    /* Metadata, never the value: versions, stages, dates. */
    int (*describe)(void *state, const secret_ref *ref, json_t **out, cb_error *e);
    void (*close)(void *state);
} secret_provider;

/* Registry: NULL for an unknown scheme. */
const secret_provider *secret_provider_for(const char *scheme);

/* Extracts a dot-separated field from a JSON secret value in place (v->value replaced). */
int secret_value_pick_field(secret_value *v, const char *field, cb_error *e);

/* One-shot: parse ref, open its provider, get, pick #field, close. */
int secret_fetch(const char *ref, secret_value *out, cb_error *e);

#endif
