// Interop check: the Node.js `ws` client against a wsloop echo server.
//
// Usage: node ws_client.js ws://127.0.0.1:PORT/
// Prints OK on success; exits non-zero with an explanation otherwise.
'use strict';

const crypto = require('crypto');
const WebSocket = require('ws');

const url = process.argv[2];
if (!url) {
  console.log('usage: node ws_client.js ws://host:port/');
  process.exit(2);
}

function fail(msg) {
  console.log('FAIL: ' + msg);
  process.exit(1);
}

const timer = setTimeout(() => fail('timed out'), 60000);

function text(n) {
  return 'é'.repeat(Math.floor(n / 2)) + 'x'.repeat(n % 2);
}

const sizes = [0, 1, 125, 126, 65535, 65536, 1 << 20];
const expected = [];
for (const n of sizes) {
  expected.push({ data: Buffer.from(text(n), 'utf8'), binary: false });
  expected.push({ data: crypto.randomBytes(n), binary: true });
}

const ws = new WebSocket(url, { maxPayload: 0, perMessageDeflate: false, handshakeTimeout: 10000 });
ws.on('error', (err) => fail('error: ' + err.message));

ws.on('open', () => {
  // Pipeline all messages; they must come back in order.
  for (const m of expected) {
    ws.send(m.binary ? m.data : m.data.toString('utf8'), { binary: m.binary });
  }
});

let state = 'echo';
ws.on('message', (data, isBinary) => {
  if (state !== 'echo') fail('unexpected message in state ' + state);
  const want = expected.shift();
  if (isBinary !== want.binary || !Buffer.from(data).equals(want.data)) {
    fail(`echo mismatch: got ${data.length} bytes binary=${isBinary}, want ${want.data.length} bytes binary=${want.binary}`);
  }
  if (expected.length === 0) {
    state = 'ping';
    ws.ping(Buffer.from('node-ping'));
  }
});

ws.on('pong', (data) => {
  if (state !== 'ping') fail('unexpected pong');
  if (!data.equals(Buffer.from('node-ping'))) fail('pong payload ' + JSON.stringify(data.toString()));
  state = 'close';
  ws.close(4000, 'bye');
});

ws.on('close', (code, reason) => {
  clearTimeout(timer);
  if (state !== 'close') fail(`connection closed in state ${state} with code ${code} ${reason}`);
  if (code !== 4000) fail(`server answered close code ${code}, want 4000`);
  console.log('OK');
  process.exit(0);
});
