// A WebSocket proxy between the client and wsloop (ws package), which
// can drop, repeat or alter the server's messages and cut connections:
// the faults a real network or a loaded server causes, made exact.

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
  }

  /** @returns {Promise<Proxy>} once listening */
  listen() {
    const { WebSocketServer, WebSocket } = wsPackage;
    this.server = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (protocols) => [...protocols][0] ?? false });
    this.server.on("connection", (down, req) => {
      this.connections++;
      const up = new WebSocket(`ws://${this.upstream}${req.url}`, down.protocol ? [down.protocol] : []);
      const pair = { up, down };
      this.pairs.add(pair);
      const queue = [];
      up.on("open", () => {
        for (const [d, b] of queue.splice(0)) up.send(d, { binary: b });
      });
      down.on("message", (d, b) => (up.readyState === WebSocket.OPEN ? up.send(d, { binary: b }) : queue.push([d, b])));
      up.on("message", (d, b) => {
        const out = this.filter?.(d, b) ?? [d];
        for (const m of out) down.send(m, { binary: b });
      });
      const end = (code, reason) => (ws) => {
        if (ws.readyState === WebSocket.OPEN) ws.close(code >= 3000 || code === 1000 ? code : 1001, reason);
        else ws.terminate();
      };
      up.on("close", (code, reason) => {
        this.pairs.delete(pair);
        end(code, reason.toString())(down);
      });
      down.on("close", () => {
        this.pairs.delete(pair);
        end(1000, "")(up);
      });
      up.on("error", () => down.terminate());
      down.on("error", () => up.terminate());
    });
    return new Promise((resolve) => this.server.on("listening", () => resolve(this)));
  }

  /** @returns {string} the proxy's WebSocket URL */
  get url() {
    return `ws://127.0.0.1:${this.server.address().port}/`;
  }

  /** Cuts every connection abruptly (no close frame), as a network failure. */
  cut() {
    for (const { up, down } of this.pairs) {
      down.terminate();
      up.terminate();
    }
    this.pairs.clear();
  }

  /** Closes the proxy and its connections. */
  close() {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
