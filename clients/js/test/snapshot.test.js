// Keyed state against a real wsloop: snapshots, deletes, events,
// "recovery":"snapshot", and Fossil deltas (with a corrupted one healed by
// a fresh snapshot).

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "../src/index.js";
import { Wsloop } from "../testkit/server.js";
import { Events, once } from "../testkit/events.js";
import { Proxy } from "../testkit/proxy.js";
import { WebSocketImpl } from "../testkit/websocket.js";

const FAST = { initial: 20, max: 200, jitter: 0.5 };
const HISTORY = 8;
const text = new TextDecoder();

const server = await new Wsloop(["-history", String(HISTORY)]).start();
after(async () => {
  await server.stop();
});

function recorder(events) {
  return {
    onPublication: (pub) => events.push({ type: "pub", ...pub }),
    onSubscribed: (ev) => events.push({ type: "subscribed", ...ev }),
    onGap: (last, got) => events.push({ type: "gap", last, got }),
  };
}

function asText(state) {
  return Object.fromEntries([...state].map(([k, v]) => [k, v instanceof Uint8Array ? text.decode(v) : v]));
}

test("snapshot, then updates, deletes and events (JSON)", async () => {
  const topic = "s.json";
  await server.publish(topic, "1", { key: "a" });
  await server.publish(topic, "2", { key: "b" });
  await server.publish(topic, "3", { key: "c" });
  await server.publish(topic, "4", { key: "a" });
  await server.publish(topic, "", { key: "b", kind: "delete" });
  const last = await server.publish(topic, '{"qty":1}', { key: "t", kind: "event" });
  const events = new Events();
  const client = new Client(server.url, { subprotocol: "wsloop.json", backoff: FAST, WebSocket: WebSocketImpl });
  try {
    await client.connect();
    const sub = await client.subscribe(topic, { snapshot: true, ...recorder(events) });
    const ev = events.items.find((e) => e.type === "subscribed");
    assert.equal(ev.snapshot, 2);
    assert.deepEqual(ev.position, { epoch: last.epoch, seq: last.seq });
    await events.next((e) => e.type === "pub" && e.kind === "snapshot" && e.key === "a");
    assert.deepEqual(
      events.items.filter((e) => e.type === "pub").map((e) => [e.kind, e.key, e.seq, e.data]),
      [
        ["snapshot", "c", 3, 3],
        ["snapshot", "a", 4, 4],
      ],
    );
    assert.deepEqual(asText(sub.state), { c: 3, a: 4 });
    assert.equal(sub.position.seq, last.seq, "snapshot entries do not move the position");
    await server.publish(topic, "5", { key: "d" });
    await server.publish(topic, "", { key: "a", kind: "delete" });
    const end = await server.publish(topic, '{"qty":2}', { key: "t", kind: "event" });
    const evt = await events.next((e) => e.type === "pub" && e.seq === end.seq);
    assert.equal(evt.kind, "event");
    assert.deepEqual(evt.data, { qty: 2 });
    assert.equal(events.items.find((e) => e.kind === "delete").key, "a");
    assert.deepEqual(asText(sub.state), { c: 3, d: 5 });
    assert.deepEqual(sub.position, { epoch: end.epoch, seq: end.seq });
  } finally {
    client.close();
  }
});

test("recovery past the history: \"snapshot\" replaces the state (binary)", async () => {
  const topic = "s.recover";
  const proxy = await new Proxy(server.addr).listen();
  const events = new Events();
  const client = new Client(proxy.url, { backoff: FAST, WebSocket: WebSocketImpl });
  try {
    await client.connect();
    const sub = await client.subscribe(topic, { snapshot: true, ...recorder(events) });
    await server.publish(topic, "x1", { key: "x" });
    const y = await server.publish(topic, "y1", { key: "y" });
    await events.next((e) => e.type === "pub" && e.seq === y.seq);
    const closed = once(client, "close");
    proxy.hold();
    proxy.cut();
    await closed;
    await server.publish(topic, "", { key: "x", kind: "delete" });
    for (let i = 0; i < HISTORY + 2; i++) await server.publish(topic, `z${i}`, { key: "z" });
    proxy.release();
    const ev = await events.next((e) => e.type === "subscribed" && e.resubscribed);
    assert.equal(ev.recovery, "snapshot");
    assert.equal(ev.snapshot, 2);
    await events.next((e) => e.type === "pub" && e.kind === "snapshot" && e.key === "z");
    assert.deepEqual(asText(sub.state), { y: "y1", z: `z${HISTORY + 1}` });
  } finally {
    client.close();
    await proxy.close();
  }
});

function payload(n) {
  const rows = [];
  for (let i = 0; i < 60; i++) rows.push({ sym: `S${i}`, px: 100 + i, n: i === 7 ? n : 0 });
  return JSON.stringify(rows);
}

test("Fossil deltas rebuild every value; a bad delta brings a fresh snapshot", async () => {
  const topic = "s.delta";
  const proxy = await new Proxy(server.addr).listen();
  const events = new Events();
  const client = new Client(proxy.url, { backoff: FAST, WebSocket: WebSocketImpl });
  try {
    await server.publish(topic, payload(0), { key: "k" });
    await client.connect();
    const sub = await client.subscribe(topic, { snapshot: true, delta: "fossil", ...recorder(events) });
    let last;
    for (let n = 1; n <= 3; n++) last = await server.publish(topic, payload(n), { key: "k" });
    await events.next((e) => e.type === "pub" && e.seq === last.seq);
    const pubs = events.items.filter((e) => e.type === "pub" && e.kind === "publication");
    assert.deepEqual(pubs.map((e) => text.decode(e.data)), [payload(1), payload(2), payload(3)]);
    assert.ok(pubs.every((e) => e.delta === true), "the updates came as deltas");
    assert.equal(text.decode(sub.state.get("k")), payload(3));

    let corrupted = 0;
    proxy.filter = (data, binary) => {
      if (!binary || data[0] !== 0x02 || corrupted > 0) return null;
      corrupted++;
      const bad = Buffer.from(data);
      bad[bad.length - 2] ^= 0x55;
      return [bad];
    };
    const from = events.items.length;
    const bad = await server.publish(topic, payload(4), { key: "k" });
    const ev = await events.next((e) => e.type === "subscribed" && e.resubscribed, { from });
    assert.equal(corrupted, 1);
    assert.equal(ev.snapshot, 1, "a fresh snapshot");
    assert.equal(ev.position.seq, bad.seq);
    await events.next((e) => e.type === "pub" && e.kind === "snapshot", { from });
    assert.equal(text.decode(sub.state.get("k")), payload(4));
    const next = await server.publish(topic, payload(5), { key: "k" });
    await events.next((e) => e.type === "pub" && e.seq === next.seq);
    assert.equal(text.decode(sub.state.get("k")), payload(5));
  } finally {
    client.close();
    await proxy.close();
  }
});

test("server restart with snapshot: \"recovery\":\"snapshot\" from the new epoch", async () => {
  const topic = "s.restart";
  const events = new Events();
  const client = new Client(server.url, { subprotocol: "wsloop.json", backoff: FAST, WebSocket: WebSocketImpl });
  try {
    await client.connect();
    const sub = await client.subscribe(topic, { snapshot: true, ...recorder(events) });
    const old = await server.publish(topic, "1", { key: "gone" });
    await events.next((e) => e.type === "pub" && e.seq === old.seq);
    assert.deepEqual(asText(sub.state), { gone: 1 });
    const closed = once(client, "close");
    await server.restart();
    await closed;
    const ev = await events.next((e) => e.type === "subscribed" && e.resubscribed);
    assert.equal(ev.recovery, "snapshot");
    assert.equal(ev.snapshot, 0);
    assert.notEqual(ev.position.epoch, old.epoch);
    assert.equal(sub.state.size, 0, "the new epoch's (empty) state replaced the old one");
    const p = await server.publish(topic, "2", { key: "new" });
    await events.next((e) => e.type === "pub" && e.epoch === p.epoch);
    assert.deepEqual(asText(sub.state), { new: 2 });
  } finally {
    client.close();
  }
});
