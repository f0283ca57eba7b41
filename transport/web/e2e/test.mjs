// Browser test of parley's web client: two people in two browser contexts of Debian's
// chromium, driven by playwright-core, against a real server. Run by TestBrowserE2E
// (transport/web/e2e_test.go), which starts the server behind a TCP proxy it can cut:
//
//   node test.mjs --base http://proxy --direct http://server --control http://ctl --artifacts DIR
//
// --base is what the browsers use (through the proxy); --direct reaches the server while
// the proxy is cut; --control takes POST /drop (close every proxied connection and refuse
// new ones) and POST /restore.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const base = args.base || process.argv[2];
const direct = args.direct || base;
const control = args.control || '';
const artifacts = args.artifacts || 'artifacts';
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 20000;

if (!base) {
  console.error('usage: node test.mjs --base URL [--direct URL] [--control URL] [--artifacts DIR]');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

let step = '';
const log = (...a) => console.log(`[e2e ${new Date().toISOString().slice(11, 23)}]`, ...a);
function begin(name) {
  step = name;
  log('step:', name);
}

// waitFor polls fn until it returns a truthy value.
async function waitFor(what, fn, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function shot(page, name) {
  const file = join(artifacts, name + '.png');
  await page.screenshot({ path: file });
  log('screenshot', file);
}

// post is a well-behaved API client: over the rate limit (429) it waits the Retry-After the
// server names and tries again, a few times at most.
async function post(url, body, token) {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: 'Bearer ' + token } : {}) },
      body: JSON.stringify(body || {}),
    });
    const text = await res.text();
    if (res.status === 429 && attempt < 5) {
      const wait = Number(res.headers.get('Retry-After'));
      if (!(wait >= 1)) throw new Error(`POST ${url}: 429 without a Retry-After: ${text}`);
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      continue;
    }
    if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
}

async function signIn(page, username) {
  await page.goto(base + '/');
  await page.getByLabel('Username').fill(username);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

function messages(page, text) {
  return page.locator('#messages article.msg', { hasText: text });
}

function channelLink(page, name) {
  return page.locator(`nav.sidebar a.channel[data-channel="${name}"]`);
}

async function send(page, text, inputSelector = '#composer-input') {
  const input = page.locator(inputSelector);
  await input.fill(text);
  await input.press('Enter');
}

// seqState reads the open channel's client state: seqs shown, duplicates, gaps.
function seqState(page) {
  return page.evaluate(() => {
    const seqs = [...document.querySelectorAll('#messages article.msg[data-seq]')].map((e) => Number(e.dataset.seq));
    const ch = window.parley.active();
    return { seqs, dupes: seqs.length - new Set(seqs).size, gaps: ch ? ch.gaps() : ['no channel'], status: window.parley.status };
  });
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
const pages = [];
let failed = false;
try {
  const newUser = async (name) => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' });
    ctx.setDefaultTimeout(TIMEOUT);
    // Desktop notifications are granted, and every one shown is recorded for the test.
    await ctx.grantPermissions(['notifications'], { origin: base });
    await ctx.addInitScript(() => {
      window.__notifications = [];
      const Native = window.Notification;
      if (!Native) return;
      window.Notification = class extends Native {
        constructor(title, opts) {
          super(title, opts);
          window.__notifications.push({ title, body: opts && opts.body });
        }
      };
    });
    const page = await ctx.newPage();
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') log(`${name} console.${m.type()}:`, m.text()); });
    page.on('pageerror', (e) => { log(`${name} page error:`, e.message); failed = true; });
    page.on('dialog', (d) => d.accept());
    page.on('response', (r) => { if (r.status() >= 400) log(`${name} HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });
    pages.push([name, page]);
    return page;
  };
  const alice = await newUser('alice');
  const bob = await newUser('bob');

  begin('both sign in with dev login');
  await signIn(alice, 'alice');
  await signIn(bob, 'bob');
  await bob.getByText('You are not in a workspace yet').waitFor();

  begin('alice creates a workspace');
  await alice.getByRole('button', { name: 'Create a workspace' }).click();
  await alice.getByLabel('Workspace name').fill('Acme');
  await alice.getByRole('button', { name: 'Create', exact: true }).click();
  await alice.locator('#channel-title', { hasText: 'general' }).waitFor();
  await alice.locator('#conn-status[data-state="online"]').waitFor({ state: 'hidden' });

  begin('alice invites bob; bob accepts through the link');
  await alice.getByRole('button', { name: 'Invite people' }).click();
  await alice.getByLabel('Username').fill('bob');
  await alice.getByRole('button', { name: 'Create invitation' }).click();
  const link = await alice.locator('#invite-link').inputValue();
  if (!link.includes('/#/invite/')) throw new Error('unexpected invitation link ' + link);
  await alice.getByRole('button', { name: 'Done' }).click();
  // bob's open page shows the invitation live (workspace.invited), no link needed.
  await bob.locator('.invite-note', { hasText: 'You are invited to Acme' }).waitFor();
  await shot(bob, 'bob-invited');
  await bob.getByRole('link', { name: 'View invitation' }).click();
  if (!bob.url().includes(link.slice(link.indexOf('#')))) throw new Error('the invitation note leads to ' + bob.url() + ', not ' + link);
  await bob.getByRole('button', { name: 'Accept invitation' }).click();
  await bob.locator('#channel-title', { hasText: 'general' }).waitFor();

  begin('a message from alice appears live for bob, after a typing indicator');
  await alice.locator('#composer-input').pressSequentially('hello');
  await bob.locator('.typing', { hasText: 'alice is typing' }).waitFor();
  await alice.locator('#composer-input').fill('');
  await send(alice, 'hello @bob, welcome to Acme');
  await messages(bob, 'hello @bob, welcome to Acme').waitFor();
  await bob.locator('#messages article.msg.mentions-me .mention-me', { hasText: '@bob' }).waitFor();
  await send(bob, 'thanks alice!');
  await messages(alice, 'thanks alice!').waitFor();

  begin('typing right after a send is shown again (the send cleared it)');
  await waitFor('bob sees no typing line', async () => (await bob.locator('.typing', { hasText: 'alice is typing' }).count()) === 0);
  // Open the client's 3-s typing throttle so that the send's own keystrokes say "typing"
  // (as a person's would): the next keystroke, right after the send, is what is tested.
  await alice.evaluate(() => { window.parley.lastTypingSent = 0; });
  await send(alice, 'one more thing');
  await messages(bob, 'one more thing').waitFor();
  await alice.locator('#composer-input').pressSequentially('and');
  await bob.locator('.typing', { hasText: 'alice is typing' }).waitFor();
  await alice.locator('#composer-input').fill('');

  begin('alice creates #random; bob joins it and goes back to #general');
  await alice.getByRole('button', { name: 'Create channel' }).click();
  await alice.getByLabel('Name').fill('random');
  await alice.getByRole('button', { name: 'Create', exact: true }).click();
  await alice.locator('#channel-title', { hasText: 'random' }).waitFor();
  // Live (channel.created on bob's notifications queue), not by polling: a few seconds at most.
  await waitFor('random listed for bob', async () => (await channelLink(bob, 'random').count()) > 0, 5000);
  await channelLink(bob, 'random').click();
  await bob.getByRole('button', { name: 'Join channel' }).click();
  await bob.locator('#composer-input').waitFor();
  await channelLink(bob, 'general').click();
  await bob.locator('#channel-title', { hasText: 'general' }).waitFor();

  begin('an unread badge appears on #random for bob and clears when he opens it');
  await send(alice, 'random thought from alice');
  await channelLink(bob, 'random').locator('.badge', { hasText: '1' }).waitFor();
  await shot(bob, 'bob-unread-badge');
  await channelLink(bob, 'random').click();
  await messages(bob, 'random thought from alice').waitFor();
  await waitFor('badge cleared', async () => (await channelLink(bob, 'random').locator('.badge').count()) === 0);
  // The marker reached the server: a fresh channel list says 0 unread.
  await waitFor('server-side read marker', () => bob.evaluate(async () => {
    const list = await window.parley.api.channels(window.parley.wid);
    return list.find((c) => c.name === 'random').unreadCount === 0;
  }));

  begin('a message seen for a moment before switching away counts as read');
  {
    const ids = await bob.evaluate(() => Object.fromEntries([...window.parley.channels.values()].map((c) => [c.info.name, c.id])));
    const arrived = bob.evaluate(({ random, general, wid }) => new Promise((resolve) => {
      const ch = window.parley.channels.get(random);
      const start = ch.lastSeq;
      const t = setInterval(() => {
        if (ch.lastSeq > start && document.querySelector(`#messages article.msg[data-seq="${ch.lastSeq}"]`)) {
          clearInterval(t);
          location.hash = `#/w/${wid}/c/${general}`; // well within the 250 ms debounce
          resolve(ch.lastSeq);
        }
      }, 5);
    }), { ...ids, wid: await bob.evaluate(() => window.parley.wid) });
    await send(alice, 'a glance is enough');
    const seq = await arrived;
    await waitFor('server-side read marker after a glance', () => bob.evaluate(async ([cid, want]) => {
      const list = await window.parley.api.channels(window.parley.wid);
      const c = list.find((x) => x.id === cid);
      return c.lastReadSeq >= want && c.unreadCount === 0;
    }, [ids.random, seq]));
    await channelLink(bob, 'random').click();
    await messages(bob, 'a glance is enough').waitFor();
  }

  begin('bob replies in a thread; alice sees the count and the reply in the thread panel');
  const root = messages(bob, 'random thought from alice');
  await root.hover();
  await root.getByRole('button', { name: 'Reply in thread' }).click();
  await bob.locator('#thread-input').waitFor();
  await send(bob, 'a reply in the thread', '#thread-input');
  await bob.locator('#thread article.msg', { hasText: 'a reply in the thread' }).waitFor();
  const aliceRoot = messages(alice, 'random thought from alice');
  await aliceRoot.getByRole('button', { name: '1 reply' }).click();
  await alice.locator('#thread article.msg', { hasText: 'a reply in the thread' }).waitFor();
  await alice.locator('#thread .reply-count', { hasText: '1 reply' }).waitFor();
  await shot(alice, 'alice-thread');
  await alice.keyboard.press('Escape'); // keyboard: Escape closes the thread panel
  await alice.locator('#thread').waitFor({ state: 'hidden' });

  begin('reactions and edits travel live');
  await aliceRoot.hover();
  await aliceRoot.getByRole('button', { name: 'React to message' }).click();
  await aliceRoot.getByRole('button', { name: 'React with 🎉' }).click();
  await messages(bob, 'random thought from alice').locator('.reaction', { hasText: '🎉' }).waitFor();
  await aliceRoot.hover();
  await aliceRoot.getByRole('button', { name: 'Edit message' }).click();
  await alice.getByLabel('Message text').fill('random thought from alice (edited)');
  await alice.getByLabel('Message text').press('Enter');
  await messages(bob, 'random thought from alice (edited)').locator('.edited').waitFor();

  begin('keyboard: Alt+ArrowUp/Down moves between channels');
  await bob.locator('#composer-input').focus();
  await bob.keyboard.press('Alt+ArrowUp');
  await bob.locator('#channel-title', { hasText: 'general' }).waitFor();
  await bob.keyboard.press('Alt+ArrowDown');
  await bob.locator('#channel-title', { hasText: 'random' }).waitFor();

  begin('bob deletes his own message; alice sees the tombstone');
  await send(bob, 'oops, wrong channel');
  const oops = messages(bob, 'oops, wrong channel');
  await oops.locator('time').waitFor();
  const oopsSeq = await oops.getAttribute('data-seq');
  await messages(alice, 'oops, wrong channel').waitFor();
  await oops.hover();
  await oops.getByRole('button', { name: 'Delete message' }).click(); // confirm() is accepted
  await alice.locator(`#messages article.msg[data-seq="${oopsSeq}"] .deleted`, { hasText: 'This message was deleted.' }).waitFor();

  begin('files: alice attaches by button, drop and paste; bob sees a preview and downloads');
  {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAACgAAAAoCAIAAAADnC86AAAAL0lEQVR4nO3NMQ0AAAgDsCmZfynIwgQJT5P+zbQvIhaLxWKxWCwWi8VisVgsFt9ZEe9ZW8NE4AYAAAAASUVORK5CYII=';
    await alice.locator('input.file-picker').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('the file body') });
    await alice.evaluate((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const drop = new DataTransfer();
      drop.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
      const zone = document.querySelector('section.channel');
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: drop, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: drop, bubbles: true, cancelable: true }));
      const paste = new DataTransfer();
      paste.items.add(new File([bytes], 'pasted.png', { type: 'image/png' }));
      document.querySelector('#composer-input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: paste, bubbles: true, cancelable: true }));
    }, png);
    await waitFor('three uploads ready', async () => (await alice.locator('.file-chip[data-status="ready"]').count()) === 3);
    await send(alice, 'three files for you');
    const msg = messages(bob, 'three files for you');
    await msg.locator('.files a.download', { hasText: 'notes.txt' }).waitFor();
    await waitFor('both image previews loaded for bob', () => msg.evaluate((el) => {
      const imgs = [...el.querySelectorAll('.files img')];
      return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth === 40);
    }));
    const href = await msg.locator('.files a.download').getAttribute('href');
    const body = await bob.evaluate((u) => fetch(u).then((r) => r.text()), href);
    if (body !== 'the file body') throw new Error('bob downloaded ' + JSON.stringify(body));
    if (await alice.locator('.file-tray').isVisible()) throw new Error('the tray is still shown after sending');
    await shot(bob, 'bob-files');

    // alice sets an avatar in her profile; bob sees it when he opens hers.
    await alice.getByRole('button', { name: /Your profile/ }).click();
    await alice.getByRole('button', { name: 'Edit profile' }).click();
    await alice.locator('#pf-avatar').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: Buffer.from(png, 'base64') });
    await alice.getByRole('button', { name: 'Save' }).click();
    await alice.locator('dialog').waitFor({ state: 'detached' });
    await msg.locator('button.author').click();
    await waitFor("alice's avatar in her profile, for bob", () => bob.evaluate(() => {
      const img = document.querySelector('dialog img.avatar');
      return img && img.complete && img.naturalWidth === 40;
    }));
    await bob.keyboard.press('Escape');
    await bob.locator('dialog').waitFor({ state: 'detached' });
  }

  begin('a private channel is not shown to others');
  await alice.getByRole('button', { name: 'Create channel' }).click();
  await alice.getByLabel('Name').fill('secret');
  await alice.getByLabel(/Private/).check();
  await alice.getByRole('button', { name: 'Create', exact: true }).click();
  await alice.locator('#channel-title', { hasText: 'secret' }).waitFor();
  await channelLink(alice, 'secret').locator('.hash', { hasText: '🔒' }).waitFor();
  await bob.evaluate(() => window.parley.refreshChannels());
  if (await channelLink(bob, 'secret').count()) throw new Error('bob sees the private channel');

  begin('history pages upward with before_seq');
  {
    const token = await alice.evaluate(() => localStorage.getItem('parley.token'));
    const wid = await alice.evaluate(() => window.parley.wid);
    const ch = await post(`${direct}/api/workspaces/${wid}/channels`, { name: 'history', type: 'public' }, token);
    for (let i = 1; i <= 70; i++) await post(`${direct}/api/channels/${ch.id}/messages`, { content: `old message ${i}` }, token);
    await alice.evaluate(() => window.parley.refreshChannels());
    await channelLink(alice, 'history').click();
    await messages(alice, 'old message 70').waitFor();
    // channel.created listed #history while it was being filled, so its subscription replays
    // everything after the seq it was listed at (often more than a page): the first page is
    // told by its cursor (the history page of 50 reaches down to 21), not by what is shown.
    const first = await waitFor('first page of 50', async () => {
      const st = await seqState(alice);
      const oldest = await alice.evaluate(() => window.parley.active().oldestSeq);
      return oldest === 21 && st.seqs[st.seqs.length - 1] === 70 && !st.dupes ? st : false;
    }).catch(async () => { throw new Error('first page: ' + (await seqState(alice)).seqs.join(',')); });
    // dispatchEvent, not click: click scrolls the button into view, and reaching the top of
    // the list loads the older page by itself, which hides the button under the click (a
    // flaky failure in CI). The scroll path is the user's too; this checks the button's.
    await alice.getByRole('button', { name: 'Load older messages' }).dispatchEvent('click');
    // seq 1 itself: 'old message 1' also matches 10-19, which the replay may have shown already.
    await alice.locator('#messages article.msg[data-seq="1"]').waitFor();
    const all = await seqState(alice);
    if (all.seqs.length !== 70 || all.dupes || all.gaps.length) throw new Error('after paging: ' + JSON.stringify(all));
    await alice.getByRole('button', { name: 'Load older messages' }).waitFor({ state: 'hidden' });
  }

  begin('threads view: a reply by alice raises bob\'s unread badge live; opening the thread pages replies both ways and clears it');
  {
    const aliceToken = await alice.evaluate(() => localStorage.getItem('parley.token'));
    const bobToken = await bob.evaluate(() => localStorage.getItem('parley.token'));
    const cid = await alice.evaluate(() => [...window.parley.channels.values()].find((c) => c.info.name === 'general').id);
    const root = await post(`${direct}/api/channels/${cid}/messages`, { content: 'e2e followed thread root' }, aliceToken);
    await post(`${direct}/api/channels/${cid}/messages`, { content: 'bob follows by replying', parentId: root.id }, bobToken);
    await bob.getByRole('link', { name: /Threads/ }).click();
    const item = bob.locator('.thread-item', { hasText: 'e2e followed thread root' });
    await item.waitFor();
    for (let i = 1; i <= 25; i++) await post(`${direct}/api/channels/${cid}/messages`, { content: `thread reply ${i}`, parentId: root.id }, aliceToken);
    await waitFor('25 unread replies on the thread, live', async () => (await item.locator('.thread-unread').textContent().catch(() => '')) === '25');
    await waitFor('the Threads link badge', async () => (await bob.locator('.threads-link .badge').textContent()) === '1');
    await shot(bob, 'bob-threads-unread');
    await item.getByRole('button').first().click();
    const replies = bob.locator('.thread-replies li.reply');
    await bob.locator('.thread-replies li.reply', { hasText: 'thread reply 20' }).waitFor();
    if (await replies.count() !== 20) throw new Error(`first page shows ${await replies.count()} replies, want 20`);
    await bob.getByRole('button', { name: 'Newer replies' }).click();
    await bob.locator('.thread-replies li.reply', { hasText: 'thread reply 25' }).waitFor();
    await bob.getByRole('button', { name: 'Earlier replies' }).click();
    await bob.locator('.thread-replies li.reply', { hasText: 'bob follows by replying' }).waitFor();
    if (await replies.count() !== 26) throw new Error(`after paging both ways ${await replies.count()} replies, want 26`);
    await waitFor('the unread badge cleared', async () => (await item.locator('.thread-unread').count()) === 0);
    await waitFor('the Threads link badge cleared', async () => bob.locator('.threads-link .badge').isHidden());
    await shot(bob, 'bob-thread-read');
    await channelLink(bob, 'general').click();
  }

  begin('search: Ctrl+K, a bad filter named, results by channel, escaped highlight, jump with context');
  {
    const token = await alice.evaluate(() => localStorage.getItem('parley.token'));
    const wid = await alice.evaluate(() => window.parley.wid);
    const ch = await post(`${direct}/api/workspaces/${wid}/channels`, { name: 'archive', type: 'public' }, token);
    for (let i = 1; i <= 80; i++) {
      const content = i === 10 ? 'the zebra <b>& "stripes"</b>' : `filler ${i}`;
      await post(`${direct}/api/channels/${ch.id}/messages`, { content }, token);
    }
    await bob.evaluate(() => window.parley.refreshChannels());
    await bob.keyboard.press('Control+k');
    await waitFor('search box focused', () => bob.evaluate(() => document.activeElement?.id === 'search-input'));
    await bob.keyboard.type('zebra colour:red');
    await bob.keyboard.press('Enter');
    await bob.locator('#search-panel .search-status', { hasText: 'colour:red' }).waitFor();
    await bob.locator('#search-input').fill('zebra in:#archive');
    await bob.locator('#search-input').press('Enter');
    const hit = bob.locator('#search-panel .search-group[data-channel="' + ch.id + '"] .search-hit');
    await hit.waitFor();
    const snippet = await hit.locator('.snippet').evaluate((e) => ({ text: e.textContent, marks: [...e.querySelectorAll('mark')].map((m) => m.textContent), tags: e.querySelectorAll('b').length }));
    if (snippet.text !== 'the zebra <b>& "stripes"</b>' || snippet.marks.join() !== 'zebra' || snippet.tags !== 0) throw new Error('snippet ' + JSON.stringify(snippet));
    await shot(bob, 'bob-search');
    await hit.click();
    await bob.locator('#messages article.msg#m-10.jump-target').waitFor();
    await messages(bob, 'filler 9').first().waitFor();
    await messages(bob, 'filler 11').first().waitFor();
    const st = await seqState(bob);
    if (st.dupes || !st.seqs.includes(1) || !st.seqs.includes(80)) throw new Error('after the jump: ' + JSON.stringify(st));
    await shot(bob, 'bob-search-jump');
  }

  if (control) {
    begin('the server drops every connection: both show reconnecting');
    await channelLink(alice, 'general').click();
    await channelLink(bob, 'general').click();
    await alice.locator('#channel-title', { hasText: 'general' }).waitFor();
    await bob.locator('#channel-title', { hasText: 'general' }).waitFor();
    {
      // #later has history alice's page has never loaded: she opens it only while the
      // server is away.
      const token = await alice.evaluate(() => localStorage.getItem('parley.token'));
      const wid = await alice.evaluate(() => window.parley.wid);
      const later = await post(`${direct}/api/workspaces/${wid}/channels`, { name: 'later', type: 'public' }, token);
      await post(`${direct}/api/channels/${later.id}/messages`, { content: 'written before the outage' }, token);
      await alice.evaluate(() => window.parley.refreshChannels());
      await channelLink(alice, 'later').waitFor();
    }
    const before = await seqState(bob);
    await post(control + '/drop');
    await bob.locator('#conn-status', { hasText: 'Reconnecting' }).waitFor();
    await alice.locator('#conn-status', { hasText: 'Reconnecting' }).waitFor();
    await shot(bob, 'bob-reconnecting');

    begin('during the outage alice opens a channel she has not loaded: no raw network error');
    await channelLink(alice, 'later').click();
    await alice.locator('#channel-title', { hasText: 'later' }).waitFor();
    await alice.waitForTimeout(500); // the failed fetch would have toasted by now
    const toasts = await alice.locator('.toast').allTextContents();
    if (toasts.some((t) => /Failed to fetch|network error/i.test(t))) throw new Error('raw network error shown: ' + toasts.join(' | '));

    begin('meanwhile alice posts over REST (directly to the server) and bob types one offline');
    const token = await alice.evaluate(() => localStorage.getItem('parley.token'));
    const cid = await bob.evaluate(() => window.parley.activeCid);
    const sent = await post(`${direct}/api/channels/${cid}/messages`, { content: 'sent while you were away', clientMsgId: 'e2e-away-1' }, token);
    const randomId = await alice.evaluate(() => [...window.parley.channels.values()].find((c) => c.info.name === 'random').id);
    const away = await post(`${direct}/api/channels/${randomId}/messages`, { content: 'meanwhile in random' }, token);
    await send(bob, 'typed while offline');
    await messages(bob, 'typed while offline').waitFor();

    begin('the connection comes back: reconnect, resume with since-seq, nothing twice, nothing missed');
    await post(control + '/restore');
    await bob.locator('#conn-status').waitFor({ state: 'hidden', timeout: 30000 });
    // The channel opened during the outage fills in without switching away and back.
    await alice.locator('#conn-status').waitFor({ state: 'hidden', timeout: 30000 });
    await messages(alice, 'written before the outage').waitFor();
    await shot(alice, 'alice-later-after-reconnect');
    await channelLink(alice, 'general').click();
    await alice.locator('#conn-status').waitFor({ state: 'hidden', timeout: 30000 });
    await messages(bob, 'sent while you were away').waitFor();
    await messages(alice, 'typed while offline').locator('time').waitFor();
    await bob.waitForTimeout(1000); // let any late duplicate arrive before counting
    for (const [name, page] of [['alice', alice], ['bob', bob]]) {
      const away = await messages(page, 'sent while you were away').count();
      const offline = await messages(page, 'typed while offline').count();
      const st = await seqState(page);
      log(name, 'after reconnect: seqs', st.seqs.join(','), 'gaps', st.gaps.join(','), 'status', st.status);
      if (away !== 1 || offline !== 1) throw new Error(`${name}: want each message once, got ${away} and ${offline}`);
      if (st.dupes || st.gaps.length) throw new Error(`${name}: duplicates ${st.dupes}, gaps ${st.gaps}`);
      if (!st.seqs.includes(sent.seq)) throw new Error(`${name}: seq ${sent.seq} of the REST message is not shown`);
    }
    // The background channel was resumed too: the replay brought its message (by seq) and the badge.
    await channelLink(bob, 'random').locator('.badge', { hasText: '1' }).waitFor();
    await waitFor('replayed message in #random', () => bob.evaluate((seq) => {
      const ch = [...window.parley.channels.values()].find((c) => c.info.name === 'random');
      return ch.msgs.has(seq) && ch.msgs.get(seq).content === 'meanwhile in random' && ch.gaps().length === 0;
    }, away.seq));
    const after = await seqState(bob);
    if (after.seqs.length !== before.seqs.length + 2) {
      throw new Error(`bob: ${before.seqs.length} messages before, ${after.seqs.length} after; want 2 more`);
    }
    await shot(bob, 'bob-after-reconnect');
    await shot(alice, 'alice-main');
  }

  begin('alice opens a direct message with bob; it appears live in his sidebar with a count');
  await channelLink(bob, 'general').click();
  await bob.locator('#channel-title', { hasText: 'general' }).waitFor();
  await alice.getByRole('button', { name: 'New direct message' }).click();
  await alice.getByRole('checkbox', { name: /bob/ }).check();
  await alice.getByRole('button', { name: 'Open', exact: true }).click();
  await alice.locator('#channel-title', { hasText: 'bob' }).waitFor();
  await alice.locator('#channel-title .presence[data-presence="online"]').waitFor();
  await send(alice, 'psst, bob: a direct word');
  const dm = bob.locator('#sidebar .dms a.nav-item', { hasText: 'alice' });
  await dm.locator('.badge', { hasText: '1' }).waitFor();
  await waitFor('tab title counts the DM', async () => (await bob.title()).startsWith('(1) '));
  await waitFor('desktop notification for the DM', () => bob.evaluate(() =>
    window.__notifications.some((n) => n.title === 'alice' && /a direct word/.test(n.body))));
  await shot(bob, 'bob-dm-badge');
  await dm.click();
  await messages(bob, 'psst, bob: a direct word').waitFor();
  await waitFor('title count cleared', async () => !(await bob.title()).startsWith('('));
  await send(bob, 'hi alice, only you see this');
  await messages(alice, 'hi alice, only you see this').waitFor();

  begin('a mention elsewhere raises the tab title count and a desktop notification');
  await channelLink(bob, 'general').click();
  await channelLink(alice, 'random').click();
  await send(alice, 'a question for @bob in random');
  await waitFor('tab title counts the mention', async () => (await bob.title()).startsWith('(1) '));
  await channelLink(bob, 'random').locator('.badge.mention', { hasText: '1' }).waitFor();
  await waitFor('desktop notification for the mention', () => bob.evaluate(() =>
    window.__notifications.some((n) => /alice in #random/.test(n.title) && /a question for @bob/.test(n.body))));
  await channelLink(bob, 'random').click();
  await messages(bob, 'a question for @bob in random').waitFor();
  await waitFor('title count cleared after reading', async () => !(await bob.title()).startsWith('('));

  begin('mentions view and phone width');
  await channelLink(bob, 'random').click();
  await bob.getByRole('link', { name: /Mentions/ }).click();
  await bob.locator('.mention-item', { hasText: 'hello @bob' }).waitFor();
  await bob.setViewportSize({ width: 390, height: 780 });
  await channelLink(alice, 'general').click();
  await bob.getByRole('button', { name: 'Show channels' }).click();
  await channelLink(bob, 'general').click();
  await messages(bob, 'sent while you were away').or(messages(bob, 'thanks alice!')).first().waitFor();
  await shot(bob, 'bob-phone');

  begin('accessibility audit (axe-core, WCAG 2 A/AA) of the main view, a dialog and the sign-in page');
  {
    const token = await alice.evaluate(() => localStorage.getItem('parley.token'));
    const url = alice.url();
    // axe is injected as a script, which the page's Content-Security-Policy forbids: this
    // context alone bypasses it.
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true, reducedMotion: 'reduce' });
    const page = await ctx.newPage();
    const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
    const audit = async (what) => {
      await page.addScriptTag({ path: axePath });
      const res = await page.evaluate(() => window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }));
      log(`axe ${what}: ${res.passes.length} rules passed, ${res.violations.length} violated`);
      const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      for (const v of res.violations) log(`axe ${what}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.length}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
      if (bad.length) throw new Error(`${what}: ${bad.length} serious accessibility violations: ${bad.map((v) => v.id).join(', ')}`);
    };
    await page.goto(base + '/');
    await page.getByLabel('Username').waitFor();
    await audit('sign-in');
    await page.evaluate((t) => localStorage.setItem('parley.token', t), token);
    await page.goto(url);
    await page.reload();
    await messages(page, 'sent while you were away').or(messages(page, 'thanks alice!')).first().waitFor();
    await audit('main view');
    await page.getByRole('button', { name: 'Create channel' }).click();
    await page.getByLabel('Name').waitFor();
    await audit('create-channel dialog');
    await ctx.close();
  }

  begin('bob closes his page: alice sees him offline');
  {
    const dot = alice.locator('#sidebar .dms a.nav-item', { hasText: 'bob' }).locator('.presence');
    await waitFor('bob online for alice', async () => (await dot.getAttribute('data-presence')) === 'online');
    await bob.context().close();
    pages.splice(pages.findIndex(([n]) => n === 'bob'), 1);
    await waitFor('bob offline for alice', async () => (await dot.getAttribute('data-presence')) === 'offline', 30000);
    await shot(alice, 'alice-sees-bob-offline');
  }

  begin('the /docs page renders the OpenAPI document');
  const docs = await browser.newPage();
  await docs.goto(base + '/docs');
  await docs.getByText('/api/channels/{cid}/messages').first().waitFor();
  await docs.getByText('/app/presence.watch').first().waitFor(); // the STOMP half (x-stomp)
  await docs.getByText('/api/workspaces/{wid}/dms').first().waitFor();
  await docs.screenshot({ path: join(artifacts, 'docs.png') });
  log('screenshot', join(artifacts, 'docs.png'));
  await docs.close();

  log(failed ? 'FAIL: a page threw' : 'all steps passed');
} catch (e) {
  failed = true;
  console.error(`FAIL in step "${step}": ${e.stack || e}`);
  for (const [name, page] of pages) {
    try { await shot(page, 'failure-' + name); } catch { /* page gone */ }
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
