/* Password generation by policy: length, character classes, excluded characters.
 * Uniform choices come from RAND_bytes with rejection sampling (no modulo bias); every
 * requested class appears at least once, at a random position (Fisher-Yates shuffle). */
#ifndef CB_PASSWORD_H
#define CB_PASSWORD_H
#include <jansson.h>
#include "util.h"

enum { PW_LOWER = 1u, PW_UPPER = 2u, PW_DIGIT = 4u, PW_SYMBOL = 8u, PW_ALL = 15u };
#define PW_MIN_LENGTH 8
#define PW_MAX_LENGTH 256
/* Characters that break URLs, shells and connection strings. */
#define PW_DEFAULT_EXCLUDE "\"'\\@:/?#% `"

typedef struct pw_policy {
    int length;          /* PW_MIN_LENGTH..PW_MAX_LENGTH */
    unsigned classes;    /* non-empty subset of PW_ALL */
    char exclude[128];   /* characters never used; NUL-terminated */
} pw_policy;

/* 32 characters, all four classes, PW_DEFAULT_EXCLUDE. */
void pw_policy_default(pw_policy *p);

/* Reads {"length":32,"classes":["lower","upper","digit","symbol"],"exclude":"..."}.
 * Missing keys keep the defaults; unknown keys, wrong types, unknown or repeated classes,
 * and out-of-range lengths are CB_EUSAGE (and *p is left unchanged). The policy is also
 * checked for satisfiability. */
int pw_policy_from_json(json_t *o, pw_policy *p, cb_error *e);

/* CB_EUSAGE (with the reason) when no password can satisfy p, e.g. every symbol excluded
 * while symbols are required. */
int pw_policy_check(const pw_policy *p, cb_error *e);

/* Generates a password into *out (NUL-terminated, free with cb_free_secret). */
int password_generate(const pw_policy *p, char **out, cb_error *e);

/* Lower-case letters, upper-case letters, digits, and the 32 ASCII punctuation characters. */
extern const char *const pw_class_chars[4];

#endif
