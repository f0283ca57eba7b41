// API tokens (SPEC "Integrations", ADR 0035): the caller's personal tokens — list (name,
// prefix, created, expires, last used), create (the plt_… secret shown once), revoke. The
// token form and table are shared with bot accounts (view-bots.js), whose tokens are the
// same kind.

import { h } from './dom.js';
import { panel, section, secretOnce, table, when, labelled, expirySelect, busy } from './integrations-ui.js';

// tokenForm is a name + expiry form; onCreate({name, expiresIn}) returns the created token
// ({token, …}), whose secret is then shown once in place of the previous one.
export function tokenForm(idPrefix, submitLabel, error, onCreate, defaultName = '') {
  const name = h('input', { name: 'name', required: true, maxlength: '64', autocomplete: 'off', value: defaultName });
  const expiry = expirySelect(idPrefix + '-expiry');
  const submit = h('button.primary', { type: 'submit' }, submitLabel);
  const shown = h('div.secret-slot');
  const form = h('form.inline-form', {
    onsubmit: async (e) => {
      e.preventDefault();
      const res = await busy(submit, error, () => onCreate({
        name: name.value.trim(), expiresIn: Number(expiry.querySelector('select').value),
      }));
      if (!res) return;
      name.value = defaultName;
      shown.replaceChildren(secretOnce(idPrefix + '-secret', `Token “${res.name}”`, res.token, 'this token'));
      shown.querySelector('input')?.focus();
    },
  }, labelled(idPrefix + '-name', 'Token name', name), expiry, h('div.row', submit));
  return h('div', form, shown);
}

// tokenTable lists tokens without secrets; onRevoke(token) revokes one after a confirmation.
export function tokenTable(caption, tokens, onRevoke) {
  const now = Date.now();
  return table(caption, ['Name', 'Token', 'Created', 'Expires', 'Last used', ''], tokens.map((t) => [
    t.name,
    h('code', (t.prefix || '') + '…'),
    when(t.createdAt),
    Date.parse(t.expiresAt) < now ? h('span.muted', 'expired ', when(t.expiresAt)) : when(t.expiresAt),
    t.lastUsedAt ? when(t.lastUsedAt) : 'never',
    h('button.link.danger', {
      type: 'button', 'aria-label': `Revoke token ${t.name}`,
      onclick: () => {
        if (window.confirm(`Revoke the token “${t.name}”? Anything using it stops working at once.`)) onRevoke(t);
      },
    }, 'Revoke'),
  ]), 'No tokens yet.');
}

// openTokens opens the caller's API token manager.
export function openTokens(app) {
  const { body } = panel('API tokens');
  const create = section('Create a token');
  const listed = section('Your tokens');
  const list = h('div.token-list', { 'aria-live': 'polite' });
  listed.el.insertBefore(list, listed.error);
  const refresh = async () => {
    try {
      const res = await app.api.get('/api/users/me/tokens');
      list.replaceChildren(tokenTable('Your API tokens', (res && res.items) || [], async (t) => {
        try {
          await app.api.del(`/api/users/me/tokens/${t.id}`);
          await refresh();
        } catch (e) {
          listed.error.textContent = e.message;
        }
      }));
    } catch (e) {
      listed.error.textContent = e.message;
    }
  };
  create.el.insertBefore(h('p.hint',
    'A token acts as you on the REST API and the WebSocket (Authorization: Bearer plt_…). Treat it like a password; revoke it when it is no longer used.'),
  create.error);
  create.el.insertBefore(tokenForm('new-token', 'Create token', create.error, async (req) => {
    const t = await app.api.post('/api/users/me/tokens', req);
    await refresh();
    return t;
  }), create.error);
  body.append(create.el, listed.el);
  refresh();
}
