// Node ws client of wsloop's pubsub wire protocol.
//
// Usage: node pubsub_ws.js TOPIC ws://host:port/
//
// While the server publishes on TOPIC continuously, it subscribes, drops
// its connection, resubscribes with its last position and checks that the
// recovery fills the gap exactly; then it reads the binary form. Prints OK
// or exits non-zero with FAIL: ...
'use strict';
const WebSocket = require('ws');

const [topic, url] = process.argv.slice(2);
setTimeout(() => fail('timed out'), 60000).unref();

function fail(msg) {
  console.log('FAIL: ' + msg);
  process.exit(1);
}

// session opens a connection and resolves with a reader of its messages.
function session(proto) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, proto);
    const queue = [];
    const waiters = [];
    ws.on('message', (data, isBinary) => {
      const m = isBinary ? data : JSON.parse(data.toString());
      if (waiters.length) waiters.shift()(m); else queue.push(m);
    });
    ws.on('error', reject);
    ws.on('open', () => {
      if (ws.protocol !== proto) fail('subprotocol ' + ws.protocol);
      resolve({
        ws,
        next: () => queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)),
      });
    });
  });
}

async function readRun(s, epoch, last, n) {
  for (let k = 0; k < n; k++) {
    const m = await s.next();
    if (m.op !== 'msg' || m.epoch !== epoch || m.seq !== last + 1) fail(`after seq ${last} got ${JSON.stringify(m)}`);
    if (m.data.i !== m.seq) fail(`data ${JSON.stringify(m.data)} for seq ${m.seq}`);
    last = m.seq;
  }
  return last;
}

(async () => {
  let s = await session('wsloop.json');
  s.ws.send(JSON.stringify({op: 'subscribe', topic, id: 'a'}));
  let ans = await s.next();
  if (ans.op !== 'subscribed' || ans.id !== 'a') fail('subscribe answer ' + JSON.stringify(ans));
  const epoch = ans.epoch;
  let last = await readRun(s, epoch, ans.seq, 30);
  s.ws.terminate();
  await new Promise((r) => setTimeout(r, 300));
  s = await session('wsloop.json');
  s.ws.send(JSON.stringify({op: 'subscribe', topic, since: {epoch, seq: last}}));
  ans = await s.next();
  if (ans.recovery !== 'ok' || ans.seq !== last) fail('recovery answer ' + JSON.stringify(ans));
  await readRun(s, epoch, last, 400);
  s.ws.close();

  s = await session('wsloop.bin');
  s.ws.send(JSON.stringify({op: 'subscribe', topic}));
  ans = await s.next();
  last = ans.seq;
  for (let k = 0; k < 20; k++) {
    const b = await s.next();
    if (!Buffer.isBuffer(b) || b[0] !== 1) fail('binary publication expected');
    const tl = b[1];
    if (b.toString('utf8', 2, 2 + tl) !== topic) fail('topic');
    const ep = b.readBigUInt64BE(2 + tl).toString(16).padStart(16, '0');
    const seq = Number(b.readBigUInt64BE(10 + tl));
    if (ep !== epoch || seq !== last + 1) fail(`binary ${ep}/${seq} after ${last}`);
    const kl = b[18 + tl];
    if (JSON.parse(b.toString('utf8', 19 + tl + kl)).i !== seq) fail('binary data');
    last = seq;
  }
  s.ws.close();
  console.log('OK');
  process.exit(0);
})().catch((e) => fail(String(e)));
