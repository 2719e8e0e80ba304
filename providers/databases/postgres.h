/* PostgreSQL db_target (libpq). */
#ifndef CB_POSTGRES_H
#define CB_POSTGRES_H
#include "db_target.h"

extern const db_target postgres_target;

/* 1 (default): query_readonly also applies the text layer (pg_lexer.c: one statement,
 * first-keyword allow-list, writes/INTO/locking clauses, function deny-list on decoded
 * names). Test binaries set 0 (db_tool: DB_TOOL_NO_PREFILTER, mcp_cli:
 * MCP_CLI_NO_PREFILTER) to prove that the database refuses the same statements alone. */
extern int pg_readonly_prefilter;

/* The 64-bit advisory lock key for a lock name: first 8 bytes of
 * SHA-256("credbroker:" || name), big endian, as a signed int64. */
long long pg_lock_key(const char *name);

#endif
