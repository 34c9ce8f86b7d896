// Renders one page of a PDF with pdf.js (Mozilla's viewer, as in Firefox)
// in Debian's chromium and writes it as PNG, with annotation appearances
// painted, so tests can check that visible signatures display in pdf.js as
// they do in poppler.
//
//   node pdfjs-render.mjs IN.pdf OUT.png PAGE DPI

import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [input, output, pageArg, dpiArg] = process.argv.slice(2);
if (!input || !output) throw new Error('usage: pdfjs-render.mjs IN.pdf OUT.png PAGE DPI');
const pageNo = Number(pageArg || 1);
const scale = Number(dpiArg || 100) / 72;
const here = path.dirname(fileURLToPath(import.meta.url));
const build = path.join(here, 'node_modules/pdfjs-dist/build');

const page = `<!doctype html><meta charset="utf-8"><canvas id="c"></canvas>
<script type="module">
import * as pdfjs from '/pdfjs/pdf.mjs';
pdfjs.GlobalWorkerOptions.workerSrc = '/pdfjs/pdf.worker.mjs';
try {
  const doc = await pdfjs.getDocument({ url: '/doc.pdf' }).promise;
  const p = await doc.getPage(${pageNo});
  const viewport = p.getViewport({ scale: ${scale} });
  const canvas = document.getElementById('c');
  canvas.width = Math.floor(viewport.width);
  canvas.height = Math.floor(viewport.height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  // ENABLE paints every annotation's appearance stream, widgets included.
  await p.render({ canvasContext: ctx, viewport, annotationMode: pdfjs.AnnotationMode.ENABLE }).promise;
  window.png = canvas.toDataURL('image/png');
} catch (e) {
  window.failure = String(e && e.stack || e);
}
</script>`;

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/') return res.writeHead(200, { 'content-type': 'text/html' }), res.end(page);
  if (url.pathname === '/doc.pdf') return res.writeHead(200, { 'content-type': 'application/pdf' }), res.end(fs.readFileSync(input));
  if (url.pathname.startsWith('/pdfjs/')) {
    const file = path.join(build, path.basename(url.pathname));
    if (fs.existsSync(file)) return res.writeHead(200, { 'content-type': 'text/javascript' }), res.end(fs.readFileSync(file));
  }
  res.writeHead(404);
  res.end();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
});
try {
  const p = await browser.newPage();
  await p.goto(`http://127.0.0.1:${server.address().port}/`);
  await p.waitForFunction(() => window.png || window.failure, null, { timeout: 60000 });
  const failure = await p.evaluate(() => window.failure);
  if (failure) throw new Error('pdf.js: ' + failure);
  const dataUrl = await p.evaluate(() => window.png);
  fs.writeFileSync(output, Buffer.from(dataUrl.split(',')[1], 'base64'));
} finally {
  await browser.close();
  server.close();
}
