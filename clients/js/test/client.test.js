// The client against a real wsloop -mode pubsub (no tokens): subscribe,
// unsubscribe, both wire forms, recovery after a dropped connection and
// after a server restart, gap healing and duplicates (through a proxy).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client, ServerError } from "../src/index.js";
import { Wsloop } from "../testkit/server.js";
import { Events, once } from "../testkit/events.js";
import { Proxy } from "../testkit/proxy.js";
import { WebSocketImpl } from "../testkit/websocket.js";

const FAST = { initial: 20, max: 200, jitter: 0.5 };
const text = new TextDecoder();
let server;

before(async () => {
  server = await new Wsloop().start();
});

after(async () => {
  await server.stop();
});

/** A client whose publications and answers go to an Events log. */
function subscriber(url, subprotocol) {
  const client = new Client(url, { subprotocol, backoff: FAST, WebSocket: WebSocketImpl });
  const events = new Events();
  const opts = {
    onPublication: (pub) => events.push({ type: "pub", ...pub }),
    onSubscribed: (ev) => events.push({ type: "subscribed", ...ev }),
    onGap: (last, got) => events.push({ type: "gap", last, got }),
  };
  return { client, events, opts };
}

function seqOf(subprotocol) {
  return (e) => (e.type === "pub" ? (subprotocol === "wsloop.bin" ? text.decode(e.data) : String(e.data)) : null);
}

for (const subprotocol of ["wsloop.bin", "wsloop.json"]) {
  test(`subscribe, publications in order, unsubscribe (${subprotocol})`, async () => {
    const topic = `t.basic.${subprotocol.slice(7)}`;
    const { client, events, opts } = subscriber(server.url, subprotocol);
    try {
      await client.connect();
      assert.equal(client.protocol, subprotocol);
      const sub = await client.subscribe(topic, opts);
      assert.equal(sub.position.seq, 0);
      assert.match(sub.position.epoch, /^[0-9a-f]{16}$/);
      const p1 = await server.publish(topic, '{"px":1}', { key: "AAPL" });
      await server.publish(topic, "plain text");
      const last = await events.next((e) => e.type === "pub" && e.seq === 2, { what: "seq 2" });
      const first = events.items.find((e) => e.type === "pub" && e.seq === 1);
      assert.equal(first.epoch, p1.epoch);
      assert.equal(first.key, "AAPL");
      assert.equal(last.key, "");
      if (subprotocol === "wsloop.bin") {
        assert.equal(text.decode(first.data), '{"px":1}');
        assert.equal(text.decode(sub.state.get("AAPL")), '{"px":1}');
        assert.equal(text.decode(last.data), "plain text");
      } else {
        assert.deepEqual(first.data, { px: 1 });
        assert.deepEqual(sub.state.get("AAPL"), { px: 1 });
        assert.equal(last.data, "plain text");
      }
      assert.equal(sub.state.size, 1, "a publication without key is not state");
      assert.deepEqual(sub.position, { epoch: p1.epoch, seq: 2 });
      await assert.rejects(client.subscribe(topic, opts), { code: "already_subscribed" });
      await sub.unsubscribe();
      assert.equal(sub.closed, true);
      await server.publish(topic, "after");
      const sub2 = await client.subscribe(topic, opts);
      assert.equal(sub2.position.seq, 3, "resubscribed at the current position");
      assert.ok(!events.items.some((e) => e.type === "pub" && e.seq === 3), "nothing delivered after unsubscribe");
    } finally {
      client.close();
    }
  });
}

test("bad topic rejects with the server's code", async () => {
  const client = new Client(server.url, { WebSocket: WebSocketImpl });
  try {
    await client.connect();
    await assert.rejects(client.subscribe("bad topic"), (err) => err instanceof ServerError && err.code === "bad_topic");
    await assert.rejects(client.publish("t.x", 1), (err) => err instanceof ServerError);
  } finally {
    client.close();
  }
});

test("recovery ok after the connection drops while publishing continues", async () => {
  const proxy = await new Proxy(server.addr).listen();
  const topic = "t.recover";
  const { client, events, opts } = subscriber(proxy.url, "wsloop.bin");
  try {
    await client.connect();
    await client.subscribe(topic, opts);
    for (let i = 1; i <= 3; i++) await server.publish(topic, String(i));
    await events.next((e) => e.type === "pub" && e.seq === 3);
    const closed = once(client, "close");
    proxy.cut();
    await closed;
    for (let i = 4; i <= 8; i++) await server.publish(topic, String(i));
    const ev = await events.next((e) => e.type === "subscribed" && e.resubscribed, { what: "resubscription" });
    assert.equal(ev.recovery, "ok");
    assert.equal(ev.position.seq, 3);
    await events.next((e) => e.type === "pub" && e.seq === 8);
    for (let i = 9; i <= 10; i++) await server.publish(topic, String(i));
    await events.next((e) => e.type === "pub" && e.seq === 10);
    const got = events.items.map(seqOf("wsloop.bin")).filter((x) => x !== null);
    assert.deepEqual(got, ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
    assert.ok(proxy.connections >= 2);
  } finally {
    client.close();
    await proxy.close();
  }
});

test("gaps are healed and duplicates dropped", async () => {
  const proxy = await new Proxy(server.addr).listen();
  const topic = "t.gap";
  const { client, events, opts } = subscriber(proxy.url, "wsloop.json");
  try {
    await client.connect();
    await client.subscribe(topic, opts);
    // The server's message 2 is lost once and message 4 comes twice.
    let dropped = false;
    proxy.filter = (data, binary) => {
      const m = binary ? null : JSON.parse(data.toString());
      if (m?.op === "msg" && m.seq === 2 && !dropped) {
        dropped = true;
        return [];
      }
      if (m?.op === "msg" && m.seq === 4) return [data, data];
      return null;
    };
    for (let i = 1; i <= 5; i++) await server.publish(topic, String(i));
    const gap = await events.next((e) => e.type === "gap");
    assert.equal(gap.last.seq, 1);
    assert.ok(gap.got.seq > 2);
    const healed = await events.next((e) => e.type === "subscribed" && e.resubscribed);
    assert.equal(healed.recovery, "ok");
    await events.next((e) => e.type === "pub" && e.seq === 5);
    await server.publish(topic, "6");
    await events.next((e) => e.type === "pub" && e.seq === 6);
    const got = events.items.filter((e) => e.type === "pub").map((e) => e.seq);
    assert.deepEqual(got, [1, 2, 3, 4, 5, 6]);
  } finally {
    client.close();
    await proxy.close();
  }
});

test("conflated streams accept skips but never go backwards", async () => {
  const proxy = await new Proxy(server.addr).listen();
  const topic = "t.conflate";
  const { client, events, opts } = subscriber(proxy.url, "wsloop.json");
  try {
    await client.connect();
    await client.subscribe(topic, { ...opts, conflate: true });
    proxy.filter = (data, binary) => {
      const m = binary ? null : JSON.parse(data.toString());
      if (m?.op === "msg" && m.seq === 2) return [];
      if (m?.op === "msg" && m.seq === 4) return [data, Buffer.from(JSON.stringify({ ...m, seq: 3 }))];
      return null;
    };
    for (let i = 1; i <= 5; i++) await server.publish(topic, String(i), { key: "k" });
    await events.next((e) => e.type === "pub" && e.seq === 5);
    const got = events.items.filter((e) => e.type === "pub").map((e) => e.seq);
    assert.deepEqual(got, [1, 3, 4, 5]);
    assert.ok(!events.items.some((e) => e.type === "gap"));
  } finally {
    client.close();
    await proxy.close();
  }
});

test("server restart: reconnect, recovery failed in the new epoch", async () => {
  const { client, events, opts } = subscriber(server.url, "wsloop.bin");
  const topic = "t.restart";
  try {
    await client.connect();
    const sub = await client.subscribe(topic, opts);
    await server.publish(topic, "a", { key: "k" });
    const before = await events.next((e) => e.type === "pub" && e.seq === 1);
    const closed = once(client, "close");
    await server.restart();
    await closed;
    const ev = await events.next((e) => e.type === "subscribed" && e.resubscribed, { what: "resubscription" });
    assert.equal(ev.recovery, "failed");
    assert.notEqual(ev.position.epoch, before.epoch);
    const p = await server.publish(topic, "b", { key: "k" });
    const after = await events.next((e) => e.type === "pub" && e.epoch === p.epoch);
    assert.equal(after.seq, p.seq);
    assert.deepEqual(sub.position, { epoch: p.epoch, seq: p.seq });
    assert.equal(text.decode(sub.state.get("k")), "b");
    assert.ok(!events.items.some((e) => e.type === "gap"), "a new epoch after recovery failed is no gap");
  } finally {
    client.close();
  }
});
