// Fossil delta decoding for wsloop's market-data feed.
//
// applyDelta rebuilds a publication from the previous one of its key and a
// delta in the Fossil SCM delta format
// (https://fossil-scm.org/home/doc/trunk/www/delta_format.wiki), as the
// server's internal/fossil package writes it. It checks the whole delta
// and throws an Error whose message is exactly the Go package's error text
// for the same fault (internal/fossil/testdata/corrupt.json holds both to
// it). No dependencies; works in browsers and Node >= 18.

const DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~";
const NO_DIGIT = 255;
const MAX_NUMBER = 0xffffffff;

const DIGIT_VALUE = (() => {
  const t = new Uint8Array(256).fill(NO_DIGIT);
  for (let v = 0; v < DIGITS.length; v++) t[DIGITS.charCodeAt(v)] = v;
  return t;
})();

const OP_COPY = 0x40; // '@'
const OP_LITERAL = 0x3a; // ':'
const OP_END = 0x3b; // ';'
const COMMA = 0x2c;
const NEWLINE = 0x0a;

/** @returns {string} b as "0x" and two hex digits */
function hex(b) {
  return "0x" + b.toString(16).padStart(2, "0");
}

/** @returns {Error} the error for a fault at byte pos of the delta */
function corrupt(pos, message) {
  return new Error(`fossil: corrupt delta at byte ${pos}: ${message}`);
}

/**
 * Reads the base-64 number at delta[pos], which must have at least one
 * digit and fit in 32 bits.
 * @returns {[number, number]} the number and the position after it
 */
function readNumber(delta, pos) {
  const start = pos;
  let v = 0;
  while (pos < delta.length) {
    const d = DIGIT_VALUE[delta[pos]];
    if (d === NO_DIGIT) break;
    v = v * 64 + d;
    if (v > MAX_NUMBER) throw corrupt(start, "number larger than 2^32-1");
    pos++;
  }
  if (pos === start) {
    if (pos === delta.length) throw corrupt(pos, "unterminated delta: expected a number");
    throw corrupt(pos, `expected a number, found ${hex(delta[pos])}`);
  }
  return [v, pos];
}

/**
 * Returns the format's checksum of b: the sum modulo 2^32 of b read as
 * big-endian 32-bit words, the last one padded with zero bytes.
 * @param {Uint8Array} b
 * @returns {number}
 */
export function checksum(b) {
  let sum = 0;
  const whole = b.length & ~3;
  let i = 0;
  for (; i < whole; i += 4) {
    sum = (sum + ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3])) >>> 0;
  }
  let last = 0;
  for (let shift = 24; i < b.length; i++, shift -= 8) last |= b[i] << shift;
  return (sum + (last >>> 0)) >>> 0;
}

/**
 * Returns the target length a delta's header declares, checking the
 * header's syntax only.
 * @param {Uint8Array} delta
 * @returns {number}
 */
export function outputSize(delta) {
  return readHeader(delta)[0];
}

/** @returns {[number, number]} the target length and the position after the header */
function readHeader(delta) {
  const [n, pos] = readNumber(delta, 0);
  if (pos === delta.length || delta[pos] !== NEWLINE) {
    throw corrupt(pos, "target length not terminated by a newline");
  }
  return [n, pos + 1];
}

/**
 * Applies a Fossil delta to base and returns the target, a new Uint8Array.
 * Checks the header, every segment (a copy must lie inside base, a literal
 * inside the delta, neither may pass the declared length), the target's
 * length and checksum, and that nothing follows the trailer. Inputs are
 * only read.
 * @param {Uint8Array} base the previous message of the key
 * @param {Uint8Array} delta the delta the server sent
 * @returns {Uint8Array}
 * @throws {TypeError} if an argument is not a Uint8Array
 * @throws {Error} "fossil: corrupt delta at byte N: ..." if the delta is bad
 */
export function applyDelta(base, delta) {
  if (!(base instanceof Uint8Array)) throw new TypeError("fossil: base must be a Uint8Array");
  if (!(delta instanceof Uint8Array)) throw new TypeError("fossil: delta must be a Uint8Array");
  let [limit, pos] = readHeader(delta);
  // A hostile header may declare up to 4 GiB: allocate what the inputs can
  // plausibly produce and grow as the copies produce more.
  let out = new Uint8Array(Math.min(limit, base.length + delta.length));
  let total = 0;
  const reserve = (n) => {
    if (total + n > out.length) {
      const grown = new Uint8Array(Math.min(limit, Math.max(total + n, 2 * out.length)));
      grown.set(out.subarray(0, total));
      out = grown;
    }
  };
  while (pos < delta.length) {
    const start = pos;
    let n;
    [n, pos] = readNumber(delta, pos);
    if (pos === delta.length) {
      throw corrupt(pos, "unterminated delta: number not followed by '@', ':' or ';'");
    }
    const op = delta[pos];
    if (op === OP_COPY) {
      let off;
      [off, pos] = readNumber(delta, pos + 1);
      if (pos === delta.length || delta[pos] !== COMMA) {
        throw corrupt(pos, "copy command not terminated by ','");
      }
      pos++;
      if (n > limit - total) {
        throw corrupt(start, `copy of ${n} bytes exceeds the declared target length ${limit}`);
      }
      if (n > base.length || off > base.length - n) {
        throw corrupt(start, `copy of ${n} bytes from source offset ${off} extends past the end of the source (${base.length} bytes)`);
      }
      reserve(n);
      out.set(base.subarray(off, off + n), total);
      total += n;
    } else if (op === OP_LITERAL) {
      pos++;
      if (n > limit - total) {
        throw corrupt(start, `literal of ${n} bytes exceeds the declared target length ${limit}`);
      }
      if (n > delta.length - pos) {
        throw corrupt(start, `literal of ${n} bytes extends past the end of the delta`);
      }
      reserve(n);
      out.set(delta.subarray(pos, pos + n), total);
      total += n;
      pos += n;
    } else if (op === OP_END) {
      pos++;
      if (total !== limit) {
        throw corrupt(start, `target is ${total} bytes but the header declares ${limit}`);
      }
      const sum = checksum(out);
      if (n !== sum) {
        throw corrupt(start, `checksum mismatch: the delta says ${n}, the target sums to ${sum}`);
      }
      if (pos !== delta.length) {
        throw corrupt(pos, `${delta.length - pos} bytes of trailing data after the checksum`);
      }
      return out;
    } else {
      throw corrupt(pos, `unknown operator ${hex(op)}`);
    }
  }
  throw corrupt(pos, "unterminated delta: no checksum trailer");
}
