// The /docs page: reads /openapi.json and renders it for a person — operations grouped by
// tag, their parameters, request and response bodies with schemas resolved from
// components, and a filter. No third-party code.

import { h, clear } from './dom.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'];

async function main() {
  const content = document.getElementById('content');
  let spec;
  try {
    const res = await fetch('/openapi.json', { headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    spec = await res.json();
  } catch (e) {
    clear(content).append(h('p.error', { role: 'alert' }, 'Could not load /openapi.json: ' + e.message));
    document.getElementById('subtitle').textContent = '';
    return;
  }
  render(spec);
}

function render(spec) {
  const info = spec.info || {};
  document.title = (info.title || 'API') + ' — reference';
  document.getElementById('title').textContent = info.title || 'API';
  const sub = document.getElementById('subtitle');
  clear(sub).append(
    `Version ${info.version || '?'} · OpenAPI ${spec.openapi || '?'} · `,
    h('a', { href: '/openapi.json' }, 'openapi.json'),
  );
  const content = clear(document.getElementById('content'));
  if (info.description) content.append(h('section.intro', paragraphs(info.description)));
  if (spec.components && spec.components.securitySchemes) {
    content.append(h('section.intro', h('h2', 'Authentication'),
      Object.entries(spec.components.securitySchemes).map(([name, s]) => h('p',
        h('strong', name), ': ', [s.type, s.scheme, s.bearerFormat].filter(Boolean).join(' '),
        s.description ? ' — ' + s.description : ''))));
  }

  const groups = new Map();
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const tag = (op.tags && op.tags[0]) || 'other';
      if (!groups.has(tag)) groups.set(tag, []);
      groups.get(tag).push({ path, method, op, shared: item.parameters || [] });
    }
  }
  const toc = clear(document.getElementById('toc-list'));
  const tagInfo = new Map((spec.tags || []).map((t) => [t.name, t]));
  const entries = [];
  for (const [tag, ops] of groups) {
    const tocList = h('ul');
    toc.append(h('h2.toc-tag', tag), tocList);
    const section = h('section.tag', { 'aria-labelledby': 'tag-' + slug(tag) },
      h('h2', { id: 'tag-' + slug(tag) }, tag),
      tagInfo.get(tag)?.description ? paragraphs(tagInfo.get(tag).description) : null);
    for (const o of ops) {
      const id = slug(o.method + '-' + o.path);
      const link = h('li', h('a', { href: '#' + id }, h('span', { class: 'm m-' + o.method }, o.method.toUpperCase()), ' ', o.path));
      tocList.append(link);
      const el = operation(spec, o, id);
      section.append(el);
      entries.push({ el, link, text: (o.method + ' ' + o.path + ' ' + (o.op.summary || '') + ' ' + (o.op.description || '') + ' ' + tag).toLowerCase() });
    }
    content.append(section);
  }
  if (groups.size === 0) content.append(h('p', 'This document lists no operations.'));
  const stomp = spec['x-stomp'];
  if (stomp && Array.isArray(stomp.destinations)) {
    // The real-time half: STOMP 1.2 over a WebSocket, listed by the server's own table.
    const tocList = h('ul');
    toc.append(h('h2.toc-tag', 'real time (STOMP)'), tocList);
    const section = h('section.tag', { 'aria-labelledby': 'tag-stomp' },
      h('h2', { id: 'tag-stomp' }, 'Real time: STOMP over WebSocket'),
      h('p', `Endpoint ${stomp.endpoint || '/ws'}`, stomp.subprotocols ? `, subprotocol ${stomp.subprotocols.join(', ')}` : '', '. ', stomp.connect || ''));
    for (const d of stomp.destinations) {
      const id = slug('stomp-' + d.frame + '-' + d.path);
      const link = h('li', h('a', { href: '#' + id }, h('span', { class: 'm m-' + (d.frame === 'SEND' ? 'post' : 'get') }, d.frame), ' ', d.path));
      tocList.append(link);
      const el = h('article.op', { id },
        h('h3', h('span', { class: 'm m-' + (d.frame === 'SEND' ? 'post' : 'get') }, d.frame), ' ', h('code', d.path)),
        h('p', d.summary || ''),
        d.body ? h('p', 'Body: ', h('code', d.body)) : null);
      section.append(el);
      entries.push({ el, link, text: (d.frame + ' ' + d.path + ' ' + (d.summary || '') + ' stomp').toLowerCase() });
    }
    content.append(section);
  }
  const filter = document.getElementById('filter');
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    for (const e of entries) {
      const show = !q || q.split(/\s+/).every((w) => e.text.includes(w));
      e.el.hidden = !show;
      e.link.hidden = !show;
    }
  });
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
}

function operation(spec, { path, method, op, shared }, id) {
  const el = h('article.op', { id, 'aria-labelledby': id + '-h' },
    h('h3', { id: id + '-h' }, h('span', { class: 'm m-' + method }, method.toUpperCase()), ' ', h('code', path)),
    op.summary ? h('p.summary', op.summary) : null,
    op.description ? paragraphs(op.description) : null);
  const sec = op.security ?? spec.security;
  if (Array.isArray(sec) && sec.length === 0) el.append(h('p.public', 'No authentication needed.'));
  const params = [...shared, ...(op.parameters || [])].map((p) => resolve(spec, p));
  if (params.length) {
    el.append(h('h4', 'Parameters'), h('table',
      h('thead', h('tr', h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'In'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Description'))),
      h('tbody', params.map((p) => h('tr',
        h('td', h('code', p.name), p.required ? h('span.req', { title: 'required' }, ' *') : null),
        h('td', p.in),
        h('td', typeName(spec, p.schema || {})),
        h('td', p.description || '', enumNote(resolve(spec, p.schema || {}))))))));
  }
  const body = op.requestBody && resolve(spec, op.requestBody);
  if (body) {
    el.append(h('h4', 'Request body', body.required ? h('span.req', ' (required)') : null));
    for (const [ct, media] of Object.entries(body.content || {})) {
      el.append(h('p.ct', ct), schemaView(spec, media.schema || {}, 0, new Set()));
    }
  }
  const responses = Object.entries(op.responses || {});
  if (responses.length) {
    el.append(h('h4', 'Responses'));
    const dl = h('dl.responses');
    for (const [status, r0] of responses) {
      const r = resolve(spec, r0);
      dl.append(h('dt', h('span', { class: 'status s' + String(status)[0] }, status), ' ', r.description || ''));
      const dd = h('dd');
      for (const [ct, media] of Object.entries(r.content || {})) {
        if (media.schema) dd.append(h('p.ct', ct), schemaView(spec, media.schema, 0, new Set()));
      }
      dl.append(dd);
    }
    el.append(dl);
  }
  return el;
}

// schemaView renders a schema as nested property lists, following $ref once per branch.
function schemaView(spec, s0, depth, seen, noHead = false) {
  const ref = s0.$ref;
  if (ref && seen.has(ref)) return h('span.type', refName(ref) + ' (see above)');
  const s = resolve(spec, s0);
  const nextSeen = ref ? new Set([...seen, ref]) : seen;
  const head = noHead ? null : h('span.type', typeName(spec, s0));
  if (depth > 6) return head || h('span.type', typeName(spec, s0));
  const t = schemaType(s);
  if (t === 'object' && s.properties) {
    const req = new Set(s.required || []);
    return h('div.schema', head, h('ul.props', Object.entries(s.properties).map(([name, p]) => h('li',
      h('code', name), req.has(name) ? h('span.req', { title: 'required' }, ' *') : null, ' ',
      schemaView(spec, p, depth + 1, nextSeen),
      resolve(spec, p).description ? h('span.desc', ' — ' + resolve(spec, p).description) : null,
      enumNote(resolve(spec, p))))));
  }
  if (t === 'array' && s.items) {
    const inner = resolve(spec, s.items);
    if (schemaType(inner) === 'object' && inner.properties) return h('div.schema', head, schemaView(spec, s.items, depth + 1, nextSeen, true));
  }
  for (const k of ['oneOf', 'anyOf', 'allOf']) {
    if (s[k]) return h('div.schema', h('span.type', k), h('ul.props', s[k].map((x) => h('li', schemaView(spec, x, depth + 1, nextSeen)))));
  }
  return head || h('span.type', typeName(spec, s0));
}

function schemaType(s) {
  if (Array.isArray(s.type)) return s.type.find((t) => t !== 'null') || 'null';
  return s.type || (s.properties ? 'object' : s.items ? 'array' : '');
}

function typeName(spec, s0) {
  if (s0.$ref) return refName(s0.$ref);
  const s = s0;
  const nullable = (Array.isArray(s.type) && s.type.includes('null')) || s.nullable;
  let t = schemaType(s) || 'any';
  if (t === 'array' && s.items) t = typeName(spec, s.items) + '[]';
  if (s.format) t += ` (${s.format})`;
  if (s.pattern) t += ` /${s.pattern}/`;
  return nullable ? t + ' | null' : t;
}

function enumNote(s) {
  return s && s.enum ? h('span.enum', ' One of: ', s.enum.map((v, i) => [i ? ', ' : '', h('code', String(v))])) : null;
}

function refName(ref) { return ref.split('/').pop(); }

function resolve(spec, s) {
  let cur = s;
  for (let i = 0; cur && cur.$ref && i < 10; i++) {
    const parts = cur.$ref.replace(/^#\//, '').split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    let v = spec;
    for (const p of parts) v = v ? v[p] : undefined;
    cur = v ? { ...v, description: s.description || v.description } : {};
  }
  return cur || {};
}

function paragraphs(text) {
  return String(text).split(/\n{2,}/).map((p) => h('p', p));
}

function slug(s) { return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, ''); }

main();
