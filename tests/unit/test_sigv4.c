/* SigV4 against the official 2015-08-30 suite (all 31 cases, walked from disk) and the
 * three botocore-generated Secrets Manager vectors. Finding no case is a failure. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "secrets/sigv4.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static char *shared_dir(void)
{
    /* CB_SHARED, else shared/ beside the repository (or beside a worktree's parent) */
    const char *s = getenv("CB_SHARED");
    if (s && *s) return cb_strdup(s);
    struct stat st;
    if (stat("../shared/testdata", &st) != 0 && stat("../../shared/testdata", &st) == 0) return cb_strdup("../../shared");
    return cb_strdup("../shared");
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    cb_buf b;
    cb_buf_init(&b, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) cb_buf_append(&b, chunk, n);
    fclose(f);
    if (len) *len = b.len;
    return cb_buf_steal(&b);
}

static char *suite_token(const char *dir)
{
    char *p = cb_sprintf("%s/post-sts-token/readme.txt", dir);
    char *t = slurp(p, NULL);
    free(p);
    if (!t) return NULL;
    char *s = strstr(t, "AQoDYXdzEPT");
    char *tok = NULL;
    if (s) {
        size_t n = strcspn(s, " \r\n");
        tok = cb_strndup(s, n);
    }
    free(t);
    return tok;
}

/* Parses a .req: request line, headers (continuation lines folded into the value with
 * '\n'), one empty line, body. Runs one case; returns 0 when all three files match. */
static int run_case(const char *dir, const char *name, const char *token)
{
    char *p = cb_sprintf("%s/%s.req", dir, name);
    size_t rl;
    char *req = slurp(p, &rl);
    free(p);
    if (!req) return -1;
    char *body = strstr(req, "\n\n");
    size_t body_len = 0;
    if (body) {
        *body = 0;
        body += 2;
        body_len = rl - (size_t)(body - req);
    }
    char *line_end = strchr(req, '\n');
    if (line_end) *line_end = 0;
    char *sp = strchr(req, ' '), *proto = strstr(req, " HTTP/");
    assert_non_null(sp);
    assert_non_null(proto);
    *sp = 0;
    *proto = 0;
    char *target = sp + 1, *query = strchr(target, '?');
    if (query) *query++ = 0;

    sigv4_header hs[32];
    char *vals[32] = {0};
    size_t n = 0;
    for (char *l = line_end ? line_end + 1 : NULL; l && *l;) {
        char *nl = strchr(l, '\n');
        if (nl) *nl = 0;
        if ((*l == ' ' || *l == '\t') && n) {
            char *v = cb_sprintf("%s\n%s", vals[n - 1], l);
            free(vals[n - 1]);
            vals[n - 1] = v;
            hs[n - 1].value = v;
        } else {
            char *c = strchr(l, ':');
            assert_non_null(c);
            *c = 0;
            assert_true(n < 32);
            vals[n] = cb_strdup(c + 1);
            hs[n].name = l;
            hs[n].value = vals[n];
            n++;
        }
        l = nl ? nl + 1 : NULL;
    }
    const char *date = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(hs[i].name, "X-Amz-Date") == 0) date = hs[i].value;
    sigv4_request rq = {.method = req, .path = target, .query = query, .headers = hs, .nheaders = n,
                        .body = body, .body_len = body_len, .access_key = AKID, .secret_key = SECRET,
                        .session_token = strcmp(name, "post-sts-header-before") == 0 ? token : NULL,
                        .region = "us-east-1", .service = "service", .amz_date = date};
    sigv4_result r;
    cb_error e = {0};
    int rc = sigv4_sign(&rq, &r, &e);
    if (rc) print_error("%s: %s\n", name, e.msg);
    assert_int_equal(rc, 0);
    const char *ext[3] = {"creq", "sts", "authz"};
    const char *got[3] = {r.canonical_request, r.string_to_sign, r.authorization};
    int bad = 0;
    for (int i = 0; i < 3; i++) {
        p = cb_sprintf("%s/%s.%s", dir, name, ext[i]);
        char *want = slurp(p, NULL);
        free(p);
        if (!want || strcmp(want, got[i]) != 0) {
            print_error("%s.%s differs:\n--- want\n%s\n--- got\n%s\n", name, ext[i], want ? want : "(missing)", got[i]);
            bad = 1;
        }
        free(want);
    }
    sigv4_result_free(&r);
    for (size_t i = 0; i < n; i++) free(vals[i]);
    free(req);
    return bad;
}

static void walk(const char *dir, const char *token, int *cases, int *failed)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char *sub = cb_sprintf("%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
            char *req = cb_sprintf("%s/%s.req", sub, de->d_name);
            if (access(req, R_OK) == 0) {
                (*cases)++;
                if (run_case(sub, de->d_name, token)) (*failed)++;
            }
            free(req);
            walk(sub, token, cases, failed);
        }
        free(sub);
    }
    closedir(d);
}

static void test_aws_suite(void **s)
{
    (void)s;
    char *sh = shared_dir();
    char *dir = cb_sprintf("%s/testdata/sigv4", sh);
    char *token = suite_token(dir);
    if (!token) print_error("cannot read the session token from %s/post-sts-token/readme.txt\n", dir);
    assert_non_null(token);
    int cases = 0, failed = 0;
    walk(dir, token, &cases, &failed);
    print_message("# %d SigV4 suite cases, %d failed\n", cases, failed);
    assert_int_equal(cases, 31);
    assert_int_equal(failed, 0);
    free(token);
    free(dir);
    free(sh);
}

static void test_secretsmanager_vectors(void **s)
{
    (void)s;
    char *sh = shared_dir();
    char *p = cb_sprintf("%s/testdata/sigv4-secretsmanager/vectors.json", sh);
    json_error_t je;
    json_t *root = json_load_file(p, 0, &je);
    if (!root) print_error("cannot load %s: %s\n", p, je.text);
    assert_non_null(root);
    assert_int_equal(json_array_size(root), 3);
    size_t i;
    json_t *v;
    json_array_foreach(root, i, v) {
        const char *url = json_string_value(json_object_get(v, "url"));
        assert_non_null(url);
        const char *hs = strstr(url, "://") + 3, *pe = strchr(hs, '/');
        char *host = cb_strndup(hs, (size_t)(pe - hs));
        sigv4_header h[8];
        size_t n = 0;
        h[n++] = (sigv4_header){"Host", host};
        const char *k;
        json_t *hv;
        json_object_foreach(json_object_get(v, "headers"), k, hv) {
            if (strcasecmp(k, "Authorization") == 0) continue;
            h[n++] = (sigv4_header){k, json_string_value(hv)};
        }
        const char *body = json_string_value(json_object_get(v, "body"));
        sigv4_request rq = {.method = json_string_value(json_object_get(v, "method")), .path = pe, .headers = h,
                            .nheaders = n, .body = body, .body_len = strlen(body),
                            .access_key = json_string_value(json_object_get(v, "access_key")),
                            .secret_key = json_string_value(json_object_get(v, "secret_key")),
                            .session_token = json_string_value(json_object_get(v, "session_token")),
                            .region = json_string_value(json_object_get(v, "region")),
                            .service = json_string_value(json_object_get(v, "service")),
                            .amz_date = json_string_value(json_object_get(v, "amz_date"))};
        sigv4_result r;
        assert_int_equal(sigv4_sign(&rq, &r, NULL), 0);
        assert_string_equal(r.canonical_request, json_string_value(json_object_get(v, "canonical_request")));
        assert_string_equal(r.string_to_sign, json_string_value(json_object_get(v, "string_to_sign")));
        assert_string_equal(r.signature, json_string_value(json_object_get(v, "signature")));
        assert_string_equal(r.authorization, json_string_value(json_object_get(v, "authorization")));
        sigv4_result_free(&r);
        free(host);
    }
    json_decref(root);
    free(p);
    free(sh);
}

/* The token passed as a parameter is signed exactly like a token header. */
static void test_token_parameter(void **s)
{
    (void)s;
    sigv4_header h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
    sigv4_request rq = {.method = "POST", .path = "/", .headers = h, .nheaders = 2, .access_key = AKID,
                        .secret_key = SECRET, .session_token = "TOKEN", .region = "us-east-1",
                        .service = "service", .amz_date = "20150830T123600Z"};
    sigv4_result r;
    assert_int_equal(sigv4_sign(&rq, &r, NULL), 0);
    assert_string_equal(r.signed_headers, "host;x-amz-date;x-amz-security-token");
    assert_non_null(strstr(r.canonical_request, "\nx-amz-security-token:TOKEN\n"));
    sigv4_result_free(&r);
}

static int starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static void test_double_encoding_and_query(void **s)
{
    (void)s;
    sigv4_header h[] = {{"Host", "h"}, {"X-Amz-Date", "20150830T123600Z"}, {"User-Agent", "x"}};
    sigv4_request rq = {.method = "GET", .path = "/a%20b/./c/../d", .query = "b=2&a=x%20y&a=+&c",
                        .headers = h, .nheaders = 3, .access_key = AKID, .secret_key = SECRET,
                        .region = "us-east-1", .service = "service", .amz_date = "20150830T123600Z"};
    sigv4_result r;
    assert_int_equal(sigv4_sign(&rq, &r, NULL), 0);
    assert_true(starts_with(r.canonical_request, "GET\n/a%2520b/d\na=%2B&a=x%20y&b=2&c=\nhost:h\n"));
    assert_string_equal(r.signed_headers, "host;x-amz-date"); /* user-agent is never signed */
    sigv4_result_free(&r);
    rq.s3 = 1;
    assert_int_equal(sigv4_sign(&rq, &r, NULL), 0);
    assert_true(starts_with(r.canonical_request, "GET\n/a%20b/./c/../d\n"));
    sigv4_result_free(&r);
}

static void test_rejects_bad_input(void **s)
{
    (void)s;
    sigv4_header h[] = {{"Host", "h"}};
    sigv4_request rq = {.method = "GET", .path = "/", .headers = h, .nheaders = 1, .access_key = AKID,
                        .secret_key = SECRET, .region = "us-east-1", .service = "s", .amz_date = "2015-08-30"};
    sigv4_result r;
    cb_error e = {0};
    assert_int_not_equal(sigv4_sign(&rq, &r, &e), 0);
    assert_int_equal(e.kind, CB_K_INVALID);
    rq.amz_date = "20150830T123600Z";
    rq.region = "us-east-1\nx";
    assert_int_not_equal(sigv4_sign(&rq, &r, &e), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_suite),
        cmocka_unit_test(test_secretsmanager_vectors),
        cmocka_unit_test(test_token_parameter),
        cmocka_unit_test(test_double_encoding_and_query),
        cmocka_unit_test(test_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
