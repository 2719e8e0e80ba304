// Drives credbroker's MCP tools with the official TypeScript SDK client (1.32.2).
//   node mcp_tools.mjs local-stdio CMD [ARGS...]   full suite as client "local" over stdio
//   node mcp_tools.mjs analyst-http URL            limited client (API key in MCP_KEY)
//   node mcp_tools.mjs writer-http URL             read-write client (API key in MCP_KEY)
//   node mcp_tools.mjs bypass CMD [ARGS...]        read-only bypass catalogue over stdio (FP_CMD, RESET_CMD)
//   node mcp_tools.mjs control URL                 the same statements through query_execute
// Every message sent and received (and the server's stderr) is appended to $TRAFFIC.
// Prints "PASS name" / "FAIL name: detail"; exit 1 on any failure.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { appendFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

const [suite, target, ...rest] = process.argv.slice(2);
const TRAFFIC = process.env.TRAFFIC || '/dev/null';
const log = (dir, m) => appendFileSync(TRAFFIC, `${dir} ${typeof m === 'string' ? m : JSON.stringify(m)}\n`);
let failed = 0;
const check = (name, cond, detail = '') => {
  if (cond) console.log(`PASS ${name}`);
  else { failed++; console.log(`FAIL ${name}: ${String(detail).slice(0, 600)}`); }
};

function serverEnv() {
  const env = { PATH: process.env.PATH };
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('CREDBROKER_') || k.startsWith('MCP_CLI_') || k === 'NEWKEY') env[k] = v;
  return env;
}

async function connect(mode, tgt, args) {
  let transport;
  if (mode === 'stdio') {
    transport = new StdioClientTransport({ command: tgt, args, env: serverEnv(), stderr: 'pipe' });
    transport.stderr?.on('data', d => log('stderr', d.toString()));
  } else {
    const loggingFetch = async (url, init) => {
      if (init?.body) log('http>', String(init.body));
      const res = await fetch(url, init);
      const text = await res.clone().text();
      log('http<', `${res.status} ${text}`);
      return res;
    };
    transport = new StreamableHTTPClientTransport(new URL(tgt), {
      fetch: loggingFetch, requestInit: { headers: { Authorization: 'Bearer ' + process.env.MCP_KEY } } });
  }
  const client = new Client({ name: 'credbroker-tools-test', version: '0' });
  if (mode === 'stdio') {
    const send = transport.send.bind(transport);
    transport.send = (m, o) => { log('>', m); return send(m, o); };
  }
  await client.connect(transport);
  if (mode === 'stdio') {
    const on = transport.onmessage;
    transport.onmessage = (m, x) => { log('<', m); on(m, x); };
  }
  return { client, transport };
}

const call = (client, name, args = {}) => client.callTool({ name, arguments: args });
const text = r => (r.content || []).map(c => c.text || '').join('\n');
async function throws(p) { try { await p; return null; } catch (e) { return e; } }

async function localStdio() {
  const { client } = await connect('stdio', target, rest);
  const info = client.getServerVersion();
  check('initialize: serverInfo credbroker', info?.name === 'credbroker', JSON.stringify(info));
  const { tools } = await client.listTools();
  const names = tools.map(t => t.name);
  const want = ['audit_recent', 'connection_test', 'connections_list', 'credentials_emergency_rotate', 'credentials_rotate',
    'schema_describe', 'security_assess', 'security_generate_secure_key', 'security_migrate_connections_to_encrypted',
    'security_rotate_key', 'query_readonly', 'security_monitor'].sort();
  check('tools/list: every tool but query_execute (read-only client)', JSON.stringify(names.slice().sort()) === JSON.stringify(want), JSON.stringify(names));
  check('every tool has description, inputSchema, outputSchema, annotations',
    tools.every(t => t.description && t.inputSchema?.type === 'object' && t.outputSchema && t.annotations &&
      typeof t.annotations.readOnlyHint === 'boolean'), JSON.stringify(tools.filter(t => !t.outputSchema).map(t => t.name)));
  const ann = n => tools.find(t => t.name === n)?.annotations || {};
  check('query_readonly readOnlyHint', ann('query_readonly').readOnlyHint === true);
  check('credentials_* destructiveHint', ann('credentials_rotate').destructiveHint === true && ann('credentials_emergency_rotate').destructiveHint === true);
  check('security_rotate_key destructiveHint', ann('security_rotate_key').destructiveHint === true && ann('security_rotate_key').readOnlyHint === false);

  let r = await call(client, 'connections_list');
  const conns = r.structuredContent?.connections || [];
  const shop = conns.find(c => c.name === 'shop');
  check('connections_list: shop with host, database, user, encryption, access', shop && shop.host === '127.0.0.1' &&
    shop.database === 'shop' && shop.user === 'app_ro' && shop.encryption_at_rest === 'aes-256-gcm' && shop.access === 'read-only',
    JSON.stringify(conns));
  check('connections_list: no password field or URL', !/password|postgresql:\/\//i.test(JSON.stringify(r)), JSON.stringify(r));

  r = await call(client, 'connection_test', { connection: 'shop' });
  check('connection_test: logs in, server version, round trip', !r.isError && /^\d+/.test(r.structuredContent?.server_version || '') &&
    Number.isInteger(r.structuredContent?.round_trip_ms), JSON.stringify(r));
  r = await call(client, 'connection_test', { connection: 'badpw' });
  check('connection_test with a wrong password: isError, says authentication failed', r.isError === true && /authentication failed/.test(text(r)), JSON.stringify(r));
  r = await call(client, 'connection_test', { connection: 'nope' });
  check('connection_test of an unknown connection: isError', r.isError === true, JSON.stringify(r));

  r = await call(client, 'schema_describe', { connection: 'shop', schema: 'public' });
  const items = (r.structuredContent?.tables || []).find(t => t.name === 'items');
  check('schema_describe: items with columns and primary key', items && items.columns.some(c => c.name === 'qty') &&
    JSON.stringify(items.primary_key) === '["id"]', JSON.stringify(r).slice(0, 400));

  r = await call(client, 'query_readonly', { connection: 'shop', sql: 'SELECT id, name FROM items WHERE qty > $1 ORDER BY id', params: [1] });
  const sc = r.structuredContent;
  check('query_readonly: bound parameter, columns and rows', !r.isError && sc.columns.map(c => c.name).join() === 'id,name' &&
    sc.rows.length === 2 && sc.rows[0][1] === 'pear' && sc.truncated === false && sc.limits.max_rows === 5, JSON.stringify(r));
  r = await call(client, 'query_readonly', { connection: 'shop', sql: 'SELECT $1::text AS v', params: ["'; DROP TABLE items; --"] });
  check('query_readonly: parameter is a value, never SQL', r.structuredContent?.rows?.[0]?.[0] === "'; DROP TABLE items; --", JSON.stringify(r));
  r = await call(client, 'query_readonly', { connection: 'shop', sql: 'SELECT g FROM generate_series(1, 100) g' });
  check('query_readonly: row cap from the policy -> truncated', r.structuredContent?.truncated === true && r.structuredContent.row_count === 5 &&
    r.structuredContent.rows.length === 5, JSON.stringify(r.structuredContent));
  r = await call(client, 'query_readonly', { connection: 'shop', sql: 'SELECT pg_sleep(5)' });
  check('query_readonly: statement timeout from the policy', r.isError === true && /timeout|cancel/i.test(text(r)), JSON.stringify(r));
  r = await call(client, 'query_readonly', { connection: 'shop', sql: 'SELECT 1; SELECT 2' });
  check('query_readonly: two statements refused', r.isError === true, JSON.stringify(r));
  r = await call(client, 'query_readonly', { connection: 'shop', sql: 'SELECT * FROM no_such_table' });
  check('query_readonly: SQL error is an isError result', r.isError === true && /no_such_table/.test(text(r)), JSON.stringify(r));
  r = await call(client, 'query_readonly', { connection: 'shop', sql: 'SELECT 1', params: [{ a: 1 }] });
  check('query_readonly: object parameter refused', r.isError === true, JSON.stringify(r));
  r = await call(client, 'query_execute', { connection: 'shop', sql: "INSERT INTO items(name, qty) VALUES ('x', 1)" });
  check('query_execute for a read-only client: permission denied (isError on stdio)', r.isError === true && /Permission denied.*read-only/.test(text(r)), JSON.stringify(r));

  r = await call(client, 'security_assess');
  check('security_assess: findings with severity and fix', Array.isArray(r.structuredContent?.findings) &&
    r.structuredContent.findings.some(f => f.target === 'shop' && f.check && f.fix), JSON.stringify(r).slice(0, 400));
  r = await call(client, 'security_generate_secure_key', { name: 'k1', bytes: 32 });
  check('security_generate_secure_key: name and fingerprint, no key (reveal off)', !r.isError && /^[0-9a-f]{16}$/.test(r.structuredContent?.fingerprint || '') &&
    r.structuredContent.key === undefined && r.structuredContent.stored_in.includes('local'), JSON.stringify(r));
  r = await call(client, 'security.generateSecureKey', { name: 'k2' });
  check('alias security.generateSecureKey', !r.isError && r.structuredContent?.name === 'k2', JSON.stringify(r));
  const gf = process.env.GENKEY_DIR + '/local.key';
  r = await call(client, 'security_generate_secure_key', { name: 'k3', bytes: 48, format: 'base64', store_to: 'file://' + gf });
  const stored = readFileSync(gf, 'utf8');
  check('security_generate_secure_key store_to a provider: fingerprint = SHA-256 prefix of the stored key, key not returned',
    !r.isError && r.structuredContent?.fingerprint === createHash('sha256').update(stored).digest('hex').slice(0, 16) &&
    r.structuredContent.key === undefined && Buffer.from(stored, 'base64').length === 48 && !JSON.stringify(r).includes(stored), JSON.stringify(r));
  r = await call(client, 'security_generate_secure_key', { name: 'k3', store_to: 'file://' + gf });
  check('security_generate_secure_key never overwrites a provider value', r.isError === true && /already holds/.test(text(r)) &&
    readFileSync(gf, 'utf8') === stored, JSON.stringify(r));
  r = await call(client, 'security_generate_secure_key', { name: 'k1' });
  check('security_generate_secure_key never overwrites a stored key', r.isError === true && /already exists/.test(text(r)), JSON.stringify(r));
  r = await call(client, 'security_generate_secure_key', { name: 'k4', store_to: 'nope://x' });
  check('security_generate_secure_key with a bad reference: isError', r.isError === true, JSON.stringify(r));
  r = await call(client, 'security.migrateConnectionsToEncrypted');
  check('security_migrate_connections_to_encrypted (alias): nothing to migrate', r.structuredContent?.migrated === 0, JSON.stringify(r));

  r = await call(client, 'credentials_rotate', { credential: 'appcred', reason: 'scheduled test' });
  check('credentials_rotate calls the rotation engine', !r.isError && r.structuredContent?.engine === 'test-double' &&
    r.structuredContent.actor === 'mcp:local', JSON.stringify(r));
  r = await call(client, 'credentials_emergency_rotate', { credential: 'appcred', reason: 'leak' });
  check('credentials_emergency_rotate without incident: invalid arguments (isError)', r.isError === true && /incident/.test(text(r)), JSON.stringify(r));
  r = await call(client, 'credentials_emergency_rotate', { credential: 'appcred', incident: 'INC-42', reason: 'leak', revoke_api_keys: true });
  check('credentials_emergency_rotate with incident', !r.isError && r.structuredContent?.incident === 'INC-42' && r.structuredContent.emergency === true &&
    r.structuredContent.revoked_api_keys === true, JSON.stringify(r));
  r = await call(client, 'credentials_rotate', { credential: 'broken' });
  check('rotation engine failure is sanitized', r.isError === true && /authentication failed/.test(text(r)) && !/FAKE-ROTATION-SECRET/.test(text(r)), JSON.stringify(r));
  r = await call(client, 'credentials_rotate', { credential: 'undefined-cred' });
  check('unknown credential denied', r.isError === true && /unknown credential/.test(text(r)), JSON.stringify(r));

  const e = await throws(call(client, 'no_such_tool'));
  check('unknown tool -> JSON-RPC -32602', e && e.code === -32602, String(e));
  r = await call(client, 'query_readonly', { connection: 'shop' });
  check('missing sql -> isError invalid arguments', r.isError === true && /sql/.test(text(r)), JSON.stringify(r));

  r = await call(client, 'security_rotate_key', {});
  check('security_rotate_key without a new key: isError', r.isError === true && /new master key/.test(text(r)), JSON.stringify(r));
  r = await call(client, 'security_rotate_key', { new_key_ref: 'env://NEWKEY', reencrypt: true });
  check('security_rotate_key from a reference', !r.isError && r.structuredContent?.rotated === true && r.structuredContent.reencrypted === true &&
    !JSON.stringify(r).includes(process.env.NEWKEY), JSON.stringify(r));
  r = await call(client, 'query_readonly', { connection: 'shop', sql: 'SELECT count(*) FROM items' });
  check('store still works after key rotation', !r.isError && r.structuredContent?.rows?.[0]?.[0] === 3, JSON.stringify(r));

  r = await call(client, 'audit_recent', { limit: 100 });
  const acts = (r.structuredContent?.entries || []).map(x => x.action);
  check('audit_recent shows the calls', acts.includes('mcp.query_readonly') && acts.includes('mcp.connection_test'), JSON.stringify(acts));
  await client.close();
}

async function analystHttp() {
  const { client, transport } = await connect('http', target);
  const { tools } = await client.listTools();
  const names = tools.map(t => t.name).sort();
  check('analyst tools/list shows only granted tools', JSON.stringify(names) === JSON.stringify(['audit_recent', 'connections_list', 'query_readonly', 'schema_describe']), JSON.stringify(names));
  let r = await call(client, 'connections_list');
  check('analyst sees only its connection', JSON.stringify(r.structuredContent?.connections?.map(c => c.name)) === '["shop"]', JSON.stringify(r));
  r = await call(client, 'query_readonly', { connection: 'shop', sql: 'SELECT name FROM items WHERE name <> $1 ORDER BY 1', params: ['SENSITIVE-PARAM-VALUE'] });
  check('analyst query_readonly over HTTP', !r.isError && r.structuredContent?.rows?.length === 3, JSON.stringify(r));
  let e = await throws(call(client, 'query_readonly', { connection: 'shop_admin', sql: 'SELECT 1' }));
  check('analyst: disallowed connection -> HTTP 403', e && e.code === 403 && /may not use connection/.test(e.message), String(e));
  e = await throws(call(client, 'query_execute', { connection: 'shop', sql: 'SELECT 1' }));
  check('analyst: disallowed tool -> HTTP 403', e && e.code === 403 && /may not call query_execute/.test(e.message), String(e));
  await transport.terminateSession();
  await client.close();
}

async function writerHttp() {
  const { client, transport } = await connect('http', target);
  const { tools } = await client.listTools();
  check('writer sees query_execute', tools.some(t => t.name === 'query_execute'));
  let r = await call(client, 'query_execute', { connection: 'shop_rw', sql: 'INSERT INTO items(name, qty) VALUES ($1, $2)', params: ['kiwi', 7] });
  check('query_execute writes for a read-write client', !r.isError && r.structuredContent?.affected_rows === 1, JSON.stringify(r));
  r = await call(client, 'query_readonly', { connection: 'shop_rw', sql: 'SELECT qty FROM items WHERE name = $1', params: ['kiwi'] });
  check('the write is visible', r.structuredContent?.rows?.[0]?.[0] === 7, JSON.stringify(r));
  r = await call(client, 'query_execute', { connection: 'shop_rw', sql: 'DELETE FROM items WHERE name = $1', params: ['kiwi'] });
  check('query_execute delete', r.structuredContent?.affected_rows === 1, JSON.stringify(r));
  r = await call(client, 'security_generate_secure_key', { name: 'revealed', format: 'base64' });
  check('reveal policy returns the key', typeof r.structuredContent?.key === 'string' && r.structuredContent.key.length >= 43 &&
    r.structuredContent.fingerprint === createHash('sha256').update(r.structuredContent.key).digest('hex').slice(0, 16), JSON.stringify(r));
  await transport.terminateSession();
  await client.close();
}

// The catalogue: [label, sql, control-able through query_execute]
const PROG = process.env.PWNED_FILE || '/tmp/cb-pwned';
const CATALOGUE = [
  ['stacked COMMIT; DROP', 'COMMIT; DROP TABLE items', false],
  ['stacked SELECT; DROP', 'SELECT 1; DROP TABLE items', false],
  ['stacked ROLLBACK; INSERT', "ROLLBACK; INSERT INTO items(name, qty) VALUES ('x', 1)", false],
  ['plain DROP TABLE', 'DROP TABLE items', true],
  ['comment then DROP', '/* harmless */ -- really\nDROP TABLE items', true],
  ['INSERT', "INSERT INTO items(name, qty) VALUES ('x', 1)", true],
  ['UPDATE', 'UPDATE items SET qty = 0', true],
  ['DELETE', 'DELETE FROM items', true],
  ['TRUNCATE', 'TRUNCATE items', true],
  ['CREATE TABLE', 'CREATE TABLE pwned (i int)', true],
  ['ALTER ROLE', 'ALTER ROLE app_ro SUPERUSER', true],
  ['GRANT', 'GRANT ALL ON items TO PUBLIC', true],
  ['writable CTE', 'WITH d AS (DELETE FROM items RETURNING *) SELECT count(*) FROM d', true],
  ['writable CTE insert', "WITH i AS (INSERT INTO items(name, qty) VALUES ('cte', 1) RETURNING id) SELECT id FROM i", true],
  ['SET transaction_read_only = off', 'SET transaction_read_only = off', false],
  ['SET SESSION CHARACTERISTICS', 'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE', false],
  ['set_config read-only off + write', "SELECT set_config('transaction_read_only', 'off', true), (SELECT count(*) FROM items)", false],
  ['set_config default_transaction_read_only', "SELECT set_config('default_transaction_read_only', 'off', false)", false],
  ['DO block', "DO $$ BEGIN EXECUTE 'DROP TABLE items'; END $$", true],
  ['COPY TO PROGRAM', `COPY (SELECT 1) TO PROGRAM 'touch ${PROG}'`, true],
  ['lo_import', "SELECT lo_import('/etc/hostname')", true],
  ['lo_from_bytea', "SELECT lo_from_bytea(0, 'x')", true],
  ['dblink_exec', `SELECT dblink_exec('${process.env.DBLINK_CONN || ''}', 'DROP TABLE items')`, true],
  ['dblink in a subquery', `SELECT * FROM (SELECT dblink_exec('${process.env.DBLINK_CONN || ''}', 'DELETE FROM items')) s`, true],
  ['side-effecting function', 'SELECT evil()', true],
  ['side-effecting function in WHERE', 'SELECT * FROM items WHERE evil() > 0', true],
  ['CALL procedure', 'CALL add_item()', true],
  ['EXPLAIN ANALYZE DELETE', 'EXPLAIN ANALYZE DELETE FROM items', true],
  ['nextval', "SELECT nextval('items_id_seq')", true],
  ['SELECT INTO', 'SELECT * INTO pwned2 FROM items', true],
  ['CREATE TABLE AS via WITH', 'WITH x AS (SELECT 1) SELECT * INTO pwned3 FROM x', true],
  ['PREPARE TRANSACTION', "PREPARE TRANSACTION 'p1'", false],
  ['ALTER SYSTEM', "ALTER SYSTEM SET work_mem = '1MB'", false],
];

// a fingerprint that cannot be taken (e.g. the table was dropped) counts as a change
const fp = () => {
  try { return execSync(process.env.FP_CMD, { encoding: 'utf8', shell: '/bin/bash', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); }
  catch { return `unavailable-${Math.random()}`; }
};
const reset = () => execSync(process.env.RESET_CMD, { encoding: 'utf8', shell: '/bin/bash' });

async function bypass() {
  const { client } = await connect('stdio', target, rest);
  reset();
  const before = fp();
  check('database fingerprint can be taken', /^[0-9a-f]{32}$/.test(before), before);
  for (const [label, sql] of CATALOGUE) {
    const r = await call(client, 'query_readonly', { connection: 'shop_admin', sql });
    const after = fp();
    check(`read-only holds: ${label}`, after === before, `fingerprint changed; result ${JSON.stringify(r).slice(0, 300)}`);
    if (after !== before) { reset(); }
  }
  // a pooled session must still be read-only and usable after every attempt
  const r = await call(client, 'query_readonly', { connection: 'shop_admin', sql: 'SELECT current_setting($1)', params: ['transaction_read_only'] });
  check('pooled session still read-only afterwards', r.structuredContent?.rows?.[0]?.[0] === 'on', JSON.stringify(r));
  await client.close();
}

async function control() {
  const { client, transport } = await connect('http', target);
  let changed = 0, total = 0;
  for (const [label, sql, ctl] of CATALOGUE) {
    if (!ctl) continue;
    total++;
    reset();
    const before = fp();
    const r = await call(client, 'query_execute', { connection: 'shop_admin', sql });
    const after = fp();
    check(`control: query_execute changes the database: ${label}`, after !== before, `unchanged; result ${JSON.stringify(r).slice(0, 300)}`);
    if (after !== before) changed++;
  }
  reset();
  console.log(`# control: ${changed}/${total} statements changed the database through query_execute`);
  await transport.terminateSession();
  await client.close();
}

// More connections than pool slots: every call works and the sessions stay bounded.
async function pool() {
  const { client } = await connect('stdio', target, rest);
  let ok = 0, max = 0;
  for (let round = 0; round < 2; round++)
    for (let i = 0; i < 20; i++) {
      const r = await call(client, 'query_readonly', { connection: `p${i}`, sql: 'SELECT count(*) FROM pg_stat_activity WHERE usename = $1', params: ['app_ro'] });
      if (!r.isError) ok++;
      max = Math.max(max, r.structuredContent?.rows?.[0]?.[0] || 0);
    }
  check('40 calls over 20 connections all succeed', ok === 40, ok);
  check(`database sessions stay within the pool (max ${max})`, max > 0 && max <= 17, max);
  await client.close();
}

try {
  if (suite === 'pool') await pool();
  else if (suite === 'local-stdio') await localStdio();
  else if (suite === 'analyst-http') await analystHttp();
  else if (suite === 'writer-http') await writerHttp();
  else if (suite === 'bypass') await bypass();
  else if (suite === 'control') await control();
  else throw new Error('unknown suite ' + suite);
} catch (e) {
  failed++;
  console.log(`FAIL exception: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`);
}
process.exit(failed ? 1 : 0);
