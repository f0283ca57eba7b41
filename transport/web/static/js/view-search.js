// Search (SPEC.md "Search", ADR 0039): a box in the top bar (Ctrl/Cmd-K focuses it), a
// results panel grouped by channel, and jumping to a hit in its channel with context above
// and below (GET …/messages?around_seq). The server's highlight is HTML-escaped text with
// <mark> around matches; it is turned into nodes here without innerHTML: text between the
// marks is unescaped and set as text, so nothing in a message can become markup.

import { h, clear } from './dom.js';
import { parts } from './view-shell.js';

const PAGE = 20;
let panel = null;

// install adds the search box to the shell's top bar once per shell.
export function install(app) {
  const ui = parts();
  if (!ui || ui.searchBox) return;
  const input = h('input#search-input', {
    type: 'search', placeholder: 'Search (Ctrl+K)', autocomplete: 'off', 'aria-label': 'Search messages',
    onkeydown: (e) => {
      if (e.key === 'Enter') { e.preventDefault(); run(app, input.value.trim()); }
      else if (e.key === 'Escape') { close(); input.blur(); }
    },
  });
  ui.searchBox = h('form.search-box', { role: 'search', onsubmit: (e) => e.preventDefault() }, input);
  ui.wsName.after(ui.searchBox);
  if (!install.keys) {
    install.keys = true;
    document.addEventListener('keydown', (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k') {
        const box = document.getElementById('search-input');
        if (!box) return;
        e.preventDefault();
        box.focus();
        box.select();
      }
    });
  }
}

function close() {
  if (panel) panel.root.remove();
  panel = null;
}

function ensurePanel() {
  if (panel && document.body.contains(panel.root)) return panel;
  const status = h('p.search-status', { role: 'status', 'aria-live': 'polite' });
  const groups = h('div.search-groups');
  const more = h('button.link.search-more', { type: 'button', hidden: true }, 'More results');
  const root = h('section.search-panel#search-panel', { 'aria-label': 'Search results' },
    h('header.search-head', h('h2', 'Search results'),
      h('button.icon', { type: 'button', 'aria-label': 'Close search', onclick: () => close() }, '×')),
    status, groups, more);
  document.getElementById('app').append(root);
  panel = { root, status, groups, more };
  return panel;
}

async function run(app, q) {
  if (!q || !app.wid) return;
  const p = ensurePanel();
  p.q = q;
  p.hits = [];
  clear(p.groups);
  p.status.textContent = 'Searching…';
  await page(app, p, null);
}

async function page(app, p, cursor) {
  const qs = new URLSearchParams({ q: p.q, limit: String(PAGE) });
  if (cursor) qs.set('cursor', cursor);
  let res;
  try {
    res = await app.api.get(`/api/workspaces/${app.wid}/search?${qs}`);
  } catch (e) {
    p.status.textContent = e.message; // a bad filter names itself (field q)
    return;
  }
  if (panel !== p) return; // closed or replaced meanwhile
  p.hits.push(...res.items);
  renderGroups(app, p);
  p.status.textContent = p.hits.length === 0 ? 'No messages match.' : `${p.hits.length}${res.next ? '+' : ''} messages`;
  p.more.hidden = !res.next;
  p.more.onclick = () => page(app, p, res.next);
}

// renderGroups lists the hits by channel, channels in the order of their best hit.
function renderGroups(app, p) {
  const byChannel = new Map();
  for (const hit of p.hits) {
    if (!byChannel.has(hit.channelId)) byChannel.set(hit.channelId, []);
    byChannel.get(hit.channelId).push(hit);
  }
  clear(p.groups);
  for (const [cid, hits] of byChannel) {
    const ch = app.channels.get(cid);
    const name = ch ? (ch.info.type === 'dm' ? '' : '#') + app.channelLabel(ch) : 'a channel';
    p.groups.append(h('section.search-group', { dataset: { channel: cid } },
      h('h3', name),
      h('ul', hits.map((hit) => h('li',
        h('button.search-hit', { type: 'button', dataset: { id: hit.message.id, seq: String(hit.message.seq) }, onclick: () => jump(app, hit) },
          h('span.meta', app.userName(hit.message.userId), ' · ', new Date(hit.message.createdAt).toLocaleString()),
          h('span.snippet', highlightNodes(hit.highlight))))))));
  }
}

// highlightNodes turns the server's escaped text with <mark>…</mark> into nodes.
export function highlightNodes(s) {
  const out = [];
  const re = /<mark>(.*?)<\/mark>/gs;
  let last = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (m.index > last) out.push(unescape(s.slice(last, m.index)));
    out.push(h('mark', unescape(m[1])));
    last = re.lastIndex;
  }
  if (last < s.length) out.push(unescape(s.slice(last)));
  return out;
}

const ENTITIES = { '&lt;': '<', '&gt;': '>', '&amp;': '&', '&#39;': "'", '&#34;': '"', '&quot;': '"' };
function unescape(s) { return s.replace(/&(lt|gt|amp|quot|#39|#34);/g, (e) => ENTITIES[e]); }

// jump opens the hit's channel with the page around it and brings it into view. A reply
// opens its thread beside the channel.
async function jump(app, hit) {
  const m = hit.message;
  const ch = app.channels.get(hit.channelId);
  if (!ch) return;
  close();
  location.hash = `#/w/${app.wid}/c/${hit.channelId}`;
  await app.openChannel(hit.channelId);
  if (m.parentId) {
    await app.openThread(m.parentId);
    return;
  }
  if (!ch.msgs.has(m.seq)) {
    try {
      await loadAround(app, ch, m.seq);
    } catch (e) {
      app.toast(e.message);
      return;
    }
  }
  app.render();
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const el = document.getElementById('m-' + m.seq);
    if (!el) return;
    el.scrollIntoView({ block: 'center' });
    el.classList.add('jump-target');
    el.focus({ preventScroll: true });
    setTimeout(() => el.classList.remove('jump-target'), 3000);
  }));
}

// loadAround adds the page centred on seq and fills the gap up to what is already loaded
// (at most 5 pages), so that the channel reads continuously down from the hit.
async function loadAround(app, ch, seq) {
  const res = await app.api.get(`/api/channels/${ch.id}/messages?around_seq=${seq}&limit=50`);
  let top = null;
  let bottom = 0;
  for (const m of res.items) {
    ch.addMessage(m);
    if (top === null || m.seq < top) top = m.seq;
    if (m.seq > bottom) bottom = m.seq;
  }
  if (top !== null && (ch.oldestSeq === null || top < ch.oldestSeq)) {
    ch.oldestSeq = top;
    ch.hasMore = top > 1;
  }
  for (let i = 0; i < 5 && bottom > 0; i++) {
    const loaded = [...ch.msgs.keys()].filter((s) => s > bottom);
    if (loaded.length === 0 || Math.min(...loaded) === bottom + 1) break;
    const next = await app.api.get(`/api/channels/${ch.id}/messages?after_seq=${bottom}&limit=100`);
    if (next.items.length === 0) break;
    for (const m of next.items) {
      ch.addMessage(m);
      if (m.seq > bottom) bottom = m.seq;
    }
  }
}
