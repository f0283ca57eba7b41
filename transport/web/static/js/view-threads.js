// The Threads view: the threads the signed-in user follows (GET /api/threads), across
// their workspaces, with unread badges kept live by thread.updated; one open thread at a
// time, its replies paged in both directions (before_seq for earlier replies, after_seq
// for newer ones), read up to what is shown (PUT …/thread-read), follow and unfollow.
//
// State lives on app.threads (created here); the sidebar link is added beside the mentions
// link, so the shell needs no change of its own.

import { h, clear, formatTime } from './dom.js';
import { parts } from './view-shell.js';
import { displayName } from './view-people.js';

const PAGE = 20; // threads per page, replies per page

function state(app) {
  if (!app.threads) {
    app.threads = { items: [], next: null, unreadOnly: false, loading: false, open: null, loaded: false };
  }
  return app.threads;
}

// unreadTotal is the badge of the sidebar link: threads with unread replies.
export function unreadTotal(app) {
  return state(app).items.filter((t) => t.unreadReplies > 0).length;
}

// load fetches the first page of followed threads (more: the next page).
export async function load(app, more = false) {
  const st = state(app);
  if (st.loading || (more && !st.next)) return;
  st.loading = true;
  try {
    const page = await app.api.followedThreads({ unread: st.unreadOnly, limit: PAGE, cursor: more ? st.next : '' });
    st.items = more ? st.items.concat(page.items || []) : (page.items || []);
    st.next = page.next || null;
    st.loaded = true;
  } finally {
    st.loading = false;
  }
  app.render();
}

// onUpdated applies thread.updated: the thread's counts, moved to the top of the list.
export function onUpdated(app, ev) {
  const st = state(app);
  const i = st.items.findIndex((t) => t.root.id === ev.rootId);
  if (i < 0) {
    if (st.loaded) load(app).catch(() => {}); // a thread we did not list yet: reload
    return;
  }
  const t = st.items[i];
  st.items.splice(i, 1);
  st.items.unshift({ ...t, replyCount: ev.replyCount, unreadReplies: ev.unreadReplies, lastReplyAt: ev.lastReplyAt, lastReplySeq: ev.lastReplySeq });
  if (st.open && st.open.root.id === ev.rootId && !st.open.hasNewer) {
    loadNewer(app).catch(() => {});
  }
  app.render();
}

// renderLink adds (once) and updates the sidebar's Threads link and its unread badge.
export function renderLink(app) {
  const ui = parts();
  if (!ui || !ui.mentionsLink) return;
  if (!ui.threadsLink) {
    ui.threadsLink = h('a.nav-item.threads-link', { href: '#' }, h('span.label', '» Threads'), h('span.badge', { hidden: true }));
    ui.mentionsLink.after(ui.threadsLink);
  }
  ui.threadsLink.href = app.wid ? `#/w/${app.wid}/threads` : '#/';
  if (app.view === 'threads') ui.threadsLink.setAttribute('aria-current', 'page');
  else ui.threadsLink.removeAttribute('aria-current');
  const n = unreadTotal(app);
  const badge = ui.threadsLink.querySelector('.badge');
  badge.hidden = n === 0;
  badge.textContent = n > 99 ? '99+' : String(n);
  badge.setAttribute('aria-label', `${n} threads with unread replies`);
}

// build renders the view into root; main.update re-renders it on every app.render().
export function build(app, root, main) {
  const st = state(app);
  const filter = h('label.threads-filter', h('input', {
    type: 'checkbox', checked: st.unreadOnly,
    onchange: (e) => { st.unreadOnly = e.target.checked; load(app).catch((err) => app.toast(err.message)); },
  }), ' Unread only');
  const list = h('ul.thread-list', { 'aria-label': 'Threads you follow' });
  const more = h('button.link.load-more-threads', { type: 'button', onclick: () => load(app, true).catch((e) => app.toast(e.message)) }, 'More threads');
  const detail = h('section.thread-detail', { 'aria-label': 'Open thread' });
  main.root = h('div.threads-view', h('h2.channel-title', 'Threads'), filter, list, more, detail);
  root.append(main.root);
  main.update = () => {
    clear(list);
    for (const t of st.items) list.append(threadItem(app, t));
    if (st.loaded && st.items.length === 0) list.append(h('li.empty', st.unreadOnly ? 'No unread replies.' : 'You follow no threads yet. Reply to one, or follow it.'));
    more.hidden = !st.next;
    renderDetail(app, detail);
  };
  if (!st.loaded) load(app).catch((e) => app.toast(e.message));
}

function threadItem(app, t) {
  const ch = app.channels.get(t.root.channelId);
  const where = ch ? (ch.info.name ? '#' + ch.info.name : 'direct message') : 'another workspace';
  const unread = t.unreadReplies > 0
    ? h('span.badge.thread-unread', { 'aria-label': `${t.unreadReplies} unread replies` }, t.unreadReplies > 99 ? '99+' : String(t.unreadReplies))
    : null;
  return h('li.thread-item', { 'data-root': t.root.id },
    h('button.link.open-thread', { type: 'button', onclick: () => open(app, t).catch((e) => app.toast(e.message)) },
      h('span.thread-root-text', t.root.deleted ? '(deleted)' : t.root.content.slice(0, 140))),
    unread,
    h('span.meta', ` ${where} · ${t.replyCount} ${t.replyCount === 1 ? 'reply' : 'replies'} · ${formatTime(t.lastReplyAt)}`));
}

// open shows a thread from its unread replies on (the last page when all are read).
async function open(app, t) {
  const st = state(app);
  st.open = { root: t.root, replies: [], hasOlder: false, hasNewer: false, following: true };
  const floor = t.lastReadSeq || 0;
  const page = await app.api.repliesPage(t.root.id, { after: floor, limit: PAGE });
  let replies = page.items || [];
  if (replies.length === 0 && floor > 0) {
    const last = await app.api.repliesPage(t.root.id, { before: floor + 1, limit: PAGE });
    replies = (last.items || []).reverse();
    st.open.hasOlder = !!last.next;
  } else {
    st.open.hasOlder = floor > 0; // an empty earlier page turns it off
    st.open.hasNewer = !!page.next;
  }
  st.open.replies = replies;
  await markShown(app);
  app.render();
}

async function loadOlder(app) {
  const o = state(app).open;
  if (!o || o.replies.length === 0) return;
  const page = await app.api.repliesPage(o.root.id, { before: o.replies[0].seq, limit: PAGE });
  const older = (page.items || []).reverse();
  o.replies = older.concat(o.replies);
  o.hasOlder = !!page.next;
  app.render();
}

async function loadNewer(app) {
  const o = state(app).open;
  if (!o) return;
  const after = o.replies.length ? o.replies[o.replies.length - 1].seq : 0;
  const page = await app.api.repliesPage(o.root.id, { after, limit: PAGE });
  o.replies = o.replies.concat(page.items || []);
  o.hasNewer = !!page.next;
  await markShown(app);
  app.render();
}

// markShown raises the thread marker to the newest reply on screen.
async function markShown(app) {
  const st = state(app);
  const o = st.open;
  if (!o || o.replies.length === 0) return;
  const seq = o.replies[o.replies.length - 1].seq;
  const res = await app.api.threadRead(o.root.id, seq);
  const t = st.items.find((x) => x.root.id === o.root.id);
  if (t) {
    t.unreadReplies = res.unreadReplies;
    t.lastReadSeq = res.lastReadSeq;
  }
}

function renderDetail(app, el) {
  const o = state(app).open;
  clear(el);
  if (!o) return;
  const author = (uid) => displayName(app.members.get(uid) || { id: uid });
  el.append(...[
    h('div.thread-head',
      h('strong', author(o.root.userId)), ' ', h('span.thread-root-content', o.root.deleted ? '(deleted)' : o.root.content),
      h('button.link.follow-toggle', {
        type: 'button',
        onclick: async () => {
          try {
            const res = o.following ? await app.api.unfollow(o.root.id) : await app.api.follow(o.root.id);
            o.following = res.following;
            app.render();
          } catch (e) { app.toast(e.message); }
        },
      }, o.following ? 'Unfollow' : 'Follow')),
    o.hasOlder ? h('button.link.load-earlier-replies', { type: 'button', onclick: () => loadOlder(app).catch((e) => app.toast(e.message)) }, 'Earlier replies') : null,
    h('ol.thread-replies', ...o.replies.map((m) => h('li.reply', { 'data-seq': String(m.seq) },
      h('strong', author(m.userId)), ' ', m.deleted ? h('em', '(deleted)') : m.content))),
    o.hasNewer ? h('button.link.load-newer-replies', { type: 'button', onclick: () => loadNewer(app).catch((e) => app.toast(e.message)) }, 'Newer replies') : null,
  ].filter(Boolean));
}
