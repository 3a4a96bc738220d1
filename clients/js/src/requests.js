// Requests awaiting their answers, by id.

/**
 * A request awaiting its answer: a promise's resolve and reject, or the
 * subscription whose subscribe request it is.
 * @typedef {{resolve?: Function, reject?: Function, sub?: import("./subscription.js").Subscription}} Pending
 */

/**
 * The requests of a client that await an answer, under the ids they were
 * sent with (ids increase for the client's lifetime, across connections).
 */
export class PendingRequests {
  /** @type {Map<number, Pending>} */
  #pending = new Map();
  #nextId = 0;

  /**
   * Takes a new id for a request and keeps p until its answer.
   * @param {Pending} p
   * @returns {number} the id
   */
  add(p) {
    const id = ++this.#nextId;
    this.#pending.set(id, p);
    return id;
  }

  /**
   * Removes and returns the request an answer with id is for.
   * @param {number | undefined} id
   * @returns {Pending | undefined} undefined when none awaits it
   */
  take(id) {
    const p = id !== undefined ? this.#pending.get(id) : undefined;
    if (p) this.#pending.delete(id);
    return p;
  }

  /**
   * Forgets every request, rejecting the promises with err; subscriptions
   * are sent again on the next connection.
   * @param {Error} err
   */
  failAll(err) {
    for (const p of this.#pending.values()) p.reject?.(err);
    this.#pending.clear();
  }
}
