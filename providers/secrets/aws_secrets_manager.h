/* AWS Secrets Manager provider (scheme aws-sm): extras beyond secret_provider, and the
 * response parsers (exposed for unit tests and fuzzing; every input is untrusted). */
#ifndef CB_AWS_SECRETS_MANAGER_H
#define CB_AWS_SECRETS_MANAGER_H
#include <jansson.h>
#include "secret_provider.h"

extern const secret_provider aws_sm_provider;

/* ListSecrets, every page: *names = JSON array of secret names (strings).
 * Page size: CREDBROKER_AWS_SM_PAGE_SIZE (1-100, default 100). */
int aws_sm_list(void *state, json_t **names, cb_error *e);

/* GetSecretValue response -> value (SecretString, or SecretBinary base64-decoded),
 * VersionId, VersionStages (comma-joined), CreatedDate. */
int aws_sm_parse_get(const char *body, size_t len, secret_value *out, cb_error *e);
/* DescribeSecret response -> metadata object: name, arn, description, created,
 * last_changed, last_accessed, last_rotated, deleted, rotation_enabled,
 * versions {VersionId: [stages]}. Nulls are tolerated and omitted. */
int aws_sm_parse_describe(const char *body, size_t len, json_t **out, cb_error *e);
/* Error response -> cb_error (always returns a non-zero code). op: operation name;
 * id: secret id (may be NULL); redact: a value that must not appear (may be NULL). */
int aws_sm_parse_error(long status, const char *body, size_t len, const char *op, const char *id,
                       const char *redact, cb_error *e);
/* 1 when an error body names a throttling or transient error code. */
int aws_sm_body_retryable(const char *body, size_t len);

#endif
