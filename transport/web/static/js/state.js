// The client's model of one channel, free of DOM so that it can be tested alone. Every
// source of messages (history pages, live events, since-seq replays after a reconnect)
// goes through ChannelState, which keys messages by seq: a message seen twice is merged,
// never shown twice.

export class ChannelState {
  constructor(info, myId) {
    this.myId = myId;
    this.info = info;
    this.msgs = new Map(); // seq -> message (roots and replies)
    this.byId = new Map(); // id -> message
    // seenSeq is where a new subscription resumes (since-seq): the highest seq delivered by
    // the subscription (live or replayed). It starts at the channel list's lastSeq, which
    // the history page covers.
    this.seenSeq = info.lastSeq || 0;
    this.lastSeq = info.lastSeq || 0;
    this.lastReadSeq = info.lastReadSeq || 0;
    this.historyLoaded = false;
    this.hasMore = true;
    this.oldestSeq = null; // the before_seq cursor for the next page upward
    this.typing = new Map(); // userId -> expiry (ms)
    this.pending = new Map(); // clientMsgId -> {clientMsgId, content, parentId, status, error}
    // Mentions: the server's count (above the marker it was counted at) plus the seqs of
    // mentions that arrived live since; reading up to lastSeq clears both.
    this.serverMentions = info.mentionCount || 0;
    this.serverMentionsAt = this.lastReadSeq;
    this.serverMentionsTo = this.lastSeq; // the server's count covers seqs up to here
    this.liveMentions = new Set();
  }

  get id() { return this.info.id; }

  unread() { return Math.max(0, this.lastSeq - this.lastReadSeq); }

  // mentionCount is what needs the caller's attention here: unread mentions of them, and in
  // a DM every unread message from someone else.
  mentionCount() {
    if (this.lastReadSeq >= this.lastSeq) return 0;
    let n = this.lastReadSeq === this.serverMentionsAt ? this.serverMentions : 0;
    for (const seq of this.liveMentions) if (seq > this.lastReadSeq) n++;
    return n;
  }

  // noteAttention records a live message that counts towards mentionCount.
  noteAttention(m, myName) {
    if (m.userId === this.myId || m.seq <= this.lastReadSeq) return false;
    const counts = this.info.type === 'dm' || (myName && mentionsOf(m.content || '').includes(myName));
    // A replay of what the server already counted draws attention but is not counted twice.
    if (counts && m.seq > this.serverMentionsTo) this.liveMentions.add(m.seq);
    return counts;
  }

  // updateInfo takes a fresher row of the channel list; counters only move forward.
  updateInfo(info) {
    this.info = { ...this.info, ...info };
    this.lastSeq = Math.max(this.lastSeq, info.lastSeq || 0);
    this.lastReadSeq = Math.max(this.lastReadSeq, info.lastReadSeq || 0);
    if (info.mentionCount !== undefined && (info.lastReadSeq || 0) >= this.serverMentionsAt) {
      // A fresher server count covers every live mention at or below the list's lastSeq.
      this.serverMentions = info.mentionCount;
      this.serverMentionsAt = info.lastReadSeq || 0;
      this.serverMentionsTo = Math.max(this.serverMentionsTo, info.lastSeq || 0);
      for (const seq of this.liveMentions) if (seq <= (info.lastSeq || 0)) this.liveMentions.delete(seq);
    }
  }

  // addMessage merges m; returns true when its seq is new to this client.
  addMessage(m, { live = false } = {}) {
    if (live) this.seenSeq = Math.max(this.seenSeq, m.seq);
    this.lastSeq = Math.max(this.lastSeq, m.seq);
    if (m.userId === this.myId) {
      this.lastReadSeq = Math.max(this.lastReadSeq, m.seq); // posting reads the channel
      if (m.clientMsgId) this.pending.delete(m.clientMsgId);
    }
    const old = this.msgs.get(m.seq);
    if (old) {
      Object.assign(old, mergeMessage(old, m, live));
      return false;
    }
    const msg = { ...m, reactions: (m.reactions || []).map((r) => ({ ...r })) };
    this.msgs.set(m.seq, msg);
    this.byId.set(msg.id, msg);
    if (msg.parentId) {
      const root = this.byId.get(msg.parentId);
      // The root's replyCount came from the server at some point; count a reply only if it
      // is younger than the root's last known reply, so a count is never taken twice.
      if (root && (!root.lastReplyAt || msg.createdAt > root.lastReplyAt)) {
        root.replyCount = (root.replyCount || 0) + 1;
        root.lastReplyAt = msg.createdAt;
      }
    }
    return true;
  }

  // addHistory merges one page of GET …/messages (any order) and moves the paging cursor.
  addHistory(page, limit) {
    let min = null;
    for (const m of page) {
      this.addMessage(m);
      if (min === null || m.seq < min) min = m.seq;
    }
    if (min !== null && (this.oldestSeq === null || min < this.oldestSeq)) this.oldestSeq = min;
    if (page.length < limit || min === 1) this.hasMore = false;
    this.historyLoaded = true;
  }

  edited(ev) {
    const m = this.msgs.get(ev.seq) || this.byId.get(ev.id);
    if (!m) return false;
    m.content = ev.content;
    m.editedAt = ev.editedAt;
    return true;
  }

  deleted(ev) {
    const m = this.msgs.get(ev.seq) || this.byId.get(ev.id);
    if (!m) return false;
    m.deleted = true;
    m.content = '';
    m.reactions = [];
    return true;
  }

  reaction(ev) {
    const m = this.msgs.get(ev.seq) || this.byId.get(ev.id);
    if (!m) return false;
    m.reactions = m.reactions || [];
    let r = m.reactions.find((x) => x.emoji === ev.emoji);
    if (!r) {
      r = { emoji: ev.emoji, count: 0, me: false };
      m.reactions.push(r);
    }
    r.count = ev.count;
    if (ev.userId === this.myId) r.me = ev.added;
    if (r.count <= 0) m.reactions = m.reactions.filter((x) => x !== r);
    return true;
  }

  read(ev) {
    if (ev.userId !== this.myId) return false;
    const before = this.lastReadSeq;
    this.lastReadSeq = Math.max(this.lastReadSeq, ev.seq);
    return this.lastReadSeq !== before;
  }

  setTyping(userId, now = Date.now()) {
    if (userId === this.myId) return false;
    this.typing.set(userId, now + 5000);
    return true;
  }

  clearTyping(userId) { return this.typing.delete(userId); }

  typingUsers(now = Date.now()) {
    const out = [];
    for (const [u, exp] of this.typing) {
      if (exp > now) out.push(u);
      else this.typing.delete(u);
    }
    return out;
  }

  // roots: the channel's main stream, oldest first. Pending (unacknowledged) messages are
  // the caller's to append.
  roots() {
    return [...this.msgs.values()].filter((m) => !m.parentId).sort((a, b) => a.seq - b.seq);
  }

  replies(rootId) {
    return [...this.msgs.values()].filter((m) => m.parentId === rootId).sort((a, b) => a.seq - b.seq);
  }

  // gaps lists missing seqs between the oldest loaded and the newest seen: what a test
  // checks after a reconnect ("nothing missed"). Only meaningful once history is loaded.
  gaps() {
    const seqs = [...this.msgs.keys()].sort((a, b) => a - b);
    const out = [];
    for (let i = 1; i < seqs.length; i++) {
      for (let s = seqs[i - 1] + 1; s < seqs[i]; s++) out.push(s);
    }
    return out;
  }
}

// mergeMessage folds a later copy of a message into what the client has. A since-seq
// replay returns the current state; an older copy (a history page fetched before an edit
// event arrived) must not undo newer local knowledge.
// live copies are broadcasts (me=false for everyone); a history page's me is the reader's.
export function mergeMessage(old, m, live = false) {
  const out = { ...old };
  if (m.deleted) {
    out.deleted = true;
    out.content = '';
  } else if (!old.deleted && (m.editedAt || '') >= (old.editedAt || '')) {
    out.content = m.content;
    out.editedAt = m.editedAt;
  }
  if (m.replyCount !== undefined && (m.replyCount || 0) >= (old.replyCount || 0)) {
    out.replyCount = m.replyCount;
    out.lastReplyAt = m.lastReplyAt;
  }
  if (m.reactions) {
    const mine = new Map((old.reactions || []).map((r) => [r.emoji, r.me]));
    out.reactions = m.reactions.map((r) => ({ ...r, me: live ? !!mine.get(r.emoji) : !!r.me }));
  }
  return out;
}

// mentionsOf returns the @usernames in text, lowercased and deduplicated (SPEC's rule).
export function mentionsOf(text) {
  const out = new Set();
  for (const m of text.matchAll(/(^|[^a-z0-9_.-])@([a-z0-9_.-]+)/gi)) out.add(m[2].toLowerCase());
  return [...out];
}

// splitMentions cuts text into [{text}, {mention}] parts for rendering.
export function splitMentions(text) {
  const parts = [];
  let last = 0;
  for (const m of text.matchAll(/(^|[^a-z0-9_.-])@([a-z0-9_.-]+)/gi)) {
    const start = m.index + m[1].length;
    if (start > last) parts.push({ text: text.slice(last, start) });
    parts.push({ mention: m[2].toLowerCase(), text: '@' + m[2] });
    last = start + 1 + m[2].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}
