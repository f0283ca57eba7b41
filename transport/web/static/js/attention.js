// Attention from outside the tab: the count in the tab title, desktop notifications and an
// optional sound for mentions and direct messages. The decisions are pure functions (unit
// tested with node --test); the effects take the browser's APIs as they are.

// shouldNotify says whether an incoming message deserves a desktop notification and a
// sound. msg: {userId, channelId, mentionsMe}; ch: the channel's info ({type, prefs}); me:
// {id, dndUntil}; focused: the user is looking at that channel in a visible tab.
export function shouldNotify({ msg, ch, me, focused, now = Date.now() }) {
  if (!msg || !ch || !me || msg.userId === me.id || focused) return false;
  if (me.dndUntil && Date.parse(me.dndUntil) > now) return false; // DND: no notification, the message still arrives
  const prefs = ch.prefs || {};
  if (prefs.muted) return false;
  const notify = prefs.notify || 'mentions';
  if (notify === 'none') return false;
  if (notify === 'all') return true;
  // "mentions": a mention of the caller, and every message of a direct conversation.
  return ch.type === 'dm' || !!msg.mentionsMe;
}

// attentionCount is what the tab title shows: unread mentions, counting every unread
// message of a DM (the server's mentionCount), over channels that are not muted.
export function attentionCount(channels) {
  let n = 0;
  for (const ch of channels) {
    if (ch.info.prefs && ch.info.prefs.muted) continue;
    n += ch.mentionCount();
  }
  return n;
}

export function titleFor(base, count) {
  return count > 0 ? `(${count > 99 ? '99+' : count}) ${base}` : base;
}

const SOUND_KEY = 'parley.sound';

export function soundEnabled() { return localStorage.getItem(SOUND_KEY) === 'on'; }
export function setSoundEnabled(on) { localStorage.setItem(SOUND_KEY, on ? 'on' : 'off'); }

export function notificationsState() {
  if (typeof Notification === 'undefined') return 'unsupported';
  return Notification.permission; // default | granted | denied
}

// askPermission must run inside a user gesture (a click): browsers ignore it otherwise.
export async function askPermission() {
  if (typeof Notification === 'undefined') return 'unsupported';
  if (Notification.permission !== 'default') return Notification.permission;
  return Notification.requestPermission();
}

let audio = null;

// chime plays a short two-tone sound with WebAudio: no asset to fetch, nothing to cache.
export function chime() {
  if (!soundEnabled()) return;
  try {
    audio = audio || new AudioContext();
    const t = audio.currentTime;
    for (const [f, at] of [[880, 0], [1320, 0.09]]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = f;
      gain.gain.setValueAtTime(0.08, t + at);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + at + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(t + at);
      osc.stop(t + at + 0.2);
    }
  } catch { /* no audio output: nothing to do */ }
}

// notify shows a desktop notification; clicking it focuses the tab and opens the channel.
export function notify({ title, body, tag, onClick }) {
  if (notificationsState() !== 'granted') return null;
  try {
    const n = new Notification(title, { body: body.length > 180 ? body.slice(0, 177) + '…' : body, tag });
    n.onclick = () => {
      window.focus();
      if (onClick) onClick();
      n.close();
    };
    return n;
  } catch {
    return null; // some platforms allow notifications only from a service worker
  }
}
