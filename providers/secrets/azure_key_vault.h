/* Azure Key Vault secrets provider (scheme "azure-kv") and the parsers it exposes for
 * unit tests and fuzzing. Everything these parsers read comes from the network. */
#ifndef CB_AZURE_KEY_VAULT_H
#define CB_AZURE_KEY_VAULT_H
#include <stddef.h>
#include <stdint.h>
#include "secret_provider.h"

extern const secret_provider azure_kv_provider;

/* A parsed `WWW-Authenticate: Bearer authorization="https://login/TENANT",
 * resource="https://vault.azure.net"` challenge (also authorization_uri/_url, scope). */
typedef struct azkv_challenge {
    char *authority; /* the authorization URI as given (only its tenant is used) */
    char *tenant;    /* first path segment of the authorization URI */
    char *scope;     /* resource + "/.default", else scope */
} azkv_challenge;

/* Returns 0 and fills out, or CB_ERR/CB_K_DENIED with a one-line reason. */
int azkv_parse_challenge(const char *header, azkv_challenge *out, cb_error *e);
void azkv_challenge_free(azkv_challenge *c);

/* 1 when the scope's host (https://vault.azure.net/.default) is a parent domain of the
 * vault host (myvault.vault.azure.net[:port]), as the SDKs require by default. */
int azkv_resource_matches(const char *vault_host, const char *scope);

/* Parses a SecretBundle (value, id -> version, attributes.created, credbroker-stage tag). */
int azkv_parse_bundle(const char *body, size_t len, secret_value *out, cb_error *e);

/* Parses an Entra ID / managed identity token response. expires_in / expires_on may be
 * JSON numbers or strings. *expires is absolute epoch seconds. */
int azkv_parse_token(const char *body, size_t len, int64_t now, char **token, int64_t *expires, cb_error *e);

/* Maps a non-2xx Key Vault response ({"error":{"code","message"}}) to a cb_error.
 * what: "get https://host/secrets/name" (never contains a secret). Returns the code. */
int azkv_map_error(long status, const char *body, size_t len, const char *what, cb_error *e);

/* Parses one page of a versions listing into arr (appends metadata objects, never
 * values); *next: malloc'd nextLink or NULL. */
int azkv_parse_versions_page(const char *body, size_t len, json_t *arr, char **next, cb_error *e);

#endif
