// wsloop live feed: an ES module that subscribes to md.all with the
// JavaScript client (clients/js, served under /wsloop-client/) and keeps a
// ticker table updated in place.
//
// It subscribes over wsloop.bin with a snapshot, which fills the table at
// once, and Fossil deltas; a broker that keeps no keyed state (a custom
// pubsub.Broker) refuses snapshots ("unavailable"), and the page then
// subscribes without them. The client delivers publications in sequence order, reports a gap
// (the gap counter) and heals it, and after a disconnect reconnects with
// backoff and resubscribes from its last position: the server replays what
// was missed ("ok"), or, when that is no longer in the topic's history or
// the epoch changed, sends a fresh snapshot ("snapshot"; "failed" without
// snapshots, when rows stay stale until the live stream refreshes them).
import { Client } from "/wsloop-client/index.js";

const TOPIC = "md.all";
const el = (id) => document.getElementById(id);
const utf8 = new TextDecoder();
const rows = new Map(); // symbol -> {tr, px, chg, at, last}
let count = 0, gaps = 0, reconnects = 0, opened = false;
let withSnapshot = true; // false once the server refused a snapshot
let subscribed = false; // a subscription is in place or requested
let snapshotLeft = 0; // snapshot entries still to come

function setState(s) {
  const e = el("state");
  e.textContent = s;
  e.dataset.state = s;
}

function showCounters(sub) {
  el("count").textContent = count;
  el("gaps").textContent = gaps;
  el("gaps").toggleAttribute("data-bad", gaps > 0);
  el("reconnects").textContent = reconnects;
  const pos = sub?.position;
  if (pos) el("position").textContent = pos.epoch.slice(0, 8) + "…/" + pos.seq;
}

// setRecovery shows a (re)subscription's outcome; result is the answer's
// "recovery" ("none", "ok", "failed", "snapshot") or "error".
function setRecovery(result, text) {
  const e = el("recovery");
  e.dataset.result = result;
  e.textContent = text;
}

const client = new Client((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/", {
  subprotocol: "wsloop.bin",
  backoff: { initial: 250, max: 5000, jitter: 0.5 },
  onOpen() {
    if (opened) reconnects++;
    opened = true;
    setState("open");
    showCounters();
  },
  onClose() {
    setState("reconnecting");
  },
});

// subscribe subscribes to TOPIC: sent now when connected, else at the next
// connection, after which the client resubscribes by itself.
function subscribe() {
  subscribed = true;
  const options = { onSubscribed, onPublication, onGap, onUnsubscribed: (reason) => ended("unsubscribed: " + reason) };
  if (withSnapshot) Object.assign(options, { snapshot: true, delta: "fossil" });
  client.subscribe(TOPIC, options).catch(refused);
}

// refused takes the server's refusal of a (re)subscription: without a
// snapshot at once when that was the reason, else at the next connection.
function refused(err) {
  if (err.code === "closed") return;
  if (withSnapshot && err.code === "unavailable") {
    withSnapshot = false;
    subscribe();
    return;
  }
  ended(err.code + ": " + err.message);
}

// ended shows why the subscription ended and subscribes again once the
// next connection is open (after the client's own resubscriptions).
function ended(why) {
  subscribed = false;
  setRecovery("error", why);
  client.addEventListener("open", () => queueMicrotask(() => subscribed || subscribe()), { once: true });
}

function onSubscribed(ev, sub) {
  if (ev.error) {
    refused(ev.error);
    return;
  }
  const n = ev.snapshot;
  switch (ev.recovery) {
    case "ok":
      setRecovery("ok", "recovered from seq " + ev.position.seq);
      break;
    case "snapshot":
      setRecovery("snapshot", `recovery failed → snapshot of ${n} symbols`);
      break;
    case "failed":
      setRecovery("failed", "recovery failed → rows stale until updated");
      break;
    default:
      setRecovery("none", n === undefined ? "fresh subscription" : `snapshot of ${n} symbols`);
  }
  if (n !== undefined || ev.recovery === "failed") {
    // The table's values are from before: stale until the snapshot (or,
    // without one, the live stream) refreshes them.
    for (const r of rows.values()) r.tr.classList.add("stale");
  }
  snapshotLeft = n ?? 0;
  if (n === 0) prune();
  showCounters(sub);
}

function onPublication(pub, sub) {
  count++;
  if (pub.kind === "delete") {
    removeRow(pub.key);
  } else if (pub.kind !== "event") {
    let d;
    try {
      d = JSON.parse(utf8.decode(pub.data));
    } catch {
      d = null;
    }
    if (d && typeof d.sym === "string" && typeof d.px === "number") update(d);
  }
  if (pub.kind === "snapshot" && --snapshotLeft === 0) prune();
  showCounters(sub);
}

function onGap(last, got, sub) {
  gaps++;
  showCounters(sub);
}

// prune removes the rows a complete snapshot did not refresh: symbols no
// longer in the topic's state.
function prune() {
  for (const [sym, r] of rows) {
    if (r.tr.classList.contains("stale")) removeRow(sym);
  }
}

function update(d) {
  let r = rows.get(d.sym);
  if (!r) r = addRow(d.sym);
  const prev = r.last;
  r.last = d.px;
  r.px.textContent = d.px.toFixed(2);
  const chg = Number(d.chg) || 0;
  r.chg.textContent = (chg > 0 ? "+" : "") + chg.toFixed(2);
  r.chg.classList.toggle("pos", chg > 0);
  r.chg.classList.toggle("neg", chg < 0);
  r.at.textContent = new Date(d.ts).toLocaleTimeString();
  r.tr.classList.remove("up", "down", "stale");
  if (prev !== undefined && prev !== d.px) {
    void r.tr.offsetWidth; // restart the flash animation
    r.tr.classList.add(d.px > prev ? "up" : "down");
  }
}

function addRow(sym) {
  const tr = document.createElement("tr");
  tr.dataset.sym = sym;
  const cell = (cls) => {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  };
  cell("sym").textContent = sym;
  const r = { tr, px: cell("px"), chg: cell("chg"), at: cell("at"), last: undefined };
  const body = el("rows");
  let before = null;
  for (const other of body.children) {
    if (other.dataset.sym > sym) {
      before = other;
      break;
    }
  }
  body.insertBefore(tr, before);
  rows.set(sym, r);
  return r;
}

function removeRow(sym) {
  const r = rows.get(sym);
  if (!r) return;
  r.tr.remove();
  rows.delete(sym);
}

subscribe();
client.connect();
