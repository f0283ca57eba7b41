// A small emoji picker (ADR 0042): the six quick reactions, and behind "More" a grid of
// common ones, each a button named for what it shows. A reaction may also be any
// :shortcode: the server accepts; the picker offers Unicode emojis only.

import { h } from './dom.js';

export const QUICK = ['👍', '❤️', '😂', '🎉', '👀', '🙏'];

// MORE: [emoji, name] in a handful of groups.
export const MORE = [
  ['😀', 'grinning'], ['😄', 'smile'], ['😊', 'blush'], ['😉', 'wink'], ['😍', 'heart eyes'], ['🤔', 'thinking'],
  ['😅', 'sweat smile'], ['😢', 'cry'], ['😮', 'open mouth'], ['😎', 'sunglasses'], ['🙃', 'upside down'], ['😴', 'sleeping'],
  ['👎', 'thumbs down'], ['👏', 'clap'], ['🙌', 'raised hands'], ['💪', 'muscle'], ['👋', 'wave'], ['🤝', 'handshake'],
  ['✅', 'check'], ['❌', 'cross'], ['⚠️', 'warning'], ['❓', 'question'], ['💯', 'hundred'], ['🔥', 'fire'],
  ['🚀', 'rocket'], ['✨', 'sparkles'], ['⭐', 'star'], ['💡', 'bulb'], ['🐛', 'bug'], ['🛠️', 'tools'],
  ['☕', 'coffee'], ['🍕', 'pizza'], ['🎂', 'cake'], ['🏆', 'trophy'], ['📌', 'pin'], ['📎', 'paperclip'],
];

// render is the picker for message m; pick(emoji) reacts. The grid shows when expanded.
export function render(m, pick, { expanded = false, onExpand } = {}) {
  const button = (e, name) => h('button.icon', {
    type: 'button', 'aria-label': 'React with ' + e, title: name || e, onclick: () => pick(e),
  }, e);
  return h('div.picker', { role: 'group', 'aria-label': 'Pick a reaction' },
    h('div.quick', QUICK.map((e) => button(e))),
    expanded
      ? h('div.grid', { role: 'group', 'aria-label': 'More reactions' }, MORE.map(([e, name]) => button(e, name)))
      : h('button.link.more', { type: 'button', 'aria-expanded': 'false', onclick: onExpand }, 'More…'));
}
