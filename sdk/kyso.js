// Kyso JS SDK: lets a web document system sign PDFs with the signing token
// in the user's USB port, through the Kyso agent on 127.0.0.1.
// An ES module with no dependencies. See docs/api.md.
//
//   import { detect, sign } from 'http://127.0.0.1:28770/sdk/kyso.js';
//   const signed = await sign(pdfBlob, { reason: 'Phê duyệt' });

export const DEFAULT_BASE = 'http://127.0.0.1:28770';


/** An error with Kyso's stable code and both messages. */
export class KysoError extends Error {
  constructor(code, message, messageVi, status) {
    super(message);
    this.name = 'KysoError';
    this.code = code;
    this.messageVi = messageVi || message;
    this.status = status || 0;
  }
}

function withTimeout(ms) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(new KysoError('TIMEOUT',
    'Kyso did not answer in time.', 'Kyso không trả lời kịp thời.')), ms);
  return { signal: ctrl.signal, done: () => clearTimeout(timer) };
}

async function call(base, path, { method = 'GET', body, headers = {}, timeoutMs = 8000, raw = false } = {}) {
  const t = withTimeout(timeoutMs);
  let res;
  try {
    res = await fetch(base + path, {
      method,
      body,
      headers: { 'X-Kyso-Request': '1', ...headers },
      signal: t.signal,
      cache: 'no-store',
    });
  } catch (e) {
    if (e instanceof KysoError) throw e;
    if (t.signal.aborted && t.signal.reason instanceof KysoError) throw t.signal.reason;
    throw new KysoError('NOT_REACHABLE', 'Kyso is not reachable: ' + e.message,
      'Không kết nối được với Kyso: ' + e.message);
  } finally {
    t.done();
  }
  if (raw && res.ok) return res;
  let data = null;
  const type = res.headers.get('content-type') || '';
  if (type.includes('application/json')) data = await res.json();
  if (!res.ok) {
    const err = (data && data.error) || {};
    throw new KysoError(err.code || 'HTTP_' + res.status, err.message || res.statusText, err.message_vi, res.status);
  }
  return raw ? res : { status: res.status, data };
}

async function localNetworkPermission() {
  if (!globalThis.navigator || !navigator.permissions) return 'unknown';
  for (const name of ['local-network-access', 'loopback-network', 'local-network']) {
    try {
      const st = await navigator.permissions.query({ name });
      return st.state;
    } catch (_) { /* this browser does not know the name */ }
  }
  return 'unknown';
}

function openWindow(url) {
  return window.open(url, 'kyso-consent', 'popup,width=560,height=760');
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

export function createClient({ base = DEFAULT_BASE, timeoutMs = 8000 } = {}) {
  base = base.replace(/\/$/, '');

  /**
   * Tells apart "running", "not-running" and "blocked" (the browser's
   * local-network permission stops the page from reaching Kyso). Never hangs.
   */
  async function detect() {
    try {
      const { data } = await call(base, '/v1/hello', { timeoutMs: Math.min(timeoutMs, 3000) });
      return { state: 'running', version: data.version, paired: !!data.paired };
    } catch (e) {
      const perm = await localNetworkPermission();
      if (perm === 'denied' || perm === 'prompt') return { state: 'blocked', permission: perm };
      return { state: 'not-running' };
    }
  }

  async function pair(popup) {
    const { data } = await call(base, '/v1/pair', {
      method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' }, timeoutMs,
    });
    if (data.paired) return;
    const win = showIn(popup, data.consent_url);
    for (;;) {
      const { data: st } = await call(base, '/v1/pair/' + data.pair_id + '?wait=20', { timeoutMs: 30000 });
      if (st.state === 'approved') return;
      if (st.state === 'denied') throw new KysoError('PAIRING_DENIED',
        'The user did not allow this website to use the signing token.',
        'Người dùng không cho phép trang web này dùng thiết bị ký.');
      if (st.state === 'expired') throw new KysoError('PAIRING_EXPIRED',
        'Nobody answered the Kyso window in time.', 'Không có ai trả lời cửa sổ Kyso kịp thời.');
      if (win && win.closed) throw new KysoError('PAIRING_CLOSED',
        'The Kyso window was closed.', 'Cửa sổ Kyso đã bị đóng.');
    }
  }

  function showIn(popup, url) {
    if (popup && !popup.closed) {
      popup.location.href = url;
      return popup;
    }
    return openWindow(url);
  }

  async function waitForJob(job, popup) {
    let win = popup;
    if (job.state === 'awaiting_consent' && job.consent_url) win = showIn(popup, job.consent_url);
    for (;;) {
      if (job.state === 'done') return job;
      if (job.state === 'failed' || job.state === 'cancelled') {
        const err = job.error || {};
        throw new KysoError(err.code || 'JOB_' + job.state.toUpperCase(), err.message || job.state, err.message_vi);
      }
      if (win && win.closed && job.state === 'awaiting_consent') {
        await call(base, '/v1/jobs/' + job.job_id, { method: 'DELETE', timeoutMs }).catch(() => {});
        throw new KysoError('CONSENT_CLOSED', 'The Kyso window was closed; nothing was signed.',
          'Cửa sổ Kyso đã bị đóng; không có văn bản nào được ký.');
      }
      const { data } = await call(base, '/v1/jobs/' + job.job_id + '?wait=20', { timeoutMs: 30000 });
      job = data;
      if (job.state === 'awaiting_consent' && win && win.closed) await sleep(200);
    }
  }

  async function fetchResult(job, index) {
    const res = await call(base, job.documents[index].result_url, { raw: true, timeoutMs: 120000 });
    return await res.blob();
  }

  /**
   * Signs one PDF. Opens Kyso's window for pairing (first time) and consent;
   * resolves with the signed PDF as a Blob. Call it from a click handler so
   * the browser allows the window.
   */
  async function sign(pdf, opts = {}) {
    const popup = opts.popup === undefined ? openWindow('') : opts.popup;
    try {
      const hello = await call(base, '/v1/hello', { timeoutMs });
      if (!hello.data.paired) await pair(popup);
      const options = {};
      for (const k of ['reason', 'location', 'contact_info', 'field_name', 'appearance']) if (opts[k] != null) options[k] = opts[k];
      const res = await call(base, '/v1/sign', {
        method: 'POST',
        body: pdf,
        raw: true,
        timeoutMs: opts.uploadTimeoutMs || 300000,
        headers: {
          'Content-Type': 'application/pdf',
          'X-Kyso-Options': encodeURIComponent(JSON.stringify(options)),
          'X-Kyso-Filename': encodeURIComponent(opts.name || pdf.name || 'document.pdf'),
        },
      });
      if (res.status === 200 && (res.headers.get('content-type') || '').includes('application/pdf')) {
        if (popup) popup.close();
        return await res.blob();
      }
      const job = await waitForJob(await res.json(), popup);
      const blob = await fetchResult(job, 0);
      if (popup && !popup.closed) popup.close();
      return blob;
    } catch (e) {
      if (popup && !popup.closed) popup.close();
      throw e;
    }
  }

  /** Signs several PDFs with one consent and one PIN; resolves with Blobs in order. */
  async function signBatch(pdfs, opts = {}) {
    const popup = opts.popup === undefined ? openWindow('') : opts.popup;
    try {
      const hello = await call(base, '/v1/hello', { timeoutMs });
      if (!hello.data.paired) await pair(popup);
      const options = {};
      for (const k of ['reason', 'location', 'contact_info', 'appearance']) if (opts[k] != null) options[k] = opts[k];
      const names = pdfs.map((p, i) => p.name || 'document-' + (i + 1) + '.pdf');
      const { data: created } = await call(base, '/v1/jobs', {
        method: 'POST', timeoutMs,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ documents: names.map((name) => ({ name })), options }),
      });
      let job = created;
      for (let i = 0; i < pdfs.length; i++) {
        const { data } = await call(base, created.upload_urls[i], {
          method: 'PUT', body: pdfs[i], timeoutMs: 300000, headers: { 'Content-Type': 'application/pdf' },
        });
        job = data;
      }
      job = await waitForJob(job, popup);
      const out = [];
      for (let i = 0; i < pdfs.length; i++) out.push(await fetchResult(job, i));
      if (popup && !popup.closed) popup.close();
      return out;
    } catch (e) {
      if (popup && !popup.closed) popup.close();
      throw e;
    }
  }

  return { detect, sign, signBatch };
}

const defaultClient = createClient();
export const detect = (...a) => defaultClient.detect(...a);
export const sign = (...a) => defaultClient.sign(...a);
export const signBatch = (...a) => defaultClient.signBatch(...a);
