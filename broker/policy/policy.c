/* Policy files: parse, validate (every error with its file:line:column), merge. */
#include "policy.h"
#include "policy_values.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "secrets/secret_provider.h"
#include "policy_connections.h"

int (*policy_schedule_validator)(const char *expr, const char *tz, cb_error *e) = NULL;

static const char *const SSLMODES[] = {NULL, "disable", "allow", "prefer", "require", "verify-ca", "verify-full"};

const char *policy_sslmode_name(policy_sslmode m)
{
    return (m > POLICY_SSL_UNSET && m <= POLICY_SSL_VERIFY_FULL) ? SSLMODES[m] : "unset";
}
const char *policy_strategy_name(policy_strategy s)
{
    return s == POLICY_ALTERNATING_USERS ? "alternating-users" : "single-user";
}
const char *policy_mode_name(policy_mode m)
{
    return m == POLICY_READ_WRITE ? "read-write" : "read-only";
}

int policy_valid_name(const char *s)
{
    if (!s) return 0;
    size_t n = strlen(s);
    if (n == 0 || n > POLICY_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '_' || c == '.' || c == '-') || c >= 0x80) return 0;
    }
    return 1;
}

/* ---------------- freeing ---------------- */

static void origin_free(policy_origin *o) { free(o->file); o->file = NULL; }

static void credential_free(policy_credential *c)
{
    free(c->name); free(c->connection); free(c->admin_connection); free(c->schedule);
    free(c->timezone); free(c->users[0]); free(c->users[1]); free(c->alternate_connection);
    free(c->password.exclude); free(c->publish_to);
    origin_free(&c->origin);
    memset(c, 0, sizeof *c);
}

static void client_free(policy_client *c)
{
    free(c->name);
    policy_strv_free(c->tools, c->ntools);
    policy_strv_free(c->connections, c->nconnections);
    policy_strv_free(c->setting_names, c->nsettings);
    policy_strv_free(c->setting_values, c->nsettings);
    origin_free(&c->origin);
    memset(c, 0, sizeof *c);
}

void policy_free(cb_policy *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->ncredentials; i++) credential_free(&p->credentials[i]);
    for (size_t i = 0; i < p->nclients; i++) client_free(&p->clients[i]);
    for (size_t i = 0; i < p->nconnections; i++) policy_connection_free(&p->connections[i]);
    free(p->credentials);
    free(p->clients);
    free(p->connections);
    origin_free(&p->requirements.mcp_least_privilege_origin);
    policy_strv_free(p->files, p->nfiles);
    origin_free(&p->requirements.min_sslmode_origin);
    origin_free(&p->requirements.max_connect_timeout_origin);
    origin_free(&p->requirements.require_encryption_origin);
    origin_free(&p->monitoring.origin);
    free(p->monitoring.webhook);
    free(p);
}

cb_policy *policy_new(void)
{
    cb_policy *p = cb_calloc(1, sizeof *p);
    p->requirements.require_encryption = -1;
    policy_monitoring_defaults(&p->monitoring);
    p->requirements.mcp_least_privilege = -1;
    return p;
}

int policy_is_empty(const cb_policy *p)
{
    return !p || (p->ncredentials == 0 && p->nclients == 0);
}

/* ---------------- value helpers ---------------- */

static int get_bool(jdoc_ctx *c, json_t *v, const jdoc_pos *at, const char *path, int *out)
{
    if (!json_is_boolean(v)) {
        jdoc_err(c, at, "%s: must be true or false", path);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

static int get_enum(jdoc_ctx *c, json_t *v, const jdoc_pos *at, const char *path,
                    const char *const *names, size_t n, const char *list)
{
    if (!json_is_string(v)) {
        jdoc_err(c, at, "%s: must be one of %s", path, list);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(json_string_value(v), names[i]) == 0) return (int)i;
    char q[80];
    jdoc_quote(json_string_value(v), q);
    jdoc_err(c, at, "%s: \"%s\" is not one of %s", path, q, list);
    return -1;
}

/* Checks that a zone name is a TZif file under the zoneinfo directory. */
static int tz_check(const char *tz, const char **why)
{
    size_t n = strlen(tz);
    if (n == 0 || n > 128) { *why = "length must be 1..128"; return -1; }
    if (tz[0] == '/') { *why = "must be a zone name, not a path"; return -1; }
    /* every path component must be a plain name: no "", ".", ".." */
    const char *p = tz;
    while (*p) {
        const char *s = strchr(p, '/');
        size_t len = s ? (size_t)(s - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
            *why = "must be a zone name, not a path"; return -1;
        }
        if (!s) break;
        p = s + 1;
        if (!*p) { *why = "must be a zone name, not a path"; return -1; }
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)tz[i];
        if (!(isalnum(ch) || ch == '_' || ch == '-' || ch == '+' || ch == '/') || ch >= 0x80) {
            *why = "invalid character"; return -1;
        }
    }
    const char *dir = getenv("TZDIR");
    if (!dir || dir[0] != '/') dir = "/usr/share/zoneinfo";
    char *path = cb_sprintf("%s/%s", dir, tz);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    free(path);
    if (fd < 0) { *why = "unknown time zone"; return -1; }
    struct stat st;
    char magic[4] = {0};
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0;
    close(fd);
    if (!ok) { *why = "unknown time zone"; return -1; }
    return 0;
}

/* ---------------- sections ---------------- */

static const char *const CLASS_NAMES[] = {"lower", "upper", "digit", "symbol"};

static int class_has_free_char(unsigned bit, const char *exclude)
{
    for (int ch = 0x21; ch < 0x7f; ch++) {
        int in = (bit == POLICY_CLASS_LOWER && islower(ch)) || (bit == POLICY_CLASS_UPPER && isupper(ch)) ||
                 (bit == POLICY_CLASS_DIGIT && isdigit(ch)) || (bit == POLICY_CLASS_SYMBOL && ispunct(ch));
        if (in && !strchr(exclude, ch)) return 1;
    }
    return 0;
}

static void parse_password(jdoc_ctx *c, json_t *o, const jdoc_pos *pos, const char *path, policy_password *pw)
{
    static const char *const keys[] = {"length", "classes", "exclude", NULL};
    if (!json_is_object(o)) { jdoc_err(c, pos, "%s: must be an object", path); return; }
    jdoc_check_keys(c, o, pos, path, keys);
    char *sub;
    json_t *v;
    long long x;
    if ((v = json_object_get(o, "length"))) {
        sub = cb_sprintf("%s.length", path);
        if (policy_get_int(c, v, policy_member_or(pos, "length"), sub, 8, 256, &x) == 0) pw->length = (int)x;
        free(sub);
    }
    if ((v = json_object_get(o, "classes"))) {
        const jdoc_pos *ap = policy_member_or(pos, "classes");
        sub = cb_sprintf("%s.classes", path);
        if (!json_is_array(v) || json_array_size(v) == 0) {
            jdoc_err(c, ap, "%s: must be a non-empty array of lower, upper, digit, symbol", sub);
        } else {
            unsigned bits = 0;
            size_t i;
            json_t *it;
            json_array_foreach(v, i, it) {
                const jdoc_pos *ip = jdoc_item(ap, i);
                int k = get_enum(c, it, ip ? ip : ap, sub, CLASS_NAMES, 4, "lower, upper, digit, symbol");
                if (k < 0) continue;
                if (bits & (1u << k)) jdoc_err(c, ip ? ip : ap, "%s: \"%s\" listed twice", sub, CLASS_NAMES[k]);
                bits |= 1u << k;
            }
            if (bits) pw->classes = bits;
        }
        free(sub);
    }
    if ((v = json_object_get(o, "exclude"))) {
        const jdoc_pos *ep = policy_member_or(pos, "exclude");
        sub = cb_sprintf("%s.exclude", path);
        if (!json_is_string(v)) jdoc_err(c, ep, "%s: must be a string", sub);
        else if (json_string_length(v) > 128) jdoc_err(c, ep, "%s: longer than 128 characters", sub);
        else {
            const char *s = json_string_value(v);
            int ok = 1;
            for (size_t i = 0; s[i]; i++)
                if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) ok = 0;
            if (!ok || strlen(s) != json_string_length(v)) jdoc_err(c, ep, "%s: only printable ASCII characters may be excluded", sub);
            else { free(pw->exclude); pw->exclude = cb_strdup(s); }
        }
        free(sub);
    }
    for (int k = 0; k < 4; k++) {
        unsigned bit = 1u << k;
        if ((pw->classes & bit) && !class_has_free_char(bit, pw->exclude))
            jdoc_err(c, pos, "%s: exclude leaves no character of class %s", path, CLASS_NAMES[k]);
    }
}

static void parse_credential(jdoc_ctx *c, const char *name, json_t *o, const jdoc_pos *pos, policy_credential *cr)
{
    static const char *const keys[] = {"connection", "admin_connection", "schedule", "timezone", "strategy",
                                       "users", "alternate_connection", "password", "publish_to", NULL};
    char q[80];
    jdoc_quote(name, q);
    char *path = cb_sprintf("credentials.%s", q);
    cr->name = cb_strdup(name);
    policy_set_origin(&cr->origin, c->file, pos);
    cr->strategy = POLICY_SINGLE_USER;
    cr->timezone = cb_strdup("UTC");
    cr->password.length = POLICY_PASSWORD_DEFAULT_LENGTH;
    cr->password.classes = POLICY_CLASS_LOWER | POLICY_CLASS_UPPER | POLICY_CLASS_DIGIT | POLICY_CLASS_SYMBOL;
    cr->password.exclude = cb_strdup(POLICY_PASSWORD_DEFAULT_EXCLUDE);
    if (!policy_valid_name(name))
        jdoc_err(c, pos, "%s: not a valid credential name (1..%d of A-Z a-z 0-9 _ . -)", path, POLICY_NAME_MAX);
    if (!json_is_object(o)) { jdoc_err(c, pos, "%s: must be an object", path); free(path); return; }
    jdoc_check_keys(c, o, pos, path, keys);
    char *sub;
    json_t *v;
    const char *s;

#define SUBPATH(k) (free(sub), sub = cb_sprintf("%s.%s", path, k))
    sub = NULL;
    if ((v = json_object_get(o, "connection"))) {
        SUBPATH("connection");
        if ((s = policy_get_name(c, v, policy_member_or(pos, "connection"), sub))) cr->connection = cb_strdup(s);
    } else {
        jdoc_err(c, pos, "%s: missing required key \"connection\"", path);
    }
    if ((v = json_object_get(o, "admin_connection"))) {
        SUBPATH("admin_connection");
        if ((s = policy_get_name(c, v, policy_member_or(pos, "admin_connection"), sub))) cr->admin_connection = cb_strdup(s);
    }
    int tz_ok = 1;
    if ((v = json_object_get(o, "timezone"))) {
        SUBPATH("timezone");
        const jdoc_pos *tp = policy_member_or(pos, "timezone");
        tz_ok = 0;
        if ((s = policy_get_str(c, v, tp, sub, 128))) {
            const char *why = NULL;
            jdoc_quote(s, q);
            if (tz_check(s, &why) == 0) { free(cr->timezone); cr->timezone = cb_strdup(s); tz_ok = 1; }
            else jdoc_err(c, tp, "%s: \"%s\": %s", sub, q, why);
        }
    }
    if ((v = json_object_get(o, "schedule"))) {
        SUBPATH("schedule");
        const jdoc_pos *sp = policy_member_or(pos, "schedule");
        if ((s = policy_get_str(c, v, sp, sub, 256))) {
            cb_error ce = {0};
            if (policy_schedule_validator && tz_ok && policy_schedule_validator(s, cr->timezone, &ce) != 0)
                jdoc_err(c, sp, "%s: %s", sub, ce.msg[0] ? ce.msg : "invalid cron expression");
            else cr->schedule = cb_strdup(s);
        }
    }
    if ((v = json_object_get(o, "strategy"))) {
        static const char *const names[] = {NULL, "single-user", "alternating-users"};
        SUBPATH("strategy");
        int k = get_enum(c, v, policy_member_or(pos, "strategy"), sub, names, 3, "single-user, alternating-users");
        if (k > 0) cr->strategy = (policy_strategy)k;
    }
    json_t *users = json_object_get(o, "users");
    json_t *alt = json_object_get(o, "alternate_connection");
    if (users) {
        const jdoc_pos *up = policy_member_or(pos, "users");
        SUBPATH("users");
        if (!json_is_array(users) || json_array_size(users) != 2) {
            jdoc_err(c, up, "%s: must be an array of exactly two login names", sub);
        } else {
            const char *u[2] = {NULL, NULL};
            for (size_t i = 0; i < 2; i++) {
                const jdoc_pos *ip = jdoc_item(up, i);
                u[i] = policy_get_name(c, json_array_get(users, i), ip ? ip : up, sub);
            }
            if (u[0] && u[1] && strcmp(u[0], u[1]) == 0)
                jdoc_err(c, up, "%s: the two logins must differ", sub);
            else if (u[0] && u[1]) { cr->users[0] = cb_strdup(u[0]); cr->users[1] = cb_strdup(u[1]); }
        }
    }
    if (alt) {
        SUBPATH("alternate_connection");
        const jdoc_pos *ap = policy_member_or(pos, "alternate_connection");
        if ((s = policy_get_name(c, alt, ap, sub))) {
            if (cr->connection && strcmp(s, cr->connection) == 0)
                jdoc_err(c, ap, "%s: must differ from connection", sub);
            else cr->alternate_connection = cb_strdup(s);
        }
    }
    if (cr->strategy == POLICY_ALTERNATING_USERS) {
        if (users && alt)
            jdoc_err(c, policy_member_or(pos, "alternate_connection"), "%s: give either \"users\" or \"alternate_connection\", not both", path);
        else if (!users && !alt)
            jdoc_err(c, policy_member_or(pos, "strategy"), "%s: alternating-users needs \"users\": [login_a, login_b] or \"alternate_connection\"", path);
    } else {
        if (users) jdoc_err(c, policy_member_or(pos, "users"), "%s: \"users\" is only allowed with strategy alternating-users", path);
        if (alt) jdoc_err(c, policy_member_or(pos, "alternate_connection"), "%s: \"alternate_connection\" is only allowed with strategy alternating-users", path);
    }
    if ((v = json_object_get(o, "password"))) {
        SUBPATH("password");
        parse_password(c, v, policy_member_or(pos, "password"), sub, &cr->password);
    }
    if ((v = json_object_get(o, "publish_to"))) {
        SUBPATH("publish_to");
        const jdoc_pos *pp = policy_member_or(pos, "publish_to");
        if ((s = policy_get_str(c, v, pp, sub, 2048))) {
            secret_ref r;
            cb_error re = {0};
            if (secret_ref_parse(s, &r, &re) != 0) jdoc_err(c, pp, "%s: %s", sub, re.msg);
            else { secret_ref_free(&r); cr->publish_to = cb_strdup(s); }
        }
    }
#undef SUBPATH
    free(sub);
    free(path);
}

/* tools/connections: "*" or an array of names, where "*" may only appear alone. */
static void parse_name_list(jdoc_ctx *c, json_t *v, const jdoc_pos *at, const char *path,
                            int *all, char ***out, size_t *n)
{
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "*") == 0) { *all = 1; return; }
        jdoc_err(c, at, "%s: must be \"*\" or an array of names", path);
        return;
    }
    if (!json_is_array(v)) { jdoc_err(c, at, "%s: must be \"*\" or an array of names", path); return; }
    size_t cnt = json_array_size(v), i;
    json_t *it;
    int star = 0;
    *out = cb_calloc(cnt ? cnt : 1, sizeof **out);
    json_array_foreach(v, i, it) {
        const jdoc_pos *ip = jdoc_item(at, i);
        if (!ip) ip = at;
        if (json_is_string(it) && strcmp(json_string_value(it), "*") == 0) { star = 1; continue; }
        const char *s = policy_get_name(c, it, ip, path);
        if (s) (*out)[(*n)++] = cb_strdup(s);
    }
    if (star && cnt > 1) jdoc_err(c, at, "%s: \"*\" must be the only entry", path);
    else if (star) *all = 1;
}

static void parse_client(jdoc_ctx *c, const char *name, json_t *o, const jdoc_pos *pos, policy_client *cl)
{
    static const char *const keys[] = {"tools", "connections", "mode", "max_rows", "statement_timeout_ms",
                                       "max_bytes", "reveal", "sensitive_params", "rate_limit_per_min",
                                       "session_settings", "admin", NULL};
    char q[80];
    jdoc_quote(name, q);
    char *path = cb_sprintf("clients.%s", q);
    cl->name = cb_strdup(name);
    policy_set_origin(&cl->origin, c->file, pos);
    cl->mode = POLICY_READ_ONLY;
    cl->max_rows = 1000;
    cl->statement_timeout_ms = 5000;
    if (!policy_valid_name(name))
        jdoc_err(c, pos, "%s: not a valid client name (1..%d of A-Z a-z 0-9 _ . -)", path, POLICY_NAME_MAX);
    if (!json_is_object(o)) { jdoc_err(c, pos, "%s: must be an object", path); free(path); return; }
    jdoc_check_keys(c, o, pos, path, keys);
    char *sub = NULL;
    json_t *v;
    long long x;
#define SUBPATH(k) (free(sub), sub = cb_sprintf("%s.%s", path, k))
    if ((v = json_object_get(o, "tools"))) {
        SUBPATH("tools");
        parse_name_list(c, v, policy_member_or(pos, "tools"), sub, &cl->all_tools, &cl->tools, &cl->ntools);
    }
    if ((v = json_object_get(o, "connections"))) {
        SUBPATH("connections");
        parse_name_list(c, v, policy_member_or(pos, "connections"), sub, &cl->all_connections, &cl->connections, &cl->nconnections);
    }
    if ((v = json_object_get(o, "mode"))) {
        static const char *const names[] = {NULL, "read-only", "read-write"};
        SUBPATH("mode");
        int k = get_enum(c, v, policy_member_or(pos, "mode"), sub, names, 3, "read-only, read-write");
        if (k > 0) cl->mode = (policy_mode)k;
    }
    if ((v = json_object_get(o, "max_rows"))) {
        SUBPATH("max_rows");
        if (policy_get_int(c, v, policy_member_or(pos, "max_rows"), sub, 1, 100000, &x) == 0) cl->max_rows = (int)x;
    }
    if ((v = json_object_get(o, "statement_timeout_ms"))) {
        SUBPATH("statement_timeout_ms");
        if (policy_get_int(c, v, policy_member_or(pos, "statement_timeout_ms"), sub, 100, 600000, &x) == 0) cl->statement_timeout_ms = (int)x;
    }
    if ((v = json_object_get(o, "max_bytes"))) {
        SUBPATH("max_bytes");
        if (policy_get_int(c, v, policy_member_or(pos, "max_bytes"), sub, 1024, 1073741824LL, &x) == 0) cl->max_bytes = x;
    }
    if ((v = json_object_get(o, "reveal"))) {
        SUBPATH("reveal");
        get_bool(c, v, policy_member_or(pos, "reveal"), sub, &cl->reveal);
    }
    if ((v = json_object_get(o, "sensitive_params"))) {
        SUBPATH("sensitive_params");
        get_bool(c, v, policy_member_or(pos, "sensitive_params"), sub, &cl->sensitive_params);
    }
    if ((v = json_object_get(o, "admin"))) {
        SUBPATH("admin");
        get_bool(c, v, policy_member_or(pos, "admin"), sub, &cl->admin);
        cl->admin_set = 1;
    }
    if ((v = json_object_get(o, "rate_limit_per_min"))) {
        SUBPATH("rate_limit_per_min");
        if (policy_get_int(c, v, policy_member_or(pos, "rate_limit_per_min"), sub, 1, 100000, &x) == 0) cl->rate_limit_per_min = (int)x;
    }
    if ((v = json_object_get(o, "session_settings"))) {
        SUBPATH("session_settings");
        policy_parse_session_settings(c, v, policy_member_or(pos, "session_settings"), sub, cl);
    }
#undef SUBPATH
    free(sub);
    free(path);
}

static void parse_requirements(jdoc_ctx *c, json_t *o, const jdoc_pos *pos, policy_requirements *r)
{
    static const char *const keys[] = {"min_sslmode", "max_connect_timeout_s", "require_encryption",
                                       "mcp_least_privilege", NULL};
    if (!json_is_object(o)) { jdoc_err(c, pos, "requirements: must be an object"); return; }
    jdoc_check_keys(c, o, pos, "requirements", keys);
    json_t *v;
    long long x;
    if ((v = json_object_get(o, "min_sslmode"))) {
        const jdoc_pos *at = policy_member_or(pos, "min_sslmode");
        int k = get_enum(c, v, at, "requirements.min_sslmode", SSLMODES, 7,
                         "disable, allow, prefer, require, verify-ca, verify-full");
        if (k > 0) { r->min_sslmode = (policy_sslmode)k; policy_set_origin(&r->min_sslmode_origin, c->file, at); }
    }
    if ((v = json_object_get(o, "max_connect_timeout_s"))) {
        const jdoc_pos *at = policy_member_or(pos, "max_connect_timeout_s");
        if (policy_get_int(c, v, at, "requirements.max_connect_timeout_s", 1, 600, &x) == 0) {
            r->max_connect_timeout_s = (int)x;
            policy_set_origin(&r->max_connect_timeout_origin, c->file, at);
        }
    }
    if ((v = json_object_get(o, "require_encryption"))) {
        const jdoc_pos *at = policy_member_or(pos, "require_encryption");
        if (get_bool(c, v, at, "requirements.require_encryption", &r->require_encryption) == 0)
            policy_set_origin(&r->require_encryption_origin, c->file, at);
    }
    if ((v = json_object_get(o, "mcp_least_privilege"))) {
        const jdoc_pos *at = policy_member_or(pos, "mcp_least_privilege");
        if (get_bool(c, v, at, "requirements.mcp_least_privilege", &r->mcp_least_privilege) == 0)
            policy_set_origin(&r->mcp_least_privilege_origin, c->file, at);
    }
}

/* ---------------- one file, merge ---------------- */

static void parse_doc(jdoc_ctx *c, const jdoc *doc, cb_policy *f)
{
    static const char *const keys[] = {"$schema", "requirements", "credentials", "clients", "monitoring", "connections",
                                       NULL};
    jdoc_check_keys(c, doc->root, doc->pos, "", keys);
    json_t *v;
    if ((v = json_object_get(doc->root, "$schema")) && !json_is_string(v))
        jdoc_err(c, policy_member_or(doc->pos, "$schema"), "$schema: must be a string");
    if ((v = json_object_get(doc->root, "requirements")))
        parse_requirements(c, v, policy_member_or(doc->pos, "requirements"), &f->requirements);
    if ((v = json_object_get(doc->root, "monitoring")))
        policy_monitoring_parse(c, v, policy_member_or(doc->pos, "monitoring"), &f->monitoring);
    for (int sec = 0; sec < 2; sec++) {
        const char *sname = sec == 0 ? "credentials" : "clients";
        json_t *o = json_object_get(doc->root, sname);
        if (!o) continue;
        const jdoc_pos *sp = policy_member_or(doc->pos, sname);
        if (!json_is_object(o)) { jdoc_err(c, sp, "%s: must be an object", sname); continue; }
        size_t n = json_object_size(o);
        if (sec == 0) f->credentials = cb_calloc(n ? n : 1, sizeof *f->credentials);
        else f->clients = cb_calloc(n ? n : 1, sizeof *f->clients);
        const char *k;
        json_t *it;
        json_object_foreach(o, k, it) {
            const jdoc_pos *ip = policy_member_or(sp, k);
            if (sec == 0) parse_credential(c, k, it, ip, &f->credentials[f->ncredentials++]);
            else parse_client(c, k, it, ip, &f->clients[f->nclients++]);
        }
    }
    json_t *co = json_object_get(doc->root, "connections");
    if (co) {
        const jdoc_pos *cp = policy_member_or(doc->pos, "connections");
        if (!json_is_object(co)) {
            jdoc_err(c, cp, "connections: must be an object");
        } else {
            size_t n = json_object_size(co);
            f->connections = cb_calloc(n ? n : 1, sizeof *f->connections);
            const char *k;
            json_t *it;
            json_object_foreach(co, k, it) policy_parse_connection(c, k, it, policy_member_or(cp, k), &f->connections[f->nconnections++]);
        }
    }
}

static void dup_err(jdoc_ctx *c, const char *what, const char *name, const policy_origin *first, const policy_origin *second)
{
    char q[80];
    jdoc_quote(name, q);
    cb_diags_add(c->d, second->file, second->line, second->column, "%s \"%s\" already defined in %s:%d:%d",
                 what, q, first->file, first->line, first->column);
    c->errors++;
}

int policy_add_buffer(cb_policy *p, const char *name, const char *text, size_t len, cb_diags *diags)
{
    jdoc doc;
    if (jdoc_parse(&doc, name, text, len, diags) != 0) {
        jdoc_free(&doc);
        return 1;
    }
    jdoc_ctx c = {name, diags, 0};
    cb_policy *f = policy_new();
    parse_doc(&c, &doc, f);
    jdoc_free(&doc);

    /* duplicates against what earlier files defined */
    for (size_t i = 0; i < f->ncredentials; i++) {
        const policy_credential *old = policy_credential_get(p, f->credentials[i].name);
        if (old) dup_err(&c, "credential", old->name, &old->origin, &f->credentials[i].origin);
    }
    for (size_t i = 0; i < f->nclients; i++) {
        const policy_client *old = policy_client_get(p, f->clients[i].name);
        if (old) dup_err(&c, "client", old->name, &old->origin, &f->clients[i].origin);
    }
    for (size_t i = 0; i < f->nconnections; i++) {
        const policy_connection *old = policy_connection_get(p, f->connections[i].name);
        if (old) dup_err(&c, "connection", old->name, &old->origin, &f->connections[i].origin);
    }
    policy_requirements *R = &p->requirements, *F = &f->requirements;
    if (R->mcp_least_privilege >= 0 && F->mcp_least_privilege >= 0)
        dup_err(&c, "requirement", "mcp_least_privilege", &R->mcp_least_privilege_origin, &F->mcp_least_privilege_origin);
    if (R->min_sslmode && F->min_sslmode)
        dup_err(&c, "requirement", "min_sslmode", &R->min_sslmode_origin, &F->min_sslmode_origin);
    if (R->max_connect_timeout_s && F->max_connect_timeout_s)
        dup_err(&c, "requirement", "max_connect_timeout_s", &R->max_connect_timeout_origin, &F->max_connect_timeout_origin);
    if (R->require_encryption >= 0 && F->require_encryption >= 0)
        dup_err(&c, "requirement", "require_encryption", &R->require_encryption_origin, &F->require_encryption_origin);
    if (p->monitoring.set && f->monitoring.set) dup_err(&c, "section", "monitoring", &p->monitoring.origin, &f->monitoring.origin);
    if (c.errors) {
        policy_free(f);
        return c.errors;
    }

    /* merge: move f's items into p */
    if (f->ncredentials) {
        p->credentials = cb_realloc(p->credentials, (p->ncredentials + f->ncredentials) * sizeof *p->credentials);
        memcpy(p->credentials + p->ncredentials, f->credentials, f->ncredentials * sizeof *f->credentials);
        p->ncredentials += f->ncredentials;
        f->ncredentials = 0;
    }
    if (f->nclients) {
        p->clients = cb_realloc(p->clients, (p->nclients + f->nclients) * sizeof *p->clients);
        memcpy(p->clients + p->nclients, f->clients, f->nclients * sizeof *f->clients);
        p->nclients += f->nclients;
        f->nclients = 0;
    }
    if (f->nconnections) {
        p->connections = cb_realloc(p->connections, (p->nconnections + f->nconnections) * sizeof *p->connections);
        memcpy(p->connections + p->nconnections, f->connections, f->nconnections * sizeof *f->connections);
        p->nconnections += f->nconnections;
        f->nconnections = 0;
    }
    if (F->mcp_least_privilege >= 0) {
        R->mcp_least_privilege = F->mcp_least_privilege;
        R->mcp_least_privilege_origin = F->mcp_least_privilege_origin;
        F->mcp_least_privilege_origin.file = NULL;
    }
    if (F->min_sslmode) {
        R->min_sslmode = F->min_sslmode;
        R->min_sslmode_origin = F->min_sslmode_origin;
        F->min_sslmode_origin.file = NULL;
    }
    if (F->max_connect_timeout_s) {
        R->max_connect_timeout_s = F->max_connect_timeout_s;
        R->max_connect_timeout_origin = F->max_connect_timeout_origin;
        F->max_connect_timeout_origin.file = NULL;
    }
    if (F->require_encryption >= 0) {
        R->require_encryption = F->require_encryption;
        R->require_encryption_origin = F->require_encryption_origin;
        F->require_encryption_origin.file = NULL;
    }
    if (f->monitoring.set) { /* take f's monitoring whole */
        policy_monitoring t = p->monitoring;
        p->monitoring = f->monitoring;
        f->monitoring = t;
    }
    policy_free(f);
    p->files = cb_realloc(p->files, (p->nfiles + 1) * sizeof *p->files);
    p->files[p->nfiles++] = cb_strdup(name);
    return 0;
}

int policy_load_buffer(const char *name, const char *text, size_t len, cb_policy **out,
                       cb_diags *diags, cb_error *e)
{
    *out = NULL;
    cb_diags local = {0};
    cb_diags *d = diags ? diags : &local;
    size_t before = d->count;
    cb_policy *p = policy_new();
    if (policy_add_buffer(p, name, text, len, d) != 0) {
        policy_free(p);
        int rc = cb_diags_fail(d, before, e, CB_K_INVALID);
        cb_diags_free(&local);
        return rc;
    }
    *out = p;
    return 0;
}

static int is_policy_file(const char *n)
{
    size_t len = strlen(n);
    if (n[0] == '.' || len < 6 || strcmp(n + len - 5, ".json") != 0) return 0;
    if (strcmp(n, "schema.json") == 0) return 0;
    if (len >= 12 && strcmp(n + len - 12, ".schema.json") == 0) return 0;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int policy_load(const char *dir, cb_policy **out, cb_diags *diags, cb_error *e)
{
    *out = NULL;
    if (!dir || !*dir) dir = POLICY_DEFAULT_DIR;
    cb_diags local = {0};
    cb_diags *d = diags ? diags : &local;
    size_t before = d->count;
    DIR *dh = opendir(dir);
    if (!dh) {
        int er = errno;
        cb_diags_add(d, dir, 0, 0, "policies directory: %s", strerror(er));
        int rc = cb_diags_fail(d, before, e, er == ENOENT ? CB_K_NOTFOUND : CB_K_INVALID);
        cb_diags_free(&local);
        return rc;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        if (!is_policy_file(de->d_name)) continue;
        char *full = cb_sprintf("%s/%s", dir, de->d_name);
        struct stat st;
        int isdir = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
        free(full);
        if (isdir) continue;   /* a directory named x.json is not a policy */
        if (n == cap) { cap = cap ? cap * 2 : 16; names = cb_realloc(names, cap * sizeof *names); }
        names[n++] = cb_strdup(de->d_name);
    }
    closedir(dh);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    cb_policy *p = policy_new();
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        size_t dl = strlen(dir);
        char *full = cb_sprintf("%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", names[i]);
        size_t len = 0;
        char *text = jdoc_read_file(full, full, POLICY_MAX_FILE_BYTES, &len, d);
        if (!text) bad++;
        else if (policy_add_buffer(p, full, text, len, d) != 0) bad++;
        free(text);
        free(full);
    }
    policy_strv_free(names, n);
    if (bad) {
        policy_free(p);
        int rc = cb_diags_fail(d, before, e, CB_K_INVALID);
        cb_diags_free(&local);
        return rc;
    }
    *out = p;
    return 0;
}

/* ---------------- lookups and access ---------------- */

const policy_credential *policy_credential_get(const cb_policy *p, const char *name)
{
    if (!p || !name) return NULL;
    for (size_t i = 0; i < p->ncredentials; i++)
        if (strcmp(p->credentials[i].name, name) == 0) return &p->credentials[i];
    return NULL;
}

const policy_client *policy_client_get(const cb_policy *p, const char *name)
{
    if (!p || !name) return NULL;
    for (size_t i = 0; i < p->nclients; i++)
        if (strcmp(p->clients[i].name, name) == 0) return &p->clients[i];
    return NULL;
}

static int in_list(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0) return 1;
    return 0;
}

/* Tool classes (tool_class.c): "*" grants the read-only class, and the write class to a
 * read-write client; an admin tool is granted only by its name or "admin": true; a write
 * tool always needs mode read-write. */
int policy_client_may_call(const policy_client *c, const char *tool)
{
    if (!c || !tool || !*tool) return 0;
    int named = in_list(c->tools, c->ntools, tool);
    switch (policy_tool_class_of(tool)) {
    case POLICY_TOOL_ADMIN: return named || c->admin;
    case POLICY_TOOL_WRITE: return (named || c->all_tools) && c->mode == POLICY_READ_WRITE;
    default: return named || c->all_tools;
    }
}

int policy_client_may_use(const policy_client *c, const char *connection)
{
    if (!c || !connection || !*connection) return 0;
    return c->all_connections || in_list(c->connections, c->nconnections, connection);
}

/* ---------------- effective policy as JSON ---------------- */

static json_t *name_list_json(int all, char *const *v, size_t n)
{
    json_t *a = json_array();
    if (all) { json_array_append_new(a, json_string("*")); return a; }
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(v[i]));
    return a;
}

json_t *policy_to_json(const cb_policy *p)
{
    json_t *root = json_object(), *req = json_object(), *creds = json_object(), *clients = json_object();
    const policy_requirements *r = &p->requirements;
    if (r->min_sslmode) json_object_set_new(req, "min_sslmode", json_string(policy_sslmode_name(r->min_sslmode)));
    if (r->max_connect_timeout_s) json_object_set_new(req, "max_connect_timeout_s", json_integer(r->max_connect_timeout_s));
    if (r->require_encryption >= 0) json_object_set_new(req, "require_encryption", json_boolean(r->require_encryption));
    if (r->mcp_least_privilege >= 0) json_object_set_new(req, "mcp_least_privilege", json_boolean(r->mcp_least_privilege));
    for (size_t i = 0; i < p->ncredentials; i++) {
        const policy_credential *c = &p->credentials[i];
        json_t *o = json_object(), *pw = json_object(), *cls = json_array();
        json_object_set_new(o, "connection", json_string(c->connection ? c->connection : ""));
        if (c->admin_connection) json_object_set_new(o, "admin_connection", json_string(c->admin_connection));
        if (c->schedule) json_object_set_new(o, "schedule", json_string(c->schedule));
        json_object_set_new(o, "timezone", json_string(c->timezone));
        json_object_set_new(o, "strategy", json_string(policy_strategy_name(c->strategy)));
        if (c->users[0]) json_object_set_new(o, "users", json_pack("[s,s]", c->users[0], c->users[1]));
        if (c->alternate_connection) json_object_set_new(o, "alternate_connection", json_string(c->alternate_connection));
        json_object_set_new(pw, "length", json_integer(c->password.length));
        for (int k = 0; k < 4; k++)
            if (c->password.classes & (1u << k)) json_array_append_new(cls, json_string(CLASS_NAMES[k]));
        json_object_set_new(pw, "classes", cls);
        json_object_set_new(pw, "exclude", json_string(c->password.exclude ? c->password.exclude : ""));
        json_object_set_new(o, "password", pw);
        if (c->publish_to) json_object_set_new(o, "publish_to", json_string(c->publish_to));
        json_object_set_new(creds, c->name, o);
    }
    for (size_t i = 0; i < p->nclients; i++) {
        const policy_client *c = &p->clients[i];
        json_t *o = json_object();
        json_object_set_new(o, "tools", name_list_json(c->all_tools, c->tools, c->ntools));
        json_object_set_new(o, "connections", name_list_json(c->all_connections, c->connections, c->nconnections));
        json_object_set_new(o, "mode", json_string(policy_mode_name(c->mode)));
        json_object_set_new(o, "max_rows", json_integer(c->max_rows));
        json_object_set_new(o, "statement_timeout_ms", json_integer(c->statement_timeout_ms));
        if (c->max_bytes) json_object_set_new(o, "max_bytes", json_integer(c->max_bytes));
        json_object_set_new(o, "reveal", json_boolean(c->reveal));
        json_object_set_new(o, "sensitive_params", json_boolean(c->sensitive_params));
        if (c->rate_limit_per_min) json_object_set_new(o, "rate_limit_per_min", json_integer(c->rate_limit_per_min));
        if (c->nsettings) json_object_set_new(o, "session_settings", policy_session_settings_json(c));
        json_object_set_new(o, "admin", json_boolean(c->admin));
        json_object_set_new(clients, c->name, o);
    }
    if (p->nconnections) json_object_set_new(root, "connections", policy_connections_json(p));

    json_object_set_new(root, "requirements", req);
    json_object_set_new(root, "credentials", creds);
    json_object_set_new(root, "clients", clients);
    json_object_set_new(root, "monitoring", policy_monitoring_json(&p->monitoring));
    return root;
}
