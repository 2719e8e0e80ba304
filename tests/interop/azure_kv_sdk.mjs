// The official Azure SDK for JS against fake_azure_kv: proves the fake speaks Key Vault.
// Usage: node azure_kv_sdk.mjs check PORT TENANT CLIENT_ID   (client secret in AZURE_CLIENT_SECRET)
//        node azure_kv_sdk.mjs get PORT TENANT CLIENT_ID NAME       prints the value
//        node azure_kv_sdk.mjs set PORT TENANT CLIENT_ID NAME       value from stdin, prints version
//        node azure_kv_sdk.mjs disable PORT TENANT CLIENT_ID NAME   disables the latest version
//        node azure_kv_sdk.mjs bench PORT TENANT CLIENT_ID NAME N   prints client CPU us/request
// Needs NODE_EXTRA_CA_CERTS pointing at the fake's certificate. Prints TAP for `check`.
import { SecretClient } from '@azure/keyvault-secrets';
import { ClientSecretCredential } from '@azure/identity';
import { readFileSync } from 'node:fs';

const [cmd, port, tenant, clientId, name, n] = process.argv.slice(2);
const base = `https://127.0.0.1:${port}`;
const cred = new ClientSecretCredential(tenant, clientId, process.env.AZURE_CLIENT_SECRET,
  { authorityHost: base, disableInstanceDiscovery: true });
const client = new SecretClient(base, cred, { disableChallengeResourceVerification: true });

let t = 0, failed = 0;
const ok = (cond, desc, extra) => {
  t++;
  if (cond) console.log(`ok ${t} - ${desc}`);
  else { failed++; console.log(`not ok ${t} - ${desc}`); if (extra) console.log(`# ${extra}`); }
};

async function check() {
  const nm = `sdk-${Date.now()}`;
  const s1 = await client.setSecret(nm, 'first-value', { contentType: 'text/plain', tags: { owner: 'sdk' } });
  ok(/^[0-9a-f]{32}$/.test(s1.properties.version), 'setSecret returns a 32-hex version', s1.properties.version);
  ok(s1.properties.vaultUrl === base, 'id parses back to the vault URL', s1.properties.vaultUrl);
  ok(s1.value === 'first-value', 'setSecret echoes the value');
  ok(s1.properties.enabled === true && s1.properties.createdOn instanceof Date, 'attributes: enabled, createdOn');
  const s2 = await client.setSecret(nm, 'second-value');
  const latest = await client.getSecret(nm);
  ok(latest.value === 'second-value' && latest.properties.version === s2.properties.version, 'getSecret latest');
  const old = await client.getSecret(nm, { version: s1.properties.version });
  ok(old.value === 'first-value' && old.properties.contentType === 'text/plain' && old.properties.tags.owner === 'sdk',
    'getSecret by version with contentType and tags');
  const versions = [];
  for await (const p of client.listPropertiesOfSecretVersions(nm)) versions.push(p);
  ok(versions.length === 2 && versions.every(v => v.value === undefined), 'listPropertiesOfSecretVersions: 2, no values',
    JSON.stringify(versions.map(v => v.version)));
  // more versions than a page: the SDK follows nextLink
  for (let i = 0; i < 4; i++) await client.setSecret(nm, `v${i}`);
  let count = 0;
  for await (const p of client.listPropertiesOfSecretVersions(nm)) { void p; count++; }
  ok(count === 6, 'paging through nextLink', `got ${count}`);
  const upd = await client.updateSecretProperties(nm, s1.properties.version, { tags: { 'credbroker-stage': 'current' } });
  ok(upd.tags['credbroker-stage'] === 'current', 'updateSecretProperties sets tags');
  const again = await client.getSecret(nm, { version: s1.properties.version });
  ok(again.properties.tags['credbroker-stage'] === 'current' && again.value === 'first-value', 'tags persisted, value unchanged');
  const last = await client.setSecret(nm, 'to-disable');
  await client.updateSecretProperties(nm, last.properties.version, { enabled: false });
  try {
    await client.getSecret(nm);
    ok(false, 'disabled latest version refuses get');
  } catch (e) {
    ok(e.statusCode === 403 && e.code === 'Forbidden', 'disabled latest version -> RestError 403 Forbidden', `${e.statusCode} ${e.code}`);
  }
  try {
    await client.getSecret('no-such-secret-here');
    ok(false, 'missing secret raises');
  } catch (e) {
    ok(e.name === 'RestError' && e.statusCode === 404 && e.code === 'SecretNotFound', 'missing secret -> RestError 404 SecretNotFound',
      `${e.name} ${e.statusCode} ${e.code}`);
  }
  console.log(`1..${t}`);
  process.exit(failed ? 1 : 0);
}

async function main() {
  if (cmd === 'check') return check();
  if (cmd === 'get') {
    const s = await client.getSecret(name);
    process.stdout.write(s.value + '\n');
  } else if (cmd === 'set') {
    const v = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    const s = await client.setSecret(name, v);
    process.stdout.write(s.properties.version + '\n');
  } else if (cmd === 'disable') {
    const s = await client.getSecret(name);
    await client.updateSecretProperties(name, s.properties.version, { enabled: false });
  } else if (cmd === 'bench') {
    const count = Number(n);
    // like `secret_tool bench`: the first get (challenge + token) is inside the measurement
    const c0 = process.cpuUsage();
    for (let i = 0; i < count; i++) await client.getSecret(name);
    const c = process.cpuUsage(c0);
    process.stdout.write(((c.user + c.system) / count).toFixed(1) + '\n');
  } else {
    console.error('unknown command');
    process.exit(2);
  }
}
main().catch(e => { console.error(`${e.name}: ${e.message}`); process.exit(1); });
