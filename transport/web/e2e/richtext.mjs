// Browser test of the web client's rich text, pins, edit history and reactions (ADR 0042):
// an XSS corpus posted over REST must render as text in the reader's page, with nothing
// executed, and pins, history and who-reacted work between two people. Run by
// TestBrowserRichText (transport/web/richtext_e2e_test.go):
//
//   node richtext.mjs --base http://server --artifacts DIR
//
// The reader's page runs with the Content-Security-Policy bypassed: the policy would stop
// inline handlers and script on its own, and this test is about the renderer, which must
// keep them out without it.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const base = args.base;
const artifacts = args.artifacts || 'artifacts';
const TIMEOUT = 20000;
if (!base) {
  console.error('usage: node richtext.mjs --base URL [--artifacts DIR]');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

let step = '';
const log = (...a) => console.log(`[richtext ${new Date().toISOString().slice(11, 23)}]`, ...a);
const begin = (name) => { step = name; log('step:', name); };

async function call(method, path, token, body) {
  const res = await fetch(base + path, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: 'Bearer ' + token } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// The corpus: each payload would set window.__xss (or open a dialog) if it ran.
const CORPUS = [
  '<script>window.__xss = "script"</script>',
  '<img src=x onerror="window.__xss = \'img\'">',
  '<svg onload="window.__xss = \'svg\'"></svg>',
  '<iframe src="javascript:window.__xss = \'iframe\'"></iframe>',
  '<details open ontoggle="window.__xss = \'details\'">x</details>',
  '[click me](javascript:window.__xss=\'link\')',
  '[click me too](JaVaScRiPt:window.__xss=\'case\')',
  '[tab](java&#x09;script:window.__xss=\'entity-tab\')',
  '<a href="javascript:window.__xss=\'raw-a\'">raw anchor</a>',
  '[[inner](javascript:window.__xss=\'nested\')](https://ok.example/outer)',
  '[data](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9J2RhdGEnPC9zY3JpcHQ+)',
  '[vb](vbscript:msgbox("x"))',
  '![pic](javascript:window.__xss=\'image\')',
  '&lt;img src=x onerror="window.__xss=\'entities\'"&gt;',
  '`<b onmouseover="window.__xss=\'code\'">in code</b>`',
  '```\n<script>window.__xss = "fence"</script>\n```',
  'file \u202Egnp.exe shown as is',
  '<style>body{display:none}</style>style stays text',
];
const SAFE_HREF = /^(https?:|mailto:)/;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-dev-shm-usage'],
});
let failed = false;
const pages = [];
try {
  begin('set up a workspace over REST: alice and bob in #general');
  const alice = await call('POST', '/api/auth/dev/login', null, { username: 'rt-alice' });
  const bob = await call('POST', '/api/auth/dev/login', null, { username: 'rt-bob' });
  const ws = await call('POST', '/api/workspaces', alice.accessToken, { name: 'Rich' });
  const inv = await call('POST', `/api/workspaces/${ws.id}/invitations`, alice.accessToken, { username: 'rt-bob' });
  await call('POST', '/api/invitations/accept', bob.accessToken, { token: inv.token });
  const general = (await call('GET', `/api/workspaces/${ws.id}/channels`, alice.accessToken)).items.find((c) => c.name === 'general');
  const postAs = (tok, content) => call('POST', `/api/channels/${general.id}/messages`, tok, { content });
  // Unread for bob when he opens the channel: the "New messages" line goes above these.
  await postAs(alice.accessToken, 'first of a **group**');
  await postAs(alice.accessToken, 'second of the group, with a [link](https://ok.example/docs) and @rt-bob');
  await postAs(alice.accessToken, '- one\n- two\n\n> a quote\n\n```\ncode block\n```');

  const open = async (name, token, bypassCSP) => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP, reducedMotion: 'reduce' });
    ctx.setDefaultTimeout(TIMEOUT);
    await ctx.addInitScript((t) => {
      localStorage.setItem('parley.token', t);
      window.__dialogs = 0;
    }, token);
    const page = await ctx.newPage();
    page.on('dialog', (d) => { log(`${name}: a dialog opened: ${d.message()}`); failed = true; d.dismiss(); });
    page.on('pageerror', (e) => { log(`${name} page error:`, e.message); failed = true; });
    page.on('console', (m) => { if (m.type() === 'error') log(`${name} console.error:`, m.text()); });
    pages.push([name, page]);
    await page.goto(`${base}/#/w/${ws.id}/c/${general.id}`);
    await page.locator('#channel-title', { hasText: 'general' }).waitFor();
    return page;
  };
  const bobPage = await open('bob', bob.accessToken, true);
  const alicePage = await open('alice', alice.accessToken, false);
  const msg = (page, text) => page.locator('#messages article.msg', { hasText: text });

  begin('Markdown renders; the group, the day separator and the "New messages" line show');
  await msg(bobPage, 'code block').waitFor();
  await msg(bobPage, 'first of a').locator('.body strong', { hasText: 'group' }).waitFor();
  const link = msg(bobPage, 'second of the group').locator('.body a', { hasText: 'link' });
  if (await link.getAttribute('href') !== 'https://ok.example/docs' || await link.getAttribute('target') !== '_blank' ||
    !/noopener/.test(await link.getAttribute('rel')) || !/noreferrer/.test(await link.getAttribute('rel'))) {
    throw new Error('link rendered as ' + await link.evaluate((a) => a.outerHTML));
  }
  await msg(bobPage, 'second of the group').locator('.mention.mention-me', { hasText: '@rt-bob' }).waitFor();
  await msg(bobPage, 'code block').locator('.body ul li', { hasText: 'two' }).waitFor();
  await msg(bobPage, 'code block').locator('.body blockquote', { hasText: 'a quote' }).waitFor();
  await msg(bobPage, 'code block').locator('.body pre code', { hasText: 'code block' }).waitFor();
  if (!(await msg(bobPage, 'second of the group').getAttribute('class')).includes('cont')) throw new Error('the second message is not grouped under the first');
  if ((await msg(bobPage, 'first of a').getAttribute('class')).includes('cont')) throw new Error('the first message of a group is a continuation');
  await bobPage.locator('#messages .day-sep', { hasText: 'Today' }).waitFor();
  const order = await bobPage.evaluate(() => [...document.querySelectorAll('#messages .msg-list > *')].map((e) => e.className.split(' ')[0] + ':' + (e.dataset.seq || '')));
  if (order.slice(0, 3).join(' ') !== 'day-sep: new-line: msg:1') throw new Error('flow: ' + order.join(' '));
  // alice wrote them: her own page has no "New messages" line.
  if (await alicePage.locator('#messages .new-line').count()) throw new Error('alice sees a New messages line above her own messages');

  begin('the XSS corpus arrives live and shows as text; nothing runs');
  for (const p of CORPUS) await postAs(alice.accessToken, p);
  await msg(bobPage, 'style stays text').waitFor();
  await bobPage.waitForTimeout(500); // an image's onerror would have fired by now
  const report = await bobPage.evaluate(() => {
    const list = document.querySelector('#messages');
    const bad = [];
    for (const e of list.querySelectorAll('*')) {
      if (['SCRIPT', 'IMG', 'SVG', 'IFRAME', 'STYLE', 'DETAILS', 'OBJECT', 'EMBED', 'svg'].includes(e.tagName)) bad.push(e.tagName);
      for (const a of e.attributes) if (/^on/i.test(a.name) || /^\s*(javascript|vbscript|data):/i.test(a.value)) bad.push(e.tagName + '@' + a.name);
    }
    const hrefs = [...list.querySelectorAll('.body a')].map((a) => a.getAttribute('href'));
    return { xss: window.__xss, bad, hrefs, visible: getComputedStyle(document.body).display };
  });
  log('rendered links:', report.hrefs.join(' '));
  if (report.xss !== undefined) throw new Error('a payload ran: window.__xss = ' + report.xss);
  if (report.bad.length) throw new Error('unsafe elements or attributes in the DOM: ' + report.bad.join(', '));
  if (report.hrefs.some((h) => !/^(https?:|mailto:)/.test(h))) throw new Error('unsafe href: ' + report.hrefs.join(' '));
  if (report.visible === 'none') throw new Error('a <style> payload applied');
  for (const [payload, text] of [
    [CORPUS[0], '<script>window.__xss = "script"</script>'],
    [CORPUS[1], '<img src=x onerror="window.__xss = \'img\'">'],
    [CORPUS[5], "[click me](javascript:window.__xss='link')"],
    [CORPUS[8], '<a href="javascript:window.__xss=\'raw-a\'">raw anchor</a>'],
    [CORPUS[13], '<img src=x onerror="window.__xss=\'entities\'">'],
    [CORPUS[16], 'file gnp.exe shown as is'],
  ]) {
    const shown = await msg(bobPage, text).locator('.body').first().textContent().catch(() => null);
    if (shown !== text) throw new Error(`payload ${JSON.stringify(payload)} shows ${JSON.stringify(shown)}, want ${JSON.stringify(text)}`);
  }
  // The nested link keeps only its safe outer target, its inner text as text.
  const nested = msg(bobPage, 'inner').locator('.body a');
  if (await nested.count() !== 1 || await nested.getAttribute('href') !== 'https://ok.example/outer') throw new Error('nested link trick rendered wrong');
  // Clicking every refused link's text does nothing either.
  for (const t of ['click me', 'click me too', 'tab', 'data', 'vb']) await msg(bobPage, t).first().locator('.body').click();
  if (await bobPage.evaluate(() => window.__xss) !== undefined) throw new Error('a click ran a payload');
  await bobPage.screenshot({ path: join(artifacts, 'richtext-corpus.png') });

  begin('alice pins a message from its menu; bob sees it live and in the pins panel; bob unpins');
  const target = msg(alicePage, 'first of a');
  await target.hover();
  await target.getByRole('button', { name: 'Pin message' }).click();
  await msg(bobPage, 'first of a').locator('.pin-mark').waitFor();
  await bobPage.getByRole('button', { name: 'Pinned messages' }).filter({ hasText: '1' }).waitFor();
  await bobPage.getByRole('button', { name: 'Pinned messages' }).click();
  await bobPage.locator('dialog.pins-panel .pin-item', { hasText: 'first of a' }).locator('strong', { hasText: 'group' }).waitFor();
  await bobPage.screenshot({ path: join(artifacts, 'richtext-pins.png') });
  await bobPage.locator('dialog.pins-panel').getByRole('button', { name: 'Unpin message' }).click();
  await bobPage.locator('dialog.pins-panel .empty-note').waitFor();
  await bobPage.keyboard.press('Escape');
  await msg(alicePage, 'first of a').locator('.pin-mark').waitFor({ state: 'detached' });

  begin('alice edits; bob opens the edit history');
  const mine = msg(alicePage, 'code block');
  await mine.hover();
  await mine.getByRole('button', { name: 'Edit message' }).click();
  await alicePage.getByLabel('Message text').fill('the list, *revised*');
  await alicePage.getByLabel('Message text').press('Enter');
  const edited = msg(bobPage, 'the list, revised');
  await edited.locator('.body em', { hasText: 'revised' }).waitFor();
  await edited.getByRole('button', { name: 'Edited: show earlier versions' }).click();
  await bobPage.locator('dialog.history .version', { hasText: 'Current' }).locator('em', { hasText: 'revised' }).waitFor();
  await bobPage.locator('dialog.history .version', { hasText: 'Original' }).locator('pre code', { hasText: 'code block' }).waitFor();
  await bobPage.screenshot({ path: join(artifacts, 'richtext-history.png') });
  await bobPage.keyboard.press('Escape');

  begin('reactions: the picker\'s grid, and who reacted in the tooltip');
  const r = msg(bobPage, 'second of the group');
  await r.hover();
  await r.getByRole('button', { name: 'React to message' }).click();
  await r.getByRole('button', { name: 'More…' }).click();
  await r.getByRole('button', { name: 'React with 🚀' }).click();
  const rocket = msg(alicePage, 'second of the group').locator('.reaction', { hasText: '🚀' });
  await rocket.waitFor();
  await rocket.hover();
  await alicePage.waitForFunction((sel) => {
    const b = [...document.querySelectorAll(sel)].find((x) => x.textContent.includes('🚀'));
    return b && /rt-bob reacted with 🚀/.test(b.title);
  }, '#messages .reaction');
  await alicePage.screenshot({ path: join(artifacts, 'richtext-reactions.png') });

  if (await bobPage.evaluate(() => window.__xss) !== undefined) throw new Error('a payload ran late');
  log(failed ? 'FAIL: a page threw or opened a dialog' : 'all steps passed');
} catch (e) {
  failed = true;
  console.error(`FAIL in step "${step}": ${e.stack || e}`);
  for (const [name, page] of pages) {
    try { await page.screenshot({ path: join(artifacts, 'richtext-failure-' + name + '.png') }); } catch { /* gone */ }
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
