/* Connection security assessment (see conn_assess.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include "conn_assess.h"

static int add(json_t *f, const char *check, const char *sev, const char *msg, const char *fix)
{
    json_array_append_new(f, json_pack("{s:s,s:s,s:s,s:s}", "check", check, "severity", sev,
                                       "message", msg, "fix", fix));
    return 1;
}

/* A short list of the most used passwords (and patterns people think are clever). */
static const char *const common_pw[] = {
    "password", "123456", "12345678", "123456789", "1234567890", "qwerty", "abc123", "111111",
    "letmein", "welcome", "admin", "root", "postgres", "sa", "changeme", "secret", "password1",
    "Password1", "Password123", "P@ssw0rd", "P@ssword1", "passw0rd", "iloveyou", "monkey",
    "dragon", "master", "trustno1", "qwerty123", "1q2w3e4r", "Welcome1", "Welcome123",
    "admin123", "root123", "test", "test123", "guest", "default", "mysql", "sqlserver",
    "Summer2024", "Winter2024", "Passw0rd!", "P@ssw0rd123", "Admin@123", "qwertyuiop",
    "postgres123", "Password!", "Password@123", "changeme123", NULL};

int conn_assess_password(const char *pw, const char *user, json_t *f)
{
    if (!pw) return 0;
    int n = 0;
    size_t len = strlen(pw);
    int lo = 0, up = 0, dg = 0, ot = 0;
    for (const char *p = pw; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (islower(c)) lo = 1;
        else if (isupper(c)) up = 1;
        else if (isdigit(c)) dg = 1;
        else ot = 1;
    }
    for (size_t i = 0; common_pw[i]; i++)
        if (!strcasecmp(pw, common_pw[i])) {
            n += add(f, "password_common", "high", "password is in a list of commonly used passwords",
                     "rotate to a long random password (credbroker rotate)");
            break;
        }
    if (user && *user && !strcasecmp(pw, user))
        n += add(f, "password_equals_user", "high", "password equals the user name",
                 "rotate to a long random password (credbroker rotate)");
    if (len < 12)
        n += add(f, "password_short", "high", "password is shorter than 12 characters",
                 "rotate to a random password of at least 16 characters");
    else if (lo + up + dg + ot < 3 && len < 20)
        n += add(f, "password_classes", "medium", "password uses fewer than 3 character classes",
                 "rotate to a random password mixing upper, lower case, digits and symbols");
    return n;
}

int conn_host_is_private(const char *h)
{
    if (!h || !*h || h[0] == '/' || h[0] == '@') return 1; /* unix socket / default */
    if (!strcasecmp(h, "localhost") || !strcasecmp(h, "(local)") || !strcmp(h, ".") ||
        !strncasecmp(h, "localhost.", 10) || !strncasecmp(h, "np:", 3) || !strncasecmp(h, "lpc:", 4))
        return 1;
    size_t hl = strlen(h);
    if (hl > 6 && !strcasecmp(h + hl - 6, ".local")) return 1;
    unsigned char a[16];
    if (inet_pton(AF_INET, h, a) == 1) {
        return a[0] == 127 || a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
               (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254) || a[0] == 0;
    }
    if (inet_pton(AF_INET6, h, a) == 1) {
        static const unsigned char lo6[16] = {[15] = 1};
        return !memcmp(a, lo6, 16) || (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
    }
    /* a host name: cannot know without resolving; names with a dot may be public */
    return strchr(h, '.') == NULL && strchr(h, '\\') == NULL ? 1 : 0;
}

static int truthy(const char *v)
{
    return v && (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") ||
                 !strcasecmp(v, "mandatory") || !strcasecmp(v, "strict"));
}

static const char *first_param(const conn_url *u, const char *const *keys)
{
    for (size_t i = 0; keys[i]; i++) {
        const char *v = conn_url_param(u, keys[i]);
        if (v) return v;
    }
    return NULL;
}

static int assess_postgres(const conn_url *u, json_t *f)
{
    int n = 0;
    const char *m = conn_url_param(u, "sslmode");
    if (!m)
        n += add(f, "tls_mode", "medium", "sslmode is not set: libpq defaults to prefer, which falls back to plaintext",
                 "add sslmode=verify-full and sslrootcert=<CA file>");
    else if (!strcmp(m, "disable"))
        n += add(f, "tls_mode", "high", "sslmode=disable: traffic and authentication are not encrypted",
                 "use sslmode=verify-full with sslrootcert=<CA file>");
    else if (!strcmp(m, "allow") || !strcmp(m, "prefer"))
        n += add(f, "tls_mode", "medium", "sslmode allows a plaintext connection (downgrade possible)",
                 "use sslmode=verify-full with sslrootcert=<CA file>");
    else if (!strcmp(m, "require") || !strcmp(m, "verify-ca"))
        n += add(f, "tls_verify", "low", "sslmode does not verify the server host name",
                 "use sslmode=verify-full");
    if (m && (!strcmp(m, "verify-full") || !strcmp(m, "verify-ca")) && !conn_url_param(u, "sslrootcert"))
        n += add(f, "tls_rootcert", "medium", "certificate verification without sslrootcert relies on ~/.postgresql/root.crt",
                 "set sslrootcert=<CA file> (or sslrootcert=system)");
    if (!conn_url_param(u, "connect_timeout"))
        n += add(f, "connect_timeout", "low", "no connect_timeout: a dead server blocks clients indefinitely",
                 "add connect_timeout=10");
    return n;
}

static int assess_sqlserver(const conn_url *u, json_t *f)
{
    int n = 0;
    const char *enc = conn_url_param(u, "Encrypt");
    if (!enc)
        n += add(f, "tls_mode", "medium", "Encrypt is not set: older drivers default to no encryption",
                 "set Encrypt=True (or Strict)");
    else if (!truthy(enc))
        n += add(f, "tls_mode", "high", "Encrypt is off: traffic is not encrypted",
                 "set Encrypt=True (or Strict)");
    if (truthy(conn_url_param(u, "TrustServerCertificate")))
        n += add(f, "tls_trust_server_certificate", "high",
                 "TrustServerCertificate=true accepts any server certificate (man-in-the-middle possible)",
                 "set TrustServerCertificate=False and trust the server's CA");
    static const char *const tk[] = {"Connect Timeout", "Connection Timeout", "Timeout", "loginTimeout",
                                     "connection timeout", "dial timeout", NULL};
    if (!first_param(u, tk))
        n += add(f, "connect_timeout", "low", "no connect timeout set",
                 u->format == CONN_FMT_ADO ? "add Connect Timeout=15" : "add loginTimeout=15");
    return n;
}

static int assess_mysql(const conn_url *u, json_t *f)
{
    int n = 0;
    static const char *const sk[] = {"ssl-mode", "sslmode", "ssl_mode", "tls", NULL};
    static const char *const cak[] = {"ssl-ca", "ssl_ca", NULL};
    const char *m = first_param(u, sk);
    if (!m)
        n += add(f, "tls_mode", "medium", "ssl-mode is not set: the client may fall back to plaintext",
                 "add ssl-mode=VERIFY_IDENTITY");
    else if (!strcasecmp(m, "disabled") || !strcasecmp(m, "false") || !strcasecmp(m, "disable"))
        n += add(f, "tls_mode", "high", "TLS is disabled", "add ssl-mode=VERIFY_IDENTITY");
    else if (!strcasecmp(m, "preferred") || !strcasecmp(m, "prefer"))
        n += add(f, "tls_mode", "medium", "ssl-mode=PREFERRED allows a plaintext connection",
                 "use ssl-mode=VERIFY_IDENTITY");
    else if (!strcasecmp(m, "required") || !strcasecmp(m, "require") || !strcasecmp(m, "true"))
        n += add(f, "tls_verify", "medium", "ssl-mode=REQUIRED encrypts but accepts any server certificate (man-in-the-middle possible)",
                 "use ssl-mode=VERIFY_IDENTITY with ssl-ca=<CA file>");
    else if (!strcasecmp(m, "verify_ca") || !strcasecmp(m, "verify-ca"))
        n += add(f, "tls_verify", "low", "ssl-mode=VERIFY_CA does not verify the server host name",
                 "use ssl-mode=VERIFY_IDENTITY");
    if (m && (!strncasecmp(m, "verify_", 7) || !strncasecmp(m, "verify-", 7)) && !first_param(u, cak))
        n += add(f, "tls_rootcert", "medium", "certificate verification without ssl-ca: the connection is refused",
                 "set ssl-ca=<CA file>");
    static const char *const tk[] = {"connect_timeout", "connect-timeout", "connectTimeout", "timeout", NULL};
    if (!first_param(u, tk))
        n += add(f, "connect_timeout", "low", "no connect timeout set", "add connect-timeout=10");
    return n;
}

/* SQLite has no login: what protects the data is the file's owner and mode. A file that
 * does not exist (yet) has nothing to report. */
static int assess_sqlite(const conn_url *u, json_t *f)
{
    const char *path = u->dbname;
    if (!path || !*path) return 0;
    if (!strncmp(path, "file:", 5)) path += 5;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    int n = 0;
    if (st.st_mode & S_IWOTH)
        n += add(f, "file_mode", "high", "the database file is writable by every local user", "chmod 600 (or 640) the file");
    else if (st.st_mode & S_IROTH)
        n += add(f, "file_mode", "medium", "the database file is readable by every local user", "chmod 600 (or 640) the file");
    if (st.st_mode & S_IWGRP)
        n += add(f, "file_mode_group", "low", "the database file is writable by its group", "chmod g-w the file");
    if (st.st_uid != geteuid() && st.st_uid != 0)
        n += add(f, "file_owner", "medium", "the database file belongs to another user, who can change or replace it",
                 "chown the file to the account that runs the broker (or root)");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) { if (slash == dir) slash[1] = 0; else *slash = 0; } else snprintf(dir, sizeof dir, ".");
    struct stat ds;
    if (stat(dir, &ds) == 0 && (ds.st_mode & S_IWOTH) && !(ds.st_mode & S_ISVTX))
        n += add(f, "dir_mode", "high", "the directory of the database file is writable by every local user (the file can be replaced)",
                 "chmod o-w the directory");
    return n;
}

int conn_assess(const conn_url *u, json_t *f)
{
    if (!u || !u->engine || !json_is_array(f)) return 0;
    int n = 0;
    if (!strcmp(u->engine, "sqlite")) return assess_sqlite(u, f);
    if (!strcmp(u->engine, "postgres")) n += assess_postgres(u, f);
    else if (!strcmp(u->engine, "sqlserver")) n += assess_sqlserver(u, f);
    else if (!strcmp(u->engine, "mysql")) n += assess_mysql(u, f);
    n += conn_assess_password(u->password, u->user, f);
    int dp = conn_default_port(u->engine);
    if (u->host && !conn_host_is_private(u->host) && (u->port == 0 || u->port == dp))
        n += add(f, "default_port_public", "low", "the database listens on its default port on a non-private host",
                 "restrict network access (firewall/private network) or use a non-default port");
    return n;
}

int conn_password_fingerprint(const char *pw, const unsigned char *key, size_t keylen, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!pw) return -1;
    if (key) {
        if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)pw, strlen(pw), md, &mdlen)) return -1;
    } else {
        SHA256((const unsigned char *)pw, strlen(pw), md);
    }
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) { out[2 * i] = hx[md[i] >> 4]; out[2 * i + 1] = hx[md[i] & 15]; }
    out[64] = 0;
    OPENSSL_cleanse(md, sizeof md);
    return 0;
}
