// Entry points of the integration screens (issue 24), kept here so that the shell and the
// chat view each add one import and a few lines: the top bar's "API tokens", the sidebar's
// "Integrations" (bots and slash commands, owners and admins only), a channel's webhooks
// button.

import { h } from './dom.js';
import { panel, canManage, myRole, isBot, botTag } from './integrations-ui.js';
import { botsSection } from './view-bots.js';
import { commandsSection } from './view-commands.js';
import { openWebhooks } from './view-webhooks.js';
import { openTokens } from './view-tokens.js';

export { openTokens, openWebhooks, canManage, isBot, botTag };
export * as commands from './view-commands.js';

// openWorkspace manages the open workspace's bots and slash commands.
export function openWorkspace(app) {
  if (!app.wid) {
    app.toast('Create or pick a workspace first.');
    return;
  }
  if (!canManage(app)) {
    app.toast('Only the workspace’s owner and admins manage its bots and slash commands.');
    return;
  }
  const ws = app.workspaces.find((w) => w.id === app.wid);
  const { body } = panel('Integrations of ' + (ws ? ws.name : 'this workspace'));
  body.append(botsSection(app), commandsSection(app));
}

// tokensButton is the top bar's way to the caller's API tokens.
export function tokensButton(app) {
  return h('button.link', { type: 'button', onclick: () => openTokens(app) }, 'API tokens');
}

// workspaceButton opens openWorkspace; updateWorkspaceButton shows it to managers only.
export function workspaceButton(app) {
  return h('button.invite-btn.integrations-btn', { type: 'button', hidden: true, onclick: () => openWorkspace(app) }, 'Integrations');
}

export function updateWorkspaceButton(app, btn) {
  if (btn) btn.hidden = !canManage(app);
}

// webhooksButton is the channel header's way to its webhooks; hidden where none can be
// made (direct messages, channels one has not joined, guests).
export function webhooksButton(app, ch) {
  return h('button.icon.hooks', {
    type: 'button', 'aria-label': 'Webhooks of this channel', title: 'Webhooks', onclick: () => openWebhooks(app, app.active() || ch),
  }, '🔗');
}

export function updateWebhooksButton(app, btn, ch) {
  btn.hidden = ch.info.type === 'dm' || ch.info.isMember === false || !!ch.info.archived || myRole(app) === 'guest';
}
