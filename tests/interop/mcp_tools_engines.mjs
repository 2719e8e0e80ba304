// credbroker's MCP tools on MariaDB and SQLite with the official SDK client (stdio):
//   node mcp_tools_engines.mjs ENGINE CMD [ARGS...]     ENGINE = mysql | sqlite
// The same assertions as the PostgreSQL suite where the engines agree (listing, test,
// schema, bound params, row cap, time limit, one statement, errors), then the engine's
// read-only bypass catalogue: each attempt must be an isError result and leave the
// fingerprint ($FP_CMD) unchanged; each control through query_execute must change it.
// Client "local" is read-write (query_execute is the control) with max_rows 5 and
// statement_timeout_ms 1000. Every message is appended to $TRAFFIC.
// Prints "PASS name" / "FAIL name: detail"; exit 1 on any failure.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { appendFileSync } from 'node:fs';
import { execSync } from 'node:child_process';

const [engine, cmd, ...args] = process.argv.slice(2);
const TRAFFIC = process.env.TRAFFIC || '/dev/null';
const log = (dir, m) => appendFileSync(TRAFFIC, `${dir} ${typeof m === 'string' ? m : JSON.stringify(m)}\n`);
let failed = 0;
const check = (name, cond, detail = '') => {
  if (cond) console.log(`PASS [${engine}] ${name}`);
  else { failed++; console.log(`FAIL [${engine}] ${name}: ${String(detail).slice(0, 600)}`); }
};
const fp = () => execSync(process.env.FP_CMD, { encoding: 'utf8' }).trim();
const env = { PATH: process.env.PATH };
for (const [k, v] of Object.entries(process.env)) if (k.startsWith('CREDBROKER_') || k.startsWith('MCP_CLI_')) env[k] = v;

const transport = new StdioClientTransport({ command: cmd, args, env, stderr: 'pipe' });
transport.stderr?.on('data', d => log('stderr', d.toString()));
const send = transport.send.bind(transport);
transport.send = (m, o) => { log('>', m); return send(m, o); };
const client = new Client({ name: 'credbroker-engines-test', version: '0' });
await client.connect(transport);
const on = transport.onmessage;
transport.onmessage = (m, x) => { log('<', m); on(m, x); };
const call = (name, a = {}) => client.callTool({ name, arguments: a });
const text = r => (r.content || []).map(c => c.text || '').join('\n');

const my = engine === 'mysql';
const E = my ? {
  rows100: 'SELECT seq FROM seq_1_to_100',
  slow: 'SELECT SLEEP(5)',
  version: /MariaDB/,
  wrongpw: /Access denied/,
  bypass: [
    ["INSERT INTO items (name, qty) VALUES ('x', 1)", "INSERT INTO items (name, qty) VALUES ('x', 1)"],
    ['UPDATE items SET qty = 0', 'UPDATE items SET qty = 0 WHERE id = 1'],
    ['DELETE FROM items', 'DELETE FROM items WHERE id = 3'],
    ["REPLACE INTO items VALUES (1, 'r', 1)", "REPLACE INTO items VALUES (1, 'r', 2)"],
    ['DROP TABLE items', 'CREATE TABLE made_by_control (a INT)'],
    ['RENAME TABLE items TO items2', 'CREATE TABLE made_by_control2 (a INT)'],
    ['CALL add_item()', 'CALL add_item()'],
    ['SELECT evil()', 'SELECT evil()'],
    ['DO evil()', 'DO evil()'],
    ["SELECT 1 /*!50000 , evil() */", null],
    ["SELECT * FROM items INTO OUTFILE '" + process.env.OUTFILE + "'", null],
    ["SELECT LOAD_FILE('/etc/passwd')", null],
    ['SELECT GET_LOCK(\'mcp_held\', 0)', null],
    ['SET GLOBAL max_connections = 99', 'SET GLOBAL max_connections = 98'],
    ['LOCK TABLES items WRITE', null],
    ['SELECT * FROM items FOR UPDATE', null],
    ["GRANT SELECT ON shop.* TO 'nobody'@'%' IDENTIFIED BY 'x'", null],
    ['SELECT 1; DELETE FROM items', null],
    ['HANDLER items OPEN', null],
  ],
} : {
  rows100: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100) SELECT x FROM c',
  slow: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c',
  version: /^SQLite 3/,
  wrongpw: null,
  bypass: [
    ["INSERT INTO items (name, qty) VALUES ('x', 1)", "INSERT INTO items (name, qty) VALUES ('x', 1)"],
    ['UPDATE items SET qty = 0', 'UPDATE items SET qty = 0 WHERE id = 1'],
    ['DELETE FROM items', 'DELETE FROM items WHERE id = 3'],
    ["REPLACE INTO items VALUES (1, 'r', 1)", "REPLACE INTO items VALUES (1, 'r', 2)"],
    ['DROP TABLE items', 'CREATE TABLE made_by_control (a)'],
    ["ATTACH '" + process.env.ATTACH_FILE + "' AS o", null],
    ['PRAGMA user_version = 5', 'PRAGMA user_version = 6'],
    ['PRAGMA journal_mode = WAL', null],
    ["SELECT load_extension('/tmp/x.so')", null],
    ['CREATE TEMP TABLE t (a)', null],
    ['SELECT 1; DELETE FROM items', null],
    ['VACUUM', null],
    ["VACUUM INTO '" + process.env.ATTACH_FILE + "'", null],
  ],
};

try {
  const { tools } = await client.listTools();
  const names = tools.map(t => t.name);
  check('tools/list offers query_readonly and query_execute', names.includes('query_readonly') && names.includes('query_execute'), JSON.stringify(names));

  let r = await call('connections_list');
  const shop = (r.structuredContent?.connections || []).find(c => c.name === 'shop');
  check('connections_list: shop with its engine (and ssl-mode as tls on MariaDB)', shop && shop.engine === engine &&
    (!my || shop.tls === 'DISABLED'), JSON.stringify(r.structuredContent));
  check('connections_list: no password or URL', !/password|mysql:\/\//i.test(JSON.stringify(r)), JSON.stringify(r));

  r = await call('connection_test', { connection: 'shop' });
  check('connection_test: ok and a server version', !r.isError && E.version.test(r.structuredContent?.server_version || ''), JSON.stringify(r));
  if (E.wrongpw) {
    r = await call('connection_test', { connection: 'badpw' });
    check('connection_test with a wrong password: isError, access denied', r.isError === true && E.wrongpw.test(text(r)), JSON.stringify(r));
  }

  r = await call('schema_describe', { connection: 'shop' });
  const items = (r.structuredContent?.tables || []).find(t => t.name === 'items');
  check('schema_describe: items with columns and primary key', items && items.columns.some(c => c.name === 'qty') &&
    JSON.stringify(items.primary_key) === '["id"]', JSON.stringify(r).slice(0, 400));

  r = await call('query_readonly', { connection: 'shop', sql: 'SELECT id, name FROM items WHERE qty > ? ORDER BY id', params: [1] });
  let sc = r.structuredContent;
  check('query_readonly: bound parameter, columns and rows', !r.isError && sc.columns.map(c => c.name).join() === 'id,name' &&
    sc.rows.length === 2 && sc.rows[0][1] === 'pear' && sc.truncated === false, JSON.stringify(r));
  r = await call('query_readonly', { connection: 'shop', sql: 'SELECT ? AS v', params: ["'; DROP TABLE items; --"] });
  check('query_readonly: parameter is a value, never SQL', r.structuredContent?.rows?.[0]?.[0] === "'; DROP TABLE items; --", JSON.stringify(r));
  r = await call('query_readonly', { connection: 'shop', sql: E.rows100 });
  check('query_readonly: row cap from the policy -> truncated', r.structuredContent?.truncated === true && r.structuredContent.row_count === 5,
    JSON.stringify(r.structuredContent));
  const t0 = Date.now();
  r = await call('query_readonly', { connection: 'shop', sql: E.slow });
  check('query_readonly: statement time limit from the policy', r.isError === true && /timeout|max_statement_time/i.test(text(r)) && Date.now() - t0 < 4500,
    JSON.stringify(r));
  r = await call('query_readonly', { connection: 'shop', sql: 'SELECT 1; SELECT 2' });
  check('query_readonly: two statements refused', r.isError === true, JSON.stringify(r));
  r = await call('query_readonly', { connection: 'shop', sql: 'SELECT * FROM no_such_table' });
  check('query_readonly: SQL error is an isError result', r.isError === true && /no_such_table/.test(text(r)), JSON.stringify(r));
  r = await call('query_readonly', { connection: 'shop', sql: 'SELECT 1', params: [{ a: 1 }] });
  check('query_readonly: object parameter refused', r.isError === true, JSON.stringify(r));

  // the bypass catalogue, each with a fingerprint before/after and its query_execute control
  let before = fp();
  for (const [attempt, control] of E.bypass) {
    r = await call('query_readonly', { connection: 'shop', sql: attempt });
    const after = fp();
    check(`bypass refused, database unchanged: ${attempt}`, r.isError === true && after === before && !/root:/.test(text(r)),
      `${JSON.stringify(r)} fp ${before} -> ${after}`);
    before = after;
    if (control) {
      r = await call('query_execute', { connection: 'shop', sql: control });
      const c2 = fp();
      check(`control through query_execute changes the database: ${control}`, !r.isError && c2 !== before, JSON.stringify(r));
      before = c2;
    }
  }
  if (engine === 'sqlite') {
    r = await call('credentials_rotate', { credential: 'litecred' });
    check('credentials_rotate on SQLite: isError, rotation does not apply', r.isError === true && /rotation does not apply/.test(text(r)), JSON.stringify(r));
  }
} catch (e) {
  check('no exception', false, e.stack || e);
}
await client.close();
process.exit(failed ? 1 : 0);
