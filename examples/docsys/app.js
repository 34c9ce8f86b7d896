// The demo document system: detects Kyso, then signs the chosen PDF.
const params = new URLSearchParams(location.search);
const base = params.get('kyso') || 'http://127.0.0.1:28770';
const $ = (id) => document.getElementById(id);

// A real e-office system bundles the SDK with its own code, as here: loading
// it from 127.0.0.1 would itself need the local-network permission.
import { createClient } from './kyso.js';

const client = createClient({ base });

async function showDetect() {
  const d = await client.detect();
  const text = {
    running: 'Kyso đang chạy (phiên bản ' + d.version + ') · Kyso is running',
    'not-running': 'Kyso chưa được cài hoặc chưa chạy · Kyso is not installed or not running',
    blocked: 'Trình duyệt đang chặn truy cập mạng cục bộ; hãy cho phép · The browser blocks local network access; allow it',
  }[d.state];
  $('detect').textContent = text;
  $('detect').className = 'status ' + d.state;
  $('detect').dataset.state = d.state;
}

$('sign').addEventListener('click', async () => {
  const file = $('file').files[0];
  if (!file) { $('result').textContent = 'Hãy chọn tệp PDF · Choose a PDF'; return; }
  $('result').textContent = 'Đang chờ xác nhận trong cửa sổ Kyso… · Waiting for the Kyso window…';
  $('result').className = 'status';
  try {
    const signed = await client.sign(file, { reason: $('reason').value, name: file.name });
    const a = $('download');
    a.href = URL.createObjectURL(signed);
    a.download = file.name.replace(/\.pdf$/i, '') + '-signed.pdf';
    a.hidden = false;
    $('result').textContent = 'Đã ký · Signed (' + signed.size + ' bytes)';
    $('result').className = 'status running';
    $('result').dataset.state = 'signed';
    window.kysoSigned = signed;
  } catch (e) {
    $('result').textContent = (e.code || 'ERROR') + ': ' + (e.messageVi || e.message) + ' · ' + e.message;
    $('result').className = 'status error';
    $('result').dataset.state = 'error';
    $('result').dataset.code = e.code || 'ERROR';
  }
});

showDetect();
