// People: starting a direct message, a person's profile, editing your own, a channel's
// notification preferences and do-not-disturb. Dialogs built on view-dialogs' modal.

import { fileUrl, upload } from './view-files.js';
import { h } from './dom.js';
import { modal, field } from './view-dialogs.js';
import * as attention from './attention.js';

// presenceDot is the small status mark beside a name; its text is for screen readers.
export function presenceDot(status) {
  const s = status || 'offline';
  return h('span.presence', { class: 'presence ' + s, dataset: { presence: s }, title: s },
    h('span.sr-only', ` (${s})`));
}

export function displayName(u) {
  if (!u) return '';
  return u.displayName || u.username || '';
}

export function newDM(app, preset = []) {
  if (!app.wid) {
    app.toast('Create or pick a workspace first.');
    return;
  }
  const people = [...app.members.values()].filter((u) => u.id !== app.me.id)
    .sort((a, b) => displayName(a).localeCompare(displayName(b)));
  if (people.length === 0) {
    app.toast('Invite someone to the workspace first.');
    return;
  }
  const boxes = people.map((u) => h('label.check',
    h('input', { type: 'checkbox', name: 'user', value: u.id, checked: preset.includes(u.id) }),
    ' ', presenceDot(app.presence.get(u.id)), ' ', displayName(u), u.displayName ? h('span.muted', ` @${u.username}`) : null));
  modal('New direct message', [
    h('fieldset.people', h('legend', 'With (up to 7 people)'), boxes),
  ], 'Open', async (form) => {
    const ids = [...form.querySelectorAll('input[name=user]:checked')].map((i) => i.value);
    if (ids.length === 0) throw new Error('Pick at least one person.');
    if (ids.length > 7) throw new Error('A direct message has at most 8 people, you included.');
    await app.openDM(ids);
  });
}

export function profile(app, uid) {
  const u = app.members.get(uid);
  const body = h('div.profile');
  const render = (user) => {
    const status = app.presence.get(user.id) || 'offline';
    const local = user.timezone ? localTime(user.timezone) : '';
    body.replaceChildren(
      user.avatarUrl ? h('img.avatar', { src: fileUrl(app, user.avatarUrl), alt: '', width: '96', height: '96' }) : null,
      h('p.profile-name', presenceDot(status), ' ', h('strong', displayName(user)), user.displayName ? h('span.muted', ` @${user.username}`) : null),
      user.statusText || user.statusEmoji ? h('p.profile-status', `${user.statusEmoji || ''} ${user.statusText || ''}`.trim()) : null,
      h('p.muted', status === 'online' ? 'Active now' : status === 'away' ? 'Away' : 'Offline'),
      local ? h('p.muted', `Local time ${local} (${user.timezone})`) : null);
  };
  if (u) render(u);
  const dlg = modal('Profile', [body], uid === app.me.id ? 'Edit profile' : 'Message', async () => {
    if (uid === app.me.id) setTimeout(() => editProfile(app), 0);
    else await app.openDM([uid]);
  });
  app.api.user(uid).then((fresh) => {
    app.members.set(uid, { ...(app.members.get(uid) || {}), ...fresh });
    if (dlg.open) render(app.members.get(uid));
  }).catch((e) => { if (!u && dlg.open) body.replaceChildren(h('p.error', e.message)); });
}

function localTime(tz) {
  try {
    return new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', timeZone: tz });
  } catch {
    return '';
  }
}

export function editProfile(app) {
  const me = app.me;
  const name = h('input', { name: 'displayName', maxlength: '64', autocomplete: 'name', value: me.displayName || '' });
  const emoji = h('input', { name: 'statusEmoji', maxlength: '40', autocomplete: 'off', value: me.statusEmoji || '', placeholder: '🌴 or :palm_tree:' });
  const text = h('input', { name: 'statusText', maxlength: '100', autocomplete: 'off', value: me.statusText || '' });
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const current = me.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  const tz = h('input', { name: 'timezone', list: 'tz-list', autocomplete: 'off', value: current, spellcheck: 'false' });
  const list = h('datalist#tz-list', zones.map((z) => h('option', { value: z })));
  const avatar = h('input', { type: 'file', name: 'avatar', accept: 'image/png,image/jpeg,image/gif,image/webp' });
  modal('Edit your profile', [
    field('pf-name', 'Display name', name),
    field('pf-emoji', 'Status emoji', emoji),
    field('pf-text', 'Status', text),
    field('pf-tz', 'Time zone', tz, 'An IANA name, e.g. Europe/Berlin.'), list,
    app.wid ? field('pf-avatar', 'Avatar', avatar, 'An image; everyone who shares a workspace with you sees it.') : null,
  ], 'Save', async () => {
    const patch = {
      displayName: name.value.trim(), statusEmoji: emoji.value.trim(), statusText: text.value.trim(), timezone: tz.value.trim(),
    };
    if (avatar.files && avatar.files[0]) patch.avatarFileId = (await upload(app, app.wid, avatar.files[0])).id;
    await app.updateProfile(patch);
  });
}

export async function channelPrefs(app, ch) {
  let prefs = ch.info.prefs;
  try {
    prefs = await app.api.channelPrefs(ch.id);
  } catch (e) {
    if (!prefs) {
      app.toast(e.message);
      return;
    }
  }
  prefs = { notify: 'mentions', muted: false, hidden: false, ...prefs };
  const opt = (value, label) => h('label.radio', h('input', { type: 'radio', name: 'notify', value, checked: prefs.notify === value }), ' ', label);
  const muted = h('input', { type: 'checkbox', name: 'muted', checked: prefs.muted });
  const hidden = h('input', { type: 'checkbox', name: 'hidden', checked: prefs.hidden });
  const perm = attention.notificationsState();
  const sound = h('input', { type: 'checkbox', name: 'sound', checked: attention.soundEnabled() });
  modal('Notification preferences', [
    h('fieldset', h('legend', 'Notify me about'), opt('all', 'Every message'), opt('mentions', 'Mentions and direct messages'), opt('none', 'Nothing')),
    h('label.check', muted, ' Mute this conversation (no badge count, no notification)'),
    h('label.check', hidden, ' Hide it from the sidebar until something mentions me'),
    h('label.check', sound, ' Play a sound with notifications (this browser)'),
    perm === 'default' ? h('p.hint', 'Desktop notifications are off in this browser: use “Enable desktop notifications” in the sidebar.') : null,
  ], 'Save', async (form) => {
    attention.setSoundEnabled(sound.checked);
    const next = { notify: form.querySelector('input[name=notify]:checked').value, muted: muted.checked, hidden: hidden.checked };
    await app.setChannelPrefs(ch, next);
  });
}

export function dnd(app) {
  const choices = [['off', 'Off'], ['30m', 'For 30 minutes'], ['1h', 'For 1 hour'], ['8h', 'For 8 hours'], ['tomorrow', 'Until tomorrow 9:00']];
  const active = app.me.dndUntil && Date.parse(app.me.dndUntil) > Date.now();
  const opt = ([value, label]) => h('label.radio', h('input', { type: 'radio', name: 'dnd', value, checked: active ? value === '1h' : value === 'off' }), ' ', label);
  modal('Do not disturb', [
    active ? h('p', `On until ${new Date(app.me.dndUntil).toLocaleString()}.`) : null,
    h('fieldset', h('legend', 'Pause notifications'), choices.map(opt)),
    h('p.hint', 'Messages still arrive; only notifications and sounds wait.'),
  ], 'Save', async (form) => {
    const v = form.querySelector('input[name=dnd]:checked').value;
    await app.setDND(dndUntil(v));
  });
}

function dndUntil(v, now = new Date()) {
  const min = { '30m': 30, '1h': 60, '8h': 480 }[v];
  if (min) return new Date(now.getTime() + min * 60000).toISOString();
  if (v === 'tomorrow') {
    const t = new Date(now);
    t.setDate(t.getDate() + 1);
    t.setHours(9, 0, 0, 0);
    return t.toISOString();
  }
  return null;
}
