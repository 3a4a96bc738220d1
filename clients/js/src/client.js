// The connection: WebSocket lifecycle, reconnection with backoff, tokens,
// requests and their answers, and routing publications to subscriptions.

import { Backoff } from "./backoff.js";
import { ServerError } from "./errors.js";
import { Subscription } from "./subscription.js";
import { expiresAt, fetchToken, refreshDelay } from "./token.js";
import {
  CLOSE_TOKEN_EXPIRED,
  SUBPROTOCOL_BINARY,
  SUBPROTOCOL_JSON,
  decodeBinary,
  decodeText,
  encodeRequest,
} from "./wire.js";

const OPEN = 1;

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
  #url;
  #opts;
  #WebSocket;
  #backoff;
  /** @type {WebSocket | null} */
  #ws = null;
  #connecting = false;
  #closed = false;
  #protocol = "";
  /** @type {Map<string, Subscription>} */
  #subs = new Map();
  /** @type {Map<number, {resolve?: Function, reject?: Function, sub?: Subscription}>} */
  #pending = new Map();
  #nextId = 0;
  /** @type {string | undefined} */
  #token;
  #refreshTimer;
  #reconnectTimer;
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
    this.#url = url;
    this.#opts = { ...options, subprotocol, refreshAhead: options.refreshAhead ?? 30000 };
    this.#WebSocket = WS;
    this.#backoff = new Backoff(options.backoff);
  }

  /** true while a connection is open. */
  get connected() {
    return this.#ws !== null && this.#ws.readyState === OPEN && !this.#connecting;
  }

  /** The subprotocol of the open connection ("" when none). */
  get protocol() {
    return this.#protocol;
  }

  /** The token of the current connection (after any refresh). */
  get token() {
    return this.#token;
  }

  /**
   * Starts connecting (if not already) and keeps reconnecting until
   * close().
   * @returns {Promise<void>} resolved when a connection is open; rejected
   *   if close() is called first
   */
  connect() {
    if (this.#closed) return Promise.reject(new ServerError("closed", "the client is closed"));
    if (this.connected) return Promise.resolve();
    const p = new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#ws === null && this.#reconnectTimer === undefined && !this.#connecting) this.#open();
    return p;
  }

  /**
   * Closes the connection (1000) and stops reconnecting; requests
   * awaiting an answer reject with code "closed". The client cannot be
   * connected again.
   */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#refreshTimer);
    this.#reconnectTimer = undefined;
    const err = new ServerError("closed", "the client is closed");
    for (const w of this.#waiters.splice(0)) w.reject(err);
    this.#failPending(err);
    for (const sub of this.#subs.values()) {
      sub.end();
      sub.rejectReady(err);
    }
    this.#subs.clear();
    const ws = this.#ws;
    this.#ws = null;
    if (ws) ws.close(1000);
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
    if (this.#closed) return Promise.reject(new ServerError("closed", "the client is closed"));
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
    this.#token = t;
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

  async #open() {
    if (this.#closed || this.#ws !== null) return;
    this.#reconnectTimer = undefined;
    this.#connecting = true;
    let token;
    try {
      token = await fetchToken(this.#opts.token);
    } catch (error) {
      this.#connecting = false;
      this.#emit("error", { error });
      this.#retry(false);
      return;
    }
    if (this.#closed) {
      this.#connecting = false;
      return;
    }
    let url = this.#url;
    if (token) {
      const u = new URL(url);
      u.searchParams.set("token", token);
      url = u.toString();
    }
    let ws;
    try {
      ws = new this.#WebSocket(url, [this.#opts.subprotocol]);
    } catch (error) {
      this.#connecting = false;
      this.#emit("error", { error });
      this.#retry(false);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.#ws = ws;
    this.#token = token;
    ws.addEventListener("open", () => this.#onOpen(ws));
    ws.addEventListener("message", (e) => this.#onMessage(ws, e.data));
    ws.addEventListener("close", (e) => this.#onClose(ws, e.code, e.reason));
    ws.addEventListener("error", () => this.#onError(ws));
  }

  #onError(ws) {
    if (this.#ws !== ws) return;
    const opening = this.#connecting;
    this.#emit("error", { error: new Error(opening ? "websocket: connection failed" : "websocket error") });
    if (opening && this.#ws === ws) {
      // Some implementations (Node 20's experimental WebSocket) report a
      // failed handshake with "error" alone, never "close".
      this.#onClose(ws, 1006, "");
      try {
        ws.close();
      } catch {
        // a socket still connecting may refuse close(); it is dropped anyway
      }
    }
  }

  #onOpen(ws) {
    if (this.#ws !== ws) return;
    this.#connecting = false;
    this.#backoff.reset();
    this.#protocol = ws.protocol;
    this.#emit("open", { protocol: ws.protocol });
    for (const w of this.#waiters.splice(0)) w.resolve();
    for (const sub of this.#subs.values()) {
      if (this.#ws !== ws) return;
      this.#sendSubscribe(sub);
    }
    this.#scheduleRefresh();
  }

  #onClose(ws, code, reason) {
    if (this.#ws !== ws) return;
    this.#ws = null;
    this.#connecting = false;
    clearTimeout(this.#refreshTimer);
    this.#failPending(new ServerError("disconnected", `connection closed (${code})`));
    for (const sub of this.#subs.values()) sub.active = false;
    this.#emit("close", { code, reason });
    this.#retry(code === CLOSE_TOKEN_EXPIRED);
  }

  /** Schedules the next connection attempt: at once after an expired token. */
  #retry(now) {
    if (this.#closed) return;
    const delay = now ? 0 : this.#backoff.next();
    this.#reconnectTimer = setTimeout(() => this.#open(), delay);
  }

  #scheduleRefresh() {
    clearTimeout(this.#refreshTimer);
    if (typeof this.#opts.token !== "function" || !this.connected) return;
    const exp = expiresAt(this.#token);
    if (exp === null) return;
    const ws = this.#ws;
    this.#refreshTimer = setTimeout(() => {
      if (this.#ws !== ws) return;
      this.refresh().catch((error) => this.#emit("error", { error }));
    }, refreshDelay(exp, Date.now(), this.#opts.refreshAhead));
  }

  /**
   * Forgets the requests awaiting answers, rejecting them with err;
   * subscriptions are sent again on the next connection.
   */
  #failPending(err) {
    for (const p of this.#pending.values()) p.reject?.(err);
    this.#pending.clear();
  }

  #send(req) {
    const ws = this.#ws;
    if (ws === null || ws.readyState !== OPEN) return false;
    ws.send(encodeRequest(req));
    return true;
  }

  /** Sends req with a new id; the promise settles with its answer. */
  #request(req) {
    if (!this.connected) return Promise.reject(new ServerError("disconnected", "not connected"));
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#send({ ...req, id });
    });
  }

  #sendSubscribe(sub) {
    const id = ++this.#nextId;
    this.#pending.set(id, { sub });
    this.#send(sub.request(id));
  }

  /** Resubscribes after a gap or a failed delta: unsubscribe, then subscribe. */
  #heal(sub, fresh) {
    sub.fresh = sub.fresh || fresh;
    sub.active = false;
    if (!this.connected) return;
    this.#send({ op: "unsubscribe", topic: sub.topic });
    this.#sendSubscribe(sub);
  }

  #onMessage(ws, data) {
    if (this.#ws !== ws) return;
    if (typeof data === "string") {
      const m = decodeText(data);
      if (m === null) {
        this.#emit("error", { error: new Error("unreadable message from the server") });
      } else if (m.op === "msg") {
        this.#publication({ kind: m.kind, topic: m.topic, epoch: m.epoch, seq: m.seq, key: m.key, data: m.data });
      } else {
        this.#answer(m);
      }
      return;
    }
    const pub = decodeBinary(data);
    if (pub === null) {
      this.#emit("error", { error: new Error("unreadable binary message from the server") });
      return;
    }
    this.#publication(pub);
  }

  #publication(pub) {
    const sub = this.#subs.get(pub.topic);
    if (!sub) return;
    const last = sub.position;
    switch (sub.accept(pub)) {
      case "deliver":
        this.#call(sub.options.onPublication, pub, sub);
        return;
      case "gap":
        this.#call(sub.options.onGap, last, { epoch: pub.epoch, seq: pub.seq }, sub);
        this.#heal(sub, false);
        return;
      case "resnapshot":
        this.#heal(sub, true);
        return;
    }
  }

  #answer(m) {
    const p = m.id !== undefined ? this.#pending.get(m.id) : undefined;
    if (p) this.#pending.delete(m.id);
    switch (m.op) {
      case "subscribed": {
        const sub = this.#subs.get(m.topic);
        if (!sub || !p?.sub || p.sub !== sub || sub.requestId !== m.id) return;
        const ev = sub.subscribed(m);
        sub.resolveReady(sub);
        this.#call(sub.options.onSubscribed, ev, sub);
        return;
      }
      case "unsubscribed":
        if (p) {
          p.resolve?.(m);
        } else if (m.reason) {
          const sub = this.#subs.get(m.topic);
          if (sub) {
            this.#subs.delete(m.topic);
            sub.end();
            this.#call(sub.options.onUnsubscribed, m.reason, sub);
          }
          this.#emit("unsubscribed", { topic: m.topic, reason: m.reason });
        }
        return;
      case "error": {
        const err = new ServerError(m.code, m.message ?? "");
        if (p?.sub) {
          const sub = p.sub;
          if (this.#subs.get(sub.topic) === sub) this.#subs.delete(sub.topic);
          sub.end();
          if (sub.answered) {
            this.#call(sub.options.onSubscribed, { topic: sub.topic, error: err, resubscribed: true }, sub);
            this.#emit("error", { error: err });
          } else {
            sub.rejectReady(err);
          }
        } else if (p) {
          p.reject(err);
        } else {
          this.#emit("error", { error: err });
        }
        return;
      }
      default:
        p?.resolve?.(m);
    }
  }
}
