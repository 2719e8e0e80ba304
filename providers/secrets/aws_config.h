/* AWS SDK environment conventions: credentials chain (env, shared files, IMDSv2),
 * region, endpoint. Used by the Secrets Manager provider; separate so it can be unit
 * tested and reused by another AWS service. */
#ifndef CB_AWS_CONFIG_H
#define CB_AWS_CONFIG_H
#include <stdint.h>
#include "util.h"

typedef struct aws_creds {
    char *access_key;
    char *secret_key;     /* wiped by aws_creds_free */
    char *session_token;  /* may be NULL; wiped */
    int64_t expires;      /* epoch seconds, 0 = does not expire */
    char source[16];      /* "env", "shared-files", "imds" */
} aws_creds;
void aws_creds_free(aws_creds *c);

/* Value of key in [section] of INI text (AWS shared-file flavour: '#'/';' comments,
 * "key = value", indented sub-section lines ignored). malloc'd, NULL when absent.
 * key NULL: "" when the section exists, else NULL. */
char *aws_ini_get(const char *text, size_t len, const char *section, const char *key);

/* The profile in use: AWS_PROFILE, AWS_DEFAULT_PROFILE, else "default". */
const char *aws_profile(void);

/* Credentials in the SDK's order: environment, shared credentials/config files,
 * EC2 instance metadata (IMDSv2, unless AWS_EC2_METADATA_DISABLED=true).
 * CB_K_DENIED when none is found; the message lists where it looked. */
int aws_resolve_credentials(aws_creds *out, cb_error *e);
/* 0 found, -1 none there, else an error code (partial credentials; a profile named by
 * AWS_PROFILE that exists in neither file). */
int aws_creds_from_env(aws_creds *out, cb_error *e);
int aws_creds_from_files(aws_creds *out, cb_error *e);
int aws_creds_from_imds(aws_creds *out, cb_error *e);

/* Region: AWS_REGION, AWS_DEFAULT_REGION, the profile's region. malloc'd or NULL + e. */
char *aws_resolve_region(cb_error *e);

/* Endpoint for a service: AWS_ENDPOINT_URL_<SERVICE_ID>, AWS_ENDPOINT_URL (unless
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), else https://<prefix>.<region>.amazonaws.com
 * (.amazonaws.com.cn for cn- regions). env_id e.g. "SECRETS_MANAGER". malloc'd. */
char *aws_resolve_endpoint(const char *env_id, const char *prefix, const char *region);

#endif
