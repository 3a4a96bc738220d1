// Routing the server's messages: publications to their subscriptions
// (which check their order and apply them), answers to the requests that
// await them.

import { ServerError } from "./errors.js";
import { decodeBinary, decodeText } from "./wire.js";

/**
 * Routes each message of the server. A publication goes to its topic's
 * subscription; a gap or a failed delta makes it call hooks.heal. An
 * answer settles the request it is for, or updates the subscription it is
 * about; the server ending a subscription removes it from subs.
 *
 * Hooks: emit(type, detail) a client event; call(fn, ...args) a user
 * callback; heal(sub, fresh) resubscribe sub (fresh: with a new snapshot).
 */
export class Dispatcher {
  #subs;
  #pending;
  #hooks;

  /**
   * @param {Map<string, import("./subscription.js").Subscription>} subs the client's subscriptions by topic
   * @param {import("./requests.js").PendingRequests} pending the client's requests awaiting answers
   * @param {{emit: (type: string, detail: Record<string, any>) => void, call: (fn: unknown, ...args: any[]) => void,
   *   heal: (sub: import("./subscription.js").Subscription, fresh: boolean) => void}} hooks
   */
  constructor(subs, pending, hooks) {
    this.#subs = subs;
    this.#pending = pending;
    this.#hooks = hooks;
  }

  /**
   * Handles one message: a string in "wsloop.json", an ArrayBuffer (a
   * publication) in "wsloop.bin"; an unreadable one is an "error" event.
   * @param {string | ArrayBuffer} data
   */
  message(data) {
    if (typeof data === "string") {
      const m = decodeText(data);
      if (m === null) {
        this.#hooks.emit("error", { error: new Error("unreadable message from the server") });
      } else if (m.op === "msg") {
        this.#publication({ kind: m.kind, topic: m.topic, epoch: m.epoch, seq: m.seq, key: m.key, data: m.data });
      } else {
        this.#answer(m);
      }
      return;
    }
    const pub = decodeBinary(data);
    if (pub === null) {
      this.#hooks.emit("error", { error: new Error("unreadable binary message from the server") });
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
        this.#hooks.call(sub.options.onPublication, pub, sub);
        return;
      case "gap":
        this.#hooks.call(sub.options.onGap, last, { epoch: pub.epoch, seq: pub.seq }, sub);
        this.#hooks.heal(sub, false);
        return;
      case "resnapshot":
        this.#hooks.heal(sub, true);
        return;
    }
  }

  #answer(m) {
    const p = this.#pending.take(m.id);
    switch (m.op) {
      case "subscribed": {
        const sub = this.#subs.get(m.topic);
        if (!sub || !p?.sub || p.sub !== sub || sub.requestId !== m.id) return;
        const ev = sub.subscribed(m);
        sub.resolveReady(sub);
        this.#hooks.call(sub.options.onSubscribed, ev, sub);
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
            this.#hooks.call(sub.options.onUnsubscribed, m.reason, sub);
          }
          this.#hooks.emit("unsubscribed", { topic: m.topic, reason: m.reason });
        }
        return;
      case "error": {
        const err = new ServerError(m.code, m.message ?? "");
        if (p?.sub) {
          const sub = p.sub;
          if (this.#subs.get(sub.topic) === sub) this.#subs.delete(sub.topic);
          sub.end();
          if (sub.answered) {
            this.#hooks.call(sub.options.onSubscribed, { topic: sub.topic, error: err, resubscribed: true }, sub);
            this.#hooks.emit("error", { error: err });
          } else {
            sub.rejectReady(err);
          }
        } else if (p) {
          p.reject(err);
        } else {
          this.#hooks.emit("error", { error: err });
        }
        return;
      }
      default:
        p?.resolve?.(m);
    }
  }
}
