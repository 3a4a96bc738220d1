// Interop check: permessage-deflate (RFC 7692) with the Node.js `ws` client
// (perMessageDeflate: true, its default offer) against a wsloop echo server.
//
// Usage: node compress_ws.js URL SPEC
//   SPEC: comma-separated KIND:SIZE messages, echoed in order; KIND is text
//   (compressible UTF-8), rtext (random ASCII), zeros or random (binary).
// Prints the negotiated extensions and OK on success; exits non-zero with an
// explanation otherwise.
'use strict';

const crypto = require('crypto');
const WebSocket = require('ws');

const [url, spec] = process.argv.slice(2);
if (!url || !spec) {
  console.log('usage: node compress_ws.js URL SPEC');
  process.exit(2);
}

function fail(msg) {
  console.log('FAIL: ' + msg);
  process.exit(1);
}

const timer = setTimeout(() => fail('timed out'), 100000);

const PATTERN = 'wsloop é€𝄞 '; // 11 characters, 17 bytes of UTF-8

// payload returns the message of the given kind with exactly n bytes.
function payload(kind, n) {
  switch (kind) {
    case 'text': {
      const b = Buffer.from(PATTERN.repeat(Math.floor(n / 11) + 1), 'utf8');
      let end = n;
      while (end > 0 && (b[end] & 0xc0) === 0x80) end--; // not inside a character
      return { data: Buffer.concat([b.subarray(0, end), Buffer.alloc(n - end, 'x')]), binary: false };
    }
    case 'rtext':
      return { data: Buffer.from(crypto.randomBytes(n).map((v) => 0x20 + (v % 95))), binary: false };
    case 'zeros':
      return { data: Buffer.alloc(n), binary: true };
    case 'random':
      return { data: crypto.randomBytes(n), binary: true };
  }
  fail('unknown message kind ' + kind);
}

const expected = spec.split(',').map((item) => {
  const [kind, size] = item.split(':');
  return payload(kind, Number(size));
});

const ws = new WebSocket(url, { maxPayload: 0, perMessageDeflate: true, handshakeTimeout: 10000 });
ws.on('error', (err) => fail('error: ' + err.message));

ws.on('open', () => {
  console.log('EXT ' + (ws.extensions || '-'));
  if (!ws.extensions.includes('permessage-deflate')) fail('permessage-deflate not negotiated');
  // Pipelined: the echoes must come back in order.
  for (const m of expected) ws.send(m.binary ? m.data : m.data.toString('utf8'), { binary: m.binary });
});

let closing = false;
ws.on('message', (data, isBinary) => {
  const want = expected.shift();
  if (!want) fail('unexpected message of ' + data.length + ' bytes');
  if (isBinary !== want.binary || !Buffer.from(data).equals(want.data)) {
    fail(`echo mismatch: got ${data.length} bytes binary=${isBinary}, want ${want.data.length} bytes binary=${want.binary}`);
  }
  if (expected.length === 0) {
    closing = true;
    ws.close(1000, 'done');
  }
});

ws.on('close', (code, reason) => {
  clearTimeout(timer);
  if (!closing) fail(`connection closed early with code ${code} ${reason}`);
  if (code !== 1000) fail(`server answered close code ${code}, want 1000`);
  console.log('OK');
  process.exit(0);
});
