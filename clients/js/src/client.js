// The Client: the public API of a connection to a wsloop server. It wires
// the modules that do the work: connection.js (the WebSocket and
// reconnection), requests.js (requests awaiting answers), dispatch.js
// (routing messages to subscriptions and requests) and refresh.js (when to
// refresh the token).

import { Backoff } from "./backoff.js";
import { Connection } from "./connection.js";
import { Dispatcher } from "./dispatch.js";
import { ServerError } from "./errors.js";
import { RefreshTimer } from "./refresh.js";
import { PendingRequests } from "./requests.js";
import { Subscription } from "./subscription.js";
import { fetchToken } from "./token.js";
import { SUBPROTOCOL_BINARY, SUBPROTOCOL_JSON } from "./wire.js";

/**
 * An event of a Client: "open" (detail {protocol}), "close" (detail
 * {code, reason}), "error" (detail {error}), "refreshed" (detail {exp}),
 * "unsubscribed" (detail {topic, reason}: the server ended a
 * subscription).
 */
export class ClientEvent extends Event {
  /**
   * @param {string} type
   * @param {Record<string, any>} detail
   */
  constructor(type, detail) {
    super(type);
    this.detail = detail;
  }
}

/**
 * A client of wsloop's topics protocol (pubsub/doc.go).
 *
 * It keeps one WebSocket open to url: after a drop it reconnects with
 * exponential backoff and jitter, and resubscribes every topic from the
 * last position it delivered ("recovery"). Within a subscription,
 * publications arrive in sequence order without duplicates; a gap is
 * healed by resubscribing from the last position. Events go to the
 * on* options and to EventTarget listeners.
 *
 * Options:
 *  - token: a JWT string, or a function returning one (or a Promise of
 *    one), sent as ?token= at each connection; a function is called again
 *    at each reconnection and before the token expires, to refresh it.
 *  - subprotocol: "wsloop.bin" (default; binary publications, Uint8Array
 *    data, Fossil deltas) or "wsloop.json" (parsed JSON data).
 *  - backoff: {initial, max, jitter} (ms, ms, 0..1; defaults 250, 30000,
 *    0.5).
 *  - refreshAhead: refresh a token this many ms before it expires (at
 *    most half its remaining life; default 30000).
 *  - WebSocket: the WebSocket constructor (default: the global one).
 *  - onOpen, onClose, onError, onRefreshed: callbacks with the event's
 *    detail.
 */
export class Client extends EventTarget {
  #opts;
  #conn;
  #dispatcher;
  #refresh = new RefreshTimer();
  /** @type {Map<string, Subscription>} */
  #subs = new Map();
  #pending = new PendingRequests();
  /** @type {{resolve: Function, reject: Function}[]} */
  #waiters = [];

  /**
   * @param {string} url ws:// or wss:// URL of a wsloop server in pubsub
   *   or feed mode
   * @param {object} [options] see the class
   */
  constructor(url, options = {}) {
    super();
    const subprotocol = options.subprotocol ?? SUBPROTOCOL_BINARY;
    if (subprotocol !== SUBPROTOCOL_BINARY && subprotocol !== SUBPROTOCOL_JSON) {
      throw new TypeError(`subprotocol must be "${SUBPROTOCOL_BINARY}" or "${SUBPROTOCOL_JSON}"`);
    }
    const WS = options.WebSocket ?? globalThis.WebSocket;
    if (typeof WS !== "function") {
      throw new TypeError("no WebSocket: pass options.WebSocket (e.g. the ws package's WebSocket) on Node < 22");
    }
    this.#opts = { ...options, subprotocol, refreshAhead: options.refreshAhead ?? 30000 };
    const backoff = new Backoff(options.backoff);
    this.#conn = new Connection(
      url,
      { subprotocol, WebSocket: WS, backoff, token: () => this.#opts.token },
      {
        open: (ws) => this.#onOpen(ws),
        message: (data) => this.#dispatcher.message(data),
        close: (code, reason) => this.#onClose(code, reason),
        error: (error) => this.#emit("error", { error }),
      },
    );
    this.#dispatcher = new Dispatcher(this.#subs, this.#pending, {
      emit: (type, detail) => this.#emit(type, detail),
      call: (fn, ...args) => this.#call(fn, ...args),
      heal: (sub, fresh) => this.#heal(sub, fresh),
    });
  }

  /** true while a connection is open. */
  get connected() {
    return this.#conn.connected;
  }

  /** The subprotocol of the open connection ("" when none). */
  get protocol() {
    return this.#conn.protocol;
  }

  /** The token of the current connection (after any refresh). */
  get token() {
    return this.#conn.token;
  }

  /**
   * Starts connecting (if not already) and keeps reconnecting until
   * close().
   * @returns {Promise<void>} resolved when a connection is open; rejected
   *   if close() is called first
   */
  connect() {
    if (this.#conn.closed) return Promise.reject(new ServerError("closed", "the client is closed"));
    if (this.connected) return Promise.resolve();
    const p = new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
    this.#conn.start();
    return p;
  }

  /**
   * Closes the connection (1000) and stops reconnecting; requests
   * awaiting an answer reject with code "closed". The client cannot be
   * connected again.
   */
  close() {
    if (this.#conn.closed) return;
    this.#refresh.cancel();
    const err = new ServerError("closed", "the client is closed");
    for (const w of this.#waiters.splice(0)) w.reject(err);
    this.#pending.failAll(err);
    for (const sub of this.#subs.values()) {
      sub.end();
      sub.rejectReady(err);
    }
    this.#subs.clear();
    this.#conn.close();
  }

  /**
   * Subscribes to topic (sent now if connected, else at the next
   * connection). Options: since ({epoch, seq}: recover from there),
   * snapshot (the current value of every key first), delta ("fossil":
   * keyed updates as Fossil deltas; needs "wsloop.bin" and snapshot),
   * conflate (latest value per key while behind: seq may skip), and the
   * callbacks onPublication(pub, sub), onSubscribed(event, sub),
   * onGap(last, got, sub), onUnsubscribed(reason, sub).
   * @param {string} topic
   * @param {object} [options]
   * @returns {Promise<Subscription>} resolved at the first "subscribed"
   *   answer; rejected with the server's ServerError (e.g. code
   *   "forbidden"), or "already_subscribed" when this client has topic
   */
  subscribe(topic, options = {}) {
    if (this.#conn.closed) return Promise.reject(new ServerError("closed", "the client is closed"));
    if (this.#subs.has(topic)) {
      return Promise.reject(new ServerError("already_subscribed", `already subscribed to ${topic}`));
    }
    const sub = new Subscription(this, topic, options);
    this.#subs.set(topic, sub);
    if (this.connected) this.#sendSubscribe(sub);
    return sub.ready;
  }

  /**
   * Ends the subscription to topic; nothing of it is delivered after this
   * call.
   * @param {string} topic
   * @returns {Promise<void>} resolved with the server's answer (at once
   *   when not connected); rejected with a ServerError
   */
  unsubscribe(topic) {
    const sub = this.#subs.get(topic);
    if (!sub) return Promise.reject(new ServerError("not_subscribed", `not subscribed to ${topic}`));
    this.#subs.delete(topic);
    sub.end();
    sub.rejectReady(new ServerError("unsubscribed", `unsubscribed from ${topic}`));
    if (!this.connected) return Promise.resolve();
    return this.#request({ op: "unsubscribe", topic }).then(() => undefined);
  }

  /**
   * Publishes data (any JSON value) on topic, with an optional key (the
   * topic keeps the latest value per key). Needs a server with
   * entitlements and a token whose "publish" claim allows topic.
   * @param {string} topic
   * @param {unknown} data
   * @param {{key?: string}} [options]
   * @returns {Promise<{topic: string, epoch: string, seq: number}>} the
   *   publication's position; rejected with a ServerError ("forbidden",
   *   "disconnected", ...)
   */
  publish(topic, data, { key } = {}) {
    return this.#request({ op: "publish", topic, key, data }).then((m) => ({ topic: m.topic, epoch: m.epoch, seq: m.seq }));
  }

  /**
   * Replaces the connection's token before it expires. Without token,
   * takes a new one from the token option's function. The client
   * refreshes by itself when the token option is a function.
   * @param {string} [token]
   * @returns {Promise<number>} the new expiry, Unix seconds; rejected with
   *   a ServerError ("unauthorized", "disconnected", ...)
   */
  async refresh(token) {
    const t = token ?? (await fetchToken(this.#opts.token));
    if (typeof t !== "string" || t === "") throw new ServerError("unauthorized", "no token to refresh with");
    const m = await this.#request({ op: "refresh", token: t });
    this.#conn.token = t;
    if (typeof this.#opts.token !== "function") this.#opts.token = t;
    this.#scheduleRefresh();
    this.#emit("refreshed", { exp: m.exp });
    return m.exp;
  }

  #emit(type, detail) {
    const cb = this.#opts["on" + type[0].toUpperCase() + type.slice(1)];
    if (typeof cb === "function") {
      try {
        cb(detail);
      } catch (error) {
        if (type !== "error") this.#emit("error", { error });
      }
    }
    this.dispatchEvent(new ClientEvent(type, detail));
  }

  /** Calls a user callback; its exception becomes an "error" event. */
  #call(fn, ...args) {
    if (typeof fn !== "function") return;
    try {
      fn(...args);
    } catch (error) {
      this.#emit("error", { error });
    }
  }

  #onOpen(ws) {
    this.#emit("open", { protocol: ws.protocol });
    for (const w of this.#waiters.splice(0)) w.resolve();
    for (const sub of this.#subs.values()) {
      if (this.#conn.socket !== ws) return;
      this.#sendSubscribe(sub);
    }
    this.#scheduleRefresh();
  }

  #onClose(code, reason) {
    this.#refresh.cancel();
    this.#pending.failAll(new ServerError("disconnected", `connection closed (${code})`));
    for (const sub of this.#subs.values()) sub.active = false;
    this.#emit("close", { code, reason });
  }

  /** Refreshes ahead of the token's expiry, when the token option is a function. */
  #scheduleRefresh() {
    this.#refresh.cancel();
    if (typeof this.#opts.token !== "function" || !this.connected) return;
    const ws = this.#conn.socket;
    this.#refresh.schedule(this.#conn.token, this.#opts.refreshAhead, () => {
      if (this.#conn.socket !== ws) return;
      this.refresh().catch((error) => this.#emit("error", { error }));
    });
  }

  /** Sends req with a new id; the promise settles with its answer. */
  #request(req) {
    if (!this.connected) return Promise.reject(new ServerError("disconnected", "not connected"));
    return new Promise((resolve, reject) => {
      const id = this.#pending.add({ resolve, reject });
      this.#conn.send({ ...req, id });
    });
  }

  #sendSubscribe(sub) {
    const id = this.#pending.add({ sub });
    this.#conn.send(sub.request(id));
  }

  /** Resubscribes after a gap or a failed delta: unsubscribe, then subscribe. */
  #heal(sub, fresh) {
    sub.fresh = sub.fresh || fresh;
    sub.active = false;
    if (!this.connected) return;
    this.#conn.send({ op: "unsubscribe", topic: sub.topic });
    this.#sendSubscribe(sub);
  }
}
