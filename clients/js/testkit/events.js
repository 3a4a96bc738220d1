// Waiting for things that happen, with timeouts: the tests' only means
// of synchronisation.

const DEFAULT_TIMEOUT = 10000;

/**
 * A log of events (any values) that tests wait on: push records one and
 * wakes the waiters it matches; next returns the first recorded event
 * (at or after the cursor) that matches, waiting for it up to timeout ms.
 */
export class Events {
  constructor() {
    this.items = [];
    this.waiters = [];
  }

  /** Records an event. */
  push(ev) {
    this.items.push(ev);
    for (const w of [...this.waiters]) w.check();
  }

  /** @returns {Function} a callback that records its first argument */
  recorder(map = (x) => x) {
    return (...args) => this.push(map(...args));
  }

  /**
   * Waits for an event matching pred, starting at index from.
   * @param {(ev: any) => boolean} pred
   * @param {{timeout?: number, from?: number, what?: string}} [opts]
   * @returns {Promise<any>}
   */
  next(pred, { timeout = DEFAULT_TIMEOUT, from = 0, what = "event" } = {}) {
    return new Promise((resolve, reject) => {
      const w = {
        check: () => {
          for (let i = from; i < this.items.length; i++) {
            if (pred(this.items[i])) {
              clearTimeout(w.timer);
              this.waiters.splice(this.waiters.indexOf(w), 1);
              resolve(this.items[i]);
              return;
            }
          }
        },
      };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}; saw ${JSON.stringify(this.items.slice(-10), replacer)}`));
      }, timeout);
      this.waiters.push(w);
      w.check();
    });
  }
}

function replacer(_k, v) {
  return v instanceof Uint8Array ? `<${v.length} bytes>` : v;
}

/**
 * Waits for an EventTarget event of type matching pred.
 * @returns {Promise<Event>}
 */
export function once(target, type, pred = () => true, timeout = DEFAULT_TIMEOUT) {
  return new Promise((resolve, reject) => {
    const on = (e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      target.removeEventListener(type, on);
      resolve(e);
    };
    const timer = setTimeout(() => {
      target.removeEventListener(type, on);
      reject(new Error(`timed out after ${timeout} ms waiting for "${type}"`));
    }, timeout);
    target.addEventListener(type, on);
  });
}
