/* The store's schema on each backend: two migration lists that bring a store to the same
 * logical version (STORE_SCHEMA_VERSION), each with its own version record (SQLite:
 * PRAGMA user_version; PostgreSQL: the schema_version table). The tables, columns and
 * unique indexes are the same on both; PostgreSQL spells BLOB as BYTEA, INTEGER as BIGINT
 * and triggers as plpgsql functions. A new migration is added to both lists with the same
 * version number. */
#include <stdio.h>
#include "store_schema.h"

typedef struct migration {
    int version;       /* the logical version this step brings the store to */
    const char *sql;
} migration;

/* SQLite: index i brings the schema from version i to i+1 (history of existing files). */
static const migration SQLITE_STEPS[] = {
    {1, "CREATE TABLE meta (k TEXT PRIMARY KEY, v BLOB, key_version INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE connections ("
        "  name TEXT PRIMARY KEY, engine TEXT NOT NULL, description TEXT,"
        "  url_enc BLOB, redacted TEXT, source_ref TEXT, key_version INTEGER NOT NULL DEFAULT 0,"
        "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, last_used INTEGER, last_rotated INTEGER);"
        "CREATE TABLE secrets ("
        "  ns TEXT NOT NULL, name TEXT NOT NULL, value_enc BLOB NOT NULL, version TEXT, meta TEXT,"
        "  key_version INTEGER NOT NULL DEFAULT 0, fetched_at INTEGER, updated_at INTEGER NOT NULL,"
        "  PRIMARY KEY (ns, name));"
        "CREATE TABLE api_keys ("
        "  name TEXT PRIMARY KEY, policy TEXT NOT NULL, hash BLOB NOT NULL, prefix TEXT,"
        "  created_at INTEGER NOT NULL, last_used INTEGER, revoked_at INTEGER);"
        "CREATE TABLE audit ("
        "  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
        "  target TEXT, outcome TEXT NOT NULL, detail TEXT, duration_ms INTEGER,"
        "  prev_hash BLOB NOT NULL, hash BLOB NOT NULL);"
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"},
    /* provider-backed connections: what was fetched when (values live in connections) */
    {2, "CREATE TABLE source_state ("
        "  name TEXT PRIMARY KEY, ref TEXT NOT NULL, version TEXT, fetched_at INTEGER,"
        "  last_attempt INTEGER, last_error TEXT);"},
    /* rotation journal (one row per rotation in progress; pending passwords live sealed in
     * secrets ns "pending", never here) and scheduler state */
    {3, "CREATE TABLE rotation_journal ("
        "  credential TEXT PRIMARY KEY, id TEXT NOT NULL, step TEXT NOT NULL, strategy TEXT NOT NULL,"
        "  target_user TEXT NOT NULL, connection TEXT NOT NULL, publish_to TEXT, pending_version TEXT,"
        "  started_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, owner_pid INTEGER, owner_host TEXT,"
        "  error TEXT);"
        "CREATE TABLE schedule_state ("
        "  credential TEXT PRIMARY KEY, schedule TEXT, first_seen INTEGER NOT NULL, last_success INTEGER,"
        "  last_run INTEGER, last_result TEXT, next_run INTEGER);"},
    /* metadata sealed too: the plaintext redacted URL is dropped; it is derived from the
     * sealed URL on read (conn/conn_redacted.c), and secure_delete zeroes the freed bytes */
    {4, "UPDATE connections SET redacted = NULL WHERE redacted IS NOT NULL;"},
    /* leased query logins (leases.c; passwords sealed in secrets ns "lease") and API-key
     * attributes for session settings (apikeys.c) */
    {5, "CREATE TABLE leases ("
        "  id TEXT PRIMARY KEY, client TEXT NOT NULL, connection TEXT NOT NULL, login TEXT NOT NULL,"
        "  admin_connection TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
        "  updated_at INTEGER NOT NULL, state TEXT NOT NULL, error TEXT, owner_pid INTEGER, owner_host TEXT);"
        "CREATE UNIQUE INDEX leases_live ON leases (client, connection) WHERE state IN ('creating', 'active');"
        "ALTER TABLE api_keys ADD COLUMN attrs TEXT;"},
    /* a generation number for the API keys, bumped by every change that can make a key
     * valid or invalid (not last_used), so a server's token cache knows when to drop */
    {6, "INSERT OR IGNORE INTO meta(k, v) VALUES('apikeys_gen', 0);"
        "CREATE TRIGGER api_keys_gen_ins AFTER INSERT ON api_keys BEGIN"
        "  UPDATE meta SET v = v + 1 WHERE k = 'apikeys_gen'; END;"
        "CREATE TRIGGER api_keys_gen_upd AFTER UPDATE OF name, policy, hash, prefix, revoked_at ON api_keys BEGIN"
        "  UPDATE meta SET v = v + 1 WHERE k = 'apikeys_gen'; END;"
        "CREATE TRIGGER api_keys_gen_del AFTER DELETE ON api_keys BEGIN"
        "  UPDATE meta SET v = v + 1 WHERE k = 'apikeys_gen'; END;"},
};

/* PostgreSQL: the whole schema at version 6 in one step (no store existed before). meta.v
 * is bytea, so the API-key generation is kept as decimal digits in bytes, as meta_put_long
 * writes numbers, and read back by column_int64. Triggers NOTIFY the store's channel
 * (credbroker_<schema>) on a committed change that other brokers must see at once. */
static const migration POSTGRES_STEPS[] = {
    {6, "CREATE TABLE schema_version (v BIGINT NOT NULL);"
        "INSERT INTO schema_version VALUES (0);"
        "CREATE TABLE meta (k TEXT PRIMARY KEY, v BYTEA, key_version BIGINT NOT NULL DEFAULT 0);"
        "CREATE TABLE connections ("
        "  name TEXT PRIMARY KEY, engine TEXT NOT NULL, description TEXT,"
        "  url_enc BYTEA, redacted TEXT, source_ref TEXT, key_version BIGINT NOT NULL DEFAULT 0,"
        "  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, last_used BIGINT, last_rotated BIGINT);"
        "CREATE TABLE secrets ("
        "  ns TEXT NOT NULL, name TEXT NOT NULL, value_enc BYTEA NOT NULL, version TEXT, meta TEXT,"
        "  key_version BIGINT NOT NULL DEFAULT 0, fetched_at BIGINT, updated_at BIGINT NOT NULL,"
        "  PRIMARY KEY (ns, name));"
        "CREATE TABLE api_keys ("
        "  name TEXT PRIMARY KEY, policy TEXT NOT NULL, hash BYTEA NOT NULL, prefix TEXT,"
        "  created_at BIGINT NOT NULL, last_used BIGINT, revoked_at BIGINT, attrs TEXT);"
        "CREATE TABLE audit ("
        "  id BIGINT PRIMARY KEY, ts BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
        "  target TEXT, outcome TEXT NOT NULL, detail TEXT, duration_ms BIGINT,"
        "  prev_hash BYTEA NOT NULL, hash BYTEA NOT NULL);"
        "CREATE TABLE source_state ("
        "  name TEXT PRIMARY KEY, ref TEXT NOT NULL, version TEXT, fetched_at BIGINT,"
        "  last_attempt BIGINT, last_error TEXT);"
        "CREATE TABLE rotation_journal ("
        "  credential TEXT PRIMARY KEY, id TEXT NOT NULL, step TEXT NOT NULL, strategy TEXT NOT NULL,"
        "  target_user TEXT NOT NULL, connection TEXT NOT NULL, publish_to TEXT, pending_version TEXT,"
        "  started_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, owner_pid BIGINT, owner_host TEXT,"
        "  error TEXT);"
        "CREATE TABLE schedule_state ("
        "  credential TEXT PRIMARY KEY, schedule TEXT, first_seen BIGINT NOT NULL, last_success BIGINT,"
        "  last_run BIGINT, last_result TEXT, next_run BIGINT);"
        "CREATE TABLE leases ("
        "  id TEXT PRIMARY KEY, client TEXT NOT NULL, connection TEXT NOT NULL, login TEXT NOT NULL,"
        "  admin_connection TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,"
        "  updated_at BIGINT NOT NULL, state TEXT NOT NULL, error TEXT, owner_pid BIGINT, owner_host TEXT);"
        "CREATE UNIQUE INDEX leases_live ON leases (client, connection) WHERE state IN ('creating', 'active');"
        /* append-only audit: row updates, deletes and TRUNCATE refused */
        "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
        "  BEGIN RAISE EXCEPTION 'audit is append-only'; END $$;"
        "CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
        "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();"
        /* the API-key generation, bumped as in SQLite, and a NOTIFY for the other brokers */
        "INSERT INTO meta(k, v) VALUES('apikeys_gen', convert_to('0', 'UTF8')) ON CONFLICT DO NOTHING;"
        "CREATE FUNCTION api_keys_gen_bump() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$"
        "  BEGIN"
        "    UPDATE meta SET v = convert_to((convert_from(v, 'UTF8')::bigint + 1)::text, 'UTF8') WHERE k = 'apikeys_gen';"
        "    PERFORM pg_notify('credbroker_' || TG_TABLE_SCHEMA, 'api_keys');"
        "    RETURN NULL;"
        "  END $$;"
        "CREATE TRIGGER api_keys_gen_ins AFTER INSERT OR DELETE ON api_keys FOR EACH ROW EXECUTE FUNCTION api_keys_gen_bump();"
        "CREATE TRIGGER api_keys_gen_upd AFTER UPDATE OF name, policy, hash, prefix, revoked_at ON api_keys"
        "  FOR EACH ROW EXECUTE FUNCTION api_keys_gen_bump();"
        "CREATE FUNCTION notify_change() RETURNS trigger LANGUAGE plpgsql AS $$"
        "  BEGIN PERFORM pg_notify('credbroker_' || TG_TABLE_SCHEMA, TG_TABLE_NAME); RETURN NULL; END $$;"
        "CREATE TRIGGER leases_notify AFTER INSERT OR UPDATE OR DELETE ON leases"
        "  FOR EACH STATEMENT EXECUTE FUNCTION notify_change();"
        "CREATE TRIGGER meta_key_version_notify AFTER INSERT OR UPDATE ON meta FOR EACH ROW"
        "  WHEN (NEW.k = 'key_version') EXECUTE FUNCTION notify_change();"},
};

#define COUNT(a) (int)(sizeof a / sizeof a[0])

static const migration *steps_of(sdb *db, int *n)
{
    if (sdb_kind_of(db) == SDB_KIND_POSTGRES) {
        *n = COUNT(POSTGRES_STEPS);
        return POSTGRES_STEPS;
    }
    *n = COUNT(SQLITE_STEPS);
    return SQLITE_STEPS;
}

static int query_int(sdb *db, const char *sql, int *v)
{
    sdb_stmt *st;
    *v = -1;
    if (sdb_prepare(db, sql, &st) != SDB_OK) return -1;
    int r = sdb_step(st);
    if (r == SDB_ROW) *v = sdb_column_type(st, 0) == SDB_NULL ? 0 : sdb_column_int(st, 0);
    sdb_finalize(st);
    return r == SDB_ROW && *v >= 0 ? 0 : -1;
}

int store_schema_version(sdb *db, int *v)
{
    if (sdb_kind_of(db) != SDB_KIND_POSTGRES) return query_int(db, "PRAGMA user_version", v);
    /* no table yet: a schema with no store (current_schema() is NULL while the schema
     * itself does not exist) */
    int have;
    if (query_int(db, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_version'",
                  &have))
        return -1;
    if (!have) {
        *v = 0;
        return 0;
    }
    return query_int(db, "SELECT max(v) FROM schema_version", v);
}

static int set_version(sdb *db, int v)
{
    char sql[64];
    if (sdb_kind_of(db) == SDB_KIND_POSTGRES) snprintf(sql, sizeof sql, "UPDATE schema_version SET v = %d", v);
    else snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
    return sdb_exec(db, sql);
}

int store_schema_migrate(sdb *db, int from)
{
    int n;
    const migration *m = steps_of(db, &n);
    for (int i = 0; i < n; i++) {
        if (m[i].version <= from) continue;
        if (sdb_exec(db, m[i].sql) != SDB_OK) return -1;
    }
    return set_version(db, STORE_SCHEMA_VERSION) == SDB_OK ? 0 : -1;
}
