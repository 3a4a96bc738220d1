// A WebSocket proxy between the client and wsloop (ws package), which
// can drop, repeat or alter the server's messages, hold connections back
// and cut them: the faults a real network or a loaded server causes,
// made exact.

import { wsPackage } from "./websocket.js";

/**
 * A proxy on a loopback port. filter(data, isBinary) decides what the
 * client receives for each server message: an array of messages to send
 * instead ([] drops it); null passes it as is.
 */
export class Proxy {
  /** @param {string} upstream the server's host:port */
  constructor(upstream) {
    if (!wsPackage) throw new Error("the proxy needs the ws package: cd bench && npm ci");
    this.upstream = upstream;
    this.filter = null;
    this.pairs = new Set();
    this.connections = 0;
    /** @type {Function[] | null} connections waiting for release() */
    this.held = null;
  }

  /** @returns {Promise<Proxy>} once listening */
  listen() {
    const { WebSocketServer } = wsPackage;
    this.server = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (protocols) => [...protocols][0] ?? false });
    this.server.on("connection", (down, req) => this.#accept(down, req));
    return new Promise((resolve) => this.server.on("listening", () => resolve(this)));
  }

  /** @returns {string} the proxy's WebSocket URL */
  get url() {
    return `ws://127.0.0.1:${this.server.address().port}/`;
  }

  /** Holds new connections: their requests wait, unanswered, until release(). */
  hold() {
    this.held ??= [];
  }

  /** Connects the held connections to the server. */
  release() {
    const held = this.held ?? [];
    this.held = null;
    for (const connect of held) connect();
  }

  /** Cuts every connection abruptly (no close frame), as a network failure. */
  cut() {
    for (const { up, down } of this.pairs) {
      down.terminate();
      up?.terminate();
    }
    this.pairs.clear();
  }

  /** Closes the proxy and its connections. */
  close() {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  #accept(down, req) {
    const { WebSocket } = wsPackage;
    this.connections++;
    const pair = { up: null, down };
    this.pairs.add(pair);
    const queue = [];
    down.on("message", (d, b) => (pair.up?.readyState === WebSocket.OPEN ? pair.up.send(d, { binary: b }) : queue.push([d, b])));
    down.on("close", () => {
      this.pairs.delete(pair);
      pair.up?.close(1000);
    });
    down.on("error", () => pair.up?.terminate());
    const connect = () => {
      if (down.readyState !== WebSocket.OPEN) return;
      const up = new WebSocket(`ws://${this.upstream}${req.url}`, down.protocol ? [down.protocol] : []);
      pair.up = up;
      up.on("open", () => {
        for (const [d, b] of queue.splice(0)) up.send(d, { binary: b });
      });
      up.on("message", (d, b) => {
        for (const m of this.filter?.(d, b) ?? [d]) down.send(m, { binary: b });
      });
      up.on("close", (code, reason) => {
        this.pairs.delete(pair);
        if (down.readyState === WebSocket.OPEN) down.close(code >= 3000 || code === 1000 ? code : 1001, reason.toString());
        else down.terminate();
      });
      up.on("error", () => down.terminate());
    };
    if (this.held) this.held.push(connect);
    else connect();
  }
}
