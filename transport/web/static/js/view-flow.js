// The flow of a channel's messages (ADR 0042): consecutive messages of one author within a
// few minutes are grouped (the later ones without their author line), a separator names each
// new day, and a "New messages" line sits above the first message that was unread when the
// channel was opened. layout is DOM-free (the unit tests run it in Node); renderSeparator
// draws its separator items.

import { h } from './dom.js';

// GROUP_MS: a message this soon after the previous one of the same author continues its
// group.
export const GROUP_MS = 5 * 60 * 1000;

// layout returns the items to render, in order: messages (each with cont: true when it
// continues its author's group) and separators ({kind: 'day', key, label} and
// {kind: 'new', key: 'new'}). newAfterSeq: the reader's marker when the channel was opened
// (null: no line); myId: the reader, whose own messages never start the line.
export function layout(msgs, { newAfterSeq = null, myId = null, dayLabel = defaultDayLabel } = {}) {
  const out = [];
  let prev = null;
  let lineDrawn = newAfterSeq === null;
  for (const m of msgs) {
    const day = dayKey(m.createdAt);
    const newDay = !prev || dayKey(prev.createdAt) !== day;
    if (newDay && day) out.push({ kind: 'day', key: 'day-' + day, label: dayLabel(m.createdAt) });
    let line = false;
    if (!lineDrawn && m.seq > newAfterSeq && m.userId !== myId) {
      out.push({ kind: 'new', key: 'new' });
      lineDrawn = line = true;
    }
    const cont = !!prev && !newDay && !line && prev.userId === m.userId && !prev.deleted && !m.deleted &&
      Date.parse(m.createdAt) - Date.parse(prev.createdAt) < GROUP_MS;
    out.push(cont === !!m.cont ? m : Object.assign(m, { cont }));
    prev = m;
  }
  return out;
}

function dayKey(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

// defaultDayLabel: "Today", "Yesterday", or the date in the reader's locale.
export function defaultDayLabel(iso, now = new Date()) {
  const d = new Date(iso);
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (d.toDateString() === now.toDateString()) return 'Today';
  if (d.toDateString() === yesterday.toDateString()) return 'Yesterday';
  return d.toLocaleDateString([], { weekday: 'long', month: 'long', day: 'numeric', year: d.getFullYear() === now.getFullYear() ? undefined : 'numeric' });
}

export function isSeparator(item) { return item.kind === 'day' || item.kind === 'new'; }

export function renderSeparator(item) {
  if (item.kind === 'new') {
    return h('div.new-line', { role: 'separator', 'aria-label': 'New messages' }, h('span', 'New messages'));
  }
  return h('div.day-sep', { role: 'separator', 'aria-label': item.label }, h('span', item.label));
}
