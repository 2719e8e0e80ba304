/* Password generator (see password.h). */
#include "password.h"
#include <string.h>
#include <openssl/rand.h>

const char *const pw_class_chars[4] = {
    "abcdefghijklmnopqrstuvwxyz",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
};
static const char *const class_names[4] = {"lower", "upper", "digit", "symbol"};

void pw_policy_default(pw_policy *p)
{
    memset(p, 0, sizeof *p);
    p->length = 32;
    p->classes = PW_ALL;
    memcpy(p->exclude, PW_DEFAULT_EXCLUDE, sizeof PW_DEFAULT_EXCLUDE);
}

/* Class i's characters minus the excluded ones, into out (<= 33 bytes); returns the count. */
static size_t class_set(const pw_policy *p, int i, char *out)
{
    size_t n = 0;
    for (const char *c = pw_class_chars[i]; *c; c++)
        if (!memchr(p->exclude, *c, strnlen(p->exclude, sizeof p->exclude))) out[n++] = *c;
    out[n] = 0;
    return n;
}

int pw_policy_check(const pw_policy *p, cb_error *e)
{
    if (p->length < PW_MIN_LENGTH || p->length > PW_MAX_LENGTH)
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "password policy: length %d out of range %d-%d", p->length, PW_MIN_LENGTH, PW_MAX_LENGTH);
    if (!p->classes || (p->classes & ~(unsigned)PW_ALL))
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "password policy: classes must be a non-empty subset of lower, upper, digit, symbol");
    if (!memchr(p->exclude, 0, sizeof p->exclude))
        return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "password policy: exclude longer than %zu characters", sizeof p->exclude - 1);
    for (int i = 0; i < 4; i++) {
        char set[40];
        if ((p->classes >> i & 1) && class_set(p, i, set) == 0)
            return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "password policy: class %s is required but all its characters are excluded", class_names[i]);
    }
    return 0;
}

/* Random bytes drawn from RAND_bytes in blocks (one call per block, not per character). */
typedef struct pw_rng { unsigned char buf[256]; size_t pos; } pw_rng;

/* Uniform integer in [0, n), n <= 65536, from 16-bit draws, rejecting the biased tail. */
static int rand_below(pw_rng *g, uint32_t n, uint32_t *out)
{
    uint32_t limit = 65536 - (65536 % n);  /* draws >= limit would favour small values */
    for (;;) {
        if (g->pos + 2 > sizeof g->buf) {
            if (RAND_bytes(g->buf, sizeof g->buf) != 1) return -1;
            g->pos = 0;
        }
        uint32_t x = (uint32_t)g->buf[g->pos] << 8 | g->buf[g->pos + 1];
        g->pos += 2;
        if (x < limit) { *out = x % n; return 0; }
    }
}

int password_generate(const pw_policy *p, char **out, cb_error *e)
{
    *out = NULL;
    if (pw_policy_check(p, e)) return CB_EUSAGE;
    char sets[4][40], all[140];
    size_t nall = 0, n = (size_t)p->length, k = 0;
    for (int i = 0; i < 4; i++)
        if (p->classes >> i & 1) {
            size_t m = class_set(p, i, sets[i]);
            memcpy(all + nall, sets[i], m);
            nall += m;
        }
    char *pw = cb_malloc(n + 1);
    pw_rng g = {.pos = sizeof g.buf};
    uint32_t r = 0;
    int rc = 0;
    /* One character from each required class, then the rest from the union. */
    for (int i = 0; i < 4 && !rc; i++)
        if (p->classes >> i & 1) {
            if (rand_below(&g, (uint32_t)strlen(sets[i]), &r)) rc = -1;
            else pw[k++] = sets[i][r];
        }
    while (k < n && !rc) {
        if (rand_below(&g, (uint32_t)nall, &r)) rc = -1;
        else pw[k++] = all[r];
    }
    /* Fisher-Yates so the guaranteed characters sit at random positions. */
    for (size_t i = n - 1; i > 0 && !rc; i--) {
        if (rand_below(&g, (uint32_t)(i + 1), &r)) { rc = -1; break; }
        char t = pw[i]; pw[i] = pw[r]; pw[r] = t;
    }
    cb_wipe(&r, sizeof r);
    cb_wipe(&g, sizeof g);
    cb_wipe(sets, sizeof sets);
    cb_wipe(all, sizeof all);
    if (rc) {
        cb_free_secret_n(pw, n + 1);
        return cb_fail(e, CB_ERR, CB_K_INTERNAL, "password generation: random number generator failed");
    }
    pw[n] = 0;
    *out = pw;
    return 0;
}

static int from_json(json_t *o, pw_policy *p, cb_error *e)
{
    if (!json_is_object(o)) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "password policy: expected a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (strcmp(key, "length") == 0) {
            if (!json_is_integer(v)) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "password policy: length must be an integer");
            json_int_t L = json_integer_value(v);
            if (L < PW_MIN_LENGTH || L > PW_MAX_LENGTH)
                return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "password policy: length %lld out of range %d-%d", (long long)L, PW_MIN_LENGTH, PW_MAX_LENGTH);
            p->length = (int)L;
        } else if (strcmp(key, "classes") == 0) {
            if (!json_is_array(v) || json_array_size(v) == 0)
                return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "password policy: classes must be a non-empty array of lower, upper, digit, symbol");
            unsigned cls = 0;
            size_t i;
            json_t *c;
            json_array_foreach(v, i, c) {
                const char *s = json_string_value(c);
                int found = -1;
                for (int j = 0; s && j < 4; j++) if (strcmp(s, class_names[j]) == 0) found = j;
                if (found < 0) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "password policy: classes[%zu] is not one of lower, upper, digit, symbol", i);
                if (cls >> found & 1) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "password policy: class %s listed twice", class_names[found]);
                cls |= 1u << found;
            }
            p->classes = cls;
        } else if (strcmp(key, "exclude") == 0) {
            if (!json_is_string(v)) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "password policy: exclude must be a string");
            size_t len = json_string_length(v);
            const char *s = json_string_value(v);
            if (len >= sizeof p->exclude || memchr(s, 0, len))
                return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "password policy: exclude must be at most %zu characters without NUL", sizeof p->exclude - 1);
            memset(p->exclude, 0, sizeof p->exclude);
            memcpy(p->exclude, s, len);
        } else {
            char k[40];
            size_t j = 0;
            for (const char *c = key; *c && j + 1 < sizeof k; c++) k[j++] = (*c >= 0x20 && *c < 0x7f) ? *c : '?';
            k[j] = 0;
            return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "password policy: unknown key '%s'", k);
        }
    }
    return pw_policy_check(p, e);
}

int pw_policy_from_json(json_t *o, pw_policy *out, cb_error *e)
{
    pw_policy p;  /* filled aside so a bad policy leaves *out untouched */
    pw_policy_default(&p);
    if (from_json(o, &p, e)) return CB_EUSAGE;
    *out = p;
    return 0;
}
