// SigV4 oracle: signs extra requests with @smithy/signature-v4 (the AWS SDK for JS v3
// signer, 31/31 on the official suite) and compares with credbroker's signer, reached
// through build/tools/sigv4_tool. Usage: node aws_sigv4_oracle.mjs path/to/sigv4_tool
// Prints TAP lines; exits non-zero on any mismatch.
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { execFileSync } from 'node:child_process';

const tool = process.argv[2];
const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const token = 'AQoDYXdzEPT//////////wEXAMPLEtoken+/=';
const date = new Date(Date.UTC(2015, 7, 30, 12, 36, 0));
const amzDate = '20150830T123600Z';

// query: list of [key, value] pairs in wire order (values decoded)
const cases = [
  { name: 'query with spaces, unicode and repeated keys', method: 'GET', path: '/', service: 'service',
    query: [['q', 'a b'], ['k\u1234', 'v\u00e9'], ['a', '2'], ['a', '1'], ['a', 'x y'], ['empty', '']],
    headers: { host: 'example.amazonaws.com' } },
  { name: 'POST JSON with a session token', method: 'POST', path: '/', service: 'secretsmanager', token,
    query: [], body: '{"SecretId":"db/prod","VersionStage":"AWSPREVIOUS"}',
    headers: { host: 'secretsmanager.us-east-1.amazonaws.com', 'content-type': 'application/x-amz-json-1.1',
               'x-amz-target': 'secretsmanager.GetSecretValue' } },
  { name: 'path with dot segments, spaces and reserved characters', method: 'GET',
    path: "/a/./b/../c d/e%20f/g!*'()/", service: 'service', query: [['x', "!*'()"]],
    headers: { host: 'example.amazonaws.com', 'x-custom': '  a   b  ' } },
  { name: 'POST form body, token and mixed-case headers', method: 'POST', path: '/form', service: 'service', token,
    query: [['Action', 'Do'], ['b', '+plus']], body: 'Param1=value1&Param2=value 2',
    headers: { Host: 'example.amazonaws.com', 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8',
               'X-Amz-Meta-Z': 'z', 'x-amz-meta-a': 'a' } },
];

const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
let failed = 0, n = 0;
for (const c of cases) {
  n++;
  const q = {};
  for (const [k, v] of c.query) q[k] = k in q ? [].concat(q[k], v) : v;
  const signer = new SignatureV4({ credentials: { ...creds, sessionToken: c.token }, region: 'us-east-1',
                                   service: c.service, sha256: Sha256, applyChecksum: false, uriEscapePath: true });
  const signed = await signer.sign({ method: c.method, protocol: 'https:', hostname: 'example.amazonaws.com',
                                     path: c.path, query: q, headers: { ...c.headers }, body: c.body },
                                   { signingDate: date });
  const want = signed.headers.authorization;
  const input = {
    method: c.method, path: c.path, query: c.query.map(([k, v]) => enc(k) + '=' + enc(v)).join('&'),
    headers: [...Object.entries(c.headers), ['X-Amz-Date', amzDate]], body: c.body ?? '',
    access_key: creds.accessKeyId, secret_key: creds.secretAccessKey, session_token: c.token ?? null,
    region: 'us-east-1', service: c.service, amz_date: amzDate,
  };
  let got = '';
  try {
    got = JSON.parse(execFileSync(tool, [], { input: JSON.stringify(input) }).toString()).authorization;
  } catch (e) {
    got = 'error: ' + e.message;
  }
  if (got === want) {
    console.log(`ok ${n} - smithy agrees: ${c.name}`);
  } else {
    failed++;
    console.log(`not ok ${n} - smithy agrees: ${c.name}`);
    console.log(`# want ${want}\n# got  ${got}`);
  }
}
process.exit(failed ? 1 : 0);
