// The frame around a workspace: top bar with the connection status, the sidebar (workspace
// switcher, channels with unread badges, mentions), the toasts. Built once per sign-in.

import { h, clear, reconcile } from './dom.js';
import * as dialogs from './view-dialogs.js';

let ui = null;
let keysBound = false;

export function mounted() { return ui !== null; }

export function destroy() {
  ui = null;
}

export function ensure(app) {
  if (ui) return ui;
  const root = clear(document.getElementById('app'));
  ui = {};
  ui.status = h('div.conn-status#conn-status', { role: 'status', 'aria-live': 'polite', hidden: true });
  ui.navToggle = h('button.icon.nav-toggle', {
    type: 'button', 'aria-label': 'Show channels', 'aria-expanded': 'false', 'aria-controls': 'sidebar',
    onclick: () => toggleNav(),
  }, '☰');
  ui.wsName = h('h1.ws-name', 'parley');
  ui.userBox = h('div.user-box',
    h('span.me', { 'aria-label': 'Signed in as ' + app.me.username }, '@' + app.me.username),
    h('button.link', { type: 'button', onclick: () => app.logout() }, 'Sign out'));
  const top = h('header.topbar', ui.navToggle, ui.wsName, ui.status, ui.userBox);

  ui.wsSelect = h('select#ws-select', {
    onchange: (e) => { location.hash = `#/w/${e.target.value}`; },
  });
  ui.mentionsLink = h('a.nav-item.mentions-link', { href: '#' }, h('span.label', '@ Mentions'), h('span.badge', { hidden: true }));
  ui.channelList = h('ul.channel-list', { 'aria-label': 'Your channels' });
  ui.otherList = h('ul.channel-list.others', { 'aria-label': 'Channels you can join' });
  ui.otherHeading = h('h2.section', { id: 'others-heading' }, 'Other channels');
  ui.sidebar = h('nav.sidebar#sidebar', { 'aria-label': 'Workspace navigation' },
    h('div.ws-picker',
      h('label', { for: 'ws-select' }, 'Workspace'),
      h('div.row', ui.wsSelect,
        h('button.icon', { type: 'button', 'aria-label': 'Create workspace', title: 'Create workspace', onclick: () => dialogs.createWorkspace(app) }, '+'))),
    ui.mentionsLink,
    h('div.section-head',
      h('h2.section', 'Channels'),
      h('button.icon', { type: 'button', 'aria-label': 'Create channel', title: 'Create channel', onclick: () => dialogs.createChannel(app) }, '+')),
    ui.channelList,
    ui.otherHeading,
    ui.otherList,
    h('button.invite-btn', { type: 'button', onclick: () => dialogs.invite(app) }, 'Invite people'));
  ui.main = h('main.main#main', { tabindex: '-1' });
  ui.thread = h('aside.thread#thread', { 'aria-label': 'Thread', hidden: true });
  ui.toasts = h('div.toasts', { role: 'alert', 'aria-live': 'assertive' });
  const skip = h('a.skip-link', { href: '#composer-input', onclick: (e) => { e.preventDefault(); document.getElementById('composer-input')?.focus(); } }, 'Skip to message box');
  root.append(skip, top, h('div.layout', ui.sidebar, ui.main, ui.thread), ui.toasts);
  if (!keysBound) {
    keysBound = true;
    document.addEventListener('keydown', (e) => { if (ui) onKey(app, e); });
  }
  renderStatus(app);
  return ui;
}

export function parts() { return ui; }

function toggleNav(open) {
  if (!ui) return;
  const isOpen = open ?? !document.body.classList.contains('nav-open');
  document.body.classList.toggle('nav-open', isOpen);
  ui.navToggle.setAttribute('aria-expanded', String(isOpen));
  if (isOpen) ui.sidebar.querySelector('a, button, select')?.focus();
}

export function closeNav() {
  if (document.body.classList.contains('nav-open')) toggleNav(false);
}

// onKey: Alt+↑/↓ moves between channels; Escape closes the innermost open thing.
function onKey(app, e) {
  if (e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
    const list = app.sortedChannels().filter((c) => c.info.isMember !== false);
    if (list.length === 0) return;
    const i = list.findIndex((c) => c.id === app.activeCid);
    const next = list[(i + (e.key === 'ArrowDown' ? 1 : list.length - 1)) % list.length];
    location.hash = `#/w/${app.wid}/c/${next.id}`;
    e.preventDefault();
  } else if (e.key === 'Escape' && !document.querySelector('dialog[open]')) {
    if (app.pickerFor || app.editing) {
      app.pickerFor = null;
      app.editing = null;
      app.render();
    } else if (document.body.classList.contains('nav-open')) {
      toggleNav(false);
      ui.navToggle.focus();
    } else if (app.threadRootId) {
      app.closeThread();
    }
  }
}

export function renderStatus(app) {
  if (!ui) return;
  const text = { connecting: 'Connecting…', reconnecting: 'Reconnecting…', offline: 'Offline' }[app.status] || '';
  ui.status.textContent = text;
  ui.status.hidden = !text;
  ui.status.dataset.state = app.status;
  document.body.dataset.conn = app.status;
}

export function renderWorkspaces(app) {
  if (!ui) return;
  const ws = app.workspaces.find((w) => w.id === app.wid);
  ui.wsName.textContent = ws ? ws.name : 'parley';
  document.title = ws ? `${ws.name} — parley` : 'parley';
  const key = app.workspaces.map((w) => w.id + w.name).join() + '|' + app.wid;
  if (ui.wsSelect.dataset.key !== key) {
    ui.wsSelect.dataset.key = key;
    clear(ui.wsSelect);
    if (!ws) ui.wsSelect.append(h('option', { value: '', selected: true, disabled: true }, app.workspaces.length ? 'Choose…' : 'None yet'));
    for (const w of app.workspaces) ui.wsSelect.append(h('option', { value: w.id, selected: w.id === app.wid }, w.name));
  }
}

export function renderSidebar(app) {
  if (!ui) return;
  const all = app.sortedChannels();
  const mine = all.filter((c) => c.info.isMember !== false);
  const others = all.filter((c) => c.info.isMember === false);
  const item = (ch) => {
    const unread = ch.unread();
    const current = app.view === 'channel' && ch.id === app.activeCid;
    const isPrivate = ch.info.type === 'private';
    return h('li', h('a.nav-item.channel', {
      href: `#/w/${app.wid}/c/${ch.id}`,
      'aria-current': current ? 'page' : null,
      class: 'nav-item channel' + (unread && !current ? ' has-unread' : ''),
      dataset: { channel: ch.info.name },
    },
    h('span.hash', { 'aria-hidden': 'true' }, isPrivate ? '🔒' : '#'),
    h('span.label', ch.info.name, isPrivate ? h('span.sr-only', ' (private)') : null),
    unread && !current && ch.info.isMember !== false
      ? h('span.badge', { 'aria-label': `${unread} unread` }, unread > 99 ? '99+' : String(unread))
      : null));
  };
  const version = (ch) => [ch.info.name, ch.info.type, ch.unread(), ch.id === app.activeCid && app.view === 'channel', app.wid].join('|');
  reconcile(ui.channelList, mine, (c) => c.id, version, item);
  reconcile(ui.otherList, others, (c) => c.id, version, item);
  ui.otherHeading.hidden = others.length === 0;
  ui.otherList.hidden = others.length === 0;

  const unreadMentions = app.mentions.filter((m) => !m.read).length;
  ui.mentionsLink.href = app.wid ? `#/w/${app.wid}/mentions` : '#/';
  ui.mentionsLink.toggleAttribute('aria-current', app.view === 'mentions');
  if (app.view === 'mentions') ui.mentionsLink.setAttribute('aria-current', 'page');
  const badge = ui.mentionsLink.querySelector('.badge');
  badge.hidden = unreadMentions === 0;
  badge.textContent = String(unreadMentions);
  badge.setAttribute('aria-label', `${unreadMentions} unread mentions`);
}

export function toast(text) {
  if (!ui) {
    console.warn(text);
    return;
  }
  const t = h('div.toast', h('span', text), h('button.icon', { type: 'button', 'aria-label': 'Dismiss', onclick: () => t.remove() }, '×'));
  ui.toasts.append(t);
  setTimeout(() => t.remove(), 8000);
}
