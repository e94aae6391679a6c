// Drives headless Chromium through the security-key routes with the
// DevTools virtual authenticator (a CTAP2 platform authenticator with
// resident keys and user verification), on a page of the server's own
// origin: sign up, register a passkey with navigator.credentials.create,
// sign out, sign in with navigator.credentials.get without a username,
// turn TOTP on, then answer the two-factor checkpoint of a password
// sign-in with the key instead of a code.
//
//   node passkey.mjs BASE_URL
//
// BASE_URL must be http://localhost:PORT (the RP ID is localhost, which
// browsers accept over plain http). CHROMIUM names the browser binary
// (default /usr/bin/chromium).
import { createHmac } from 'node:crypto';
import puppeteer from 'puppeteer-core';

const [base] = process.argv.slice(2);
if (!base || new URL(base).hostname !== 'localhost') {
  console.error('usage: node passkey.mjs http://localhost:PORT');
  process.exit(2);
}
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
const user = {
  username: 'grace',
  email: 'grace@example.com',
  name_first: 'Grace',
  name_last: 'Hopper',
  password: 'compiler a-0 1952',
};

const overall = setTimeout(() => {
  console.error('FAIL: the passkey browser test did not finish within 120 s');
  process.exit(1);
}, 120_000);

let step = 'starting';
function begin(name) {
  step = name;
  console.log(`- ${name}`);
}

// totp is RFC 6238 (SHA-1, 6 digits, 30 s) for a base32 secret.
function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`not base32: ${c}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const key = Buffer.alloc(Math.floor(bits.length / 8));
  for (let i = 0; i < key.length; i++) key[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, '0');
}
// The RFC's own vector: T = 59 s, 8 digits → 94287082; 6 digits → 287082.
if (totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 59_000) !== '287082') throw new Error('the TOTP implementation is wrong');

// The page-side helpers, installed in the page: the REST calls with the
// page's cookies, and the conversions between the options' base64url and
// the ArrayBuffers the browser API takes, and back to the standard base64
// with padding the panel's front end sends.
function pageHelpers() {
  const fromB64url = (s) => {
    const b64 = s.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(s.length / 4) * 4, '=');
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
  };
  const toB64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));
  const creationOptions = (o) => ({
    ...o,
    challenge: fromB64url(o.challenge),
    user: { ...o.user, id: fromB64url(o.user.id) },
    excludeCredentials: o.excludeCredentials.map((c) => ({ ...c, id: fromB64url(c.id) })),
  });
  const requestOptions = (o) => ({
    ...o,
    challenge: fromB64url(o.challenge),
    allowCredentials: o.allowCredentials.map((c) => ({ ...c, id: fromB64url(c.id) })),
  });
  const credentialJSON = (cred) => {
    const r = cred.response;
    const response = { clientDataJSON: toB64(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64(r.attestationObject);
      if (r.getTransports) response.transports = r.getTransports();
      if (r.getAuthenticatorData) response.authenticatorData = toB64(r.getAuthenticatorData());
      if (r.getPublicKey && r.getPublicKey()) response.publicKey = toB64(r.getPublicKey());
    } else {
      response.authenticatorData = toB64(r.authenticatorData);
      response.signature = toB64(r.signature);
      if (r.userHandle) response.userHandle = toB64(r.userHandle);
    }
    return { id: cred.id, rawId: toB64(cred.rawId), type: cred.type, response, clientExtensionResults: cred.getClientExtensionResults() };
  };
  const call = async (method, path, body) => {
    const init = { method, credentials: 'same-origin', headers: {} };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = text; }
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
    return json;
  };
  window.passkeyTest = { creationOptions, requestOptions, credentialJSON, call };
}

let browser;
const problems = [];
try {
  begin(`launching ${chromium}`);
  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    timeout: 30_000,
    protocolTimeout: 30_000,
    args: [
      '--no-sandbox',
      '--disable-dev-shm-usage',
      '--disable-gpu',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-extensions',
      '--disable-features=Translate,OptimizationHints,MediaRouter',
    ],
  });
  console.log(`  ${await browser.version()}`);
  const page = await browser.newPage();
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (e) => problems.push(`uncaught exception: ${e.message}`));

  begin(`opening ${base}/ (the server's own origin)`);
  const res = await page.goto(`${base}/`, { waitUntil: 'domcontentloaded', timeout: 30_000 });
  if (!res.ok()) throw new Error(`GET / answered ${res.status()}`);
  if (new URL(page.url()).origin !== new URL(base).origin) throw new Error(`the page left the origin: ${page.url()}`);
  await page.evaluate(pageHelpers);

  begin('adding the DevTools virtual authenticator (ctap2, internal, resident keys, user verification)');
  const cdp = await page.createCDPSession();
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  begin('signing up');
  await page.evaluate((u) => window.passkeyTest.call('POST', '/api/auth/register', u), user);

  begin('registering a passkey with navigator.credentials.create');
  const registered = await page.evaluate(async () => {
    const t = window.passkeyTest;
    const created = await t.call('POST', '/api/client/account/security-keys', { name: 'browser passkey', allow_usernameless_login: true });
    if (created.security_key.credential_id !== '') throw new Error('a pending key has a credential_id');
    const cred = await navigator.credentials.create({ publicKey: t.creationOptions(created.options.publicKey) });
    const body = { public_key_credential: t.credentialJSON(cred) };
    const done = await t.call('POST', `/api/client/account/security-keys/${created.security_key.uuid}/challenge`, body);
    const list = await t.call('GET', '/api/client/account/security-keys');
    return { credentialId: done.credential_id, rawId: cred.id, listed: list.security_keys.data.map((k) => k.credential_id),
      residentKey: cred.getClientExtensionResults().credProps?.rk };
  });
  console.log(`  credential ${registered.credentialId} (credProps.rk ${registered.residentKey})`);
  if (registered.credentialId !== registered.rawId || registered.listed.join() !== registered.credentialId) {
    throw new Error(`registered ${JSON.stringify(registered)}`);
  }
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  if (credentials.length !== 1 || !credentials[0].isResidentCredential) {
    throw new Error(`the authenticator holds ${JSON.stringify(credentials.map((c) => ({ resident: c.isResidentCredential })))}`);
  }

  begin('signing out');
  await page.evaluate(() => window.passkeyTest.call('POST', '/api/client/account/logout'));
  const signedOut = await page.evaluate(() => fetch('/api/client/account').then((r) => r.status));
  if (signedOut !== 401) throw new Error(`after logout GET /api/client/account answered ${signedOut}`);

  begin('signing in with navigator.credentials.get, without a username');
  const signedIn = await page.evaluate(async () => {
    const t = window.passkeyTest;
    const begun = await t.call('GET', '/api/auth/login/security-key/discoverable');
    if (begun.options.publicKey.allowCredentials.length !== 0) throw new Error('username-less options allow credentials');
    const cred = await navigator.credentials.get({ publicKey: t.requestOptions(begun.options.publicKey) });
    const answer = await t.call('POST', '/api/auth/login/security-key/discoverable', { uuid: begun.uuid, public_key_credential: t.credentialJSON(cred) });
    const account = await t.call('GET', '/api/client/account');
    return { answered: Object.keys(answer), username: account.user.username };
  });
  if (signedIn.username !== user.username || signedIn.answered.join() !== 'user') throw new Error(`signed in as ${JSON.stringify(signedIn)}`);
  console.log(`  signed in as ${signedIn.username}`);

  begin('turning TOTP two-factor on');
  const setup = await page.evaluate(() => window.passkeyTest.call('GET', '/api/client/account/two-factor'));
  await page.evaluate((code, password) => window.passkeyTest.call('POST', '/api/client/account/two-factor', { code, password }),
    totp(setup.secret), user.password);

  begin('signing out, then in with the password: the checkpoint asks for a second factor');
  await page.evaluate(() => window.passkeyTest.call('POST', '/api/client/account/logout'));
  const login = await page.evaluate((u) => window.passkeyTest.call('POST', '/api/auth/login', { user: u.username, password: u.password }), user);
  if (login.type !== 'two_factor_required' || !login.token) throw new Error(`login answered ${JSON.stringify(login.type)}`);

  begin('answering the checkpoint with the passkey instead of a code');
  const checkpoint = await page.evaluate(async (token) => {
    const t = window.passkeyTest;
    const begun = await t.call('GET', `/api/auth/login/checkpoint/security-key?confirmation_token=${encodeURIComponent(token)}`);
    const cred = await navigator.credentials.get({ publicKey: t.requestOptions(begun.options.publicKey) });
    await t.call('POST', '/api/auth/login/checkpoint', { confirmation_token: token, public_key_credential: t.credentialJSON(cred) });
    const account = await t.call('GET', '/api/client/account');
    const activity = await t.call('GET', '/api/client/account/activity?search=auth:success');
    return { username: account.user.username, totp: account.user.totp_enabled, events: activity.activities.data.map((a) => a.data.using) };
  }, login.token);
  if (checkpoint.username !== user.username || !checkpoint.totp) throw new Error(`after the checkpoint: ${JSON.stringify(checkpoint)}`);
  if (checkpoint.events.filter((u) => u === 'security-key').length !== 2) {
    throw new Error(`auth:success records ${JSON.stringify(checkpoint.events)}, want two with using security-key`);
  }
  console.log(`  auth:success using: ${checkpoint.events.join(', ')}`);

  const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  console.log(`  the authenticator's signature counter: ${after.credentials[0].signCount}`);
  if (after.credentials[0].signCount < 2) throw new Error('the authenticator signed fewer than two assertions');
  if (problems.length) throw new Error(problems.join('\n'));
  console.log('passkey browser test: every step passed');
} catch (err) {
  console.error(`FAIL while ${step}: ${err.stack || err}`);
  for (const p of problems) console.error(`  ${p}`);
  process.exitCode = 1;
} finally {
  clearTimeout(overall);
  if (browser) await browser.close();
}
