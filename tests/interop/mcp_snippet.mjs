// Starts an MCP server the way a desktop client does from a README snippet: the official
// SDK's stdio transport, cwd "/", and only the snippet's environment (run this script
// under `env -i` so the SDK's inherited defaults are empty too).
//   node mcp_snippet.mjs SNIPPET.json        { "command", "args", "env", "expect": [tool names] }
// Prints "PASS name" / "FAIL name: detail" lines and "# stderr: ..." for the server's log.
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const label = spec.label || 'snippet';
let failed = 0;
const check = (name, cond, detail = '') => {
  if (cond) console.log(`PASS ${label}: ${name}`);
  else { failed++; console.log(`FAIL ${label}: ${name}: ${detail}`); }
};
const transport = new StdioClientTransport({ command: spec.command, args: spec.args || [], env: spec.env || {},
  cwd: '/', stderr: 'pipe' });
let errText = '';
transport.stderr?.on('data', d => { errText += d.toString(); });
const client = new Client({ name: 'readme-snippet', version: '0' });
const timer = setTimeout(() => { console.log(`FAIL ${label}: timed out`); process.exit(1); }, 20000);
try {
  await client.connect(transport);
  check('initialize', client.getServerVersion()?.name === 'credbroker', JSON.stringify(client.getServerVersion()));
  const { tools } = await client.listTools();
  const names = tools.map(t => t.name);
  const missing = (spec.expect || []).filter(n => !names.includes(n));
  if ((spec.expect || []).length === 0) check('tools/list is empty', names.length === 0, JSON.stringify(names));
  else check(`tools/list has ${spec.expect.join(', ')}`, missing.length === 0, `missing ${missing} in ${names}`);
  if (spec.instructions) check('instructions explain', new RegExp(spec.instructions).test(client.getInstructions() || ''),
    client.getInstructions());
} catch (e) {
  check('session', false, String(e));
}
await client.close().catch(() => {});
clearTimeout(timer);
for (const l of errText.split('\n').filter(Boolean)) console.log(`# stderr: ${l}`);
process.exit(failed ? 1 : 0);
