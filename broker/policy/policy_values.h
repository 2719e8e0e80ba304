/* Typed readers for policy values (policy_values.c), for the policy parsers only. */
#ifndef CB_POLICY_VALUES_H
#define CB_POLICY_VALUES_H
#include <jansson.h>
#include "jsondoc.h"
#include "policy.h"

/* Where a value was defined: file and the key's line/column. */
void policy_set_origin(policy_origin *o, const char *file, const jdoc_pos *at);
/* An integer in [lo, hi]; returns 0 and sets *out, else reports and returns -1. */
int policy_get_int(jdoc_ctx *c, json_t *v, const jdoc_pos *at, const char *path, long long lo, long long hi,
                   long long *out);
/* A non-empty string of at most max bytes without control characters; NULL after a report. */
const char *policy_get_str(jdoc_ctx *c, json_t *v, const jdoc_pos *at, const char *path, size_t max);
/* A string that is a valid policy name (policy_valid_name); NULL after a report. */
const char *policy_get_name(jdoc_ctx *c, json_t *v, const jdoc_pos *at, const char *path);
/* The position of obj's member key, or obj's own when it has none. */
const jdoc_pos *policy_member_or(const jdoc_pos *obj, const char *key);
/* Frees n strings and the array. */
void policy_strv_free(char **v, size_t n);

#endif
