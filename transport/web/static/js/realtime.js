// Realtime keeps one STOMP session alive across dropped connections: it reconnects with
// exponential backoff and jitter, and on every new session subscribes again to the user's
// queues and to each watched channel with since-seq = the last seq this client has seen
// there, so the server replays exactly what was missed. Duplicates at the seams are the
// caller's to drop (by seq); see state.js.

import { StompClient } from './stomp.js';

const USER_QUEUES = ['/user/queue/mentions', '/user/queue/notifications', '/user/queue/presence', '/user/queue/errors'];
const MAX_WATCH = 500; // the server's limit on /app/presence.watch

export class Realtime {
  // opts: {getToken(), sinceSeq(cid) -> number, onChannelEvent(cid, ev),
  //        onUserEvent(dest, ev), onStatus(status, detail), onAuthFailed()}
  constructor(opts) {
    this.opts = opts;
    this.client = null;
    this.status = 'offline'; // offline | connecting | online | reconnecting
    this.channels = new Map(); // cid -> subscription id (null while not subscribed)
    this.attempt = 0;
    this.retryTimer = null;
    this.stopped = true;
    this.generation = 0; // bumps on every session, so late callbacks of old ones are ignored
    this.presenceWatch = []; // user ids whose presence this page shows (sent again per session)
  }

  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}/ws`;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this.kick);
    document.addEventListener('visibilitychange', this.kick);
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.generation++;
    clearTimeout(this.retryTimer);
    window.removeEventListener('online', this.kick);
    document.removeEventListener('visibilitychange', this.kick);
    if (this.client) this.client.close();
    this.client = null;
    this.channels.clear();
    this.setStatus('offline');
  }

  // kick retries at once when the browser says the network or the tab came back.
  kick = () => {
    if (this.stopped || this.status !== 'reconnecting' || document.visibilityState === 'hidden') return;
    clearTimeout(this.retryTimer);
    this.connect();
  };

  setStatus(s, detail = '') {
    this.status = s;
    if (this.opts.onStatus) this.opts.onStatus(s, detail);
  }

  async connect() {
    const gen = ++this.generation;
    this.setStatus(this.attempt === 0 && !this.everConnected ? 'connecting' : 'reconnecting');
    const client = new StompClient({
      url: this.url(),
      token: this.opts.getToken(),
      heartBeat: [10000, 10000],
      onClose: (reason) => {
        if (gen !== this.generation) return;
        this.dropped(reason);
      },
      onError: (f) => {
        if (this.opts.onUserEvent) this.opts.onUserEvent('/user/queue/errors', { type: 'error', message: f.headers.message, detail: f.body });
      },
    });
    this.client = client;
    try {
      await client.connect();
      if (gen !== this.generation) return;
      for (const dest of USER_QUEUES) {
        await client.subscribe(dest, (f) => this.deliverUser(dest, f));
      }
      // Channels watched from here on subscribe themselves (watch sees a connected client).
      await Promise.all([...this.channels.keys()].map((cid) => this.subscribeChannel(cid, gen)));
      if (gen !== this.generation) return;
      if (this.presenceWatch.length) client.send('/app/presence.watch', { userIds: this.presenceWatch });
      this.attempt = 0;
      this.everConnected = true;
      this.setStatus('online');
    } catch (e) {
      if (gen !== this.generation) return;
      if (e && e.frame && /auth|token|unauthori[sz]ed/i.test((e.frame.headers.message || '') + (e.code || ''))) {
        this.stop();
        if (this.opts.onAuthFailed) this.opts.onAuthFailed();
        return;
      }
      client.fail(String((e && e.message) || e));
    }
  }

  dropped(reason) {
    if (this.stopped) return;
    this.client = null;
    for (const cid of this.channels.keys()) this.channels.set(cid, null);
    const delay = Math.min(10000, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt = Math.min(this.attempt + 1, 10);
    this.setStatus('reconnecting', reason);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  async subscribeChannel(cid, gen = this.generation) {
    const client = this.client;
    if (!client || client.closed || !client.connected || this.channels.get(cid) !== null) return;
    this.channels.set(cid, 'pending');
    const since = this.opts.sinceSeq(cid);
    const headers = {};
    if (since !== undefined && since !== null) headers['since-seq'] = String(since);
    try {
      const id = await client.subscribe(`/topic/channel.${cid}`, (f) => this.deliverChannel(cid, f), headers);
      if (gen !== this.generation || !this.channels.has(cid)) {
        if (!client.closed) client.unsubscribe(id);
        return;
      }
      this.channels.set(cid, id);
    } catch (e) {
      // A refusal (e.g. no longer a member) is not worth a reconnect; forget the channel.
      if (gen === this.generation && this.channels.get(cid) === 'pending') this.channels.set(cid, null);
      if (e && e.frame) {
        this.channels.delete(cid);
        if (this.opts.onUserEvent) this.opts.onUserEvent('/user/queue/errors', { type: 'error', message: e.message, channelId: cid });
      }
    }
  }

  deliverChannel(cid, f) {
    let ev;
    try { ev = JSON.parse(f.body); } catch { return; }
    this.opts.onChannelEvent(cid, ev, f.headers);
  }

  deliverUser(dest, f) {
    let ev;
    try { ev = JSON.parse(f.body); } catch { ev = { type: 'text', message: f.body }; }
    if (this.opts.onUserEvent) this.opts.onUserEvent(dest, ev, f.headers);
  }

  // watch subscribes to a channel's topic (now, or at the next session).
  watch(cid) {
    if (this.channels.has(cid)) return;
    this.channels.set(cid, null);
    this.subscribeChannel(cid);
  }

  unwatch(cid) {
    const id = this.channels.get(cid);
    this.channels.delete(cid);
    if (id && id !== 'pending' && this.client && !this.client.closed) this.client.unsubscribe(id);
  }

  watched() { return [...this.channels.keys()]; }

  online() { return this.status === 'online' && this.client && !this.client.closed; }

  // sendMessage resolves with {messageId, seq} once the message is committed.
  async sendMessage(channelId, content, parentId, clientMsgId, fileIds) {
    if (!this.online()) throw new Error('offline');
    const body = { channelId, content, clientMsgId };
    if (parentId) body.parentId = parentId;
    if (fileIds && fileIds.length) body.fileIds = fileIds;
    const r = await this.client.sendWithReceipt('/app/message.send', body, 15000);
    return { messageId: r.headers['message-id'], seq: Number(r.headers.seq) };
  }

  markRead(channelId, seq) {
    if (!this.online()) return false;
    this.client.send('/app/message.read', { channelId, seq });
    return true;
  }

  typing(channelId) {
    if (this.online()) this.client.send('/app/typing', { channelId });
  }

  // watchPresence replaces the list of users whose changes arrive on /user/queue/presence
  // (kept for the next session too); only a changed list is sent.
  watchPresence(userIds) {
    const list = [...new Set(userIds)].slice(0, MAX_WATCH).sort();
    if (list.join() === this.presenceWatch.join()) return;
    this.presenceWatch = list;
    if (this.online()) this.client.send('/app/presence.watch', { userIds: list });
  }

  setPresence(status) {
    if (this.online()) this.client.send('/app/presence.set', { status });
  }
}
