/* file:///path: a secret in a local file. Reads refuse group/world-writable files (someone
 * else could plant a value) and files over 1 MiB; writes are atomic (temp file + rename)
 * with mode 0600. The file has one version: promote to current is a no-op. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "secret_provider.h"

#define FILE_SECRET_MAX (1u << 20)

static int file_open(void **state, cb_error *e)
{
    (void)e;
    *state = NULL;
    return 0;
}

static int file_get(void *st, const secret_ref *ref, secret_value *out, cb_error *e)
{
    (void)st;
    memset(out, 0, sizeof *out);
    int fd = open(ref->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return cb_fail(e, CB_ERR, errno == ENOENT ? CB_K_NOTFOUND : CB_K_DENIED, "cannot open %s: %s", ref->path, strerror(errno));
    struct stat sb;
    int rc = 0;
    if (fstat(fd, &sb) != 0) rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "cannot stat %s: %s", ref->path, strerror(errno));
    else if (!S_ISREG(sb.st_mode)) rc = cb_fail(e, CB_ERR, CB_K_INVALID, "%s is not a regular file", ref->path);
    else if (sb.st_mode & (S_IWGRP | S_IWOTH))
        rc = cb_fail(e, CB_ERR, CB_K_DENIED, "%s is group- or world-writable (mode %03o); refusing it (chmod go-w)", ref->path,
                     (unsigned)(sb.st_mode & 0777));
    else if (sb.st_size > (off_t)FILE_SECRET_MAX) rc = cb_fail(e, CB_ERR, CB_K_INVALID, "%s is larger than 1 MiB", ref->path);
    if (rc) {
        close(fd);
        return rc;
    }
    cb_buf b;
    cb_buf_init(&b, 1);
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0) {
        cb_buf_append(&b, chunk, (size_t)n);
        if (b.len > FILE_SECRET_MAX) break;
    }
    cb_wipe(chunk, sizeof chunk);
    close(fd);
    if (n < 0 || b.len > FILE_SECRET_MAX) {
        cb_buf_free(&b);
        return cb_fail(e, CB_ERR, CB_K_INVALID, "cannot read %s (error or larger than 1 MiB)", ref->path);
    }
    /* one trailing newline (LF or CRLF), as editors and `echo` add it */
    if (b.len && b.data[b.len - 1] == '\n') {
        b.data[--b.len] = 0;
        if (b.len && b.data[b.len - 1] == '\r') b.data[--b.len] = 0;
    }
    out->len = b.len;
    out->value = cb_buf_steal(&b);
    out->created = (int64_t)sb.st_mtime;
    return 0;
}

static int file_put(void *st, const secret_ref *ref, const char *value, const char *stage, const char *token,
                    char **version_out, cb_error *e)
{
    (void)st; (void)token;
    if (version_out) *version_out = NULL;
    if (stage) return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "file:// secrets have no pending stage; write the current value");
    char *dup = cb_strdup(ref->path);
    char *tmp = cb_sprintf("%s/.%s.XXXXXX", dirname(dup), basename(ref->path));
    free(dup);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int rc = cb_fail(e, CB_ERR, CB_K_DENIED, "cannot create a temporary file next to %s: %s", ref->path, strerror(errno));
        free(tmp);
        return rc;
    }
    size_t len = strlen(value), off = 0;
    int rc = 0;
    if (fchmod(fd, 0600) != 0) rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "chmod %s: %s", tmp, strerror(errno));
    while (!rc && off < len) {
        ssize_t w = write(fd, value + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "write %s: %s", ref->path, strerror(errno));
        else off += (size_t)w;
    }
    if (!rc && fsync(fd) != 0) rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "fsync %s: %s", ref->path, strerror(errno));
    if (close(fd) != 0 && !rc) rc = cb_fail(e, CB_ERR, CB_K_INTERNAL, "close %s: %s", ref->path, strerror(errno));
    if (!rc && rename(tmp, ref->path) != 0) rc = cb_fail(e, CB_ERR, CB_K_DENIED, "rename onto %s: %s", ref->path, strerror(errno));
    if (rc) unlink(tmp);
    free(tmp);
    if (!rc && version_out) *version_out = cb_strdup("current");
    return rc;
}

static int file_promote(void *st, const secret_ref *ref, const char *version, cb_error *e)
{
    (void)st;
    if (!version || strcmp(version, "current") == 0) return 0;
    return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "file://%s has only the current version", ref->path);
}

static int file_describe(void *st, const secret_ref *ref, json_t **out, cb_error *e)
{
    (void)st;
    struct stat sb;
    *out = NULL;
    if (stat(ref->path, &sb) != 0)
        return cb_fail(e, CB_ERR, errno == ENOENT ? CB_K_NOTFOUND : CB_K_DENIED, "cannot stat %s: %s", ref->path, strerror(errno));
    char mode[8];
    snprintf(mode, sizeof mode, "%04o", (unsigned)(sb.st_mode & 07777));
    *out = json_pack("{s:s,s:s,s:I,s:I,s:s}", "provider", "file", "path", ref->path, "size", (json_int_t)sb.st_size,
                     "modified", (json_int_t)sb.st_mtime, "mode", mode);
    return 0;
}

static void file_close(void *st) { (void)st; }

const secret_provider file_provider = {
    .scheme = "file", .name = "Local file", .open = file_open, .get = file_get, .put = file_put,
    .promote = file_promote, .describe = file_describe, .close = file_close,
};
