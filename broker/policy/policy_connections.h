/* Policy sections for least privilege, used by policy.c only: connections.NAME
 * (query_identity) and clients' session_settings (see policy.h for the structures). */
#ifndef CB_POLICY_CONNECTIONS_H
#define CB_POLICY_CONNECTIONS_H
#include <jansson.h>
#include "jsondoc.h"
#include "policy.h"

void policy_parse_connection(jdoc_ctx *c, const char *name, json_t *o, const jdoc_pos *pos, policy_connection *pc);
void policy_parse_session_settings(jdoc_ctx *c, json_t *v, const jdoc_pos *at, const char *path, policy_client *cl);
void policy_connection_free(policy_connection *c);
json_t *policy_session_settings_json(const policy_client *c);
json_t *policy_connections_json(const cb_policy *p);

#endif
