#include "key_ref.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "crypto.h"
#include "secrets/secret_provider.h"

static int under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == 0);
}

int store_key_file_check(const char *path, cb_error *e)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return cb_fail(e, CB_ERR, errno == ENOENT ? CB_K_NOTFOUND : CB_K_DENIED, "key file %s: %s", path, strerror(errno));
    if (under(real, "/proc") || under(real, "/dev") || under(real, "/sys"))
        return cb_fail(e, CB_ERR, CB_K_DENIED, "key file %s resolves to %s: a key must be a regular file, not a "
                                               "kernel or device file", path, real);
    struct stat st;
    if (stat(real, &st) != 0) return cb_fail(e, CB_ERR, CB_K_DENIED, "key file %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return cb_fail(e, CB_ERR, CB_K_DENIED, "key file %s is not a regular file", path);
    if (st.st_uid != geteuid())
        return cb_fail(e, CB_ERR, CB_K_DENIED, "key file %s is owned by uid %u, not by the broker's user (uid %u)", path,
                       (unsigned)st.st_uid, (unsigned)geteuid());
    if (st.st_mode & 077)
        return cb_fail(e, CB_ERR, CB_K_DENIED, "key file %s is accessible by group/others (mode %04o); run: chmod 600 %s",
                       path, (unsigned)(st.st_mode & 07777), path);
    return 0;
}

int store_key_from_ref(const char *ref, char **key, cb_error *e)
{
    *key = NULL;
    secret_ref r;
    if (secret_ref_parse(ref, &r, e)) return CB_EUSAGE;
    int rc = 0;
    if (!strcmp(r.scheme, "file")) rc = store_key_file_check(r.path, e);
    secret_ref_free(&r);
    if (rc) return rc;
    secret_value a = {0}, b = {0};
    if (secret_fetch(ref, &a, e)) return e->code ? e->code : CB_ERR;
    if (secret_fetch(ref, &b, e)) {
        secret_value_free(&a);
        return e->code ? e->code : CB_ERR;
    }
    if (!a.len) rc = cb_fail(e, CB_ERR, CB_K_INVALID, "%s holds an empty value: not a master key", ref);
    else if (a.len != b.len || !cb_ct_equal(a.value, b.value, a.len))
        rc = cb_fail(e, CB_ERR, CB_K_INVALID, "%s gave two different values when read twice: refusing a key nobody could "
                                              "read again", ref);
    if (!rc) *key = cb_strdup(a.value);
    secret_value_free(&a);
    secret_value_free(&b);
    return rc;
}

void store_key_fingerprint(const char *key, char out[17])
{
    uint8_t h[32];
    cb_sha256(key, strlen(key), h);
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hx[h[i] >> 4];
        out[2 * i + 1] = hx[h[i] & 15];
    }
    out[16] = 0;
    cb_wipe(h, sizeof h);
}
