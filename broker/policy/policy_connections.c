/* Policy sections for least privilege (issue 10): connections.NAME.query_identity and a
 * client's session_settings. Parsed with the same file:line:column diagnostics as policy.c. */
#include "policy_connections.h"
#include "policy_values.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void policy_connection_free(policy_connection *c)
{
    free(c->name);
    if (c->query_identity) {
        free(c->query_identity->admin_connection);
        policy_strv_free(c->query_identity->member_of, c->query_identity->nmember_of);
        free(c->query_identity);
    }
    free(c->origin.file);
    memset(c, 0, sizeof *c);
}

/* A custom setting name ("app.current_user_id"): a dot is required, so a policy can never
 * name a built-in setting such as role, session_authorization or search_path. */
static int valid_setting_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 63 || !strchr(s, '.') || s[0] == '.' || s[n - 1] == '.') return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_' || s[i] == '.')) return 0;
    return !isdigit((unsigned char)s[0]);
}

/* ${client} and ${apikey.attr.NAME} only; anything else in ${...} is an error. */
static const char *setting_template_error(const char *v)
{
    for (const char *p = strstr(v, "${"); p; p = strstr(p + 2, "${")) {
        const char *end = strchr(p, '}');
        if (!end) return "unterminated ${";
        size_t n = (size_t)(end - p - 2);
        if (n == 6 && !strncmp(p + 2, "client", 6)) continue;
        if (n > 12 && n <= 12 + 64 && !strncmp(p + 2, "apikey.attr.", 12)) {
            for (const char *q = p + 14; q < end; q++)
                if (!(isalnum((unsigned char)*q) || *q == '_')) return "attribute names are letters, digits and _";
            continue;
        }
        return "only ${client} and ${apikey.attr.NAME} may be used";
    }
    return NULL;
}

void policy_parse_session_settings(jdoc_ctx *c, json_t *v, const jdoc_pos *at, const char *path, policy_client *cl)
{
    if (!json_is_object(v)) { jdoc_err(c, at, "%s: must be an object of setting name -> value", path); return; }
    size_t n = json_object_size(v);
    if (n > 32) { jdoc_err(c, at, "%s: at most 32 settings", path); return; }
    cl->setting_names = cb_calloc(n ? n : 1, sizeof *cl->setting_names);
    cl->setting_values = cb_calloc(n ? n : 1, sizeof *cl->setting_values);
    const char *k;
    json_t *it;
    json_object_foreach(v, k, it) {
        const jdoc_pos *ip = policy_member_or(at, k);
        char q[80];
        jdoc_quote(k, q);
        char *sub = cb_sprintf("%s.%s", path, q);
        const char *val = policy_get_str(c, it, ip, sub, 1024);
        const char *why = val ? setting_template_error(val) : NULL;
        if (!valid_setting_name(k))
            jdoc_err(c, ip, "%s: not a custom setting name (lower-case prefix.name, e.g. app.current_user_id)", sub);
        else if (why)
            jdoc_err(c, ip, "%s: %s", sub, why);
        else if (val) {
            cl->setting_names[cl->nsettings] = cb_strdup(k);
            cl->setting_values[cl->nsettings++] = cb_strdup(val);
        }
        free(sub);
    }
}

void policy_parse_connection(jdoc_ctx *c, const char *name, json_t *o, const jdoc_pos *pos, policy_connection *pc)
{
    static const char *const keys[] = {"query_identity", NULL};
    static const char *const qkeys[] = {"admin_connection", "member_of", "ttl_s", "connection_limit", NULL};
    char q[80];
    jdoc_quote(name, q);
    char *path = cb_sprintf("connections.%s", q);
    pc->name = cb_strdup(name);
    policy_set_origin(&pc->origin, c->file, pos);
    if (!policy_valid_name(name))
        jdoc_err(c, pos, "%s: not a valid connection name (1..%d of A-Z a-z 0-9 _ . -)", path, POLICY_NAME_MAX);
    if (!json_is_object(o)) { jdoc_err(c, pos, "%s: must be an object", path); free(path); return; }
    jdoc_check_keys(c, o, pos, path, keys);
    json_t *qi = json_object_get(o, "query_identity");
    if (!qi) { free(path); return; }
    const jdoc_pos *qp = policy_member_or(pos, "query_identity");
    char *qpath = cb_sprintf("%s.query_identity", path);
    if (!json_is_object(qi)) {
        jdoc_err(c, qp, "%s: must be an object", qpath);
        goto out;
    }
    jdoc_check_keys(c, qi, qp, qpath, qkeys);
    policy_query_identity *id = cb_calloc(1, sizeof *id);
    pc->query_identity = id;
    id->ttl_s = 3600;
    id->connection_limit = 4;
    json_t *v;
    long long x;
    char *sub = NULL;
#define SUBPATH(k) (free(sub), sub = cb_sprintf("%s.%s", qpath, k))
    if ((v = json_object_get(qi, "admin_connection"))) {
        SUBPATH("admin_connection");
        const char *s = policy_get_name(c, v, policy_member_or(qp, "admin_connection"), sub);
        if (s && !strcmp(s, name)) jdoc_err(c, policy_member_or(qp, "admin_connection"), "%s: must differ from the connection itself", sub);
        else if (s) id->admin_connection = cb_strdup(s);
    } else {
        jdoc_err(c, qp, "%s: missing required key \"admin_connection\"", qpath);
    }
    if ((v = json_object_get(qi, "member_of"))) {
        SUBPATH("member_of");
        const jdoc_pos *mp = policy_member_or(qp, "member_of");
        if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 16) {
            jdoc_err(c, mp, "%s: must be an array of 1..16 role names", sub);
        } else {
            size_t i;
            json_t *it;
            id->member_of = cb_calloc(json_array_size(v), sizeof *id->member_of);
            json_array_foreach(v, i, it) {
                const jdoc_pos *ip = jdoc_item(mp, i);
                const char *s = policy_get_name(c, it, ip ? ip : mp, sub);
                if (s) id->member_of[id->nmember_of++] = cb_strdup(s);
            }
        }
    } else {
        jdoc_err(c, qp, "%s: missing required key \"member_of\" (the roles the DBA made for the AI)", qpath);
    }
    if ((v = json_object_get(qi, "ttl_s"))) {
        SUBPATH("ttl_s");
        if (policy_get_int(c, v, policy_member_or(qp, "ttl_s"), sub, 60, 604800, &x) == 0) id->ttl_s = (int)x;
    }
    if ((v = json_object_get(qi, "connection_limit"))) {
        SUBPATH("connection_limit");
        if (policy_get_int(c, v, policy_member_or(qp, "connection_limit"), sub, 1, 1000, &x) == 0) id->connection_limit = (int)x;
    }
#undef SUBPATH
    free(sub);
out:
    free(qpath);
    free(path);
}

const policy_connection *policy_connection_get(const cb_policy *p, const char *name)
{
    if (!p || !name) return NULL;
    for (size_t i = 0; i < p->nconnections; i++)
        if (strcmp(p->connections[i].name, name) == 0) return &p->connections[i];
    return NULL;
}

const policy_query_identity *policy_query_identity_get(const cb_policy *p, const char *connection)
{
    const policy_connection *c = policy_connection_get(p, connection);
    return c ? c->query_identity : NULL;
}

json_t *policy_session_settings_json(const policy_client *c)
{
    json_t *ss = json_object();
    for (size_t k = 0; k < c->nsettings; k++) json_object_set_new(ss, c->setting_names[k], json_string(c->setting_values[k]));
    return ss;
}

json_t *policy_connections_json(const cb_policy *p)
{
    json_t *conns = json_object();
    for (size_t i = 0; i < p->nconnections; i++) {
        const policy_connection *c = &p->connections[i];
        json_t *o = json_object();
        const policy_query_identity *q = c->query_identity;
        if (q) {
            json_t *m = json_array();
            for (size_t k = 0; k < q->nmember_of; k++) json_array_append_new(m, json_string(q->member_of[k]));
            json_object_set_new(o, "query_identity", json_pack("{s:s,s:o,s:i,s:i}", "admin_connection",
                                                                q->admin_connection ? q->admin_connection : "", "member_of", m,
                                                                "ttl_s", q->ttl_s, "connection_limit", q->connection_limit));
        }
        json_object_set_new(conns, c->name, o);
    }
    return conns;
}
