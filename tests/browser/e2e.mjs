// End-to-end in Debian's chromium: the demo document system on origin A
// pairs with Kyso, the user approves and types the PIN in Kyso's window, and
// the page receives the signed PDF. Origin B is refused. Run by
// tests/browser.rs, which starts `kyso serve` and validates the PDF.
//
// Both demo origins are served on ports that chromium is told to treat as
// public sites, so Local Network Access applies exactly as for a real
// https e-office site calling 127.0.0.1.

import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`missing env ${name}`);
  return v;
};
const KYSO = env('KYSO_BASE');
const DOCSYS = env('DOCSYS_DIR');
const SDK = env('SDK_PATH');
const PDF = env('PDF_PATH');
const PIN = env('PIN');
const OUT = env('OUT_PATH');
const SHOTS = env('SCREENSHOT_DIR');
const PORT_A = Number(env('PORT_A'));
const PORT_B = Number(env('PORT_B'));
const PORT_C = Number(env('PORT_C'));

function serveDocsys(port) {
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const file = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
    const name = path.basename(file);
    const full = name === 'kyso.js' ? SDK : path.join(DOCSYS, name);
    if (!fs.existsSync(full)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': types[path.extname(full)] || 'application/octet-stream' });
    res.end(fs.readFileSync(full));
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

const results = {};
function check(name, ok, detail) {
  results[name] = { ok: !!ok, detail };
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ': ' + detail : ''}`);
}

const servers = await Promise.all([serveDocsys(PORT_A), serveDocsys(PORT_B), serveDocsys(PORT_C)]);
const origin = (p) => `http://127.0.0.1:${p}`;
const pageUrl = (p) => `${origin(p)}/?kyso=${encodeURIComponent(KYSO)}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic',
    `--ip-address-space-overrides=127.0.0.1:${PORT_A}=public,127.0.0.1:${PORT_B}=public,127.0.0.1:${PORT_C}=public`,
  ],
});

try {
  // --- Origin A: permission granted, pairing approved, PIN typed -------------
  const ctxA = await browser.newContext({ viewport: { width: 900, height: 700 } });
  await ctxA.grantPermissions(['local-network-access'], { origin: origin(PORT_A) });
  const a = await ctxA.newPage();
  if (process.env.E2E_DEBUG) {
    ctxA.on('request', (r) => console.log('>>', r.method(), r.url()));
    ctxA.on('requestfinished', async (r) => console.log('<<', (await r.response())?.status(), r.url()));
    ctxA.on('requestfailed', (r) => console.log('xx', r.url(), r.failure()?.errorText));
    a.on('console', (m) => console.log('console:', m.text()));
  }
  await a.goto(pageUrl(PORT_A));
  await a.waitForSelector('#detect[data-state]');
  check('A detects a running Kyso', (await a.getAttribute('#detect', 'data-state')) === 'running',
    await a.textContent('#detect'));

  await a.setInputFiles('#file', PDF);
  const popupPromise = ctxA.waitForEvent('page');
  await a.click('#sign');
  const popup = await popupPromise;
  await popup.waitForURL(/\/pair\//, { timeout: 15000 });
  await popup.waitForSelector('#approve');
  const pairText = await popup.textContent('h1');
  check('pairing window names the site', pairText.includes(origin(PORT_A)), pairText);
  await popup.setViewportSize({ width: 560, height: 520 });
  await popup.screenshot({ path: path.join(SHOTS, 'pairing.png') });
  await popup.click('#approve');

  try {
    await popup.waitForURL(/\/consent\//, { timeout: 15000 });
  } catch (e) {
    throw new Error(`no consent window; the page says: ${await a.textContent('#result')}; popup at ${popup.url()}`);
  }
  await popup.waitForSelector('#pin');
  const consentText = await popup.textContent('main');
  check('consent window shows site, document and certificate',
    consentText.includes(origin(PORT_A)) && consentText.includes(path.basename(PDF)) && consentText.includes('Nguyễn Văn An'),
    consentText.slice(0, 200));
  // The calling page cannot read Kyso's window.
  const readable = await a.evaluate(() => {
    try { const w = window.open('', 'kyso-consent'); return w.document.body.innerText.length >= 0; } catch (e) { return false; }
  });
  check('the calling page cannot read the consent window', readable === false);
  await popup.setViewportSize({ width: 560, height: 760 });
  await popup.fill('#pin', PIN);
  await popup.screenshot({ path: path.join(SHOTS, 'consent.png') });
  await popup.click('#approve');

  await a.waitForSelector('#result[data-state]', { timeout: 30000 });
  const state = await a.getAttribute('#result', 'data-state');
  check('A receives the signed PDF', state === 'signed', await a.textContent('#result'));
  if (state === 'signed') {
    const bytes = await a.evaluate(async () => Array.from(new Uint8Array(await window.kysoSigned.arrayBuffer())));
    fs.writeFileSync(OUT, Buffer.from(bytes));
  }
  await a.screenshot({ path: path.join(SHOTS, 'docsys-signed.png') });

  // --- Origin B: reaches Kyso, but the user refuses to pair it -----------------
  const ctxB = await browser.newContext();
  await ctxB.grantPermissions(['local-network-access'], { origin: origin(PORT_B) });
  const b = await ctxB.newPage();
  await b.goto(pageUrl(PORT_B));
  await b.waitForSelector('#detect[data-state]');
  const direct = await b.evaluate(async (kyso) => {
    try {
      await fetch(kyso + '/v1/status', { headers: { 'X-Kyso-Request': '1' } });
      return 'readable';
    } catch (e) { return 'refused'; }
  }, KYSO);
  check('B cannot read the API of an unpaired origin', direct === 'refused', direct);
  await b.setInputFiles('#file', PDF);
  const popupB = ctxB.waitForEvent('page');
  await b.click('#sign');
  const pb = await popupB;
  await pb.waitForURL(/\/pair\//, { timeout: 15000 });
  await pb.click('#deny');
  await b.waitForSelector('#result[data-state]', { timeout: 30000 });
  check('B is refused', (await b.getAttribute('#result', 'data-code')) === 'PAIRING_DENIED',
    await b.textContent('#result'));

  // --- Origin C: the browser's local-network permission is not granted ---------
  const ctxC = await browser.newContext();
  const c = await ctxC.newPage();
  await c.goto(pageUrl(PORT_C));
  await c.waitForSelector('#detect[data-state]', { timeout: 15000 });
  check('C without permission is told "blocked", not "not installed"',
    (await c.getAttribute('#detect', 'data-state')) === 'blocked', await c.textContent('#detect'));
} finally {
  await browser.close();
  servers.forEach((s) => s.close());
}

const failed = Object.entries(results).filter(([, r]) => !r.ok);
console.log(JSON.stringify(results));
process.exit(failed.length ? 1 : 0);
