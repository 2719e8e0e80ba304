// node-vault 0.12.0 (the official-style Node client) against fake_vault: proves the fake
// speaks Vault's wire protocol, and gives the cross-checks and the bench peer.
//   node vault_node.mjs checks                 TAP lines; exit 1 on any failure
//   node vault_node.mjs write MOUNT/data/PATH JSON
//   node vault_node.mjs read MOUNT/data/PATH   prints data.data as JSON
//   node vault_node.mjs bench MOUNT/data/PATH N  prints client CPU us/request
// Environment: VAULT_ADDR; VAULT_TOKEN or VAULT_ROLE_ID + VAULT_SECRET_ID.
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const nodeVault = require('node-vault');

const endpoint = process.env.VAULT_ADDR;
const mk = (token) => nodeVault({ endpoint, token });

let failures = 0;
let n = 0;
function ok(cond, desc, extra) {
  n++;
  if (cond) console.log(`ok ${n} - ${desc}`);
  else {
    failures++;
    console.log(`not ok ${n} - ${desc}`);
    if (extra !== undefined) console.log(`# ${JSON.stringify(extra)}`);
  }
}
async function status(p) {
  try { await p; return 200; } catch (e) { return e.response ? e.response.statusCode : `no response: ${e.message}`; }
}

async function client() {
  if (process.env.VAULT_TOKEN) return mk(process.env.VAULT_TOKEN);
  const v = mk(undefined);
  await v.approleLogin({ role_id: process.env.VAULT_ROLE_ID, secret_id: process.env.VAULT_SECRET_ID });
  return v;
}

async function checks() {
  const x = `x-${process.pid}-${Date.now()}`; // fresh key: works on a fake with data
  const v = mk(undefined);
  const login = await v.approleLogin({ role_id: process.env.VAULT_ROLE_ID, secret_id: process.env.VAULT_SECRET_ID });
  ok(typeof login.auth?.client_token === 'string' && v.token === login.auth.client_token, 'approleLogin sets the client token');
  ok(login.auth.renewable === true && login.auth.lease_duration > 0, 'login auth block has a renewable lease', login.auth);
  ok(Array.isArray(login.auth.policies) && login.auth.policies.includes('default'), 'login auth block lists policies');

  const w1 = await v.write(`secret/data/${x}`, { data: { user: 'app', password: 'one' } });
  ok(w1.data?.version === 1 && w1.data.destroyed === false && w1.data.deletion_time === '', 'write returns version metadata', w1.data);
  const w2 = await v.write(`secret/data/${x}`, { options: { cas: 1 }, data: { user: 'app', password: 'two' } });
  ok(w2.data?.version === 2, 'write with cas=current makes version 2');
  let casErr;
  try { await v.write(`secret/data/${x}`, { options: { cas: 1 }, data: { password: 'lost' } }); } catch (e) { casErr = e; }
  ok(casErr?.response?.statusCode === 400 && casErr.message === 'check-and-set parameter did not match the current version',
     'stale cas -> 400 with the exact Vault message', casErr?.message);

  const r = await v.read(`secret/data/${x}`);
  ok(r.data?.data?.password === 'two' && r.data.metadata.version === 2, 'read returns latest data and metadata', r.data?.metadata);
  ok('request_id' in r && r.lease_id === '' && r.renewable === false && r.wrap_info === null && r.auth === null,
     'read response has the Vault envelope');
  const r1 = await v.read(`secret/data/${x}?version=1`);
  ok(r1.data?.data?.password === 'one' && r1.data.metadata.version === 1, 'read with ?version=1');

  ok(await status(v.read('secret/data/missing')) === 404, '404 surfaces as e.response.statusCode');
  let e404;
  try { await v.read('secret/data/missing'); } catch (e) { e404 = e; }
  ok(Array.isArray(e404?.response?.body?.errors) && e404.response.body.errors.length === 0, '404 body is {"errors":[]}');
  const bad = mk('not-a-token');
  let e403;
  try { await bad.read(`secret/data/${x}`); } catch (e) { e403 = e; }
  ok(e403?.response?.statusCode === 403 && e403.message === 'permission denied', '403 permission denied for a bad token');

  const look = await v.tokenLookupSelf();
  ok(look.data?.id === v.token && look.data.ttl > 0 && look.data.renewable === true && Array.isArray(look.data.policies),
     'tokenLookupSelf', look.data && { ttl: look.data.ttl, renewable: look.data.renewable });
  const ren = await v.tokenRenewSelf();
  ok(ren.auth?.lease_duration > 0 && ren.auth.client_token === v.token, 'tokenRenewSelf returns the auth block');

  const list = await v.list('secret/metadata/');
  ok(Array.isArray(list.data?.keys) && list.data.keys.includes(x), 'list (LIST verb) shows x', list.data);
  const meta = await v.read(`secret/metadata/${x}`);
  ok(meta.data?.current_version === 2 && meta.data.versions?.['1'] && meta.data.versions['2'], 'metadata read');

  await v.delete(`secret/data/${x}`);
  let gone;
  try { await v.read(`secret/data/${x}`); } catch (e) { gone = e; }
  ok(gone?.response?.statusCode === 404 && gone.response.body?.data?.data === null &&
     gone.response.body.data.metadata?.deletion_time !== '', 'soft-deleted latest -> 404 with metadata');
  const back = await v.read(`secret/data/${x}?version=1`);
  ok(back.data?.data?.password === 'one', 'older version still readable after deleting the latest');
  await v.write(`secret/undelete/${x}`, { versions: [2] });
  ok((await v.read(`secret/data/${x}`)).data.data.password === 'two', 'undelete restores the latest');

  console.log(`1..${n}`);
  process.exit(failures ? 1 : 0);
}

async function main() {
  const [cmd, path, arg] = process.argv.slice(2);
  if (cmd === 'checks') return checks();
  const v = await client();
  if (cmd === 'write') {
    const res = await v.write(path, { data: JSON.parse(arg) });
    console.log(res.data.version);
  } else if (cmd === 'read') {
    const res = await v.read(path);
    console.log(JSON.stringify(res.data.data));
  } else if (cmd === 'bench') {
    const count = Number(arg);
    await v.read(path); // connection and first-call warm-up, as the C side's open()
    const c0 = process.cpuUsage();
    for (let i = 0; i < count; i++) await v.read(path);
    const c = process.cpuUsage(c0);
    console.log(((c.user + c.system) / count).toFixed(1));
  } else {
    console.error('usage: vault_node.mjs checks|write|read|bench ...');
    process.exit(2);
  }
}
main().catch((e) => {
  console.error(`vault_node: ${e.response ? `HTTP ${e.response.statusCode}: ` : ''}${e.message}`);
  process.exit(1);
});
