// The frame around a workspace: top bar with the connection status, the sidebar (workspace
// switcher, channels with unread badges, mentions), the toasts. Built once per sign-in.

import { h, clear, reconcile } from './dom.js';
import * as dialogs from './view-dialogs.js';
import * as people from './view-people.js';
import * as attention from './attention.js';
import * as integrations from './view-integrations.js';

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
  ui.me = h('button.link.me', { type: 'button', 'aria-label': 'Your profile, signed in as ' + app.me.username, onclick: () => people.profile(app, app.me.id) }, '@' + app.me.username);
  ui.away = h('button.link', { type: 'button', onclick: () => app.setAway(!app.selfAway) }, 'Set away');
  ui.dnd = h('button.link', { type: 'button', onclick: () => people.dnd(app) }, 'Do not disturb');
  ui.userBox = h('div.user-box', ui.me, ui.away, ui.dnd, integrations.tokensButton(app),
    h('button.link', { type: 'button', onclick: () => app.logout() }, 'Sign out'));
  const top = h('header.topbar', ui.navToggle, ui.wsName, ui.status, ui.userBox);

  ui.wsSelect = h('select#ws-select', {
    onchange: (e) => { location.hash = `#/w/${e.target.value}`; },
  });
  ui.mentionsLink = h('a.nav-item.mentions-link', { href: '#' }, h('span.label', '@ Mentions'), h('span.badge', { hidden: true }));
  ui.channelList = h('ul.channel-list', { 'aria-label': 'Your channels' });
  ui.otherList = h('ul.channel-list.others', { 'aria-label': 'Channels you can join' });
  ui.otherHeading = h('h2.section', { id: 'others-heading' }, 'Other channels');
  ui.dmList = h('ul.channel-list.dms', { 'aria-label': 'Direct messages' });
  ui.invites = h('div.invites', { role: 'status', 'aria-live': 'polite' });
  ui.notifyBtn = h('button.link.enable-notifications', {
    type: 'button',
    onclick: async () => {
      await attention.askPermission(); // a click is the user gesture browsers require
      renderSidebar(app);
    },
  }, 'Enable desktop notifications');
  ui.integrationsBtn = integrations.workspaceButton(app);
  ui.sidebar = h('nav.sidebar#sidebar', { 'aria-label': 'Workspace navigation' },
    h('div.ws-picker',
      h('label', { for: 'ws-select' }, 'Workspace'),
      h('div.row', ui.wsSelect,
        h('button.icon', { type: 'button', 'aria-label': 'Create workspace', title: 'Create workspace', onclick: () => dialogs.createWorkspace(app) }, '+'))),
    ui.invites,
    ui.mentionsLink,
    h('div.section-head',
      h('h2.section', 'Channels'),
      h('button.icon', { type: 'button', 'aria-label': 'Create channel', title: 'Create channel', onclick: () => dialogs.createChannel(app) }, '+')),
    ui.channelList,
    ui.otherHeading,
    ui.otherList,
    h('div.section-head',
      h('h2.section', 'Direct messages'),
      h('button.icon', { type: 'button', 'aria-label': 'New direct message', title: 'New direct message', onclick: () => people.newDM(app) }, '+')),
    ui.dmList,
    h('button.invite-btn', { type: 'button', onclick: () => dialogs.invite(app) }, 'Invite people'),
    ui.integrationsBtn,
    ui.notifyBtn);
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
  app.renderTitle();
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
  // A hidden channel stays out of the sidebar until it needs attention or is open.
  const shown = (c) => !(c.info.prefs && c.info.prefs.hidden) || c.mentionCount() > 0 || c.id === app.activeCid;
  const all = app.sortedChannels().filter(shown);
  const mine = all.filter((c) => c.info.isMember !== false);
  const others = all.filter((c) => c.info.isMember === false);
  const dms = app.dmChannels().filter(shown);
  const item = (ch) => {
    const unread = ch.unread();
    const mentions = ch.mentionCount();
    const muted = !!(ch.info.prefs && ch.info.prefs.muted);
    const current = app.view === 'channel' && ch.id === app.activeCid;
    const isPrivate = ch.info.type === 'private';
    const isDM = ch.info.type === 'dm';
    const partners = isDM ? app.dmPartners(ch) : [];
    const label = app.channelLabel(ch);
    const count = mentions || (muted ? 0 : unread);
    return h('li', h('a.nav-item.channel', {
      href: `#/w/${app.wid}/c/${ch.id}`,
      'aria-current': current ? 'page' : null,
      class: 'nav-item channel' + (unread && !current && !muted ? ' has-unread' : '') + (muted ? ' muted' : ''),
      dataset: { channel: isDM ? 'dm:' + label : ch.info.name },
    },
    isDM
      ? (partners.length === 1 ? people.presenceDot(app.presence.get(partners[0])) : h('span.hash', { 'aria-hidden': 'true' }, String(partners.length + 1)))
      : h('span.hash', { 'aria-hidden': 'true' }, isPrivate ? '🔒' : '#'),
    h('span.label', label, isPrivate ? h('span.sr-only', ' (private)') : null, isDM ? h('span.sr-only', ' (direct message)') : null),
    count && !current && ch.info.isMember !== false
      ? h('span.badge', { class: 'badge' + (mentions ? ' mention' : ''), 'aria-label': mentions ? `${mentions} mentions` : `${unread} unread` }, count > 99 ? '99+' : String(count))
      : null));
  };
  const version = (ch) => [app.channelLabel(ch), ch.info.type, ch.unread(), ch.mentionCount(), JSON.stringify(ch.info.prefs || {}),
    ch.info.type === 'dm' ? app.dmPartners(ch).map((id) => app.presence.get(id)).join() : '',
    ch.id === app.activeCid && app.view === 'channel', app.wid].join('|');
  reconcile(ui.channelList, mine, (c) => c.id, version, item);
  reconcile(ui.otherList, others, (c) => c.id, version, item);
  reconcile(ui.dmList, dms, (c) => c.id, version, item);
  ui.notifyBtn.hidden = attention.notificationsState() !== 'default';
  ui.away.textContent = app.selfAway ? 'Set active' : 'Set away';
  const dndOn = app.me.dndUntil && Date.parse(app.me.dndUntil) > Date.now();
  ui.dnd.textContent = dndOn ? 'Do not disturb: on' : 'Do not disturb';
  renderInvites(app);
  integrations.updateWorkspaceButton(app, ui.integrationsBtn);
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

function renderInvites(app) {
  const items = app.invitations.map((inv) => {
    const where = inv.workspaceName || (inv.workspace && inv.workspace.name) || 'a workspace';
    const by = inv.invitedBy ? app.userName(inv.invitedBy) : (inv.inviterUsername || '');
    const token = inv.token || (inv.invitation && inv.invitation.token);
    return h('div.invite-note',
      h('p', `You are invited to ${where}` + (by ? ` by ${by}` : '') + '.'),
      token ? h('a.button', { href: `#/invite/${encodeURIComponent(token)}`, onclick: () => { app.invitations = app.invitations.filter((x) => x !== inv); } }, 'View invitation') : null,
      h('button.link', { type: 'button', onclick: () => { app.invitations = app.invitations.filter((x) => x !== inv); renderInvites(app); } }, 'Dismiss'));
  });
  ui.invites.replaceChildren(...items);
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
