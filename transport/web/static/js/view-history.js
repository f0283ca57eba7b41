// A message's earlier versions and who reacted (ADR 0042): the history sheet of an edited
// message, and the who-reacted tooltip of a reaction, both read from the REST API when
// asked for.

import { h, formatTime } from './dom.js';
import { render } from './markdown.js';

// sheet opens a read-only dialog (native <dialog>: focus is trapped, Escape closes it).
export function sheet(title, body, className = '') {
  const titleId = 'sheet-' + Math.random().toString(36).slice(2);
  const dlg = h('dialog', { class: ('sheet ' + className).trim(), 'aria-labelledby': titleId },
    h('div.sheet-head', h('h2', { id: titleId }, title),
      h('button.icon', { type: 'button', 'aria-label': 'Close', onclick: () => dlg.close() }, '×')),
    body);
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

// openHistory shows m's current text above its earlier versions, the newest first.
export function openHistory(app, m, mentionClass) {
  const list = h('ol.history-list', { 'aria-busy': 'true' }, h('li.muted', 'Loading…'));
  sheet('Edit history', list, 'history');
  const entry = (label, content, at) => h('li.version',
    h('div.meta', h('span.label', label), at ? h('time', { datetime: at, title: new Date(at).toLocaleString() }, formatTime(at)) : null),
    h('div.body', render(content, { mentionClass })));
  app.api.get(`/api/messages/${m.id}/history`).then((versions) => {
    list.removeAttribute('aria-busy');
    list.replaceChildren(entry('Current', m.content, m.editedAt),
      ...(versions || []).map((v, i, all) => entry(i === all.length - 1 ? 'Original' : 'Earlier version', v.content, v.editedAt)));
    if (!versions || !versions.length) list.append(h('li.muted', 'No earlier versions are kept.'));
  }).catch((e) => list.replaceChildren(h('li.error', e.message)));
}

// Who reacted, per message, fetched once per state of its reactions.
const who = new Map(); // message id -> {key, byEmoji: Map(emoji -> {count, userIds})}

// whoReacted fills btn's tooltip ("alice, bob and 3 others reacted with 👍") when it is
// hovered or focused.
export function whoReacted(app, m, r, btn) {
  const key = JSON.stringify((m.reactions || []).map((x) => [x.emoji, x.count]));
  const show = (info) => {
    const names = (info ? info.userIds : []).map((id) => (id === app.me.id ? 'you' : app.userName(id)));
    const count = info ? info.count : r.count;
    const more = count - names.length;
    let text = names.join(', ');
    if (more > 0) text += names.length ? ` and ${more} ${more === 1 ? 'other' : 'others'}` : `${more} ${more === 1 ? 'person' : 'people'}`;
    btn.title = `${text} reacted with ${r.emoji}`;
    btn.dataset.who = names.join(',');
  };
  const cached = who.get(m.id);
  if (cached && cached.key === key) {
    show(cached.byEmoji.get(r.emoji));
    return;
  }
  app.api.get(`/api/messages/${m.id}/reactions`).then((list) => {
    const byEmoji = new Map((list || []).map((x) => [x.emoji, x]));
    who.set(m.id, { key, byEmoji });
    if (who.size > 500) who.delete(who.keys().next().value);
    show(byEmoji.get(r.emoji));
  }).catch(() => {});
}
