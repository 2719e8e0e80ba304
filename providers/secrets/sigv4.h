/* AWS Signature Version 4 (header signing) on OpenSSL EVP. Pure function: no clock, no
 * environment, no I/O, so it can be checked byte for byte against the official suite. */
#ifndef CB_SIGV4_H
#define CB_SIGV4_H
#include <stddef.h>
#include "util.h"

typedef struct sigv4_header {
    const char *name;   /* any case; repeated names are joined with ',' in order */
    const char *value;  /* may hold folded lines ("v1\n  v2"): joined with ',' */
} sigv4_header;

typedef struct sigv4_request {
    const char *method;        /* "GET", "POST" */
    const char *path;          /* as on the wire (may hold %XX, raw UTF-8, spaces); "" = "/" */
    const char *query;         /* as on the wire, without '?'; NULL or "" = none */
    const sigv4_header *headers; /* must include Host and X-Amz-Date */
    size_t nheaders;
    const void *body;          /* NULL = empty */
    size_t body_len;
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL = none; else X-Amz-Security-Token is signed
                                  (added unless already among headers) */
    const char *region;
    const char *service;
    const char *amz_date;      /* YYYYMMDDTHHMMSSZ */
    int s3;                    /* 1 = S3 rules: no path normalization, encode once */
} sigv4_request;

typedef struct sigv4_result {
    char *canonical_request;
    char *string_to_sign;
    char *signature;      /* lower-case hex */
    char *signed_headers; /* "host;x-amz-date" */
    char *authorization;  /* value of the Authorization header */
} sigv4_result;

/* 0 on success; CB_K_INVALID on malformed input (bad date, missing field). */
int sigv4_sign(const sigv4_request *req, sigv4_result *out, cb_error *e);
void sigv4_result_free(sigv4_result *r);

/* Current UTC time as an X-Amz-Date value (honours CREDBROKER_NOW via cb_now). */
void sigv4_amz_date(char out[17]);

#endif
