// Files in the web client (ADR 0041): attaching them to a message (a button, drag-and-drop
// onto the channel, paste into the composer), the tray of uploads waiting to be sent, and
// a message's files (image previews from their thumbnails, download links).
//
// <img> and <a href> cannot send an Authorization header, so file URLs carry the token as
// ?access_token= (as /ws does); the server answers them with nosniff, a sandboxing CSP and
// no-referrer, and with an S3 store a redirect to a short-lived presigned URL.

import { h, clear } from './dom.js';
import { ApiError } from './api.js';

// At most this many files per message (SPEC "Files").
export const MAX_FILES = 10;

// fileUrl is an API file path the browser can fetch on its own.
export function fileUrl(app, path) {
  return app.api.base + path + (path.includes('?') ? '&' : '?') + 'access_token=' + encodeURIComponent(app.api.token);
}

// upload sends one File as multipart/form-data and resolves with the server's description.
export async function upload(app, wid, file) {
  const fd = new FormData();
  fd.append('file', file, file.name || 'pasted-image.png');
  let res;
  try {
    res = await fetch(`${app.api.base}/api/workspaces/${wid}/files`, {
      method: 'POST', headers: { Authorization: 'Bearer ' + app.api.token, Accept: 'application/json' }, body: fd,
    });
  } catch {
    throw new ApiError(0, { detail: 'Cannot reach the server to upload ' + file.name, code: 'network' });
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function hasFiles(e) {
  return !!e.dataTransfer && [...(e.dataTransfer.types || [])].includes('Files');
}

export function formatSize(n) {
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KB';
  return (n / 1024 / 1024).toFixed(1) + ' MB';
}

// attacher wires attaching into a composer: input takes pasted files, dropOn(el) makes el
// take dropped ones. It returns the controls to place (the button and its hidden picker),
// the tray, take() (the uploaded files to send, emptying the tray) and busy().
export function attacher(app, input) {
  const entries = []; // {key, name, status: 'uploading'|'ready'|'failed', file?, error?}
  let seq = 0;
  const tray = h('ul.file-tray', { 'aria-label': 'Files to send', hidden: true });
  const picker = h('input.file-picker', {
    type: 'file', multiple: true, hidden: true, 'aria-hidden': 'true', tabindex: '-1',
    onchange: () => { add([...picker.files]); picker.value = ''; },
  });
  const button = h('button.icon.attach', {
    type: 'button', 'aria-label': 'Attach files', title: 'Attach files (or drop or paste them)',
    onclick: () => picker.click(),
  }, '📎');

  const render = () => {
    tray.hidden = entries.length === 0;
    clear(tray);
    for (const en of entries) {
      tray.append(h('li.file-chip', { dataset: { status: en.status } },
        h('span.name', en.name),
        h('span.state', en.status === 'uploading' ? 'uploading…' : en.status === 'failed' ? en.error || 'failed' : formatSize(en.file.size)),
        h('button.icon', {
          type: 'button', 'aria-label': 'Remove ' + en.name,
          onclick: () => { entries.splice(entries.indexOf(en), 1); render(); },
        }, '×')));
    }
  };

  async function add(list) {
    const wid = app.wid;
    for (const f of list) {
      if (entries.length >= MAX_FILES) {
        app.toast(`At most ${MAX_FILES} files per message.`);
        break;
      }
      const en = { key: ++seq, name: f.name || 'pasted-image.png', status: 'uploading' };
      entries.push(en);
      render();
      upload(app, wid, f).then((file) => { en.file = file; en.status = 'ready'; },
        (e) => { en.status = 'failed'; en.error = e.status === 413 ? 'too large' : e.message; })
        .finally(render);
    }
  }

  const dropOn = (zone) => {
    zone.addEventListener('dragover', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      zone.classList.add('dragging');
    });
    zone.addEventListener('dragleave', (e) => {
      if (!zone.contains(e.relatedTarget)) zone.classList.remove('dragging');
    });
    zone.addEventListener('drop', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      zone.classList.remove('dragging');
      add([...e.dataTransfer.files]);
    });
  };
  input.addEventListener('paste', (e) => {
    const fs = [...((e.clipboardData && e.clipboardData.files) || [])];
    if (fs.length === 0) return;
    e.preventDefault();
    add(fs);
  });

  return {
    controls: [button, picker],
    tray,
    add,
    dropOn,
    busy: () => entries.some((en) => en.status === 'uploading'),
    take() {
      const files = entries.filter((en) => en.status === 'ready').map((en) => en.file);
      entries.length = 0;
      render();
      return files;
    },
  };
}

// renderFiles shows a message's files: images as thumbnails linking to the full image,
// other files as download links with their size.
export function renderFiles(app, files) {
  if (!files || files.length === 0) return null;
  return h('ul.files', { 'aria-label': 'Attached files' }, files.map((f) => {
    const href = fileUrl(app, f.url);
    if (f.thumbnailUrl) {
      return h('li.file.image', h('a', { href, target: '_blank', rel: 'noopener noreferrer', title: f.name },
        h('img', { src: fileUrl(app, f.thumbnailUrl), alt: f.name, loading: 'lazy', decoding: 'async' })));
    }
    return h('li.file', h('a.download', { href, download: f.name, rel: 'noopener noreferrer' },
      '📄 ', h('span.name', f.name), ' ', h('span.size', formatSize(f.size))));
  }));
}
