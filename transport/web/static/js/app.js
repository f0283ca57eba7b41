// parley's web client: the controller. It owns the state (who is signed in, the current
// workspace and its channels, the open channel and thread) and the two connections to the
// server (REST through Api, real time through Realtime); the view modules render it.
//
// Routes live in the URL fragment: #/login, #/invite/{token}, #/w/{wid}, #/w/{wid}/c/{cid},
// #/w/{wid}/mentions, #/w/{wid}/threads.

import { Api } from './api.js';
import { Realtime } from './realtime.js';
import { ChannelState } from './state.js';
import { debounce } from './dom.js';
import * as attention from './attention.js';
import { displayName } from './view-people.js';
import * as shell from './view-shell.js';
import * as chat from './view-chat.js';
import * as screens from './view-screens.js';
import * as threads from './view-threads.js';
import * as search from './view-search.js';
import * as pins from './view-pins.js';
import { parse, plainText } from './markdown.js';

const TOKEN_KEY = 'parley.token';
const TYPING_EVERY_MS = 3000;
const NEW_CHANNEL_REPLAY = 20; // unread messages of a newly listed channel replayed live

class App {
  constructor() {
    this.api = new Api();
    this.token = '';
    this.me = null;
    this.workspaces = [];
    this.wid = null;
    this.channels = new Map(); // cid -> ChannelState (current workspace)
    this.members = new Map(); // userId -> user
    this.presence = new Map(); // userId -> online | away | offline (watched users only)
    this.invitations = []; // workspace.invited events not acted on yet
    this.activeCid = null;
    this.view = 'channel'; // channel | mentions | threads | empty
    this.threadRootId = null;
    this.editing = null; // message id being edited
    this.pickerFor = null; // message id whose reaction picker is open
    this.mentions = [];
    this.status = 'offline';
    this.lastTypingSent = 0;
    this.renderQueued = false;
    this.rt = new Realtime({
      getToken: () => this.token,
      sinceSeq: (cid) => this.channels.get(cid)?.seenSeq,
      onChannelEvent: (cid, ev) => this.onChannelEvent(cid, ev),
      onUserEvent: (dest, ev) => this.onUserEvent(dest, ev),
      onStatus: (s, detail) => this.onStatus(s, detail),
      onAuthFailed: () => this.logout('Your session has expired. Please sign in again.'),
    });
    this.api.onUnauthorized = () => this.logout('Your session has expired. Please sign in again.');
    this.refreshChannelsSoon = debounce(() => this.refreshChannels().catch((e) => this.toast(e.message)), 300);
    this.refreshMembersSoon = debounce(() => this.refreshMembers().catch(() => {}), 500);
    this.markReadSoon = debounce(() => this.markRead(), 250);
    setInterval(() => this.expireTyping(), 1000);
  }

  async boot() {
    window.addEventListener('hashchange', () => this.route());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState !== 'visible') return;
      this.markReadSoon();
      if (this.me && this.wid) this.refreshChannelsSoon();
    });
    const saved = localStorage.getItem(TOKEN_KEY);
    if (saved) {
      try {
        await this.signIn(saved, false);
      } catch {
        localStorage.removeItem(TOKEN_KEY);
      }
    }
    await this.route();
  }

  // ---- session

  async signIn(token, navigate = true) {
    this.api.token = token;
    this.me = await this.api.me();
    this.token = token;
    localStorage.setItem(TOKEN_KEY, token);
    this.rt.start();
    if (navigate) await this.route();
  }

  async devLogin(username) {
    const res = await this.api.devLogin(username);
    await this.signIn(res.accessToken);
  }

  logout(note = '') {
    this.rt.stop();
    localStorage.removeItem(TOKEN_KEY);
    this.token = '';
    this.api.token = '';
    this.me = null;
    this.workspaces = [];
    this.wid = null;
    this.workspaceReady = false;
    this.channels.clear();
    this.activeCid = null;
    shell.destroy();
    screens.renderLogin(this, note);
  }

  // ---- routing

  async route() {
    const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
    if (!this.me) {
      screens.renderLogin(this, parts[0] === 'invite' ? 'Sign in to accept your invitation.' : '');
      return;
    }
    if (parts[0] === 'invite' && parts[1]) {
      shell.destroy();
      screens.renderInvite(this, decodeURIComponent(parts[1]));
      return;
    }
    if (parts[0] === 'login') {
      location.hash = '#/';
      return;
    }
    shell.ensure(this);
    search.install(this);
    try {
      await this.loadWorkspaces(false);
      let wid = parts[0] === 'w' ? parts[1] : null;
      if (!wid || !this.workspaces.some((w) => w.id === wid)) {
        if (this.workspaces.length === 0) {
          await this.selectWorkspace(null);
          return;
        }
        wid = (this.workspaces.find((w) => w.id === localStorage.getItem('parley.wid')) || this.workspaces[0]).id;
        location.replace(`#/w/${wid}`);
        return;
      }
      await this.selectWorkspace(wid);
      if (!this.threads) threads.load(this).catch(() => {}); // the Threads badge from the start
      if (parts[2] === 'threads') {
        this.threadRootId = null;
        shell.closeNav();
        this.setView('threads');
      } else if (parts[2] === 'mentions') {
        await this.openMentions();
      } else if (parts[2] === 'c' && this.channels.has(parts[3])) {
        await this.openChannel(parts[3]);
      } else {
        const first = this.defaultChannel();
        if (first) location.replace(`#/w/${wid}/c/${first.id}`);
        else this.setView('empty');
      }
    } catch (e) {
      this.toast(e.message);
    }
  }

  defaultChannel() {
    const list = this.sortedChannels().filter((c) => c.info.isMember !== false);
    if (list.length === 0) return this.dmChannels()[0];
    return list.find((c) => c.info.name === 'general') || list[0] || this.sortedChannels()[0];
  }

  // ---- workspaces and channels

  async loadWorkspaces(force = true) {
    if (!force && this.workspacesLoaded) return;
    this.workspaces = await this.api.workspaces();
    this.workspacesLoaded = true;
    shell.renderWorkspaces(this);
  }

  async selectWorkspace(wid) {
    if (wid === this.wid && this.workspaceReady) {
      if (!wid) this.setView('empty');
      return;
    }
    this.workspaceReady = false;
    for (const cid of this.rt.watched()) this.rt.unwatch(cid);
    this.wid = wid;
    this.channels = new Map();
    this.members = new Map([[this.me.id, this.me]]);
    this.presence = new Map();
    this.activeCid = null;
    this.threadRootId = null;
    if (wid) localStorage.setItem('parley.wid', wid);
    shell.renderWorkspaces(this);
    if (!wid) {
      this.workspaceReady = true;
      this.setView('empty');
      return;
    }
    await Promise.all([this.refreshChannels(), this.refreshMembers(), this.refreshMentions()]);
    this.workspaceReady = wid === this.wid;
  }

  async refreshChannels() {
    const wid = this.wid;
    if (!wid) return;
    const list = await this.api.channels(wid);
    if (wid !== this.wid) return;
    const seen = new Set();
    for (const info of list) {
      seen.add(info.id);
      let ch = this.channels.get(info.id);
      if (ch) ch.updateInfo(info);
      else {
        ch = new ChannelState(info, this.me.id);
        this.channels.set(info.id, ch);
        // A channel that appears while the page is open (a new DM, being added): its few
        // unread messages come as a replay, so they draw attention like live ones.
        const unread = (info.lastSeq || 0) - (info.lastReadSeq || 0);
        if (this.workspaceReady && unread > 0 && unread <= NEW_CHANNEL_REPLAY) ch.seenSeq = info.lastReadSeq || 0;
      }
      if (info.isMember !== false) this.rt.watch(info.id);
    }
    for (const cid of [...this.channels.keys()]) {
      if (!seen.has(cid)) {
        this.channels.delete(cid);
        this.rt.unwatch(cid);
      }
    }
    this.render();
  }

  async refreshMembers() {
    const wid = this.wid;
    if (!wid) return;
    const list = await this.api.members(wid);
    if (wid !== this.wid) return;
    for (const m of list) {
      const u = m.user || m;
      const id = u.id || m.userId;
      if (id) this.members.set(id, { ...u, id, role: m.role || u.role });
      if (id && m.presence) this.presence.set(id, m.presence);
    }
    this.watchPresence();
    this.render();
  }

  // watchPresence asks for live presence of the people this page shows: DM partners first,
  // then the workspace's members, up to the server's 500.
  watchPresence() {
    const ids = [];
    for (const ch of this.dmChannels()) ids.push(...this.dmPartners(ch));
    for (const id of this.members.keys()) if (id !== this.me.id) ids.push(id);
    const list = [...new Set(ids)].slice(0, 500);
    this.rt.watchPresence(list);
    const missing = list.filter((id) => !this.presence.has(id));
    if (missing.length && this.wid) {
      this.api.presence(this.wid, missing.slice(0, 100)).then((snap) => {
        for (const [id, st] of Object.entries(snap || {})) if (!this.presence.has(id)) this.presence.set(id, st);
        this.render();
      }).catch(() => {});
    }
  }

  async refreshMentions() {
    try {
      this.mentions = await this.api.mentions(false);
    } catch {
      this.mentions = [];
    }
    this.render();
  }

  userName(id) {
    const u = this.members.get(id);
    if (u) return displayName(u);
    this.refreshMembersSoon();
    return 'user ' + String(id).slice(-4);
  }

  // sortedChannels: named channels by name (DMs are listed apart: dmChannels).
  sortedChannels() {
    return [...this.channels.values()].filter((c) => c.info.type !== 'dm')
      .sort((a, b) => (a.info.name || '').localeCompare(b.info.name || ''));
  }

  // dmChannels: direct conversations, the most recent first.
  dmChannels() {
    return [...this.channels.values()].filter((c) => c.info.type === 'dm').sort((a, b) => b.lastSeq - a.lastSeq || a.id.localeCompare(b.id));
  }

  dmPartners(ch) {
    return (ch.info.members || []).map((m) => (typeof m === 'object' ? m.id || m.userId : m)).filter((id) => id && id !== this.me.id);
  }

  // channelLabel: a channel's name, or the names of the other people in a DM.
  channelLabel(ch) {
    if (ch.info.type !== 'dm') return ch.info.name;
    const names = this.dmPartners(ch).map((id) => this.userName(id));
    return names.length ? names.join(', ') : displayName(this.me) + ' (you)';
  }

  async openDM(userIds) {
    const ch = await this.api.openDM(this.wid, userIds);
    await this.refreshChannels();
    this.watchPresence();
    location.hash = `#/w/${this.wid}/c/${ch.id}`;
  }

  // setAway says "away" (or "online" again) for every session of this user.
  setAway(away) {
    this.selfAway = away;
    this.rt.setPresence(away ? 'away' : 'online');
    this.presence.set(this.me.id, away ? 'away' : 'online');
    this.render();
  }

  async updateProfile(fields) {
    const me = await this.api.updateProfile(fields);
    this.me = { ...this.me, ...me };
    this.members.set(this.me.id, { ...(this.members.get(this.me.id) || {}), ...this.me });
    this.render();
  }

  async setDND(until) {
    const res = await this.api.setDND(until);
    this.me.dndUntil = (res && res.dndUntil !== undefined) ? res.dndUntil : until;
    this.render();
  }

  async setChannelPrefs(ch, prefs) {
    const saved = await this.api.setChannelPrefs(ch.id, prefs);
    ch.updateInfo({ prefs: saved || prefs });
    this.render();
  }

  active() { return this.channels.get(this.activeCid) || null; }

  setView(view) {
    this.view = view;
    this.render();
  }

  async openChannel(cid) {
    const ch = this.channels.get(cid);
    if (!ch) return;
    const switched = this.activeCid !== cid || this.view !== 'channel';
    // What was on screen when one leaves a channel has been seen, however briefly.
    if (switched && this.view === 'channel') this.markRead(this.active());
    this.activeCid = cid;
    this.view = 'channel';
    if (switched) {
      this.editing = null;
      this.pickerFor = null;
      // The "New messages" line goes above the first message unread now (view-flow.js).
      ch.newAfterSeq = ch.lastSeq > ch.lastReadSeq ? ch.lastReadSeq : null;
      pins.load(this, ch).catch(() => {});
      if (this.threadRootId && !ch.byId.has(this.threadRootId)) this.threadRootId = null;
    }
    // A public channel one has not joined is shown as a preview: watch it while open.
    this.rt.watch(cid);
    shell.closeNav();
    this.render({ scrollToBottom: switched });
    await this.loadHistory(ch);
    if (switched) chat.focusComposer();
    this.markReadSoon();
  }

  // loadHistory fetches a channel's latest page once. A failure (the server is down) leaves
  // it to the next session: onStatus calls this again for the open channel.
  async loadHistory(ch) {
    if (ch.historyLoaded || ch.loadingHistory) return;
    ch.loadingHistory = true;
    try {
      const page = await this.api.messages(ch.id, null, 50);
      ch.addHistory(page, 50);
      ch.historyError = '';
    } catch (e) {
      ch.historyError = e.message;
      if (e.code !== 'network') this.toast(e.message);
    } finally {
      ch.loadingHistory = false;
    }
    if (ch.id === this.activeCid) this.render({ scrollToBottom: true });
  }

  async loadOlder() {
    const ch = this.active();
    if (!ch || !ch.hasMore || ch.loadingOlder) return;
    ch.loadingOlder = true;
    try {
      const page = await this.api.messages(ch.id, ch.oldestSeq, 50);
      ch.addHistory(page, 50);
      this.render({ keepScroll: true });
    } finally {
      ch.loadingOlder = false;
    }
  }

  async openMentions() {
    this.view = 'mentions';
    this.threadRootId = null;
    shell.closeNav();
    await this.refreshMentions();
    for (const m of this.mentions) {
      if (!m.read) {
        m.read = true;
        this.api.markMentionRead(m.id).catch(() => {});
      }
    }
    this.render();
  }

  async createWorkspace(name) {
    const ws = await this.api.createWorkspace(name);
    await this.loadWorkspaces();
    location.hash = `#/w/${ws.id}`;
  }

  async createChannel(name, type, topic) {
    const ch = await this.api.createChannel(this.wid, name, type, topic || undefined);
    await this.refreshChannels();
    location.hash = `#/w/${this.wid}/c/${ch.id}`;
  }

  async joinChannel(cid) {
    await this.api.joinChannel(cid, this.me.id);
    await this.refreshChannels();
    this.rt.watch(cid);
    this.render();
  }

  async acceptInvitation(token) {
    const ws = await this.api.acceptInvitation(token);
    await this.loadWorkspaces();
    location.hash = `#/w/${ws.id || ws.workspaceId || (ws.workspace && ws.workspace.id)}`;
  }

  // ---- messages

  async send(content, parentId = null, files = []) {
    const ch = this.active();
    // A message of files alone says what it carries (content may not be blank).
    if (!content.trim() && files.length) content = files.map((f) => f.name).join(', ');
    if (!ch || !content.trim()) return;
    const p = { clientMsgId: newClientMsgId(), content, parentId, status: 'sending', createdAt: new Date().toISOString() };
    if (files.length) p.fileIds = files.map((f) => f.id);
    ch.pending.set(p.clientMsgId, p);
    this.render({ scrollToBottom: !parentId });
    // The others clear our typing line when the message lands: the next keystroke says so again.
    this.lastTypingSent = 0;
    await this.deliver(ch, p);
  }

  // deliver sends a pending message over the WebSocket, else over REST; clientMsgId makes a
  // retry of either idempotent, so a message sent twice is stored once.
  async deliver(ch, p) {
    p.status = 'sending';
    try {
      if (this.rt.online()) {
        await this.rt.sendMessage(ch.id, p.content, p.parentId, p.clientMsgId, p.fileIds);
        if (ch.pending.has(p.clientMsgId)) p.status = 'sent'; // the event is on its way
      } else {
        const m = await this.api.postMessage(ch.id, p.content, p.parentId || undefined, p.clientMsgId, p.fileIds);
        ch.addMessage(m);
      }
    } catch (e) {
      if (!ch.pending.has(p.clientMsgId)) return;
      p.status = this.rt.online() || (e.status && e.status < 500) ? 'failed' : 'queued';
      p.error = e.message;
    }
    this.render();
  }

  retryQueued() {
    for (const ch of this.channels.values()) {
      for (const p of ch.pending.values()) {
        if (p.status === 'queued') this.deliver(ch, p);
      }
    }
  }

  discardPending(cid, clientMsgId) {
    this.channels.get(cid)?.pending.delete(clientMsgId);
    this.render();
  }

  async edit(m, content) {
    this.editing = null;
    if (content.trim() && content !== m.content) {
      const updated = await this.api.editMessage(m.id, content);
      const ch = this.channels.get(m.channelId);
      if (ch && updated) ch.edited({ id: m.id, seq: m.seq, content: updated.content, editedAt: updated.editedAt });
    }
    this.render();
  }

  async remove(m) {
    await this.api.deleteMessage(m.id);
    this.channels.get(m.channelId)?.deleted({ id: m.id, seq: m.seq });
    this.render();
  }

  async toggleReaction(m, emoji) {
    this.pickerFor = null;
    const r = (m.reactions || []).find((x) => x.emoji === emoji);
    const ch = this.channels.get(m.channelId);
    if (r && r.me) {
      await this.api.unreact(m.id, emoji);
      ch?.reaction({ id: m.id, seq: m.seq, emoji, userId: this.me.id, added: false, count: r.count - 1 });
    } else {
      await this.api.react(m.id, emoji);
      if (r) r.me = true;
      else ch?.reaction({ id: m.id, seq: m.seq, emoji, userId: this.me.id, added: true, count: 1 });
    }
    this.render();
  }

  async openThread(rootId) {
    const ch = this.active();
    if (!ch) return;
    this.threadRootId = rootId;
    this.render();
    const page = await this.api.replies(rootId, 0, 100);
    const list = Array.isArray(page) ? page : (page && page.items) || [];
    for (const m of list) ch.addMessage(m);
    const root = ch.byId.get(rootId);
    if (root) root.replyCount = Math.max(root.replyCount || 0, ch.replies(rootId).length);
    this.render();
    chat.focusThreadComposer();
  }

  closeThread() {
    this.threadRootId = null;
    this.render();
    chat.focusComposer();
  }

  typing() {
    const now = Date.now();
    if (now - this.lastTypingSent < TYPING_EVERY_MS || !this.activeCid) return;
    this.lastTypingSent = now;
    this.rt.typing(this.activeCid);
  }

  expireTyping() {
    const ch = this.active();
    if (!ch || ch.typing.size === 0) return;
    ch.typingUsers();
    chat.renderTyping(this);
  }

  // markRead advances the read marker of the open channel while the page is visible.
  markRead(ch = this.active()) {
    if (!ch || this.view !== 'channel' || document.visibilityState !== 'visible') return;
    if (ch.info.isMember === false || ch.lastSeq <= ch.lastReadSeq) return;
    const seq = ch.lastSeq;
    ch.lastReadSeq = seq;
    if (!this.rt.markRead(ch.id, seq)) this.api.markRead(ch.id, seq).catch(() => {});
    shell.renderSidebar(this);
    this.renderTitle();
  }

  // ---- real-time events

  onChannelEvent(cid, ev) {
    const ch = this.channels.get(cid);
    if (!ch) return;
    switch (ev.type) {
      case 'message': {
        const m = ev.message;
        if (!m) return;
        const isNew = !ch.msgs.has(m.seq);
        const counts = isNew && ch.noteAttention(m, this.me.username);
        ch.addMessage(m, { live: true });
        if (isNew) this.attend(ch, m, counts);
        ch.clearTyping(m.userId);
        if (!this.members.has(m.userId)) this.refreshMembersSoon();
        if (cid === this.activeCid) this.markReadSoon();
        break;
      }
      case 'message.edited': ch.edited(ev); break;
      case 'message.deleted': ch.deleted(ev); pins.onEvent(ch, ev); break;
      case 'message.pinned':
      case 'message.unpinned':
        pins.onEvent(ch, ev);
        break;
      case 'reaction': ch.reaction(ev); break;
      case 'read': ch.read(ev); break;
      case 'typing':
        if (!ch.setTyping(ev.userId)) return;
        chat.renderTyping(this);
        return;
      case 'member.joined':
      case 'member.left':
        if (!this.members.has(ev.userId)) this.refreshMembersSoon();
        if (ev.userId === this.me.id) this.refreshChannelsSoon();
        break;
      case 'channel.updated':
        if (ev.channel) ch.updateInfo(ev.channel);
        break;
      default:
        return;
    }
    this.render();
  }

  // attend draws attention to a new message from outside: a desktop notification and a
  // sound, as the channel's preferences and do-not-disturb allow.
  attend(ch, m, mentionsMe) {
    const focused = ch.id === this.activeCid && this.view === 'channel' && document.visibilityState === 'visible' && document.hasFocus();
    if (!attention.shouldNotify({ msg: { ...m, mentionsMe }, ch: ch.info, me: this.me, focused })) return;
    const who = this.userName(m.userId);
    const where = ch.info.type === 'dm' ? 'Direct message' : '#' + ch.info.name;
    attention.notify({
      title: ch.info.type === 'dm' ? who : `${who} in ${where}`,
      body: plainText(parse(m.content || '')), // the words, not the Markdown (ADR 0042)
      tag: 'parley-' + ch.id,
      onClick: () => { location.hash = `#/w/${this.wid}/c/${ch.id}`; },
    });
    attention.chime();
  }

  onUserEvent(dest, ev) {
    if (dest.endsWith('/presence')) {
      if (ev.userId && ev.status) {
        this.presence.set(ev.userId, ev.status);
        this.render();
      }
      return;
    }
    if (dest.endsWith('/mentions')) {
      const mention = ev.mention || ev;
      if (ev.message) mention.message = ev.message;
      if (!this.mentions.some((m) => m.id === mention.id)) this.mentions.unshift(mention);
      if (this.view === 'mentions') {
        mention.read = true;
        this.api.markMentionRead(mention.id).catch(() => {});
      }
      this.render();
    } else if (dest.endsWith('/errors')) {
      this.toast(ev.detail || ev.message || 'The server reported an error.');
    } else {
      this.onNotification(ev);
    }
  }

  // onNotification keeps the workspace live: what others create, change or invite us to
  // shows up without polling.
  onNotification(ev) {
    switch (ev.type) {
      case 'channel.created':
      case 'channel.added':
      case 'channel.updated':
        if (!ev.workspaceId || ev.workspaceId === this.wid || (ev.channel && ev.channel.workspaceId === this.wid)) this.refreshChannelsSoon();
        if (ev.type === 'channel.added') this.loadWorkspaces().catch(() => {});
        break;
      case 'member.joined':
        this.refreshMembersSoon();
        break;
      case 'workspace.invited':
        {
          const token = ev.token || (ev.invitation && ev.invitation.token);
          if (!this.invitations.some((i) => (i.token || (i.invitation && i.invitation.token)) === token)) this.invitations.push(ev);
        }
        this.render();
        break;
      case 'mention':
        break; // the mentions queue has already brought it
      case 'thread.updated':
        threads.onUpdated(this, ev);
        break;
      default:
        this.refreshChannelsSoon();
        this.loadWorkspaces().catch(() => {});
    }
  }

  onStatus(status) {
    const was = this.status;
    this.status = status;
    shell.renderStatus(this);
    if (status === 'online' && was === 'reconnecting') {
      // Counters and lists may have moved while we were away; the replay covers messages of
      // channels already loaded, and a channel opened during the outage loads now.
      this.refreshChannelsSoon();
      this.retryQueued();
      const ch = this.active();
      if (ch && this.view === 'channel') this.loadHistory(ch);
      if (ch && this.view === 'channel') pins.load(this, ch).catch(() => {}); // pin events are not replayed
    }
  }

  // ---- rendering

  render(opts = {}) {
    this.renderOpts = { ...(this.renderOpts || {}), ...opts };
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      const o = this.renderOpts;
      this.renderOpts = {};
      if (!this.me || !shell.mounted()) return;
      shell.renderWorkspaces(this);
      shell.renderSidebar(this);
      threads.renderLink(this);
      this.renderTitle();
      chat.renderMain(this, o);
      chat.renderThread(this);
    });
  }

  // renderTitle puts what needs attention in the tab title: "(3) Acme — parley".
  renderTitle() {
    const ws = this.workspaces.find((w) => w.id === this.wid);
    const base = ws ? `${ws.name} — parley` : 'parley';
    document.title = attention.titleFor(base, attention.attentionCount(this.channels.values()));
  }

  // toast shows text once at a time; while reconnecting the status bar already says the
  // server is unreachable, so network failures are not repeated as toasts.
  toast(text) {
    if (this.status === 'reconnecting' && /Cannot reach the server/.test(text)) return;
    shell.toast(text);
  }
}

function newClientMsgId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Date.now().toString(36) + Math.random().toString(36).slice(2);
}

const app = new App();
window.parley = app; // for the browser test and for curious people in the console
app.boot();
