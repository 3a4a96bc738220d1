// When to refresh the connection's token.

import { expiresAt, refreshDelay } from "./token.js";

/**
 * One pending token refresh: a timer set to fire refreshAhead ms before a
 * token expires (see refreshDelay).
 */
export class RefreshTimer {
  #timer;

  /**
   * Cancels the pending refresh and, when token has an "exp" claim,
   * schedules fire ahead of it.
   * @param {string | undefined} token
   * @param {number} refreshAhead ms
   * @param {() => void} fire
   */
  schedule(token, refreshAhead, fire) {
    this.cancel();
    const exp = expiresAt(token);
    if (exp === null) return;
    this.#timer = setTimeout(fire, refreshDelay(exp, Date.now(), refreshAhead));
  }

  /** Cancels the pending refresh, if any. */
  cancel() {
    clearTimeout(this.#timer);
  }
}
