// Reconnection delays: exponential backoff with jitter.

/**
 * Backoff computes successive reconnection delays: initial, doubling up to
 * max, each reduced by a random share of up to jitter (0: none, 1: "full
 * jitter"), so clients dropped together do not come back together.
 */
export class Backoff {
  /**
   * @param {{initial?: number, max?: number, jitter?: number}} [opts]
   *   ms; defaults 250, 30000 and 0.5
   */
  constructor({ initial = 250, max = 30000, jitter = 0.5 } = {}) {
    if (!(initial > 0) || !(max >= initial) || !(jitter >= 0 && jitter <= 1)) {
      throw new RangeError("backoff: need 0 < initial <= max and 0 <= jitter <= 1");
    }
    this.initial = initial;
    this.max = max;
    this.jitter = jitter;
    this.attempt = 0;
  }

  /** @returns {number} the next delay, ms */
  next() {
    const base = Math.min(this.max, this.initial * 2 ** Math.min(this.attempt, 52));
    this.attempt++;
    return base * (1 - this.jitter * Math.random());
  }

  /** Starts over from initial (after a successful connection). */
  reset() {
    this.attempt = 0;
  }
}
