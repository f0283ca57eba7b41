// Unit tests of the DOM-free parts of rich text (ADR 0042): markdown.js's tree against an
// XSS corpus and the Markdown subset, view-flow.js's grouping, day separators and "New
// messages" line. `node --test richtext.test.mjs`; TestRichTextModules runs them.

import test from 'node:test';
import assert from 'node:assert/strict';
import { parse, plainText, safeHref, ALLOWED } from '../static/js/markdown.js';
import { layout, GROUP_MS } from '../static/js/view-flow.js';

// walk calls fn on every element node of tree.
function walk(nodes, fn) {
  for (const n of nodes) {
    if (typeof n === 'string') continue;
    fn(n);
    walk(n.children, fn);
  }
}

const CORPUS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<svg/onload=alert(1)>',
  '<iframe src="javascript:alert(1)">',
  '<a href="javascript:alert(1)">x</a>',
  '[x](javascript:alert(1))',
  '[x](JAVASCRIPT:alert(1))',
  '[x](  javascript:alert(1))',
  '[x](java\tscript:alert(1))',
  '[x](java&#x09;script:alert(1))',
  '[x](&#106;avascript:alert(1))',
  '[x](javascript&colon;alert(1))',
  '[x](vbscript:msgbox(1))',
  '[x](data:text/html,<script>alert(1)</script>)',
  '[x](file:///etc/passwd)',
  '[x](//evil.example)',
  '[x](/relative)',
  '[[x](javascript:alert(1))](https://ok.example)',
  '[x](https://ok.example "a\\" onmouseover=\\"alert(1)")',
  '![x](javascript:alert(1))',
  '![x](https://tracker.example/pixel.gif)',
  '<javascript:alert(1)>',
  '<https://ok.example/auto>',
  '[x][ref]\n\n[ref]: javascript:alert(1)',
  '&lt;script&gt;alert(1)&lt;/script&gt;',
  '`<img src=x onerror=alert(1)>`',
  '```html\n<script>alert(1)</script>\n```',
  '\u202Eexe.png',
  '<style>*{display:none}</style>',
  '> <script>alert(1)</script>\n> - [x](javascript:alert(1))',
];

test('the XSS corpus yields only allowed elements, attributes and http(s)/mailto links', () => {
  for (const src of CORPUS) {
    const tree = parse(src);
    walk(tree, (n) => {
      assert.ok(Object.hasOwn(ALLOWED, n.tag), `${JSON.stringify(src)}: element ${n.tag}`);
      for (const k of Object.keys(n.attrs || {})) assert.ok(ALLOWED[n.tag].includes(k), `${JSON.stringify(src)}: ${n.tag}@${k}`);
      if (n.tag === 'a') {
        assert.match(n.attrs.href, /^(https?:|mailto:)/, JSON.stringify(src));
        assert.equal(n.attrs.target, '_blank');
        assert.match(n.attrs.rel, /noopener/);
        assert.match(n.attrs.rel, /noreferrer/);
      }
    });
  }
});

test('raw HTML shows as its text', () => {
  assert.equal(plainText(parse('<script>alert(1)</script>')), '<script>alert(1)</script>');
  assert.equal(plainText(parse('<img src=x onerror=alert(1)>')), '<img src=x onerror=alert(1)>');
  assert.equal(plainText(parse('&lt;b&gt;')), '<b>');
  assert.equal(plainText(parse('[x](javascript:alert(1))')), '[x](javascript:alert(1))');
  assert.equal(plainText(parse('**a** list:\n\n- one\n- two')), 'a list:\none\ntwo');
});

test('bidi overrides are dropped; isolates stay', () => {
  assert.equal(plainText(parse('a\u202Ebc\u202C')), 'abc');
  assert.equal(plainText(parse('a\u2067b\u2069')), 'a\u2067b\u2069');
});

test('the nested link trick keeps only the safe outer link', () => {
  const tree = parse('[[x](javascript:alert(1))](https://ok.example)');
  const links = [];
  walk(tree, (n) => { if (n.tag === 'a') links.push(n.attrs.href); });
  assert.deepEqual(links, ['https://ok.example/']);
});

test('the Markdown subset: emphasis, code, blocks, links, lists, quotes, mentions', () => {
  const tags = (src) => {
    const out = [];
    walk(parse(src), (n) => out.push(n.tag));
    return out.join(' ');
  };
  assert.equal(tags('**b** _i_ ~~s~~ `c`'), 'p strong em s code');
  assert.equal(tags('```\nx\n```'), 'pre code');
  assert.equal(tags('- a\n- b'), 'ul li li');
  assert.equal(tags('3. a\n4. b'), 'ol li li');
  assert.equal(parse('3. a\n4. b')[0].attrs.start, '3');
  assert.equal(tags('> q'), 'blockquote p');
  assert.equal(tags('see https://ok.example'), 'p a');
  assert.equal(tags('# not a heading'), 'p');
  assert.equal(tags('line\nbreak'), 'p br');
  const mc = (name) => (name === 'bob' ? 'mention mention-me' : 'mention');
  const mentions = [];
  walk(parse('hi @bob and @carol, not `@code` or [@link](https://ok.example)', { mentionClass: mc }), (n) => {
    if (n.tag === 'span') mentions.push(n.attrs.class + ':' + n.children[0]);
  });
  assert.deepEqual(mentions, ['mention mention-me:@bob', 'mention:@carol']);
});

test('safeHref', () => {
  assert.equal(safeHref('https://a.example/x?y'), 'https://a.example/x?y');
  assert.equal(safeHref('mailto:a@b.example'), 'mailto:a@b.example');
  for (const bad of ['javascript:alert(1)', 'data:text/html,x', 'vbscript:x', '/x', '//x.example', 'http://', 'ftp://x.example']) {
    assert.equal(safeHref(bad), null, bad);
  }
});

const at = (min) => new Date(Date.UTC(2026, 11, 7, 12, 0) + min * 60000).toISOString();
const m = (seq, userId, min, extra = {}) => ({ seq, userId, createdAt: at(min), id: 'm' + seq, ...extra });

test('layout: one author within a few minutes is one group', () => {
  const items = layout([m(1, 'a', 0), m(2, 'a', 1), m(3, 'b', 2), m(4, 'b', 2 + GROUP_MS / 60000), m(5, 'b', 20, { deleted: true })],
    { dayLabel: () => 'D' });
  assert.deepEqual(items.map((i) => i.kind || (i.cont ? 'cont' : 'msg')), ['day', 'msg', 'cont', 'msg', 'msg', 'msg']);
});

test('layout: a day separator per day; the New messages line above the first unread from others', () => {
  const msgs = [m(1, 'a', 0), m(2, 'me', 1), m(3, 'me', 2), m(4, 'a', 3), m(5, 'a', 24 * 60)];
  const items = layout(msgs, { newAfterSeq: 1, myId: 'me', dayLabel: (iso) => iso.slice(0, 10) });
  assert.deepEqual(items.map((i) => i.kind ? i.kind + (i.label ? ':' + i.label : '') : String(i.seq) + (i.cont ? 'c' : '')),
    ['day:2026-12-07', '1', '2', '3c', 'new', '4', 'day:2026-12-08', '5']);
  assert.equal(layout(msgs, { newAfterSeq: null }).filter((i) => i.kind === 'new').length, 0);
  assert.equal(layout(msgs, { newAfterSeq: 5 }).filter((i) => i.kind === 'new').length, 0);
});
