// A small STOMP 1.2 client over a browser WebSocket: frames, header escaping, receipts,
// subscriptions and heart-beats. Reconnection is the caller's business (see realtime.js):
// one StompClient is one connection, and it ends for good when its socket closes.

const enc = new TextEncoder();
const dec = new TextDecoder();

const NUL = 0, LF = 10, CR = 13;

// escapeHeader and unescapeHeader implement STOMP 1.2's header value escaping.
export function escapeHeader(v) {
  return String(v).replace(/\\/g, '\\\\').replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/:/g, '\\c');
}

export function unescapeHeader(v) {
  return v.replace(/\\([\\rnc])/g, (_, c) => ({ '\\': '\\', r: '\r', n: '\n', c: ':' })[c]);
}

// encodeFrame renders a frame as bytes. headers is an object or an array of [name, value].
export function encodeFrame(command, headers = {}, body = '') {
  const bodyBytes = typeof body === 'string' ? enc.encode(body) : body;
  let head = command + '\n';
  const entries = Array.isArray(headers) ? headers : Object.entries(headers);
  for (const [k, v] of entries) {
    if (v === undefined || v === null) continue;
    head += escapeHeader(k) + ':' + escapeHeader(v) + '\n';
  }
  if (bodyBytes.length > 0 && command !== 'CONNECT' && command !== 'STOMP') {
    head += 'content-length:' + bodyBytes.length + '\n';
  }
  head += '\n';
  const headBytes = enc.encode(head);
  const out = new Uint8Array(headBytes.length + bodyBytes.length + 1);
  out.set(headBytes, 0);
  out.set(bodyBytes, headBytes.length);
  out[out.length - 1] = NUL;
  return out;
}

// FrameDecoder turns a byte stream (WebSocket messages may split or join frames) into
// frames {command, headers, body}. Heart-beat EOLs between frames are skipped.
export class FrameDecoder {
  constructor(maxFrame = 1 << 20) {
    this.buf = new Uint8Array(0);
    this.maxFrame = maxFrame;
  }

  push(chunk) {
    const bytes = typeof chunk === 'string' ? enc.encode(chunk) : new Uint8Array(chunk);
    const merged = new Uint8Array(this.buf.length + bytes.length);
    merged.set(this.buf, 0);
    merged.set(bytes, this.buf.length);
    this.buf = merged;
    const frames = [];
    for (;;) {
      const f = this.next();
      if (!f) break;
      frames.push(f);
    }
    if (this.buf.length > this.maxFrame) throw new Error('stomp: frame too large');
    return frames;
  }

  next() {
    let b = this.buf, i = 0;
    while (i < b.length && (b[i] === LF || b[i] === CR)) i++; // heart-beats
    if (i > 0) { b = this.buf = b.subarray(i); i = 0; }
    if (b.length === 0) return null;
    // The header block ends at the first empty line.
    let end = -1;
    for (let j = 0; j < b.length; j++) {
      if (b[j] !== LF) continue;
      if (j + 1 < b.length && b[j + 1] === LF) { end = j; break; }
      if (j + 2 < b.length && b[j + 1] === CR && b[j + 2] === LF) { end = j; break; }
    }
    if (end < 0) return null;
    const lines = dec.decode(b.subarray(0, end)).split('\n').map((l) => l.replace(/\r$/, ''));
    let bodyStart = end + 1;
    if (b[bodyStart] === CR) bodyStart++;
    bodyStart++;
    const command = lines[0];
    const headers = {};
    for (const line of lines.slice(1)) {
      const k = line.indexOf(':');
      if (k < 0) continue;
      const name = unescapeHeader(line.slice(0, k));
      if (!(name in headers)) headers[name] = unescapeHeader(line.slice(k + 1)); // first wins (1.2)
    }
    let bodyEnd;
    if (headers['content-length'] !== undefined) {
      bodyEnd = bodyStart + parseInt(headers['content-length'], 10);
      if (b.length < bodyEnd + 1) return null;
    } else {
      bodyEnd = b.indexOf(NUL, bodyStart);
      if (bodyEnd < 0) return null;
    }
    const body = dec.decode(b.subarray(bodyStart, bodyEnd));
    this.buf = b.subarray(bodyEnd + 1);
    return { command, headers, body };
  }
}

// StompClient is one STOMP session on one WebSocket.
export class StompClient {
  // opts: {url, token, heartBeat: [out, in] ms, onClose(reason), onError(frame)}
  constructor(opts) {
    this.opts = opts;
    this.ws = null;
    this.decoder = new FrameDecoder();
    this.subs = new Map(); // id -> handler
    this.receipts = new Map(); // receipt id -> {resolve, reject}
    this.nextId = 1;
    this.closed = false;
    this.lastIn = Date.now();
    this.timers = [];
  }

  // connect resolves with the CONNECTED frame, or rejects with the reason.
  connect() {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(this.opts.url, ['v12.stomp', 'v11.stomp', 'v10.stomp']);
      } catch (e) {
        reject(e);
        return;
      }
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      let connected = false;
      const [cx, cy] = this.opts.heartBeat || [10000, 10000];
      ws.onopen = () => {
        const host = location.hostname;
        this.raw(encodeFrame('CONNECT', {
          'accept-version': '1.2,1.1,1.0',
          host,
          Authorization: 'Bearer ' + this.opts.token,
          'heart-beat': `${cx},${cy}`,
        }));
      };
      ws.onmessage = (ev) => {
        this.lastIn = Date.now();
        let frames;
        try {
          frames = this.decoder.push(ev.data);
        } catch (e) {
          this.fail('bad frame: ' + e.message);
          return;
        }
        for (const f of frames) {
          if (!connected) {
            if (f.command === 'CONNECTED') {
              connected = true;
              this.connected = true;
              this.startHeartbeats(f.headers['heart-beat'], cx, cy);
              resolve(f);
            } else {
              reject(new StompError(f));
              this.fail(f.headers.message || 'refused');
            }
            continue;
          }
          this.dispatch(f);
        }
      };
      ws.onclose = (ev) => {
        if (!connected) reject(new Error('connection closed (' + ev.code + ')'));
        this.fail(ev.reason || 'connection closed (' + ev.code + ')');
      };
      ws.onerror = () => { /* onclose follows with the details */ };
    });
  }

  startHeartbeats(serverHB, cx, cy) {
    const [sx, sy] = (serverHB || '0,0').split(',').map((n) => parseInt(n, 10) || 0);
    const out = cx && sy ? Math.max(cx, sy) : 0; // how often we send
    const inc = cy && sx ? Math.max(cy, sx) : 0; // how often the server sends
    if (out) this.timers.push(setInterval(() => this.raw(enc.encode('\n')), out));
    if (inc) {
      this.timers.push(setInterval(() => {
        if (Date.now() - this.lastIn > 2 * inc) this.fail('server heart-beat timeout');
      }, Math.min(inc, 5000)));
    }
  }

  dispatch(f) {
    switch (f.command) {
      case 'MESSAGE': {
        const h = this.subs.get(f.headers.subscription);
        if (h) h(f);
        break;
      }
      case 'RECEIPT': {
        const r = this.receipts.get(f.headers['receipt-id']);
        if (r) {
          this.receipts.delete(f.headers['receipt-id']);
          r.resolve(f);
        }
        break;
      }
      case 'ERROR': {
        const rid = f.headers['receipt-id'];
        const r = rid && this.receipts.get(rid);
        if (r) {
          this.receipts.delete(rid);
          r.reject(new StompError(f));
        } else if (this.opts.onError) {
          this.opts.onError(f);
        }
        break;
      }
      default:
    }
  }

  raw(bytes) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes);
  }

  // request sends a frame with a receipt header and resolves with the RECEIPT.
  request(command, headers, body = '', timeoutMs = 10000) {
    if (this.closed) return Promise.reject(new Error('not connected'));
    const id = 'r-' + this.nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.receipts.delete(id);
        reject(new Error('no receipt within ' + timeoutMs + ' ms'));
      }, timeoutMs);
      this.receipts.set(id, {
        resolve: (f) => { clearTimeout(t); resolve(f); },
        reject: (e) => { clearTimeout(t); reject(e); },
      });
      this.raw(encodeFrame(command, { ...headers, receipt: id }, body));
    });
  }

  // subscribe registers onMessage and resolves once the server says the subscription is
  // live (its RECEIPT), so that the caller knows from then on it misses nothing.
  subscribe(destination, onMessage, headers = {}) {
    const id = 'sub-' + this.nextId++;
    this.subs.set(id, onMessage);
    return this.request('SUBSCRIBE', { id, destination, ack: 'auto', ...headers })
      .then(() => id, (e) => { this.subs.delete(id); throw e; });
  }

  unsubscribe(id) {
    this.subs.delete(id);
    this.raw(encodeFrame('UNSUBSCRIBE', { id }));
  }

  // send: a SEND without receipt (fire and forget, e.g. typing).
  send(destination, body) {
    this.raw(encodeFrame('SEND', { destination, 'content-type': 'application/json' }, JSON.stringify(body)));
  }

  // sendWithReceipt resolves with the RECEIPT once the effect is durable.
  sendWithReceipt(destination, body, timeoutMs) {
    return this.request('SEND', { destination, 'content-type': 'application/json' }, JSON.stringify(body), timeoutMs);
  }

  fail(reason) {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const r of this.receipts.values()) r.reject(new Error(reason));
    this.receipts.clear();
    try { this.ws.close(); } catch { /* already closed */ }
    if (this.opts.onClose) this.opts.onClose(reason);
  }

  // close ends the session politely.
  close() {
    if (this.closed) return;
    this.raw(encodeFrame('DISCONNECT', {}));
    this.fail('closed by client');
  }
}

export class StompError extends Error {
  constructor(frame) {
    super(frame.headers.message || 'STOMP error');
    this.frame = frame;
    this.code = frame.headers.code || '';
    this.detail = frame.body;
  }
}
