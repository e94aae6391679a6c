// Drives headless Chromium through /graphiql as a signed-in person would:
// sign up over REST, open the page with that session cookie, type a viewer
// query, run it, check the answer, and check that the page talked to no
// host but the server.
//
//   node graphiql.mjs BASE_URL SCREENSHOT_PATH
//
// CHROMIUM names the browser binary (default /usr/bin/chromium).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const [base, screenshotPath] = process.argv.slice(2);
if (!base || !screenshotPath) {
  console.error('usage: node graphiql.mjs BASE_URL SCREENSHOT_PATH');
  process.exit(2);
}
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
const serverHost = new URL(base).host;
const query = '{ viewer { username email } }';
const user = {
  username: 'ada',
  email: 'ada@example.com',
  name_first: 'Ada',
  name_last: 'Lovelace',
  password: 'analytical engine 1843',
};

// The whole run must finish within this, whatever hangs.
const overall = setTimeout(() => {
  console.error('FAIL: the browser test did not finish within 120 s');
  process.exit(1);
}, 120_000);

let step = 'starting';
function begin(name) {
  step = name;
  console.log(`- ${name}`);
}

// register signs up over REST and returns the session cookie it set.
async function register() {
  const res = await fetch(`${base}/api/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(user),
    signal: AbortSignal.timeout(15_000),
  });
  const body = await res.text();
  if (!res.ok) throw new Error(`POST /api/auth/register answered ${res.status}: ${body}`);
  const set = res.headers.getSetCookie();
  if (set.length !== 1) throw new Error(`want one Set-Cookie, got ${JSON.stringify(set)}`);
  const [pair, ...attrs] = set[0].split(';').map((s) => s.trim());
  const eq = pair.indexOf('=');
  const cookie = {
    name: pair.slice(0, eq),
    value: pair.slice(eq + 1),
    domain: new URL(base).hostname,
    path: '/',
    httpOnly: false,
    sameSite: 'Lax',
  };
  for (const a of attrs) {
    const [k, v = ''] = a.split('=');
    switch (k.toLowerCase()) {
      case 'path': cookie.path = v; break;
      case 'httponly': cookie.httpOnly = true; break;
      case 'samesite': cookie.sameSite = v.charAt(0).toUpperCase() + v.slice(1).toLowerCase(); break;
    }
  }
  if (!cookie.name || !cookie.value) throw new Error(`unusable Set-Cookie ${set[0]}`);
  return cookie;
}

const requests = [];
const problems = [];
let browser;
let page;
try {
  begin('signing up over REST');
  const cookie = await register();
  console.log(`  session cookie ${cookie.name} (HttpOnly=${cookie.httpOnly}, SameSite=${cookie.sameSite})`);

  begin(`launching ${chromium}`);
  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    timeout: 30_000,
    protocolTimeout: 30_000,
    args: [
      '--no-sandbox', // the test may run as root
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
  await browser.setCookie(cookie);

  page = await browser.newPage();
  page.setDefaultTimeout(20_000);
  await page.setViewport({ width: 1280, height: 800 });
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url() }));
  page.on('pageerror', (e) => problems.push(`uncaught exception: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.method()} ${r.url()} (${r.failure()?.errorText})`));
  // A refused script, style or request would leave GraphiQL half broken
  // without necessarily throwing; count every refusal as a failure.
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });

  begin('loading /graphiql');
  const res = await page.goto(`${base}/graphiql`, { waitUntil: 'networkidle0', timeout: 30_000 });
  if (res.status() !== 200) throw new Error(`GET /graphiql answered ${res.status()}`);
  const csp = res.headers()['content-security-policy'];
  if (!csp) throw new Error('GET /graphiql sent no Content-Security-Policy');
  console.log(`  Content-Security-Policy: ${csp.replace(/'nonce-[^']+'/g, "'nonce-…'")}`);
  const editor = '.graphiql-query-editor .CodeMirror';
  await page.waitForSelector(editor, { visible: true });
  // GraphiQL loads the schema by introspection before it offers hints;
  // wait for that answer so typing is not raced by it.
  await page.waitForFunction(
    () => !document.querySelector('.graphiql-spinner') && document.querySelector('.graphiql-execute-button'),
  );

  begin(`typing ${query}`);
  await page.click(editor);
  await page.keyboard.down('Control');
  await page.keyboard.press('KeyA');
  await page.keyboard.up('Control');
  await page.keyboard.press('Backspace');
  await page.keyboard.type(query, { delay: 15 });
  await page.keyboard.press('Escape'); // close any completion list
  const typed = await page.$eval(editor, (el) => el.CodeMirror.getValue());
  if (typed.replace(/\s+/g, ' ').trim() !== query) {
    throw new Error(`the editor holds ${JSON.stringify(typed)}, not the query typed`);
  }

  begin('running the query');
  const answered = page.waitForResponse(
    (r) => r.url() === `${base}/graphql` && r.request().method() === 'POST' && (r.request().postData() || '').includes('viewer'),
  );
  await page.click('.graphiql-execute-button');
  const gql = await answered;
  if (gql.status() !== 200) throw new Error(`POST /graphql answered ${gql.status()}: ${await gql.text()}`);
  const result = '.graphiql-response .CodeMirror';
  await page.waitForFunction(
    (sel, name) => document.querySelector(sel)?.CodeMirror?.getValue().includes(name),
    { timeout: 15_000 },
    result,
    user.username,
  ).catch(async () => {
    const shown = await page.$eval(result, (el) => el.CodeMirror.getValue()).catch(() => '(no result pane)');
    throw new Error(`the result pane never showed ${user.username}; it shows ${shown}`);
  });
  const shown = await page.$eval(result, (el) => el.CodeMirror.getValue());
  console.log(`  result pane: ${shown.replace(/\s+/g, ' ')}`);
  const viewer = JSON.parse(shown)?.data?.viewer;
  if (viewer?.username !== user.username || viewer?.email !== user.email) {
    throw new Error(`want viewer ${user.username} <${user.email}>, got ${JSON.stringify(viewer)}`);
  }

  // A dialog locks scrolling with an injected <style>: it must carry the
  // page's nonce, or the policy refuses it (reported as a problem below).
  begin('opening and closing the settings dialog');
  await page.click('button[aria-label="Open settings dialog"]');
  await page.waitForSelector('[role="dialog"]', { visible: true });
  await page.keyboard.press('Escape');
  await page.waitForSelector('[role="dialog"]', { hidden: true });

  begin('opening the documentation explorer');
  await page.click('button[aria-label="Show Documentation Explorer"]');
  await page.waitForFunction(() => /Query/.test(document.querySelector('.graphiql-doc-explorer')?.textContent ?? ''));

  begin(`saving the screenshot to ${screenshotPath}`);
  await page.screenshot({ path: screenshotPath });

  begin('checking the network log');
  const offsite = requests.filter(({ url }) => {
    const u = new URL(url);
    return !['data:', 'blob:', 'about:'].includes(u.protocol) && u.host !== serverHost;
  });
  const inline = requests.filter(({ url }) => url.startsWith('data:'));
  for (const r of requests) if (!r.url.startsWith('data:')) console.log(`  ${r.method} ${r.url}`);
  if (inline.length) console.log(`  and ${inline.length} data: URLs (fonts inlined in the CSS; no network)`);
  if (offsite.length) {
    throw new Error(`requests to hosts other than ${serverHost}:\n${offsite.map((r) => `  ${r.method} ${r.url}`).join('\n')}`);
  }
  console.log(`  ${requests.length} requests, all to ${serverHost}`);
  if (problems.length) throw new Error(`the page reported problems:\n  ${problems.join('\n  ')}`);
} catch (err) {
  console.error(`FAIL while ${step}: ${err.message}`);
  if (problems.length) console.error(`page problems so far:\n  ${problems.join('\n  ')}`);
  if (page) {
    const shot = join(tmpdir(), 'graphiql-failure.png');
    await page.screenshot({ path: shot }).then(() => console.error(`screenshot of the failure: ${shot}`), () => {});
  }
  process.exitCode = 1;
} finally {
  await browser?.close().catch(() => {});
  clearTimeout(overall);
}
