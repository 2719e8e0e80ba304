// tools/call latency and throughput of one MCP server, driven by the official SDK client.
//   node mcp_bench.mjs stdio N TOOL ARGS_JSON CMD [ARGS...]
//   node mcp_bench.mjs http  N TOOL ARGS_JSON URL SERVER_PID     (API key in MCP_KEY)
// Sequential calls after 20 warm-up calls. Prints one JSON line:
// {"calls_per_s","p50_ms","p99_ms","rss_kb","hwm_kb"} (server process, after the run).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { readFileSync } from 'node:fs';

const [mode, nStr, tool, argsJson, target, ...rest] = process.argv.slice(2);
const N = Number(nStr);
const args = JSON.parse(argsJson);
let transport, pid;
if (mode === 'stdio') {
  const env = { PATH: process.env.PATH };
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('CREDBROKER_')) env[k] = v;
  transport = new StdioClientTransport({ command: target, args: rest, env, stderr: 'ignore' });
} else {
  transport = new StreamableHTTPClientTransport(new URL(target),
    { requestInit: { headers: { Authorization: 'Bearer ' + process.env.MCP_KEY } } });
  pid = Number(rest[0]);
}
const client = new Client({ name: 'credbroker-bench', version: '0' });
await client.connect(transport);
if (mode === 'stdio') pid = transport.pid;
await client.listTools();
const one = async () => {
  const r = await client.callTool({ name: tool, arguments: args });
  if (r.isError) throw new Error('tool error: ' + JSON.stringify(r.content));
};
for (let i = 0; i < 20; i++) await one();
const lat = [];
const t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) {
  const s = process.hrtime.bigint();
  await one();
  lat.push(Number(process.hrtime.bigint() - s) / 1e6);
}
const total = Number(process.hrtime.bigint() - t0) / 1e9;
lat.sort((a, b) => a - b);
const pct = p => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
const status = readFileSync(`/proc/${pid}/status`, 'utf8');
const kb = k => Number((status.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm')) || [])[1] || 0);
console.log(JSON.stringify({ calls_per_s: N / total, p50_ms: pct(0.5), p99_ms: pct(0.99), rss_kb: kb('VmRSS'), hwm_kb: kb('VmHWM') }));
if (mode === 'http') await transport.terminateSession();
await client.close();
