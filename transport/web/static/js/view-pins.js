// Pinned messages (ADR 0042): a channel's pins are loaded when it is opened and kept current
// by message.pinned / message.unpinned (and message.deleted, which drops a pin); the message
// menu pins and unpins; the pins panel lists them.

import { h, formatTime } from './dom.js';
import { render } from './markdown.js';
import { sheet } from './view-history.js';

function pinsOf(ch) {
  if (!ch.pins) ch.pins = new Map(); // message id -> {pinnedBy, pinnedAt}
  return ch.pins;
}

export function isPinned(ch, id) { return !!ch && pinsOf(ch).has(id); }

export function count(ch) { return ch ? pinsOf(ch).size : 0; }

// load fetches ch's pins (once per opening; events keep them current after).
export async function load(app, ch) {
  const page = await app.api.get(`/api/channels/${ch.id}/pins`);
  const pins = pinsOf(ch);
  pins.clear();
  for (const p of (page && page.items) || []) {
    pins.set(p.message.id, { pinnedBy: p.pinnedBy, pinnedAt: p.pinnedAt });
  }
  app.render();
  return page;
}

// onEvent applies message.pinned, message.unpinned and message.deleted; it reports whether
// anything changed.
export function onEvent(ch, ev) {
  const pins = pinsOf(ch);
  if (ev.type === 'message.pinned') {
    pins.set(ev.id, { pinnedBy: ev.byUserId, pinnedAt: ev.pinnedAt });
    return true;
  }
  return pins.delete(ev.id);
}

export async function toggle(app, m) {
  const ch = app.channels.get(m.channelId);
  if (!ch) return;
  if (isPinned(ch, m.id)) {
    await app.api.del(`/api/messages/${m.id}/pin`);
    pinsOf(ch).delete(m.id);
  } else {
    const pin = await app.api.put(`/api/messages/${m.id}/pin`);
    pinsOf(ch).set(m.id, { pinnedBy: pin.pinnedBy, pinnedAt: pin.pinnedAt });
  }
  app.render();
}

// headerButton opens the pins panel; it shows how many there are.
export function headerButton(app, mentionClass) {
  return h('button.icon.pins-btn', {
    type: 'button', 'aria-label': 'Pinned messages', title: 'Pinned messages',
    onclick: () => openPanel(app, app.active(), mentionClass),
  }, '📌');
}

export function updateHeaderButton(btn, ch) {
  const n = count(ch);
  const text = n ? `📌 ${n}` : '📌';
  if (btn.textContent !== text) btn.textContent = text;
}

// openPanel lists the open channel's pins, the latest pinned first, fetched afresh.
export function openPanel(app, ch, mentionClass) {
  if (!ch) return;
  const list = h('ul.pin-list', { 'aria-busy': 'true' }, h('li.muted', 'Loading…'));
  const dlg = sheet('Pinned messages', list, 'pins-panel');
  const draw = (page) => {
    list.removeAttribute('aria-busy');
    const items = (page && page.items) || [];
    if (!items.length) {
      list.replaceChildren(h('li.empty-note', 'Nothing is pinned here yet. Pin a message from its menu.'));
      return;
    }
    list.replaceChildren(...items.map((p) => h('li.pin-item', { dataset: { id: p.message.id } },
      h('div.meta',
        h('span.author', app.userName(p.message.userId)),
        h('time', { datetime: p.message.createdAt }, formatTime(p.message.createdAt)),
        h('span.muted', `pinned by ${app.userName(p.pinnedBy)}`)),
      h('div.body', p.message.deleted ? 'This message was deleted.' : render(p.message.content, { mentionClass })),
      h('div.row',
        h('button.link', {
          type: 'button', onclick: () => {
            dlg.close();
            document.getElementById('m-' + p.message.seq)?.scrollIntoView({ block: 'center' });
          },
        }, 'Show in channel'),
        h('button.link', {
          type: 'button', 'aria-label': 'Unpin message',
          onclick: () => toggle(app, { ...p.message }).then(() => load(app, ch)).then(draw).catch((e) => app.toast(e.message)),
        }, 'Unpin')))));
  };
  load(app, ch).then(draw).catch((e) => list.replaceChildren(h('li.error', e.message)));
}
