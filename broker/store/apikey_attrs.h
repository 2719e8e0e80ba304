/* Attributes of an API key (e.g. user_id=42), set by the operator at `apikey create
 * --attr` and never by a model: a client's session_settings use them as
 * ${apikey.attr.NAME} for row-level security. Not secret (plain JSON in api_keys.attrs). */
#ifndef CB_APIKEY_ATTRS_H
#define CB_APIKEY_ATTRS_H
#include <jansson.h>
#include "store.h"

#define APIKEY_ATTRS_MAX 16

/* Parses "name=value" (name: 1..64 of [A-Za-z0-9_]; value: 1..256 printable characters)
 * into attrs (an object). CB_EUSAGE with the reason otherwise. */
int apikey_attr_parse(const char *arg, json_t *attrs, cb_error *e);
/* Stores attrs (object of strings) with key name. */
int apikey_set_attrs(cb_store *s, const char *name, json_t *attrs, cb_error *e);
/* *out: the key's attributes (an object, possibly empty; new reference). CB_K_NOTFOUND
 * when there is no such key. */
int apikey_get_attrs(cb_store *s, const char *name, json_t **out, cb_error *e);

#endif
