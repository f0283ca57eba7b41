// The main column (a channel's messages and composer, the mentions list, or an empty
// state) and the thread panel.

import { h, clear, reconcile, formatTime } from './dom.js';
import { splitMentions } from './state.js';
import { parts } from './view-shell.js';
import * as dialogs from './view-dialogs.js';
import * as people from './view-people.js';
import * as threads from './view-threads.js';
// Rich text, pins, history, reactions (ADR 0042).
import { render as renderMarkdown } from './markdown.js';
import * as flow from './view-flow.js';
import * as pins from './view-pins.js';
import * as extras from './view-history.js';
import * as picker from './emoji-picker.js';
import * as files from './view-files.js';

// A mention of the reader: @theirname, and the channel-wide @channel, @all and @here.
const WIDE = new Set(['channel', 'all', 'here']);
const mentionsReader = (app, name) => name === app.me.username || WIDE.has(name);

const mentionClass = (app) => (name) => 'mention' + (mentionsReader(app, name) ? ' mention-me' : '');

// main holds the parts of the channel view, rebuilt only when the view or channel changes.
let main = null;

export function renderMain(app, opts = {}) {
  const ui = parts();
  if (!ui) return;
  const key = app.view + '|' + (app.view === 'channel' ? app.activeCid : app.wid);
  if (!main || main.key !== key || !ui.main.contains(main.root)) {
    clear(ui.main);
    main = { key };
    if (app.view === 'mentions') buildMentions(app, ui.main);
    else if (app.view === 'threads') threads.build(app, ui.main, main);
    else if (app.view === 'channel' && app.active()) buildChannel(app, ui.main);
    else buildEmpty(app, ui.main);
  }
  if (main.update) main.update(opts);
}

function buildEmpty(app, root) {
  main.root = h('div.empty',
    h('h2', app.wid ? 'No channel selected' : 'Welcome to parley'),
    app.wid ? h('p', 'Pick a channel on the left, or create one.')
      : h('p', 'You are not in a workspace yet. Create one, or open an invitation link someone sent you.'),
    app.wid ? null : h('button.primary', { type: 'button', onclick: () => dialogs.createWorkspace(app) }, 'Create a workspace'));
  root.append(main.root);
}

// ---- channel view

function buildChannel(app, root) {
  const ch = app.active();
  const title = h('h2.channel-title');
  const topic = h('p.topic');
  const prefsBtn = h('button.icon.prefs', {
    type: 'button', 'aria-label': 'Notification preferences', title: 'Notification preferences',
    onclick: () => people.channelPrefs(app, ch),
  }, '🔔');
  const pinsBtn = pins.headerButton(app, mentionClass(app));
  const joinBtn = h('button.primary', { type: 'button', onclick: () => app.joinChannel(ch.id).catch((e) => app.toast(e.message)) }, 'Join channel');
  const older = h('button.link.load-older', { type: 'button', onclick: () => app.loadOlder().catch((e) => app.toast(e.message)) }, 'Load older messages');
  const list = h('div.msg-list');
  const scroller = h('div.messages#messages', {
    role: 'log', 'aria-label': 'Messages in ' + ch.info.name, tabindex: '0',
    onscroll: () => { if (scroller.scrollTop < 60 && ch.hasMore && ch.historyLoaded) app.loadOlder().catch(() => {}); },
  }, older, list);
  const typing = h('div.typing', { 'aria-live': 'polite' });
  const input = h('textarea#composer-input', {
    rows: '1', placeholder: 'Message #' + ch.info.name, autocomplete: 'off',
    'aria-label': 'Message #' + ch.info.name,
    onkeydown: (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submit();
      } else if (e.key === 'ArrowUp' && !input.value) {
        const mine = ch.roots().filter((m) => m.userId === app.me.id && !m.deleted).pop();
        if (mine) {
          e.preventDefault();
          app.editing = mine.id;
          app.render();
        }
      }
    },
    oninput: () => { autosize(input); if (input.value) app.typing(); },
  });
  const submit = () => {
    const text = input.value;
    if (att.busy()) { app.toast('Wait for the uploads to finish.'); return; }
    const attached = att.take();
    if (!text.trim() && attached.length === 0) return;
    input.value = '';
    autosize(input);
    app.send(text, null, attached).catch((e) => app.toast(e.message));
  };
  const att = files.attacher(app, input);
  const composer = h('form.composer', { onsubmit: (e) => { e.preventDefault(); submit(); } },
    att.controls, input, h('button.primary.send', { type: 'submit' }, 'Send'));
  const preview = h('div.preview', h('p', 'You are viewing a channel you have not joined.'), joinBtn);

  main.root = h('section.channel', { 'aria-labelledby': 'channel-title' },
    h('header.channel-head', h('div.head-row', title, pinsBtn, prefsBtn), topic), scroller, typing, att.tray, composer, preview);
  att.dropOn(main.root); // files dropped anywhere on the channel are attached
  title.id = 'channel-title';
  root.append(main.root);
  main.typing = typing;

  main.update = (opts) => {
    const c = app.active();
    if (!c) return;
    if (c.info.type === 'dm') {
      const partners = app.dmPartners(c);
      title.replaceChildren(partners.length === 1 ? people.presenceDot(app.presence.get(partners[0])) : '', ' ', app.channelLabel(c));
    } else {
      title.textContent = (c.info.type === 'private' ? '🔒 ' : '# ') + c.info.name;
    }
    pins.updateHeaderButton(pinsBtn, c);
    prefsBtn.textContent = c.info.prefs && (c.info.prefs.muted || c.info.prefs.notify === 'none') ? '🔕' : '🔔';
    topic.textContent = c.info.topic || '';
    topic.hidden = !c.info.topic;
    const member = c.info.isMember !== false;
    composer.hidden = !member || c.info.archived;
    preview.hidden = member;
    older.hidden = !c.hasMore || !c.historyLoaded;
    older.disabled = !!c.loadingOlder;

    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
    const oldHeight = scroller.scrollHeight, oldTop = scroller.scrollTop;
    const items = [...flow.layout(c.roots(), { newAfterSeq: c.newAfterSeq ?? null, myId: app.me.id }),
      ...[...c.pending.values()].filter((p) => !p.parentId)];
    reconcile(list, items, itemKey, (m) => itemVersion(app, m), (m) => renderItem(app, c, m));
    if (opts.keepScroll) scroller.scrollTop = oldTop + (scroller.scrollHeight - oldHeight);
    else if (opts.scrollToBottom || atBottom) scroller.scrollTop = scroller.scrollHeight;
    renderTyping(app);
    const editor = list.querySelector('textarea.edit-input');
    if (editor && document.activeElement !== editor) editor.focus();
  };
}

function itemKey(m) {
  if (flow.isSeparator(m)) return m.key;
  return m.seq ? 's' + m.seq : 'p' + m.clientMsgId;
}

function itemVersion(app, m) {
  if (flow.isSeparator(m)) return m.label || m.kind;
  if (!m.seq) return [m.status, m.error].join('|');
  return JSON.stringify([m.content, m.editedAt, m.deleted, m.reactions, m.replyCount, app.editing === m.id,
    app.pickerFor === m.id, app.userName(m.userId), app.threadRootId === m.id,
    !!m.cont, pins.isPinned(app.channels.get(m.channelId), m.id), app.pickerExpanded === m.id]);
}

function renderItem(app, ch, m) {
  if (flow.isSeparator(m)) return flow.renderSeparator(m);
  if (!m.seq) return renderPending(app, ch, m);
  return renderMessage(app, ch, m, { inThread: false });
}

function renderPending(app, ch, p) {
  const label = { sending: 'Sending…', sent: 'Sending…', queued: 'Waiting for the connection…', failed: 'Not sent' }[p.status] || '';
  return h('article.msg.pending', { 'aria-label': 'Your message, ' + label, dataset: { status: p.status } },
    h('div.meta', h('span.author', app.me.username), h('span.state', label)),
    h('div.body', contentNodes(app, p.content)),
    p.status === 'failed' ? h('div.actions.visible',
      h('span.error', p.error || ''),
      h('button.link', { type: 'button', onclick: () => app.deliver(ch, p) }, 'Retry'),
      h('button.link', { type: 'button', onclick: () => app.discardPending(ch.id, p.clientMsgId) }, 'Discard')) : null);
}

// contentNodes renders a message's Markdown as DOM nodes (markdown.js: no HTML is parsed).
function contentNodes(app, text) {
  return renderMarkdown(text, { mentionClass: mentionClass(app) });
}

function renderMessage(app, ch, m, { inThread }) {
  const mine = m.userId === app.me.id;
  const author = app.userName(m.userId);
  const el = h('article.msg', {
    id: (inThread ? 't-' : 'm-') + m.seq,
    dataset: { seq: String(m.seq), id: m.id },
    tabindex: '-1',
    'aria-label': `${author}, ${formatTime(m.createdAt)}`,
  });
  if (mine) el.classList.add('mine');
  if (m.cont && !inThread) el.classList.add('cont');
  const pinned = pins.isPinned(ch, m.id);
  if (pinned) el.classList.add('pinned');
  if (!m.deleted && splitMentions(m.content).some((p) => mentionsReader(app, p.mention))) el.classList.add('mentions-me');
  const meta = h('div.meta',
    h('button.link.author', { type: 'button', onclick: () => people.profile(app, m.userId) }, author),
    app.members.get(m.userId)?.isBot ? h('span.badge.bot', { title: 'bot' }, 'BOT') : null,
    h('time', { datetime: m.createdAt, title: new Date(m.createdAt).toLocaleString() }, formatTime(m.createdAt)),
    m.editedAt && !m.deleted ? h('button.link.edited', {
      type: 'button', title: 'Show earlier versions', 'aria-label': 'Edited: show earlier versions',
      onclick: () => extras.openHistory(app, m, mentionClass(app)),
    }, '(edited)') : null,
    pinned && !m.deleted ? h('span.pin-mark', { title: 'Pinned' }, '📌 Pinned') : null);
  el.append(meta);

  if (m.deleted) {
    el.append(h('div.body.deleted', 'This message was deleted.'));
  } else if (app.editing === m.id) {
    el.append(editForm(app, m));
  } else {
    el.append(h('div.body', contentNodes(app, m.content)));
  }
  if (!m.deleted) el.append(files.renderFiles(app, m.files) || []);

  if (!m.deleted && m.reactions && m.reactions.length) {
    el.append(h('div.reactions', { role: 'group', 'aria-label': 'Reactions' },
      m.reactions.map((r) => h('button.reaction', {
        type: 'button', 'aria-pressed': String(!!r.me),
        'aria-label': `${r.emoji} ${r.count}, ${r.me ? 'remove your reaction' : 'react'}`,
        onclick: () => app.toggleReaction(m, r.emoji).catch((e) => app.toast(e.message)),
        onmouseenter: (e) => extras.whoReacted(app, m, r, e.currentTarget),
        onfocus: (e) => extras.whoReacted(app, m, r, e.currentTarget),
      }, r.emoji, ' ', h('span.count', String(r.count))))));
  }
  if (!inThread && m.replyCount) {
    el.append(h('button.link.replies', {
      type: 'button', dataset: { action: 'replies' },
      onclick: () => app.openThread(m.id).catch((e) => app.toast(e.message)),
    }, `${m.replyCount} ${m.replyCount === 1 ? 'reply' : 'replies'}`));
  }
  if (app.pickerFor === m.id) {
    el.append(picker.render(m, (e) => app.toggleReaction(m, e).catch((err) => app.toast(err.message)), {
      expanded: app.pickerExpanded === m.id,
      onExpand: () => { app.pickerExpanded = m.id; app.render(); },
    }));
  }
  if (!m.deleted && app.editing !== m.id) {
    const actions = h('div.actions', { role: 'group', 'aria-label': 'Message actions' },
      h('button.icon', {
        type: 'button', 'aria-label': 'React to message', title: 'Add a reaction', dataset: { action: 'react' },
        onclick: () => { app.pickerFor = app.pickerFor === m.id ? null : m.id; app.render(); },
      }, 'React'),
      inThread ? null : h('button.icon', {
        type: 'button', 'aria-label': 'Reply in thread', title: 'Reply in thread', dataset: { action: 'reply' },
        onclick: () => app.openThread(m.id).catch((e) => app.toast(e.message)),
      }, 'Reply'),
      ch.info.archived ? null : h('button.icon', {
        type: 'button', 'aria-label': pinned ? 'Unpin message' : 'Pin message', title: pinned ? 'Unpin' : 'Pin to channel',
        dataset: { action: 'pin' },
        onclick: () => pins.toggle(app, m).catch((e) => app.toast(e.message)),
      }, pinned ? 'Unpin' : 'Pin'),
      mine ? h('button.icon', {
        type: 'button', 'aria-label': 'Edit message', title: 'Edit', dataset: { action: 'edit' },
        onclick: () => { app.editing = m.id; app.render(); },
      }, 'Edit') : null,
      mine ? h('button.icon', {
        type: 'button', 'aria-label': 'Delete message', title: 'Delete', dataset: { action: 'delete' },
        onclick: () => {
          if (window.confirm('Delete this message?')) app.remove(m).catch((e) => app.toast(e.message));
        },
      }, 'Delete') : null);
    el.append(actions);
  }
  return el;
}

function editForm(app, m) {
  const input = h('textarea.edit-input', {
    'aria-label': 'Message text', value: m.content, rows: '2',
    onkeydown: (e) => {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        save();
      } else if (e.key === 'Escape') {
        e.stopPropagation();
        app.editing = null;
        app.render();
      }
    },
  });
  const save = () => app.edit(m, input.value).catch((e) => app.toast(e.message));
  return h('form.edit', { onsubmit: (e) => { e.preventDefault(); save(); } },
    input,
    h('div.row',
      h('button.primary', { type: 'submit' }, 'Save'),
      h('button.link', { type: 'button', onclick: () => { app.editing = null; app.render(); } }, 'Cancel'),
      h('span.hint', 'Enter to save, Esc to cancel')));
}

export function renderTyping(app) {
  const ch = app.active();
  if (!main || !main.typing || !ch) return;
  const names = ch.typingUsers().map((u) => app.userName(u));
  const text = names.length === 0 ? ''
    : names.length === 1 ? `${names[0]} is typing…`
      : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : 'Several people are typing…';
  if (main.typing.textContent !== text) main.typing.textContent = text;
}

export function focusComposer() {
  if (window.matchMedia('(max-width: 700px)').matches) return; // no keyboard popping up on phones
  requestAnimationFrame(() => document.getElementById('composer-input')?.focus());
}

export function focusThreadComposer() {
  requestAnimationFrame(() => document.getElementById('thread-input')?.focus());
}

// ---- thread panel

let thread = null;

export function renderThread(app) {
  const ui = parts();
  if (!ui) return;
  const ch = app.active();
  const root = ch && app.threadRootId ? ch.byId.get(app.threadRootId) : null;
  const open = app.view === 'channel' && !!app.threadRootId;
  ui.thread.hidden = !open;
  document.body.classList.toggle('thread-open', open);
  if (!open) {
    thread = null;
    clear(ui.thread);
    return;
  }
  if (!thread || thread.rootId !== app.threadRootId || !ui.thread.contains(thread.el)) {
    clear(ui.thread);
    const rootBox = h('div.thread-root');
    const list = h('div.msg-list');
    const input = h('textarea#thread-input', {
      rows: '1', 'aria-label': 'Reply in thread', placeholder: 'Reply…',
      onkeydown: (e) => {
        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          submit();
        }
      },
      oninput: () => { autosize(input); if (input.value) app.typing(); },
    });
    const rootId = app.threadRootId;
    const submit = () => {
      if (!input.value.trim()) return;
      const text = input.value;
      input.value = '';
      autosize(input);
      app.send(text, rootId).catch((e) => app.toast(e.message));
    };
    const count = h('p.reply-count');
    const scroller = h('div.thread-messages', { role: 'log', 'aria-label': 'Replies', tabindex: '0' }, rootBox, count, list);
    thread = {
      rootId, list, rootBox, count, scroller,
      el: h('div.thread-inner',
        h('header.thread-head', h('h2', 'Thread'),
          h('button.icon', { type: 'button', 'aria-label': 'Close thread', onclick: () => app.closeThread() }, '×')),
        scroller,
        h('form.composer', { onsubmit: (e) => { e.preventDefault(); submit(); } }, input, h('button.primary', { type: 'submit' }, 'Reply'))),
    };
    ui.thread.append(thread.el);
  }
  const atBottom = thread.scroller.scrollHeight - thread.scroller.scrollTop - thread.scroller.clientHeight < 40;
  const rootKey = root ? itemVersion(app, root) : 'none';
  if (thread.rootBox.dataset.version !== rootKey) {
    thread.rootBox.dataset.version = rootKey;
    clear(thread.rootBox);
    thread.rootBox.append(root ? renderMessage(app, ch, root, { inThread: true }) : h('p', 'Loading…'));
  }
  const replies = ch.replies(app.threadRootId);
  const pend = [...ch.pending.values()].filter((p) => p.parentId === app.threadRootId);
  const n = Math.max(replies.length, root ? root.replyCount || 0 : 0);
  thread.count.textContent = n === 1 ? '1 reply' : `${n} replies`;
  reconcile(thread.list, [...replies, ...pend], itemKey, (m) => itemVersion(app, m),
    (m) => (m.seq ? renderMessage(app, ch, m, { inThread: true }) : renderPending(app, ch, m)));
  if (atBottom) thread.scroller.scrollTop = thread.scroller.scrollHeight;
}

// ---- mentions view

function buildMentions(app, root) {
  const list = h('ul.mention-list');
  main.root = h('section.mentions', { 'aria-labelledby': 'mentions-title' },
    h('header.channel-head', h('h2#mentions-title', 'Mentions')),
    h('div.messages', { role: 'region', 'aria-label': 'Mentions of you', tabindex: '0' }, list));
  root.append(main.root);
  main.update = () => {
    const items = app.mentions.slice().sort((a, b) => (b.createdAt || '').localeCompare(a.createdAt || ''));
    reconcile(list, items, (m) => m.id, (m) => JSON.stringify([m.read, !!m.message, app.channels.has(m.channelId)]), (m) => {
      const ch = app.channels.get(m.channelId);
      const msg = m.message;
      return h('li.mention-item',
        h('div.meta',
          h('span.channel', ch ? '#' + ch.info.name : 'another workspace'),
          msg ? h('span.author', app.userName(msg.userId)) : null,
          h('time', { datetime: m.createdAt }, formatTime(m.createdAt))),
        msg ? h('div.body', contentNodes(app, msg.deleted ? 'This message was deleted.' : msg.content)) : null,
        ch ? h('a.link', { href: `#/w/${app.wid}/c/${m.channelId}` }, 'Open channel') : null);
    });
    if (items.length === 0 && !list.previousElementSibling) list.before(h('p.empty-note', 'Nobody has mentioned you yet.'));
  };
}

function autosize(t) {
  t.style.height = 'auto';
  t.style.height = Math.min(t.scrollHeight, 200) + 'px';
}
