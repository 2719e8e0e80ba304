/* Rotation's small public helpers: step names, the password policy of a credential,
 * the TLS ladder (min_sslmode) and the value published to a provider. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "rotation.h"
#include "rotation_internal.h"
#include "password.h"
#include "conn/connstr.h"

static const char *const STEP_NAMES[] = {"none", "create", "set", "test", "finish"};

int rotation_step_from_name(const char *name)
{
    for (int i = STEP_CREATE; i <= STEP_FINISH; i++)
        if (name && strcmp(name, STEP_NAMES[i]) == 0) return i;
    return 0;
}

const char *rotation_step_name(int step) { return step >= STEP_CREATE && step <= STEP_FINISH ? STEP_NAMES[step] : "none"; }

int rotation_pw_policy(const policy_credential *c, pw_policy *out, cb_error *e)
{
    pw_policy_default(out);
    if (c->password.length) out->length = c->password.length;
    if (c->password.classes) out->classes = c->password.classes & PW_ALL;
    if (c->password.exclude) {
        if (strlen(c->password.exclude) >= sizeof out->exclude)
            return cb_fail(e, CB_EUSAGE, CB_K_INVALID, "credential %s: password.exclude is too long", c->name);
        snprintf(out->exclude, sizeof out->exclude, "%s", c->password.exclude);
    }
    if (pw_policy_check(out, e)) {
        cb_error_prefix(e, "credential %s: password policy", c->name);
        return CB_EUSAGE;
    }
    return 0;
}

static int truthy(const char *v)
{
    return v && (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "1") || !strcasecmp(v, "mandatory") ||
                 !strcasecmp(v, "strict"));
}

int rotation_check_sslmode(const conn_url *u, int min, const char *conn_name, cb_error *e)
{
    if (min <= POLICY_SSL_UNSET) return 0;
    if (u->engine && strcmp(u->engine, "postgres") == 0) {
        static const char *const ladder[] = {"", "disable", "allow", "prefer", "require", "verify-ca", "verify-full"};
        const char *m = conn_url_param(u, "sslmode");
        int have = POLICY_SSL_PREFER; /* libpq's default */
        if (m) {
            have = -1;
            for (int i = 1; i <= POLICY_SSL_VERIFY_FULL; i++)
                if (strcmp(m, ladder[i]) == 0) have = i;
        }
        if (have < min)
            return cb_fail(e, CB_EUSAGE, CB_K_DENIED, "policy: connection %s has sslmode=%s, below requirements.min_sslmode=%s",
                           conn_name, m ? m : "prefer (default)", policy_sslmode_name((policy_sslmode)min));
        return 0;
    }
    if (u->engine && strcmp(u->engine, "mysql") == 0) {
        /* ssl-mode on libpq's ladder: DISABLED PREFERRED REQUIRED VERIFY_CA VERIFY_IDENTITY */
        static const char *const my[] = {"", "DISABLED", "", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"};
        const char *m = conn_url_param(u, "ssl-mode");
        int have = POLICY_SSL_PREFER; /* the client's default */
        if (m) {
            have = -1;
            for (int i = 1; i <= POLICY_SSL_VERIFY_FULL; i++)
                if (*my[i] && strcasecmp(m, my[i]) == 0) have = i;
        }
        if (have < min)
            return cb_fail(e, CB_EUSAGE, CB_K_DENIED, "policy: connection %s has ssl-mode=%s, below requirements.min_sslmode=%s",
                           conn_name, m ? m : "PREFERRED (default)", policy_sslmode_name((policy_sslmode)min));
        return 0;
    }
    if (u->engine && strcmp(u->engine, "sqlserver") == 0 && min >= POLICY_SSL_REQUIRE) {
        const char *enc = conn_url_param(u, "Encrypt");
        if (!truthy(enc))
            return cb_fail(e, CB_EUSAGE, CB_K_DENIED, "policy: connection %s is not encrypted (Encrypt=%s), requirements.min_sslmode=%s",
                           conn_name, enc ? enc : "unset", policy_sslmode_name((policy_sslmode)min));
    }
    return 0;
}

char *rotation_published_value(const conn_url *u, const char *field)
{
    char *url = conn_url_format(u);
    json_t *o = json_pack("{s:s,s:s?,s:i,s:s?,s:s?,s:s?,s:s}", "engine", u->engine ? u->engine : "", "host", u->host, "port",
                          u->port ? u->port : conn_default_port(u->engine ? u->engine : ""), "username", u->user, "password",
                          u->password, "dbname", u->dbname, "url", url ? url : "");
    /* publish_to ...#field: readers of that field get the URL unless it is one of ours */
    if (o && field && *field && !strchr(field, '.') && !json_object_get(o, field))
        json_object_set_new(o, field, json_string(url ? url : ""));
    cb_free_secret(url);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (o) {
        /* wipe the copies jansson holds */
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v)
            if (json_is_string(v)) cb_wipe((char *)json_string_value(v), json_string_length(v));
        json_decref(o);
    }
    return s;
}
