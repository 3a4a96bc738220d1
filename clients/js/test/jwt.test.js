// Tokens against a real wsloop with entitlements (-jwt-secret-file):
// the token in the query, forbidden topics, publishing, refresh before
// expiry, and reconnection with a new token after close 3000.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client, ServerError, decodeClaims, expiresAt } from "../src/index.js";
import { Wsloop, secretFile } from "../testkit/server.js";
import { Events, once } from "../testkit/events.js";
import { SECRET, mint, inSeconds } from "../testkit/jwt.js";
import { WebSocketImpl } from "../testkit/websocket.js";

const FAST = { initial: 20, max: 200, jitter: 0.5 };
let server;

before(async () => {
  server = await new Wsloop(["-jwt-secret-file", secretFile(SECRET), "-jwt-leeway", "0s"]).start();
});

after(async () => {
  await server.stop();
});

function alice(lifetime, extra = {}) {
  return mint({ sub: "alice", exp: inSeconds(lifetime), subscribe: ["md.*"], publish: ["orders.alice"], ...extra });
}

test("token claims decode without verification", () => {
  const t = alice(60);
  assert.equal(decodeClaims(t).sub, "alice");
  assert.equal(expiresAt(t), decodeClaims(t).exp * 1000);
  assert.equal(decodeClaims("not.a.jwt"), null);
  assert.equal(expiresAt("x"), null);
});

test("token in the query: subscribe within claims, forbidden outside, publish", async () => {
  const events = new Events();
  const client = new Client(server.url, { token: alice(60), subprotocol: "wsloop.json", backoff: FAST, WebSocket: WebSocketImpl });
  try {
    await client.connect();
    const sub = await client.subscribe("md.AAPL", { onPublication: events.recorder() });
    await assert.rejects(client.subscribe("news"), (err) => err instanceof ServerError && err.code === "forbidden");
    const p = await server.publish("md.AAPL", '{"px":7}', { key: "AAPL" });
    await events.next((e) => e.seq === p.seq);
    assert.deepEqual(sub.state.get("AAPL"), { px: 7 });
    const pub = await client.publish("orders.alice", { qty: 5 }, { key: "o1" });
    assert.equal(pub.topic, "orders.alice");
    assert.match(pub.epoch, /^[0-9a-f]{16}$/);
    assert.equal(pub.seq, 1);
    await assert.rejects(client.publish("md.AAPL", 1), { code: "forbidden" });
  } finally {
    client.close();
  }
});

test("a refused token: the client keeps retrying until closed", async () => {
  const client = new Client(server.url, { token: mint({ sub: "x", exp: inSeconds(60) }, "another-secret-another-secret-0123"), backoff: FAST, WebSocket: WebSocketImpl });
  const connecting = client.connect();
  await once(client, "close");
  await once(client, "close");
  client.close();
  await assert.rejects(connecting, { code: "closed" });
});

test("refresh before expiry keeps the connection", async () => {
  let calls = 0;
  const events = new Events();
  const client = new Client(server.url, {
    token: () => {
      calls++;
      return alice(3);
    },
    backoff: FAST,
    WebSocket: WebSocketImpl,
    onRefreshed: ({ exp }) => events.push({ type: "refreshed", exp, at: Date.now() }),
    onClose: (d) => events.push({ type: "close", ...d }),
  });
  try {
    await client.connect();
    const firstExp = expiresAt(client.token);
    await client.subscribe("md.REFRESH");
    const ev = await events.next((e) => e.type === "refreshed" && e.at > firstExp + 200, { what: "a refresh past the first expiry" });
    assert.ok(ev.exp * 1000 > firstExp);
    assert.ok(calls >= 2);
    assert.ok(!events.items.some((e) => e.type === "close"), "the connection stayed open");
    assert.ok(client.connected);
  } finally {
    client.close();
  }
});

test("expiry without a refresh: close 3000, reconnect with a new token, recovery", async () => {
  const tokens = [alice(2), mint({ sub: "mallory", exp: inSeconds(60), subscribe: ["md.*"] }), alice(60)];
  let calls = 0;
  const events = new Events();
  const client = new Client(server.url, {
    token: () => tokens[Math.min(calls++, tokens.length - 1)],
    subprotocol: "wsloop.json",
    backoff: FAST,
    WebSocket: WebSocketImpl,
    onClose: (d) => events.push({ type: "close", ...d }),
    onError: (d) => events.push({ type: "error", code: d.error.code }),
  });
  try {
    await client.connect();
    await client.subscribe("md.EXP", {
      onSubscribed: events.recorder((ev) => ({ type: "subscribed", ...ev })),
      onPublication: events.recorder((p) => ({ type: "pub", seq: p.seq })),
    });
    await server.publish("md.EXP", "1");
    await events.next((e) => e.type === "pub" && e.seq === 1);
    await events.next((e) => e.type === "error" && e.code === "unauthorized", { what: "the refused refresh" });
    const closed = await events.next((e) => e.type === "close", { what: "close 3000" });
    assert.equal(closed.code, 3000);
    const ev = await events.next((e) => e.type === "subscribed" && e.resubscribed);
    assert.equal(ev.recovery, "ok");
    assert.equal(client.token, tokens[2]);
    await server.publish("md.EXP", "2");
    await events.next((e) => e.type === "pub" && e.seq === 2);
  } finally {
    client.close();
  }
});

test("a refresh that narrows the claims ends subscriptions (reason forbidden)", async () => {
  const events = new Events();
  const client = new Client(server.url, { token: alice(60), backoff: FAST, WebSocket: WebSocketImpl });
  try {
    await client.connect();
    const sub = await client.subscribe("md.NARROW", { onUnsubscribed: events.recorder((reason) => ({ reason })) });
    const gone = once(client, "unsubscribed");
    const exp = await client.refresh(alice(60, { subscribe: ["md.OTHER"] }));
    assert.ok(exp > inSeconds(0));
    const e = await gone;
    assert.deepEqual(e.detail, { topic: "md.NARROW", reason: "forbidden" });
    assert.equal((await events.next(() => true)).reason, "forbidden");
    assert.equal(sub.closed, true);
    await assert.rejects(client.refresh(mint({ sub: "bob", exp: inSeconds(60) })), { code: "unauthorized" });
  } finally {
    client.close();
  }
});
