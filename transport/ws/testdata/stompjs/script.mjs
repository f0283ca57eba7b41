// Connects to parley with @stomp/stompjs exactly as a browser app of the Java reference
// would (only the URL differs), subscribes to a channel, sends a message with a receipt and
// waits for it to come back. Prints one JSON line with what it saw; exits 1 on failure.
import { Client } from '@stomp/stompjs';
import WebSocket from 'ws';

const url = process.env.PARLEY_WS_URL;
const token = process.env.PARLEY_TOKEN;
const channelId = process.env.PARLEY_CHANNEL;
const dest = `/topic/channel.${channelId}`;
const result = { connected: null, receipt: null, message: null, subscribeReceipt: false };

const fail = (why) => {
  console.log(JSON.stringify({ ...result, error: String(why) }));
  process.exit(1);
};
const timer = setTimeout(() => fail('timeout'), 10000);

const client = new Client({
  webSocketFactory: () => new WebSocket(url, ['v12.stomp', 'v11.stomp', 'v10.stomp']),
  connectHeaders: { Authorization: `Bearer ${token}` },
  reconnectDelay: 0,
  heartbeatIncoming: 10000,
  heartbeatOutgoing: 10000,
  onStompError: (frame) => fail(`ERROR ${frame.headers.message}`),
  onWebSocketError: (ev) => fail(`websocket error ${ev.message || ev}`),
});

client.onConnect = (frame) => {
  result.connected = frame.headers;
  client.watchForReceipt('sub-receipt', () => {
    result.subscribeReceipt = true;
    client.watchForReceipt('send-receipt', (r) => {
      result.receipt = r.headers;
      maybeDone();
    });
    client.publish({
      destination: '/app/message.send',
      body: JSON.stringify({ channelId, content: 'hello from stompjs', clientMsgId: 'js-1' }),
      headers: { receipt: 'send-receipt', 'content-type': 'application/json' },
    });
  });
  client.subscribe(dest, (msg) => {
    result.message = { headers: msg.headers, body: JSON.parse(msg.body) };
    maybeDone();
  }, { receipt: 'sub-receipt' });
};

function maybeDone() {
  if (!result.receipt || !result.message) return;
  clearTimeout(timer);
  console.log(JSON.stringify(result));
  client.deactivate().then(() => process.exit(0));
}

client.activate();
