// Unit tests of the client's DOM-free modules (the STOMP frame codec and the channel
// model that dedupes by seq), with Node's own test runner: `node --test unit.test.mjs`.
// TestClientModules in transport/web runs them.

import test from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, encodeFrame, escapeHeader, unescapeHeader } from '../static/js/stomp.js';
import { ChannelState, mergeMessage, mentionsOf, splitMentions } from '../static/js/state.js';

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
