// The WebSocket itself: opening it with the current token, and opening
// another with backoff after it drops, until closed.

import { fetchToken } from "./token.js";
import { CLOSE_TOKEN_EXPIRED, encodeRequest } from "./wire.js";

const OPEN = 1;

/**
 * Keeps one WebSocket to a wsloop server: opens it with a token taken from
 * the token option at each attempt, reports what happens to it to the
 * hooks, and after a drop or a failed attempt opens another after a
 * backoff delay (at once after close 3000, token expired), until close().
 * Events of sockets other than the current one are ignored.
 *
 * Hooks: open(ws) once the socket is open; message(data) for each
 * message; close(code, reason) when the current socket ended, before the
 * next attempt is scheduled; error(error) for a failed attempt or a socket
 * error.
 */
export class Connection {
  #url;
  #subprotocol;
  #WebSocket;
  #backoff;
  #tokenOption;
  #hooks;
  /** @type {WebSocket | null} */
  #ws = null;
  #connecting = false;
  #closed = false;
  #protocol = "";
  /** @type {string | undefined} */
  #token;
  #reconnectTimer;

  /**
   * @param {string} url ws:// or wss:// URL
   * @param {{subprotocol: string, WebSocket: Function, backoff: import("./backoff.js").Backoff,
   *   token: () => (string | (() => string | Promise<string>) | undefined)}} options token returns
   *   the client's current token option
   * @param {{open: (ws: WebSocket) => void, message: (data: any) => void,
   *   close: (code: number, reason: string) => void, error: (error: unknown) => void}} hooks
   */
  constructor(url, options, hooks) {
    this.#url = url;
    this.#subprotocol = options.subprotocol;
    this.#WebSocket = options.WebSocket;
    this.#backoff = options.backoff;
    this.#tokenOption = options.token;
    this.#hooks = hooks;
  }

  /** true while the current socket is open. */
  get connected() {
    return this.#ws !== null && this.#ws.readyState === OPEN && !this.#connecting;
  }

  /** true after close(). */
  get closed() {
    return this.#closed;
  }

  /** @returns {WebSocket | null} the current socket, open or opening */
  get socket() {
    return this.#ws;
  }

  /** The subprotocol of the last socket that opened ("" before any). */
  get protocol() {
    return this.#protocol;
  }

  /** The token of the current socket (or the one a refresh replaced it with). */
  get token() {
    return this.#token;
  }

  set token(token) {
    this.#token = token;
  }

  /** Opens a socket unless one is open, opening, or scheduled. */
  start() {
    if (this.#ws === null && this.#reconnectTimer === undefined && !this.#connecting) this.#open();
  }

  /** Closes the socket (1000) and stops reconnecting, for good. */
  close() {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const ws = this.#ws;
    this.#ws = null;
    if (ws) ws.close(1000);
  }

  /**
   * Sends a request on the open socket.
   * @param {Record<string, unknown>} req
   * @returns {boolean} false when no socket is open (nothing sent)
   */
  send(req) {
    const ws = this.#ws;
    if (ws === null || ws.readyState !== OPEN) return false;
    ws.send(encodeRequest(req));
    return true;
  }

  async #open() {
    if (this.#closed || this.#ws !== null) return;
    this.#reconnectTimer = undefined;
    this.#connecting = true;
    let token;
    try {
      token = await fetchToken(this.#tokenOption());
    } catch (error) {
      this.#connecting = false;
      this.#hooks.error(error);
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
      ws = new this.#WebSocket(url, [this.#subprotocol]);
    } catch (error) {
      this.#connecting = false;
      this.#hooks.error(error);
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
    this.#hooks.error(new Error(opening ? "websocket: connection failed" : "websocket error"));
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
    this.#hooks.open(ws);
  }

  #onMessage(ws, data) {
    if (this.#ws !== ws) return;
    this.#hooks.message(data);
  }

  #onClose(ws, code, reason) {
    if (this.#ws !== ws) return;
    this.#ws = null;
    this.#connecting = false;
    this.#hooks.close(code, reason);
    this.#retry(code === CLOSE_TOKEN_EXPIRED);
  }

  /** Schedules the next connection attempt: at once after an expired token. */
  #retry(now) {
    if (this.#closed) return;
    const delay = now ? 0 : this.#backoff.next();
    this.#reconnectTimer = setTimeout(() => this.#open(), delay);
  }
}
