// Modal dialogs (native <dialog>: focus is trapped and Escape closes them): create a
// workspace, create a channel, invite someone.

import { h } from './dom.js';

// modal opens a dialog with a form; onSubmit(form) may throw to show an error and keep the
// dialog open, or return a node to show instead of the form (a result).
export function modal(title, fields, submitLabel, onSubmit) {
  const error = h('p.error', { role: 'alert' });
  const submit = h('button.primary', { type: 'submit' }, submitLabel);
  const titleId = 'dlg-' + Math.random().toString(36).slice(2);
  const form = h('form', { method: 'dialog' }, fields, error,
    h('div.row.buttons', submit, h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel')));
  const body = h('div.dialog-body', form);
  const dlg = h('dialog', { 'aria-labelledby': titleId }, h('h2', { id: titleId }, title), body);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      const result = await onSubmit(form);
      if (result instanceof Node) {
        body.replaceChildren(result, h('div.row.buttons', h('button.primary', { type: 'button', onclick: () => dlg.close() }, 'Done')));
        result.querySelector('input, button')?.focus();
      } else {
        dlg.close();
      }
    } catch (err) {
      error.textContent = err.message;
      submit.disabled = false;
    }
  });
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  form.querySelector('input, select, textarea')?.focus();
  return dlg;
}

export function field(id, label, input, hint) {
  input.id = id;
  return h('div.field', h('label', { for: id }, label), input, hint ? h('p.hint', hint) : null);
}

export function createWorkspace(app) {
  const name = h('input', { name: 'name', required: true, maxlength: '80', autocomplete: 'off' });
  modal('Create a workspace', [field('ws-name', 'Workspace name', name)], 'Create', async () => {
    await app.createWorkspace(name.value.trim());
  });
}

export function createChannel(app) {
  if (!app.wid) {
    app.toast('Create or pick a workspace first.');
    return;
  }
  const name = h('input', {
    name: 'name', required: true, maxlength: '80', pattern: '[a-z0-9\\-_]{1,80}', autocomplete: 'off',
    spellcheck: 'false', autocapitalize: 'none',
  });
  const topic = h('input', { name: 'topic', maxlength: '250', autocomplete: 'off' });
  const type = (value, label, checked) => h('label.radio', h('input', { type: 'radio', name: 'type', value, checked }), ' ', label);
  modal('Create a channel', [
    field('ch-name', 'Name', name, 'Lowercase letters, digits, - and _.'),
    h('fieldset', h('legend', 'Who can see it'), type('public', 'Public — anyone in the workspace', true), type('private', 'Private — only people you add', false)),
    field('ch-topic', 'Topic (optional)', topic),
  ], 'Create', async (form) => {
    const kind = form.querySelector('input[name=type]:checked').value;
    await app.createChannel(name.value.trim().toLowerCase(), kind, topic.value.trim());
  });
}

export function invite(app) {
  if (!app.wid) {
    app.toast('Create or pick a workspace first.');
    return;
  }
  const username = h('input', { name: 'username', required: true, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' });
  const role = h('select', { name: 'role' }, h('option', { value: 'member', selected: true }, 'Member'),
    h('option', { value: 'guest' }, 'Guest'), h('option', { value: 'admin' }, 'Admin'));
  modal('Invite someone', [field('inv-username', 'Username', username), field('inv-role', 'Role', role)], 'Create invitation', async () => {
    const who = username.value.trim().toLowerCase();
    const inv = await app.api.post(`/api/workspaces/${app.wid}/invitations`, { username: who, role: role.value });
    const link = `${location.origin}/#/invite/${encodeURIComponent(inv.token)}`;
    const out = h('input#invite-link', { readonly: true, value: link, onfocus: (e) => e.target.select() });
    const copy = h('button', {
      type: 'button',
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(link);
          copy.textContent = 'Copied';
        } catch {
          out.select();
        }
      },
    }, 'Copy');
    return h('div.result',
      h('p', `Send this link to @${who}. It works for 7 days, once.`),
      h('label', { for: 'invite-link' }, 'Invitation link'),
      h('div.row', out, copy));
  });
}
