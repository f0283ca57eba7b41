// Whole-page screens outside a workspace: signing in and accepting an invitation.

import { h, clear } from './dom.js';

export function renderLogin(app, note = '') {
  const root = clear(document.getElementById('app'));
  const error = h('p.error', { role: 'alert' });
  const username = h('input#login-username', {
    name: 'username', autocomplete: 'username', required: true, pattern: '[A-Za-z0-9_.\\-]{1,64}',
    spellcheck: 'false', autocapitalize: 'none',
  });
  const token = h('textarea#login-token', { name: 'token', rows: '3', spellcheck: 'false' });
  const busy = (form, on) => form.querySelectorAll('button, input, textarea').forEach((el) => { el.disabled = on; });
  const dev = h('form.card', {
    onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      busy(dev, true);
      try {
        await app.devLogin(username.value.trim().toLowerCase());
      } catch (err) {
        error.textContent = err.status === 404 ? 'Dev login is disabled on this server: paste a token instead.' : err.message;
        busy(dev, false);
      }
    },
  },
  h('h2', 'Sign in'),
  h('label', { for: 'login-username' }, 'Username'),
  username,
  h('p.hint', 'Dev mode: any username signs you in (and creates the user).'),
  h('button.primary', { type: 'submit' }, 'Sign in'));
  const paste = h('form.card', {
    onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      busy(paste, true);
      try {
        await app.signIn(token.value.trim());
      } catch (err) {
        error.textContent = err.status === 401 ? 'That token was not accepted.' : err.message;
        busy(paste, false);
      }
    },
  },
  h('h2', 'Use a token'),
  h('label', { for: 'login-token' }, 'Access token (JWT)'),
  token,
  h('button', { type: 'submit' }, 'Sign in with token'));
  root.append(h('main.login', { 'aria-labelledby': 'login-title' },
    h('h1#login-title', 'parley'),
    note ? h('p.note', note) : null,
    error,
    h('div.cards', dev, paste)));
  username.focus();
}

export function renderInvite(app, token) {
  const root = clear(document.getElementById('app'));
  const error = h('p.error', { role: 'alert' });
  const accept = h('button.primary', {
    type: 'button',
    onclick: async () => {
      accept.disabled = true;
      error.textContent = '';
      try {
        await app.acceptInvitation(token);
      } catch (err) {
        error.textContent = {
          404: 'This invitation does not exist.',
          410: 'This invitation has expired or was already used.',
          409: 'You are already a member of this workspace.',
        }[err.status] || err.message;
        accept.disabled = false;
      }
    },
  }, 'Accept invitation');
  root.append(h('main.login', { 'aria-labelledby': 'invite-title' },
    h('h1#invite-title', 'You have been invited'),
    h('p', `Signed in as @${app.me.username}. Accept to join the workspace.`),
    error,
    h('div.row', accept, h('a.link', { href: '#/' }, 'Not now'))));
  accept.focus();
}
