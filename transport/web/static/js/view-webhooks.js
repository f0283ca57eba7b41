// A channel's webhooks (SPEC "Integrations", ADRs 0036 and 0037): incoming (create → the
// URL shown once; list; revoke) and outgoing (create with a URL and trigger words → the
// signing secret shown once; list; revoke; the recent deliveries: status, attempts, last
// error, latency, refreshed while shown).

import { h } from './dom.js';
import { panel, section, secretOnce, table, when, labelled, busy } from './integrations-ui.js';

const DELIVERIES_EVERY_MS = 2000;

export function openWebhooks(app, ch) {
  let timer = null;
  const { body } = panel('Webhooks of #' + ch.info.name, { onClose: () => clearInterval(timer) });
  body.append(incomingSection(app, ch), outgoingSection(app, ch, (t) => { clearInterval(timer); timer = t; }));
}

function incomingSection(app, ch) {
  const sec = section('Incoming webhooks');
  const list = h('div', { 'aria-live': 'polite' });
  const name = h('input', { name: 'name', required: true, maxlength: '64', autocomplete: 'off' });
  const submit = h('button.primary', { type: 'submit' }, 'Create incoming webhook');
  const created = h('div.secret-slot');
  const form = h('form.inline-form', {
    onsubmit: async (e) => {
      e.preventDefault();
      const res = await busy(submit, sec.error, () => app.api.post(`/api/channels/${ch.id}/webhooks/incoming`, { name: name.value.trim() }));
      if (!res) return;
      name.value = '';
      const url = new URL(res.url, location.origin).href;
      created.replaceChildren(
        secretOnce('incoming-url', `URL of “${res.name}”`, url, 'this URL'),
        h('p.hint', 'POST JSON {"content": "…"} (or Slack’s {"text": "…"}) to it, without an Authorization header: the URL is the credential.'));
      created.querySelector('input')?.focus();
      refresh();
    },
  }, labelled('incoming-name', 'Webhook name', name), h('div.row', submit));
  const refresh = async () => {
    try {
      const res = await app.api.get(`/api/channels/${ch.id}/webhooks/incoming`);
      list.replaceChildren(table('Incoming webhooks of this channel', ['Name', 'Posts as', 'Created by', 'Created', ''], ((res && res.items) || []).map((w) => [
        w.name,
        app.userName(w.botUserId),
        app.userName(w.createdBy),
        when(w.createdAt),
        h('button.link.danger', {
          type: 'button', 'aria-label': `Revoke incoming webhook ${w.name}`,
          onclick: async () => {
            if (!window.confirm(`Revoke “${w.name}”? Its URL stops working at once.`)) return;
            try {
              await app.api.del(`/api/webhooks/incoming/${w.id}`);
              await refresh();
            } catch (e) {
              sec.error.textContent = e.message;
            }
          },
        }, 'Revoke'),
      ]), 'No incoming webhooks.'));
    } catch (e) {
      sec.error.textContent = e.message;
    }
  };
  sec.el.insertBefore(h('div', h('p.hint', 'Post into this channel from other systems (CI, alerts) as a bot of the webhook’s own.'), form, created, list), sec.error);
  refresh();
  return sec.el;
}

// splitWords turns "deploy, ship  release" into ["deploy", "ship", "release"].
export function splitWords(s) {
  return (s || '').split(/[\s,]+/).map((w) => w.trim()).filter(Boolean);
}

function outgoingSection(app, ch, setTimer) {
  const sec = section('Outgoing webhooks');
  const list = h('div', { 'aria-live': 'polite' });
  const deliveries = h('div.deliveries');
  const url = h('input', { name: 'url', type: 'url', required: true, maxlength: '2048', autocomplete: 'off', placeholder: 'https://example.com/parley-events' });
  const words = h('input', { name: 'triggerWords', autocomplete: 'off', spellcheck: 'false', placeholder: 'deploy, ship' });
  const submit = h('button.primary', { type: 'submit' }, 'Create outgoing webhook');
  const created = h('div.secret-slot');
  const form = h('form.inline-form', {
    onsubmit: async (e) => {
      e.preventDefault();
      const triggerWords = splitWords(words.value);
      const res = await busy(submit, sec.error, () => app.api.post(`/api/channels/${ch.id}/webhooks/outgoing`, {
        url: url.value.trim(), events: ['message'], ...(triggerWords.length ? { triggerWords } : {}),
      }));
      if (!res) return;
      url.value = '';
      words.value = '';
      created.replaceChildren(
        h('p.hint', 'Each delivery is signed: X-Parley-Signature is sha256= the HMAC-SHA256 of “{X-Parley-Timestamp}.{body}” with this secret.'),
        secretOnce('outgoing-secret', 'Signing secret', res.secret, 'the secret'));
      created.querySelector('input')?.focus();
      refresh();
    },
  }, labelled('outgoing-url', 'Receiver URL', url), labelled('outgoing-words', 'Trigger words (optional)', words), h('div.row', submit),
  h('p.hint', 'With trigger words, only messages starting with one of them are sent; separate them with commas or spaces.'));

  const showDeliveries = (hook) => {
    const err = h('p.error', { role: 'alert' });
    const rows = h('div', { 'aria-live': 'polite' });
    const load = async () => {
      try {
        const res = await app.api.get(`/api/webhooks/${hook.id}/deliveries?limit=20`);
        rows.replaceChildren(table('Recent deliveries to ' + hook.url, ['Status', 'Message', 'Attempts', 'Last error', 'Latency', 'Sent'],
          ((res && res.items) || []).map((d) => [
            h('span.delivery-status', { dataset: { status: d.status } }, d.status),
            '#' + d.seq,
            String(d.attempts),
            d.lastError ? h('span.last-error', d.lastError) : '—',
            d.latencyMs !== undefined && d.latencyMs !== null ? `${d.latencyMs} ms` : '—',
            when(d.createdAt),
          ]), 'No deliveries yet.'));
        err.textContent = '';
      } catch (e) {
        err.textContent = e.message;
      }
    };
    deliveries.replaceChildren(h('h4', 'Recent deliveries to ' + hook.url), rows, err);
    load();
    setTimer(setInterval(() => { if (deliveries.isConnected) load(); }, DELIVERIES_EVERY_MS));
  };

  const refresh = async () => {
    try {
      const res = await app.api.get(`/api/channels/${ch.id}/webhooks/outgoing`);
      list.replaceChildren(table('Outgoing webhooks of this channel', ['Receiver', 'Trigger words', 'Created', ''], ((res && res.items) || []).map((w) => [
        h('span.url', w.url),
        (w.triggerWords || []).length ? w.triggerWords.join(', ') : 'every message',
        when(w.createdAt),
        h('span.row',
          h('button.link', { type: 'button', 'aria-label': `Deliveries to ${w.url}`, onclick: () => showDeliveries(w) }, 'Deliveries'),
          h('button.link.danger', {
            type: 'button', 'aria-label': `Revoke outgoing webhook to ${w.url}`,
            onclick: async () => {
              if (!window.confirm(`Revoke the webhook to ${w.url}? Queued deliveries are dropped.`)) return;
              try {
                await app.api.del(`/api/channels/${ch.id}/webhooks/outgoing/${w.id}`);
                setTimer(null);
                deliveries.replaceChildren();
                await refresh();
              } catch (e) {
                sec.error.textContent = e.message;
              }
            },
          }, 'Revoke')),
      ]), 'No outgoing webhooks.'));
    } catch (e) {
      sec.error.textContent = e.message;
    }
  };
  sec.el.insertBefore(h('div', h('p.hint', 'Send this channel’s messages, signed, to another system; a 2xx answer {"content": "…"} is posted as a reply.'),
    form, created, list, deliveries), sec.error);
  refresh();
  return sec.el;
}
