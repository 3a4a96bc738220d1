// One topic's subscription: its position in the topic's stream, the
// keyed state built from snapshots and publications, gap detection and
// Fossil delta application. The Client does the I/O.

import { applyDelta } from "./fossil.js";

/**
 * What Subscription.accept decided about a publication.
 * @typedef {"deliver" | "drop" | "gap" | "resnapshot"} Verdict
 */

/**
 * A subscription to one topic, as Client.subscribe returns it.
 *
 * state maps each live key to its latest value: snapshot entries, then
 * every keyed publication (kind "publication"), less deleted keys; events
 * and publications without a key are not state. Values are Uint8Arrays in
 * "wsloop.bin" and the parsed JSON "data" in "wsloop.json".
 *
 * position is the position of the last publication delivered (or of the
 * last "subscribed" answer): {epoch, seq}, epoch a 16-hex-digit string, seq
 * a Number. null before the first answer unless options.since was given.
 */
export class Subscription {
  /**
   * @param {import("./client.js").Client} client
   * @param {string} topic
   * @param {object} options Client.subscribe's options
   */
  constructor(client, topic, options) {
    /** @type {string} */
    this.topic = topic;
    /** @type {Map<string, any>} */
    this.state = new Map();
    /** @type {{epoch: string, seq: number} | null} */
    this.position = options.since ? { epoch: String(options.since.epoch), seq: Number(options.since.seq) } : null;
    /** true once unsubscribed, refused or ended by the server */
    this.closed = false;
    this.options = options;
    this.client = client;
    /** the id of the subscribe request whose answer is awaited */
    this.requestId = undefined;
    /** an answer arrived on this connection: publications are expected */
    this.active = false;
    /** an answer arrived before: the next one is a resubscription */
    this.answered = false;
    /** the next subscribe asks for a fresh snapshot, without since */
    this.fresh = false;
    this.snapshotLeft = 0;
    /** @type {Map<string, Uint8Array>} delta bases per key (binary form) */
    this.bases = new Map();
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {});
  }

  /**
   * Ends the subscription (Client.unsubscribe): no publication is
   * delivered after this call.
   * @returns {Promise<void>} settled with the server's answer
   */
  unsubscribe() {
    return this.client.unsubscribe(this.topic);
  }

  /**
   * Builds the subscribe request for a (re)subscription with id: since the
   * last position unless a fresh snapshot is due. Publications are dropped
   * until its answer.
   * @param {number} id
   * @returns {Record<string, unknown>}
   */
  request(id) {
    this.requestId = id;
    this.active = false;
    this.snapshotLeft = 0;
    const o = this.options;
    const since = this.position && !this.fresh ? { epoch: this.position.epoch, seq: this.position.seq } : undefined;
    return { op: "subscribe", topic: this.topic, id, since, snapshot: !!o.snapshot, delta: o.delta, conflate: !!o.conflate };
  }

  /**
   * Takes a "subscribed" answer: the new position, a snapshot's size (the
   * state is replaced by the snapshot that follows).
   * @param {Record<string, any>} m the answer
   * @returns {{topic: string, position: {epoch: string, seq: number}, recovery: string, snapshot: number | undefined, resubscribed: boolean}}
   *   the event for onSubscribed
   */
  subscribed(m) {
    const snapshot = typeof m.snapshot === "number" ? m.snapshot : undefined;
    if (snapshot !== undefined) {
      this.state.clear();
      this.bases.clear();
    }
    this.position = { epoch: m.epoch, seq: m.seq };
    this.snapshotLeft = snapshot ?? 0;
    this.active = true;
    this.fresh = false;
    const resubscribed = this.answered;
    this.answered = true;
    return { topic: this.topic, position: this.position, recovery: m.recovery ?? "none", snapshot, resubscribed };
  }

  /**
   * Checks a publication's place in the stream and applies it to the
   * state. "deliver": pub (its data made whole if it was a delta, its kind
   * then "publication" with delta: true) is new and in order; "drop": a
   * duplicate, or not expected now; "gap": messages are missing (heal by
   * resubscribing from position); "resnapshot": a delta could not be
   * applied (resubscribe for a fresh snapshot).
   * @param {{kind: string, topic: string, epoch: string, seq: number, key: string, data: any}} pub
   * @returns {Verdict}
   */
  accept(pub) {
    if (!this.active || this.closed) return "drop";
    if (pub.kind === "snapshot") {
      if (this.snapshotLeft === 0) return "drop";
      this.snapshotLeft--;
      this.store(pub.key, pub.data);
      return "deliver";
    }
    const last = this.position;
    if (last && pub.epoch === last.epoch) {
      if (pub.seq <= last.seq) return "drop";
      if (pub.seq !== last.seq + 1 && !this.options.conflate) return "gap";
    } else if (last && !this.options.conflate) {
      return "gap";
    }
    if (pub.kind === "delta") {
      const base = this.bases.get(pub.key);
      if (!base) return "resnapshot";
      try {
        pub.data = applyDelta(base, pub.data);
      } catch {
        return "resnapshot";
      }
      pub.kind = "publication";
      pub.delta = true;
    }
    this.position = { epoch: pub.epoch, seq: pub.seq };
    if (pub.kind === "publication" && pub.key !== "") {
      this.store(pub.key, pub.data);
    } else if (pub.kind === "delete") {
      this.state.delete(pub.key);
      this.bases.delete(pub.key);
    }
    return "deliver";
  }

  /** Sets key's value in the state (and as its delta base). */
  store(key, data) {
    this.state.set(key, data);
    if (data instanceof Uint8Array) this.bases.set(key, data);
  }

  /** Marks the subscription ended; it delivers nothing more. */
  end() {
    this.closed = true;
    this.active = false;
  }
}
