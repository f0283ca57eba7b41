// The REST client: JSON in and out, the bearer token, problem+json errors as ApiError.

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || 'HTTP ' + status);
    this.status = status;
    this.code = (problem && problem.code) || '';
  }
}

export class Api {
  constructor(base = '') {
    this.base = base;
    this.token = '';
    this.onUnauthorized = null;
  }

  async call(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (this.token) headers.Authorization = 'Bearer ' + this.token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      // fetch says only "Failed to fetch": tell people what it means for them.
      throw new ApiError(0, { detail: 'Cannot reach the server. Check your connection; parley keeps trying.', code: 'network' });
    }
    if (res.status === 204) return null;
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch { data = { detail: text }; }
    }
    if (!res.ok) {
      if (res.status === 401 && this.onUnauthorized) this.onUnauthorized();
      throw new ApiError(res.status, data);
    }
    return data;
  }

  get(path) { return this.call('GET', path); }
  post(path, body = {}) { return this.call('POST', path, body); }
  put(path, body) { return this.call('PUT', path, body); }
  patch(path, body) { return this.call('PATCH', path, body); }
  del(path) { return this.call('DELETE', path); }

  devLogin(username) { return this.post('/api/auth/dev/login', { username }); }
  me() { return this.get('/api/users/me'); }

  // all follows the `next` cursor of a paginated list (at most `pages` pages).
  async all(path, pages = 20) {
    const out = [];
    let after = null;
    for (let i = 0; i < pages; i++) {
      const sep = path.includes('?') ? '&' : '?';
      const data = await this.get(path + sep + 'limit=100' + (after ? '&after=' + encodeURIComponent(after) : ''));
      out.push(...items(data));
      after = data && data.next;
      if (!after) break;
    }
    return out;
  }

  workspaces() { return this.all('/api/workspaces'); }
  createWorkspace(name) { return this.post('/api/workspaces', { name }); }
  members(wid) { return this.all(`/api/workspaces/${wid}/members`); }
  invite(wid, username) { return this.post(`/api/workspaces/${wid}/invitations`, { username }); }
  acceptInvitation(token) { return this.post('/api/invitations/accept', { token }); }

  channels(wid) { return this.all(`/api/workspaces/${wid}/channels`); }
  createChannel(wid, name, type, topic) { return this.post(`/api/workspaces/${wid}/channels`, { name, type, topic }); }
  joinChannel(cid, userId) { return this.post(`/api/channels/${cid}/members`, { userId }); }

  messages(cid, beforeSeq, limit = 50) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (beforeSeq) q.set('before_seq', String(beforeSeq));
    return this.get(`/api/channels/${cid}/messages?${q}`).then(items);
  }
  message(mid) { return this.get(`/api/messages/${mid}`); }
  postMessage(cid, content, parentId, clientMsgId, fileIds) {
    return this.post(`/api/channels/${cid}/messages`, { content, parentId, clientMsgId, fileIds });
  }
  editMessage(mid, content) { return this.patch(`/api/messages/${mid}`, { content }); }
  deleteMessage(mid) { return this.del(`/api/messages/${mid}`); }
  replies(mid, afterSeq = 0, limit = 100) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (afterSeq) q.set('after_seq', String(afterSeq));
    return this.get(`/api/messages/${mid}/replies?${q}`);
  }
  react(mid, emoji) { return this.put(`/api/messages/${mid}/reactions/${encodeURIComponent(emoji)}`); }
  unreact(mid, emoji) { return this.del(`/api/messages/${mid}/reactions/${encodeURIComponent(emoji)}`); }
  markRead(cid, seq) { return this.put(`/api/channels/${cid}/read`, { seq }); }

  mentions(unreadOnly = false) { return this.get('/api/mentions?limit=100' + (unreadOnly ? '&unread=true' : '')).then(items); }

  markMentionRead(id) { return this.put(`/api/mentions/${id}/read`); }

  // Threads you follow (view-threads.js).
  followedThreads({ unread = false, limit = 20, cursor = '' } = {}) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (unread) q.set('unread', 'true');
    if (cursor) q.set('cursor', cursor);
    return this.get(`/api/threads?${q}`);
  }
  repliesPage(mid, { after = 0, before = 0, limit = 20 } = {}) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (before) q.set('before_seq', String(before));
    else if (after) q.set('after_seq', String(after));
    return this.get(`/api/messages/${mid}/replies?${q}`);
  }
  follow(mid) { return this.put(`/api/messages/${mid}/follow`); }
  unfollow(mid) { return this.del(`/api/messages/${mid}/follow`); }
  threadRead(mid, seq) { return this.put(`/api/messages/${mid}/thread-read`, { seq }); }

  openDM(wid, userIds) { return this.post(`/api/workspaces/${wid}/dms`, { userIds }); }
  user(uid) { return this.get(`/api/users/${uid}`); }
  updateProfile(fields) { return this.patch('/api/users/me', fields); }
  setDND(until) { return this.put('/api/users/me/dnd', { until }); }
  channelPrefs(cid) { return this.get(`/api/channels/${cid}/prefs`); }
  setChannelPrefs(cid, prefs) { return this.put(`/api/channels/${cid}/prefs`, prefs); }
  presence(wid, userIds) {
    if (!userIds.length) return Promise.resolve({});
    return this.get(`/api/workspaces/${wid}/presence?userIds=${userIds.map(encodeURIComponent).join(',')}`);
  }
}

// items accepts both a paginated {items, next} and a bare array.
function items(data) {
  if (Array.isArray(data)) return data;
  return (data && data.items) || [];
}
