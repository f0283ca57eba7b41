// Building blocks of the integration screens (API tokens, bots, webhooks, slash commands):
// a management dialog, a secret shown exactly once, small tables, the BOT tag, and who may
// manage a workspace's integrations. Every secret the server returns is shown here once and
// never kept: the dialog holds it only until it closes.

import { h } from './dom.js';

// Expiry choices for API tokens (seconds, SPEC "Integrations": 60 s to 366 days; the server's
// default is 90 days).
export const EXPIRY = [
  ['604800', '7 days'],
  ['2592000', '30 days'],
  ['7776000', '90 days'],
  ['31622400', '366 days'],
];
export const DEFAULT_EXPIRY = '7776000';

// panel opens a dialog that lists and manages things (not a single form): sections are
// appended to body; Close (or Escape) ends it and runs onClose.
export function panel(title, { onClose } = {}) {
  const titleId = 'dlg-' + Math.random().toString(36).slice(2);
  const body = h('div.panel-body');
  const close = h('button', { type: 'button', onclick: () => dlg.close() }, 'Close');
  const dlg = h('dialog.panel', { 'aria-labelledby': titleId }, h('h2', { id: titleId }, title), body, h('div.row.buttons', close));
  dlg.addEventListener('close', () => {
    dlg.remove();
    if (onClose) onClose();
  });
  document.body.append(dlg);
  dlg.showModal();
  return { dlg, body, close: () => dlg.close() };
}

// section is a titled part of a panel with its own error line.
export function section(title, ...children) {
  const error = h('p.error', { role: 'alert' });
  const el = h('section.panel-section', h('h3', title), children, error);
  return { el, error };
}

// secretOnce shows a secret with a copy button and the warning that it will not be shown
// again; id names its input (the browser test reads it there).
export function secretOnce(id, label, value, what = 'it') {
  const out = h('input.secret', { id, readonly: true, value, spellcheck: 'false', onfocus: (e) => e.target.select() });
  const copy = h('button', {
    type: 'button',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(value);
        copy.textContent = 'Copied';
      } catch {
        out.select(); // no clipboard permission: selected, ready for Ctrl+C
      }
    },
  }, 'Copy');
  return h('div.secret-once', { role: 'status' },
    h('p.warning', `Copy ${what} now: it will not be shown again.`),
    h('label', { for: id }, label),
    h('div.row', out, copy));
}

// table renders rows (arrays of cells: text or nodes) under headers; empty shows a note.
export function table(caption, headers, rows, empty) {
  if (!rows.length) return h('p.empty-note', empty);
  return h('div.table-wrap', h('table.data',
    h('caption.sr-only', caption),
    h('thead', h('tr', headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', rows.map((r) => h('tr', r.map((c) => h('td', c ?? '—')))))));
}

// when formats an API time for a table cell ('—' for none).
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return h('time', { datetime: iso, title: d.toLocaleString() },
    d.toLocaleString([], { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }));
}

// input builds a labelled input inside a form row.
export function labelled(id, label, input) {
  input.id = id;
  return h('div.field', h('label', { for: id }, label), input);
}

export function expirySelect(id) {
  return labelled(id, 'Expires in', h('select', { name: 'expiresIn' },
    EXPIRY.map(([v, l]) => h('option', { value: v, selected: v === DEFAULT_EXPIRY }, l))));
}

// busy runs fn with button disabled and shows a failure in error; it returns fn's result or
// undefined after a failure.
export async function busy(button, error, fn) {
  error.textContent = '';
  button.disabled = true;
  try {
    return await fn();
  } catch (e) {
    error.textContent = e.message;
    return undefined;
  } finally {
    button.disabled = false;
  }
}

// myRole is the caller's role in the open workspace ('' while unknown).
export function myRole(app) {
  return (app.me && app.members.get(app.me.id)?.role) || '';
}

// canManage: owners and admins manage a workspace's bots and slash commands (SPEC).
export function canManage(app) {
  const r = myRole(app);
  return r === 'owner' || r === 'admin';
}

export function isBot(app, userId) {
  return !!app.members.get(userId)?.isBot;
}

// botTag marks a bot account beside its name in people lists, profiles and the bots table;
// the same mark as beside a bot's messages (view-chat.js: span.badge.bot).
export function botTag() {
  return h('span.badge.bot', { title: 'bot' }, 'BOT');
}
