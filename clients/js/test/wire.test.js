// The wire forms, backoff and token timing, without a server.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Backoff, KIND, decodeBinary, decodeText, encodeRequest, epochString } from "../src/index.js";
import { refreshDelay } from "../src/token.js";

function binary(kind, topic, epoch, seq, key, data) {
  const t = Buffer.from(topic);
  const k = Buffer.from(key);
  const head = Buffer.alloc(2 + t.length + 17 + k.length);
  head[0] = kind;
  head[1] = t.length;
  t.copy(head, 2);
  head.writeBigUInt64BE(epoch, 2 + t.length);
  head.writeBigUInt64BE(seq, 10 + t.length);
  head[18 + t.length] = k.length;
  k.copy(head, 19 + t.length);
  const all = Buffer.concat([head, Buffer.from(data)]);
  return all.buffer.slice(all.byteOffset, all.byteOffset + all.length);
}

test("binary publications: every kind, a uint64 epoch kept exact", () => {
  for (const [name, kind] of Object.entries(KIND)) {
    const m = decodeBinary(binary(kind, "md.AAPL", 0xfedcba9876543210n, 42n, "AAPL", "xyz"));
    assert.deepEqual({ ...m, data: Buffer.from(m.data).toString() }, {
      kind: name,
      topic: "md.AAPL",
      epoch: "fedcba9876543210",
      seq: 42,
      key: "AAPL",
      data: "xyz",
    });
  }
  assert.equal(decodeBinary(binary(1, "t", 1n, 1n, "", "")).epoch, "0000000000000001");
  assert.equal(decodeBinary(binary(9, "t", 1n, 1n, "", "")), null, "unknown kind");
  assert.equal(decodeBinary(binary(1, "topic", 1n, 1n, "key", "").slice(0, 20)), null, "cut short");
  assert.equal(decodeBinary(new ArrayBuffer(1)), null);
});

test("JSON messages and requests", () => {
  assert.deepEqual(decodeText('{"op":"msg","topic":"t","epoch":"00000000000000ff","seq":1,"data":1}'), {
    op: "msg",
    topic: "t",
    epoch: "00000000000000ff",
    seq: 1,
    data: 1,
    kind: "publication",
    key: "",
  });
  assert.equal(decodeText('{"op":"msg","kind":"delete","key":"k"}').kind, "delete");
  assert.equal(decodeText("[1]"), null);
  assert.equal(decodeText("nope"), null);
  assert.equal(
    encodeRequest({ op: "subscribe", topic: "t", id: 1, since: undefined, snapshot: false, delta: undefined, conflate: true }),
    '{"op":"subscribe","topic":"t","id":1,"conflate":true}',
  );
  assert.equal(epochString(0xffffffffffffffffn), "ffffffffffffffff");
});

test("backoff doubles up to max, with jitter below the base", () => {
  const b = new Backoff({ initial: 100, max: 1000, jitter: 0 });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => b.next()), [100, 200, 400, 800, 1000, 1000]);
  b.reset();
  assert.equal(b.next(), 100);
  const j = new Backoff({ initial: 100, max: 100, jitter: 1 });
  for (let i = 0; i < 100; i++) {
    const d = j.next();
    assert.ok(d >= 0 && d <= 100);
  }
  assert.throws(() => new Backoff({ initial: 0 }), RangeError);
});

test("token refresh timing", () => {
  assert.equal(refreshDelay(100000, 0, 30000), 70000);
  assert.equal(refreshDelay(3000, 0, 30000), 1500, "at most half the time left ahead");
  assert.equal(refreshDelay(0, 1000, 30000), 0);
});
