// Drives an MCP server with the official TypeScript SDK client (1.32.2).
//   node mcp_sdk.mjs stdio SERVER_BINARY [ARGS...]
//   node mcp_sdk.mjs http URL            (token from MCP_TEST_TOKEN)
// Prints one line per check: "PASS name" or "FAIL name: detail"; exit 1 on any failure.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [mode, target, ...rest] = process.argv.slice(2);
let failed = 0;
const check = (name, cond, detail = '') => {
  if (cond) console.log(`PASS ${name}`);
  else { failed++; console.log(`FAIL ${name}: ${detail}`); }
};

let transport;
if (mode === 'stdio') {
  transport = new StdioClientTransport({ command: target, args: ['stdio', ...rest],
    env: { PATH: process.env.PATH, MCP_TEST_AUDIT: process.env.MCP_TEST_AUDIT || '' }, stderr: 'pipe' });
} else {
  transport = new StreamableHTTPClientTransport(new URL(target),
    { requestInit: { headers: { Authorization: 'Bearer ' + process.env.MCP_TEST_TOKEN } } });
}
const client = new Client({ name: 'credbroker-interop', version: '0' });
try {
  await client.connect(transport);
  const info = client.getServerVersion();
  check('initialize serverInfo', info && info.name === 'credbroker', JSON.stringify(info));
  check('tools capability', !!client.getServerCapabilities()?.tools, JSON.stringify(client.getServerCapabilities()));
  if (mode === 'http') check('session id issued', /^[0-9a-f]{64}$/.test(transport.sessionId || ''), transport.sessionId);

  const { tools } = await client.listTools();
  const names = tools.map(t => t.name);
  check('listTools order', JSON.stringify(names) === JSON.stringify(['fail', 'slow', 'sum']), JSON.stringify(names));
  const sumDef = tools.find(t => t.name === 'sum');
  check('sum annotations', sumDef?.annotations?.readOnlyHint === true && !!sumDef?.outputSchema,
        JSON.stringify(sumDef));

  // callTool validates structuredContent against outputSchema (SDK throws otherwise)
  const r = await client.callTool({ name: 'sum', arguments: { a: 2, b: 40 } });
  check('callTool structuredContent', r.structuredContent?.sum === 42 && !r.isError, JSON.stringify(r));
  check('text mirror of structuredContent', JSON.parse(r.content[0].text).sum === 42, JSON.stringify(r.content));

  const al = await client.callTool({ name: 'math.sum', arguments: { a: 1, b: 1 } });
  check('alias math.sum', al.content?.[0]?.text?.includes('2'), JSON.stringify(al));

  const f = await client.callTool({ name: 'fail', arguments: {} });
  check('isError result', f.isError === true && /failed as requested/.test(f.content[0].text), JSON.stringify(f));

  const inv = await client.callTool({ name: 'slow', arguments: { ms: 'x' } });
  check('invalid arguments are isError', inv.isError === true && /ms/.test(inv.content[0].text), JSON.stringify(inv));

  const den = await client.callTool({ name: 'sum', arguments: { a: 13, b: 1 } });
  check('policy denial is isError', den.isError === true && /Permission denied/.test(den.content[0].text),
        JSON.stringify(den));

  let err = null;
  try { await client.callTool({ name: 'no_such_tool', arguments: {} }); } catch (e) { err = e; }
  check('unknown tool -> -32602', err && err.code === -32602 && /Unknown tool/.test(err.message), String(err));

  await client.ping();
  check('ping', true);

  const t0 = Date.now();
  if (mode === 'http') await transport.terminateSession();
  await client.close();
  const ms = Date.now() - t0;
  console.log(`# close took ${ms} ms`);
  check('close under 1 s', ms < 1000, `${ms} ms`);
} catch (e) {
  failed++;
  console.log(`FAIL exception: ${e && e.stack ? e.stack.split('\n')[0] : e}`);
  try { await client.close(); } catch { /* ignore */ }
}
process.exit(failed ? 1 : 0);
