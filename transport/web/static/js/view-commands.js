// Slash commands (SPEC "Integrations", ADR 0038): registration by a workspace's owners and
// admins, and what a command call shows its caller. A message starting with /name is sent
// like any other (app.send); the server runs the command instead of posting it. Its
// ephemeral response (/user/queue/ephemeral) and its errors (ERROR unknown_command or
// command_failed, to the caller only) become notes in the channel: shown in this page only,
// marked "only visible to you", dismissable, never stored.

import { h } from './dom.js';
import { render as renderMarkdown } from './markdown.js';
import { section, secretOnce, table, when, labelled, busy } from './integrations-ui.js';

const COMMAND_ERRORS = new Set(['unknown_command', 'command_failed']);
const MAX_NOTES = 50; // per page: the oldest go first

// commandsSection returns the slash-command manager of the open workspace.
export function commandsSection(app) {
  const wid = app.wid;
  const sec = section('Slash commands');
  const list = h('div.command-list', { 'aria-live': 'polite' });
  const command = h('input', {
    name: 'command', required: true, maxlength: '33', pattern: '/?[a-zA-Z0-9_\\-]{1,32}', autocomplete: 'off',
    spellcheck: 'false', autocapitalize: 'none', placeholder: '/deploy',
  });
  const url = h('input', { name: 'url', type: 'url', required: true, maxlength: '2048', autocomplete: 'off', placeholder: 'https://ci.example.com/parley' });
  const submit = h('button.primary', { type: 'submit' }, 'Register command');
  const created = h('div.secret-slot');
  const form = h('form.inline-form', {
    onsubmit: async (e) => {
      e.preventDefault();
      const name = '/' + command.value.trim().replace(/^\//, '').toLowerCase();
      const res = await busy(submit, sec.error, () => app.api.post(`/api/workspaces/${wid}/commands`, { command: name, url: url.value.trim() }));
      if (!res) return;
      command.value = '';
      url.value = '';
      created.replaceChildren(h('p.hint', `Every call of ${res.command} is signed with this secret (X-Parley-Signature: HMAC-SHA256).`),
        secretOnce('command-secret', `Signing secret of ${res.command}`, res.secret, 'the secret'));
      created.querySelector('input')?.focus();
      refresh();
    },
  }, labelled('command-name', 'Command', command), labelled('command-url', 'Receiver URL', url), h('div.row', submit));
  const refresh = async () => {
    try {
      const res = await app.api.get(`/api/workspaces/${wid}/commands`);
      list.replaceChildren(table('Slash commands of this workspace', ['Command', 'Receiver', 'Created', ''], ((res && res.items) || []).map((c) => [
        h('code', c.command),
        h('span.url', c.url),
        when(c.createdAt),
        h('button.link.danger', {
          type: 'button', 'aria-label': `Remove ${c.command}`,
          onclick: async () => {
            if (!window.confirm(`Remove ${c.command}? Messages starting with it are then refused as unknown commands.`)) return;
            try {
              await app.api.del(`/api/workspaces/${wid}/commands/${c.id}`);
              await refresh();
            } catch (e) {
              sec.error.textContent = e.message;
            }
          },
        }, 'Remove'),
      ]), 'No slash commands yet.'));
    } catch (e) {
      sec.error.textContent = e.message;
    }
  };
  sec.el.insertBefore(h('div',
    h('p.hint', 'A message starting with /name is not posted: it is sent, signed, to the receiver, whose answer is posted or shown only to the caller.'),
    form, created, list), sec.error);
  refresh();
  return sec.el;
}

// ---- notes: ephemeral responses and command errors, for this page only

function notes(app) {
  if (!app.ephemeralNotes) app.ephemeralNotes = [];
  return app.ephemeralNotes;
}

// addNote keeps a note for a channel, placed after the messages it had when it arrived.
export function addNote(app, n) {
  const list = notes(app);
  if (n.id && list.some((x) => x.id === n.id)) return;
  const ch = app.channels.get(n.channelId);
  list.push({ ...n, id: n.id || 'local-' + Date.now().toString(36) + Math.random().toString(36).slice(2), ephemeral: true, afterSeq: ch ? ch.lastSeq : 0 });
  if (list.length > MAX_NOTES) list.splice(0, list.length - MAX_NOTES);
  app.render({ scrollToBottom: n.channelId === app.activeCid });
}

export function dismiss(app, id) {
  app.ephemeralNotes = notes(app).filter((x) => x.id !== id);
  app.render();
}

// onEphemeral takes an event of /user/queue/ephemeral.
export function onEphemeral(app, ev) {
  if (!ev || !ev.channelId) return;
  addNote(app, { id: ev.id, channelId: ev.channelId, parentId: ev.parentId || null, command: ev.command || '', content: ev.content || '' });
}

// withNotes merges a channel's notes (of the thread parentId, or of the channel when null)
// into items (messages by seq, then pending sends; separators, with neither, stay where they
// are): each note after the messages it followed, before any pending send.
export function withNotes(app, cid, parentId, items) {
  const mine = notes(app).filter((n) => n.channelId === cid && (n.parentId || null) === (parentId || null));
  if (!mine.length) return items;
  const out = [];
  let i = 0;
  for (const m of items) {
    const pending = !m.seq && m.clientMsgId;
    while (i < mine.length && (pending || (m.seq && m.seq > mine[i].afterSeq))) out.push(mine[i++]);
    out.push(m);
  }
  while (i < mine.length) out.push(mine[i++]);
  return out;
}

// commandOf is the /name a message content calls, or '' (persistence.ParseSlash's rule).
export function commandOf(content) {
  const m = /^\/([A-Za-z0-9_-]{1,32})(?:\s|$)/.exec(content || '');
  return m ? '/' + m[1].toLowerCase() : '';
}

// commandDone ends a pending send that ran a command (its RECEIPT has a command header, or
// REST answered a CommandOutcome): nothing was posted. A REST outcome carries the response.
export function commandDone(app, ch, p, outcome) {
  ch.pending.delete(p.clientMsgId);
  if (outcome && outcome.message) ch.addMessage(outcome.message);
  else if (outcome && outcome.visibility === 'ephemeral' && outcome.content) {
    addNote(app, { channelId: ch.id, parentId: p.parentId || null, command: outcome.command, content: outcome.content });
  }
  app.render();
}

// commandFailed turns a command's error into a note for the caller and reports whether it
// was one (else the send failed as any other).
export function commandFailed(app, ch, p, err) {
  if (!err || !COMMAND_ERRORS.has(err.code)) return false;
  ch.pending.delete(p.clientMsgId);
  addNote(app, {
    channelId: ch.id, parentId: p.parentId || null, command: commandOf(p.content), error: true,
    content: (err.detail || err.message || 'The command failed.').trim(),
  });
  return true;
}

// handledError: a command error copied to /user/queue/errors is already a note.
export function handledError(ev) {
  return !!ev && COMMAND_ERRORS.has(ev.code);
}

// renderNote draws a note in the message list.
export function renderNote(app, n) {
  return h('article.ephemeral', { class: 'ephemeral' + (n.error ? ' error-note' : ''), 'aria-label': 'Only visible to you', dataset: { note: n.id } },
    h('div.meta',
      h('span.author', n.command || 'parley'),
      h('span.only-you', 'Only visible to you'),
      h('button.link', { type: 'button', 'aria-label': 'Dismiss this note', onclick: () => dismiss(app, n.id) }, 'Dismiss')),
    // A response is Markdown like any message (ADR 0042); an error is the server's text.
    n.error ? h('div.body', `${n.command ? n.command + ': ' : ''}${n.content}`) : h('div.body', renderMarkdown(n.content)));
}
