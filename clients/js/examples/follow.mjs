// Follow topics of a wsloop server with their keyed state: one JSON line
// per event on stdout, for a person or another program to read.
//
// Start the market feed, then run this from the repository root:
//
//   go run ./cmd/wsloop -mode feed &
//   node clients/js/examples/follow.mjs ws://127.0.0.1:8080/ md.all md.AAPL
//
// Options: --json (the wsloop.json subprotocol; default wsloop.bin),
// --delta (Fossil deltas; binary only), --seconds=N (stop after N seconds;
// default: at SIGTERM or Ctrl-C). Node < 22 has no global WebSocket: this
// then imports the ws package ("ws", or the module named by
// $WSLOOP_WS_MODULE, e.g. bench/node_modules/ws/wrapper.mjs after
// `cd bench && npm ci`).
//
// Lines (every one has "ev"; positions are "epoch" and "seq"):
//
//   {"ev":"subscribed","topic":…,"epoch":…,"seq":…,"recovery":"none"|"ok"|"snapshot"|"failed","resubscribed":…}
//   {"ev":"snapshot","topic":…,"epoch":…,"seq":…,"state":{…}}        a snapshot is complete
//   {"ev":"pub","topic":…,"epoch":…,"seq":…,"kind":…,"key":…,"delta":…,"state":{…}}  after each publication
//
// "state" is the subscription's keyed state (key -> value) at that
// position: values in base64 (wsloop.bin) or as JSON text (wsloop.json).
// A "subscribed" line carries it too when the state is complete then (no
// snapshot follows). Connection events come as "open", "close" and
// "error" lines.

import { Client } from "../src/index.js";

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith("--")));
const [url, ...topics] = args.filter((a) => !a.startsWith("--"));
const seconds = Number([...flags].find((f) => f.startsWith("--seconds="))?.slice(10) ?? Infinity);
if (!url || topics.length === 0) {
  console.error("usage: node follow.mjs [--json] [--delta] [--seconds=N] ws://HOST:PORT/ TOPIC...");
  process.exit(2);
}
const text = flags.has("--json");

const WebSocket = globalThis.WebSocket ?? (await import(process.env.WSLOOP_WS_MODULE || "ws")).WebSocket;

const emit = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const value = (v) => (text ? (typeof v === "string" ? v : JSON.stringify(v)) : Buffer.from(v).toString("base64"));
const state = (sub) => Object.fromEntries([...sub.state].map(([k, v]) => [k, value(v)]));

const client = new Client(url, {
  WebSocket,
  subprotocol: text ? "wsloop.json" : "wsloop.bin",
  onOpen: () => emit({ ev: "open" }),
  onClose: ({ code }) => emit({ ev: "close", code }),
  onError: ({ error }) => emit({ ev: "error", error: String(error?.message ?? error) }),
});

const snapshotLeft = new Map(); // topic -> snapshot entries still to come
const options = {
  snapshot: true,
  delta: flags.has("--delta") ? "fossil" : undefined,
  onSubscribed: (ev, sub) => {
    if (ev.error) return emit({ ev: "error", topic: ev.topic, error: `${ev.error.code}: ${ev.error.message}` });
    const line = { ev: "subscribed", topic: ev.topic, ...ev.position, recovery: ev.recovery, resubscribed: ev.resubscribed };
    snapshotLeft.set(ev.topic, ev.snapshot ?? 0);
    if (!ev.snapshot) line.state = state(sub);
    emit(line);
  },
  onPublication: (pub, sub) => {
    if (pub.kind !== "snapshot") {
      emit({ ev: "pub", topic: pub.topic, epoch: pub.epoch, seq: pub.seq, kind: pub.kind, key: pub.key, delta: !!pub.delta, state: state(sub) });
      return;
    }
    const left = snapshotLeft.get(sub.topic) - 1;
    snapshotLeft.set(sub.topic, left);
    if (left === 0) emit({ ev: "snapshot", topic: sub.topic, ...sub.position, state: state(sub) });
  },
  onGap: (last, got, sub) => emit({ ev: "gap", topic: sub.topic, last, got }),
};

let timer;
const stop = () => {
  clearTimeout(timer);
  client.close();
  process.stdout.write("", () => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
if (Number.isFinite(seconds)) timer = setTimeout(stop, seconds * 1000);

await client.connect();
for (const topic of topics) await client.subscribe(topic, options);
