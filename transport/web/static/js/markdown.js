// Message content is Markdown (SPEC "Rich text"): a CommonMark subset of emphasis, strong,
// strike-through, inline code, code blocks, links, lists and quotes, rendered without raw
// HTML (ADR 0042).
//
// markdown-it (vendored: vendor/markdown-it, 15.0.3, MIT) only parses. This module turns its
// tokens into a small tree of {tag, attrs, children} on an allowlist, and toDOM builds
// elements from that tree with createElement and text nodes: no HTML string is ever parsed,
// so there is no markup to sanitize, and whatever the parser lets through that is not on the
// list becomes text. The tree is DOM-free, so the Node unit tests check it against the XSS
// corpus without a browser.

import MarkdownIt from '../vendor/markdown-it/markdown-it.esm.min.mjs';
import { splitMentions } from './state.js';

// Links: absolute http(s) and mailto only. Anything else (javascript:, vbscript:, data:,
// file:, relative paths, protocol-relative //host) leaves the link as plain text.
const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

// Bidirectional embedding and override controls (LRE, RLE, PDF, LRO, RLO) reorder the text
// after them, which disguises a link or a file name ("gnp.exe" shown as "exe.png"); they are
// dropped. Isolates and marks stay (they are how right-to-left text is written correctly),
// and every element is isolated by app.css (unicode-bidi: isolate), so none leaks out.
const BIDI_OVERRIDES = /[\u202A-\u202E]/g;

const md = new MarkdownIt('default', { html: false, linkify: true, breaks: true, typographer: false });
// Chat, not documents: a line starting with # is a channel name, not a heading; pictures are
// not fetched from anywhere a message names; reference definitions would hide lines.
md.disable(['heading', 'lheading', 'table', 'hr', 'image', 'reference', 'html_block', 'html_inline']);
md.validateLink = (url) => safeHref(url) !== null;

// safeHref returns url when a link may point there, else null.
export function safeHref(url) {
  if (typeof url !== 'string' || url.length > 2048) return null;
  let u;
  try {
    u = new URL(url); // no base: a relative URL throws
  } catch {
    return null;
  }
  if (!SAFE_PROTOCOLS.has(u.protocol)) return null;
  if (u.protocol !== 'mailto:' && !u.hostname) return null;
  return u.href;
}

// Elements the tree may hold, with the attributes each may carry.
export const ALLOWED = {
  p: [], br: [], em: [], strong: [], s: [], code: [], pre: [], blockquote: [],
  ul: [], ol: ['start'], li: [], a: ['href', 'rel', 'target', 'title'], span: ['class'],
};

const BLOCK = {
  paragraph_open: 'p', bullet_list_open: 'ul', ordered_list_open: 'ol', list_item_open: 'li', blockquote_open: 'blockquote',
};
const INLINE = { strong_open: 'strong', em_open: 'em', s_open: 's' };

// parse returns the tree of text: an array of strings and {tag, attrs, children}.
// opts.mentionClass(name) gives the class of an @mention ('mention' or 'mention mention-me').
export function parse(text, opts = {}) {
  const mentionClass = opts.mentionClass || (() => 'mention');
  const root = { tag: null, children: [] };
  const stack = [root];
  const top = () => stack[stack.length - 1];
  for (const t of md.parse(String(text || ''), {})) {
    if (t.type === 'inline') {
      top().children.push(...inline(t.children || [], mentionClass));
    } else if (t.type === 'fence' || t.type === 'code_block') {
      top().children.push(el('pre', {}, [el('code', {}, [clean(t.content.replace(/\n$/, ''))])]));
    } else if (t.nesting === 1) {
      // A tight list's paragraphs are hidden: their text goes straight into the item.
      const tag = t.hidden ? null : BLOCK[t.type] || null;
      const attrs = {};
      if (tag === 'ol') {
        const start = Number(t.attrGet('start'));
        if (Number.isInteger(start) && start > 1 && start < 1e9) attrs.start = String(start);
      }
      const node = tag ? el(tag, attrs, []) : { tag: null, children: [] };
      top().children.push(node);
      stack.push(node);
    } else if (t.nesting === -1) {
      if (stack.length > 1) stack.pop();
    } else if (t.content) {
      top().children.push(clean(t.content)); // a block the list does not know: its text
    }
  }
  return flatten(root.children);
}

function inline(tokens, mentionClass) {
  const root = { tag: null, children: [] };
  const stack = [root];
  const top = () => stack[stack.length - 1];
  let inLink = 0;
  for (const t of tokens) {
    switch (t.type) {
      case 'text':
        top().children.push(...(inLink ? [clean(t.content)] : mentions(clean(t.content), mentionClass)));
        break;
      case 'softbreak':
      case 'hardbreak':
        top().children.push(el('br', {}, []));
        break;
      case 'code_inline':
        top().children.push(el('code', {}, [clean(t.content)]));
        break;
      case 'link_open': {
        const href = safeHref(t.attrGet('href'));
        const node = href
          ? el('a', { href, rel: 'noopener noreferrer nofollow', target: '_blank', title: href }, [])
          : { tag: null, children: [] };
        top().children.push(node);
        stack.push(node);
        inLink++;
        break;
      }
      case 'link_close':
        if (stack.length > 1) stack.pop();
        inLink = Math.max(0, inLink - 1);
        break;
      default:
        if (INLINE[t.type]) {
          const node = el(INLINE[t.type], {}, []);
          top().children.push(node);
          stack.push(node);
        } else if (t.nesting === -1) {
          if (stack.length > 1) stack.pop();
        } else if (t.nesting === 0 && t.content) {
          top().children.push(clean(t.content)); // html_inline, image, …: their source as text
        }
    }
  }
  return root.children;
}

function mentions(text, mentionClass) {
  return splitMentions(text).map((p) => (p.mention ? el('span', { class: mentionClass(p.mention) }, [p.text]) : p.text));
}

function el(tag, attrs, children) { return { tag, attrs, children }; }

function clean(s) { return String(s).replace(BIDI_OVERRIDES, ''); }

// flatten splices the children of transparent nodes (tag null) into their parent.
function flatten(nodes) {
  const out = [];
  for (const n of nodes) {
    if (typeof n === 'string') out.push(n);
    else if (n.tag === null) out.push(...flatten(n.children));
    else out.push({ tag: n.tag, attrs: n.attrs, children: flatten(n.children) });
  }
  return out;
}

// plainText is what a tree says without its markup, a block a line (notifications, tests).
export function plainText(nodes) { return textOf(nodes).replace(/\n{2,}/g, '\n').trim(); }

const BLOCKS = new Set(['p', 'li', 'pre', 'blockquote', 'ul', 'ol']);

function textOf(nodes) {
  return nodes.map((n) => (typeof n === 'string' ? n
    : n.tag === 'br' ? '\n' : textOf(n.children) + (BLOCKS.has(n.tag) ? '\n' : ''))).join('');
}

// toDOM builds the nodes of tree in doc, on the allowlist again: a tag or attribute that is
// not on it is never created, whatever the tree says.
export function toDOM(nodes, doc = document) {
  const frag = doc.createDocumentFragment();
  for (const n of nodes) {
    if (typeof n === 'string') {
      frag.append(doc.createTextNode(n));
      continue;
    }
    const allowed = Object.hasOwn(ALLOWED, n.tag) ? ALLOWED[n.tag] : null;
    if (!allowed) {
      frag.append(toDOM(n.children, doc));
      continue;
    }
    const e = doc.createElement(n.tag);
    for (const [k, v] of Object.entries(n.attrs || {})) {
      if (!allowed.includes(k)) continue;
      if (k === 'href' && safeHref(v) === null) continue;
      e.setAttribute(k, v);
    }
    e.append(toDOM(n.children, doc));
    frag.append(e);
  }
  return frag;
}

// render is parse then toDOM: the body of one message.
export function render(text, opts = {}) { return toDOM(parse(text, opts)); }
