// Unit tests of the client's DOM-free modules (the STOMP frame codec and the channel
// model that dedupes by seq), with Node's own test runner: `node --test unit.test.mjs`.
// TestClientModules in transport/web runs them.

import test from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, encodeFrame, escapeHeader, unescapeHeader } from '../static/js/stomp.js';
import { ChannelState, mergeMessage, mentionsOf, splitMentions } from '../static/js/state.js';
import { shouldNotify, attentionCount, titleFor } from '../static/js/attention.js';

const text = (bytes) => new TextDecoder().decode(bytes);

test('encodeFrame escapes headers and sets content-length in bytes', () => {
  const f = text(encodeFrame('SEND', { destination: '/app/x', 'a:b': 'c\nd' }, 'héllo'));
  assert.equal(f, 'SEND\ndestination:/app/x\na\\cb:c\\nd\ncontent-length:6\n\nhéllo\0');
  assert.equal(unescapeHeader(escapeHeader('a\\b:c\r\n')), 'a\\b:c\r\n');
});

test('CONNECT carries no content-length and no escaping surprises', () => {
  const f = text(encodeFrame('CONNECT', { 'accept-version': '1.2', Authorization: 'Bearer x.y.z' }));
  assert.equal(f, 'CONNECT\naccept-version:1.2\nAuthorization:Bearer x.y.z\n\n\0');
});

test('FrameDecoder: split, joined, heart-beats, content-length with NUL in body', () => {
  const d = new FrameDecoder();
  const msg = 'MESSAGE\nsubscription:sub-1\ndestination:/topic/channel.1\ncontent-length:5\n\na\0b{}\0';
  assert.deepEqual(d.push('\n\n' + msg.slice(0, 10)), []);
  const [f] = d.push(msg.slice(10));
  assert.equal(f.command, 'MESSAGE');
  assert.equal(f.headers.subscription, 'sub-1');
  assert.equal(f.body, 'a\0b{}');
  const two = d.push('RECEIPT\nreceipt-id:r-1\n\n\0\nRECEIPT\nreceipt-id:r-2\n\n\0');
  assert.deepEqual(two.map((x) => x.headers['receipt-id']), ['r-1', 'r-2']);
  const [crlf] = d.push(new TextEncoder().encode('ERROR\r\nmessage:bad\\cthing\r\n\r\noops\0'));
  assert.equal(crlf.command, 'ERROR');
  assert.equal(crlf.headers.message, 'bad:thing');
  assert.equal(crlf.body, 'oops');
});

test('FrameDecoder: a repeated header keeps its first value (STOMP 1.2)', () => {
  const [f] = new FrameDecoder().push('MESSAGE\nfoo:1\nfoo:2\n\n\0');
  assert.equal(f.headers.foo, '1');
});

const ME = '100';
const msg = (seq, extra = {}) => ({
  id: 'm' + seq, channelId: 'c1', seq, userId: '200', content: 'text ' + seq,
  createdAt: `2026-01-01T00:00:${String(seq).padStart(2, '0')}.000Z`, deleted: false, reactions: [], ...extra,
});

test('ChannelState: a message seen twice (history, live, replay) is kept once', () => {
  const ch = new ChannelState({ id: 'c1', lastSeq: 3, lastReadSeq: 1 }, ME);
  ch.addHistory([msg(3), msg(2), msg(1)], 50);
  assert.equal(ch.hasMore, false);
  assert.equal(ch.addMessage(msg(3), { live: true }), false);
  assert.equal(ch.addMessage(msg(4), { live: true }), true);
  assert.equal(ch.addMessage(msg(4), { live: true }), false); // the replay after a reconnect
  assert.deepEqual(ch.roots().map((m) => m.seq), [1, 2, 3, 4]);
  assert.deepEqual(ch.gaps(), []);
  assert.equal(ch.seenSeq, 4);
  assert.equal(ch.unread(), 3);
});

test('ChannelState: seenSeq (the since-seq of a resubscription) moves only with the subscription', () => {
  const ch = new ChannelState({ id: 'c1', lastSeq: 10 }, ME);
  ch.addHistory([msg(12), msg(11)], 2); // history can run ahead of the subscription
  assert.equal(ch.seenSeq, 10);
  assert.equal(ch.lastSeq, 12);
  assert.equal(ch.oldestSeq, 11);
  assert.equal(ch.hasMore, true);
  assert.deepEqual(ch.gaps(), []);
  ch.addMessage(msg(14), { live: true });
  assert.deepEqual(ch.gaps(), [13]);
});

test('ChannelState: own messages advance the read marker and clear the pending copy', () => {
  const ch = new ChannelState({ id: 'c1', lastSeq: 5, lastReadSeq: 2 }, ME);
  ch.pending.set('k1', { clientMsgId: 'k1', content: 'x', status: 'sent' });
  ch.addMessage(msg(6, { userId: ME, clientMsgId: 'k1' }), { live: true });
  assert.equal(ch.pending.size, 0);
  assert.equal(ch.unread(), 0);
  assert.equal(ch.read({ userId: '999', seq: 6 }), false); // someone else's marker
  ch.addMessage(msg(7), { live: true });
  assert.equal(ch.read({ userId: ME, seq: 7 }), true);
  assert.equal(ch.read({ userId: ME, seq: 3 }), false); // never backwards
  assert.equal(ch.unread(), 0);
});

test('ChannelState: reply counts are not taken twice', () => {
  const ch = new ChannelState({ id: 'c1', lastSeq: 0 }, ME);
  ch.addMessage(msg(1, { replyCount: 1, lastReplyAt: '2026-01-01T00:00:02.000Z' }));
  ch.addMessage(msg(2, { parentId: 'm1' }), { live: true }); // already counted by the root
  assert.equal(ch.byId.get('m1').replyCount, 1);
  ch.addMessage(msg(3, { parentId: 'm1' }), { live: true });
  assert.equal(ch.byId.get('m1').replyCount, 2);
  assert.deepEqual(ch.replies('m1').map((m) => m.seq), [2, 3]);
  assert.deepEqual(ch.roots().map((m) => m.seq), [1]);
});

test('ChannelState: edits, deletions and reactions by seq', () => {
  const ch = new ChannelState({ id: 'c1', lastSeq: 0 }, ME);
  ch.addMessage(msg(1));
  ch.edited({ id: 'm1', seq: 1, content: 'new', editedAt: '2026-01-01T00:01:00.000Z' });
  assert.equal(ch.msgs.get(1).content, 'new');
  ch.reaction({ id: 'm1', seq: 1, emoji: '👍', userId: ME, added: true, count: 1 });
  ch.reaction({ id: 'm1', seq: 1, emoji: '👍', userId: '7', added: true, count: 2 });
  assert.deepEqual(ch.msgs.get(1).reactions, [{ emoji: '👍', count: 2, me: true }]);
  // A since-seq replay carries me=false (a broadcast): the client keeps its own.
  ch.addMessage(msg(1, { content: 'new', editedAt: '2026-01-01T00:01:00.000Z', reactions: [{ emoji: '👍', count: 2, me: false }] }), { live: true });
  assert.equal(ch.msgs.get(1).reactions[0].me, true);
  // An older copy (a page fetched before the edit) does not undo the edit.
  ch.addMessage(msg(1));
  assert.equal(ch.msgs.get(1).content, 'new');
  ch.deleted({ id: 'm1', seq: 1 });
  assert.equal(ch.msgs.get(1).deleted, true);
  assert.equal(ch.msgs.get(1).content, '');
  assert.equal(mergeMessage(ch.msgs.get(1), msg(1)).deleted, true);
});

test('typing indicators expire and ignore oneself', () => {
  const ch = new ChannelState({ id: 'c1' }, ME);
  assert.equal(ch.setTyping(ME, 0), false);
  ch.setTyping('7', 1000);
  assert.deepEqual(ch.typingUsers(2000), ['7']);
  assert.deepEqual(ch.typingUsers(7000), []);
});

test('mentions follow the SPEC pattern', () => {
  assert.deepEqual(mentionsOf('hi @Bob and @bob, mail a@b.c, @x.y-z_'), ['bob', 'x.y-z_']);
  assert.deepEqual(splitMentions('hey @bob!'), [{ text: 'hey ' }, { mention: 'bob', text: '@bob' }, { text: '!' }]);
});

test('shouldNotify: mentions and DMs by default; prefs, mute and DND hold it back', () => {
  const me = { id: '1', dndUntil: null };
  const msg = { userId: '2', mentionsMe: false };
  const chan = { type: 'public', prefs: { notify: 'mentions', muted: false } };
  const now = Date.parse('2026-12-07T12:00:00.000Z');
  assert.equal(shouldNotify({ msg, ch: chan, me, focused: false, now }), false);
  assert.equal(shouldNotify({ msg: { ...msg, mentionsMe: true }, ch: chan, me, focused: false, now }), true);
  assert.equal(shouldNotify({ msg, ch: { type: 'dm' }, me, focused: false, now }), true, 'a DM message is a mention');
  assert.equal(shouldNotify({ msg, ch: { type: 'dm' }, me, focused: true, now }), false, 'not while looking at it');
  assert.equal(shouldNotify({ msg: { userId: '1' }, ch: { type: 'dm' }, me, focused: false, now }), false, 'not my own');
  assert.equal(shouldNotify({ msg, ch: { ...chan, prefs: { notify: 'all' } }, me, focused: false, now }), true);
  assert.equal(shouldNotify({ msg: { ...msg, mentionsMe: true }, ch: { ...chan, prefs: { notify: 'none' } }, me, focused: false, now }), false);
  assert.equal(shouldNotify({ msg: { ...msg, mentionsMe: true }, ch: { ...chan, prefs: { notify: 'all', muted: true } }, me, focused: false, now }), false);
  const dnd = { id: '1', dndUntil: '2026-12-07T13:00:00.000Z' };
  assert.equal(shouldNotify({ msg, ch: { type: 'dm' }, me: dnd, focused: false, now }), false, 'DND holds notifications');
  assert.equal(shouldNotify({ msg, ch: { type: 'dm' }, me: { ...dnd, dndUntil: '2026-12-07T11:00:00.000Z' }, focused: false, now }), true, 'DND over');
});

test('mentionCount: server count, live mentions, every DM message; reading clears it', () => {
  const ch = new ChannelState({ id: 'c', type: 'public', lastSeq: 10, lastReadSeq: 7, mentionCount: 2 }, 'me');
  assert.equal(ch.mentionCount(), 2);
  assert.equal(ch.noteAttention({ seq: 11, userId: 'u', content: 'hi @Bob' }, 'bob'), true);
  ch.addMessage({ id: 'm11', seq: 11, userId: 'u', content: 'hi @Bob' }, { live: true });
  assert.equal(ch.noteAttention({ seq: 12, userId: 'u', content: 'no one' }, 'bob'), false);
  ch.addMessage({ id: 'm12', seq: 12, userId: 'u', content: 'no one' }, { live: true });
  assert.equal(ch.mentionCount(), 3);
  ch.read({ userId: 'me', seq: 12 });
  assert.equal(ch.mentionCount(), 0);
  const dm = new ChannelState({ id: 'd', type: 'dm', lastSeq: 0, lastReadSeq: 0, mentionCount: 0 }, 'me');
  dm.noteAttention({ seq: 1, userId: 'u', content: 'psst' }, 'bob');
  dm.addMessage({ id: 'd1', seq: 1, userId: 'u', content: 'psst' }, { live: true });
  assert.equal(dm.mentionCount(), 1);
  assert.equal(attentionCount([ch, dm]), 1);
  dm.updateInfo({ prefs: { muted: true } });
  assert.equal(attentionCount([ch, dm]), 0, 'muted channels do not count');
  assert.equal(titleFor('Acme — parley', 0), 'Acme — parley');
  assert.equal(titleFor('Acme — parley', 3), '(3) Acme — parley');
});

test('mentionCount: a replay of what the server already counted is not counted twice', () => {
  const dm = new ChannelState({ id: 'd', type: 'dm', lastSeq: 1, lastReadSeq: 0, mentionCount: 1 }, 'me');
  assert.equal(dm.noteAttention({ seq: 1, userId: 'u', content: 'first' }, 'bob'), true, 'still draws attention');
  dm.addMessage({ id: 'd1', seq: 1, userId: 'u', content: 'first' }, { live: true });
  assert.equal(dm.mentionCount(), 1);
  dm.noteAttention({ seq: 2, userId: 'u', content: 'second' }, 'bob');
  dm.addMessage({ id: 'd2', seq: 2, userId: 'u', content: 'second' }, { live: true });
  assert.equal(dm.mentionCount(), 2);
});

// ---- integrations (issue 24): slash-command notes and parsing

test('slash commands: commandOf follows the server rule (a leading /word)', async () => {
  const { commandOf } = await import('../static/js/view-commands.js');
  assert.equal(commandOf('/deploy prod'), '/deploy');
  assert.equal(commandOf('/Deploy'), '/deploy');
  assert.equal(commandOf('/usr/bin is here'), '');
  assert.equal(commandOf('// a comment'), '');
  assert.equal(commandOf('hello /deploy'), '');
});

test('slash commands: notes sit after the messages they followed, per thread', async () => {
  const { withNotes } = await import('../static/js/view-commands.js');
  const app = { ephemeralNotes: [
    { id: 'a', ephemeral: true, channelId: '1', parentId: null, afterSeq: 2 },
    { id: 'b', ephemeral: true, channelId: '1', parentId: '9', afterSeq: 2 },
    { id: 'c', ephemeral: true, channelId: '2', parentId: null, afterSeq: 0 },
    { id: 'd', ephemeral: true, channelId: '1', parentId: null, afterSeq: 5 },
  ] };
  const items = [{ kind: 'day', key: 'day' }, { seq: 1 }, { seq: 2 }, { kind: 'new', key: 'new' }, { seq: 3 }, { clientMsgId: 'x' }];
  const key = (m) => m.id || m.seq || m.clientMsgId || m.key;
  assert.deepEqual(withNotes(app, '1', null, items).map(key), ['day', 1, 2, 'new', 'a', 3, 'd', 'x']);
  assert.deepEqual(withNotes(app, '1', '9', [{ seq: 4 }]).map(key), ['b', 4]);
  assert.equal(withNotes(app, '3', null, items), items);
});

test('outgoing webhooks: trigger words split on commas and spaces', async () => {
  const { splitWords } = await import('../static/js/view-webhooks.js');
  assert.deepEqual(splitWords(' deploy, ship  release,,'), ['deploy', 'ship', 'release']);
  assert.deepEqual(splitWords(''), []);
});
