// Bot accounts (SPEC "Integrations", ADR 0036), for a workspace's owners and admins: list,
// create (its first token shown once), mint more tokens, list and revoke them, deactivate.

import { h } from './dom.js';
import { section, secretOnce, table, when, labelled, busy, botTag } from './integrations-ui.js';
import { tokenForm, tokenTable } from './view-tokens.js';

// botsSection returns the section element; it loads its list at once.
export function botsSection(app) {
  const wid = app.wid;
  const sec = section('Bots');
  const list = h('div.bot-list', { 'aria-live': 'polite' });
  const detail = h('div.bot-detail');
  const username = h('input', {
    name: 'username', required: true, maxlength: '64', pattern: '[a-z0-9_.\\-]{1,64}', autocomplete: 'off',
    spellcheck: 'false', autocapitalize: 'none',
  });
  const display = h('input', { name: 'displayName', maxlength: '80', autocomplete: 'off' });
  const submit = h('button.primary', { type: 'submit' }, 'Create bot');
  const created = h('div.secret-slot');
  const form = h('form.inline-form', {
    onsubmit: async (e) => {
      e.preventDefault();
      const res = await busy(submit, sec.error, () => app.api.post(`/api/workspaces/${wid}/bots`, {
        username: username.value.trim().toLowerCase(), displayName: display.value.trim(),
      }));
      if (!res) return;
      username.value = '';
      display.value = '';
      created.replaceChildren(secretOnce('bot-token', `Token of @${res.user.username}`, res.token, 'the bot’s token'));
      created.querySelector('input')?.focus();
      app.refreshMembersSoon();
      refresh();
    },
  }, labelled('bot-username', 'Bot username', username), labelled('bot-display', 'Display name (optional)', display), h('div.row', submit));

  // showTokens lists one bot's tokens under the table, with a form to mint another.
  const showTokens = async (bot) => {
    const err = h('p.error', { role: 'alert' });
    const tokens = h('div');
    const load = async () => {
      try {
        const res = await app.api.get(`/api/bots/${bot.user.id}/tokens`);
        tokens.replaceChildren(tokenTable(`Tokens of @${bot.user.username}`, (res && res.items) || [], async (t) => {
          try {
            await app.api.del(`/api/bots/${bot.user.id}/tokens/${t.id}`);
            await load();
          } catch (e) {
            err.textContent = e.message;
          }
        }));
      } catch (e) {
        err.textContent = e.message;
      }
    };
    detail.replaceChildren(h('h4', 'Tokens of @' + bot.user.username), tokens,
      bot.deactivatedAt ? h('p.hint', 'This bot is deactivated: it gets no new tokens.')
        : tokenForm('bot-mint', 'Mint token', err, async (req) => {
          const t = await app.api.post(`/api/bots/${bot.user.id}/tokens`, req);
          await load();
          return t;
        }, 'token'),
      err);
    await load();
  };

  const refresh = async () => {
    try {
      const res = await app.api.get(`/api/workspaces/${wid}/bots`);
      const bots = (res && res.items) || [];
      list.replaceChildren(table('Bots of this workspace', ['Bot', 'Created', 'Status', ''], bots.map((b) => [
        h('span', botTag(), ' ', b.user.displayName || b.user.username, h('span.muted', ' @' + b.user.username)),
        when(b.createdAt),
        b.deactivatedAt ? h('span', 'deactivated ', when(b.deactivatedAt)) : 'active',
        h('span.row',
          h('button.link', { type: 'button', 'aria-label': `Tokens of ${b.user.username}`, onclick: () => showTokens(b) }, 'Tokens'),
          b.deactivatedAt ? null : h('button.link.danger', {
            type: 'button', 'aria-label': `Deactivate ${b.user.username}`,
            onclick: async () => {
              if (!window.confirm(`Deactivate @${b.user.username}? All its tokens stop working at once; its messages stay.`)) return;
              try {
                await app.api.del(`/api/bots/${b.user.id}`);
                detail.replaceChildren();
                await refresh();
              } catch (e) {
                sec.error.textContent = e.message;
              }
            },
          }, 'Deactivate')),
      ]), 'No bots yet.'));
    } catch (e) {
      sec.error.textContent = e.message;
    }
  };
  sec.el.insertBefore(h('div',
    h('p.hint', 'A bot is a member that posts through the API with its own tokens. Add it to channels like anyone.'),
    form, created, list, detail), sec.error);
  refresh();
  return sec.el;
}
