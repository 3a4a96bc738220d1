// The topics protocol on the wire (pubsub/doc.go): requests out as JSON
// text, answers in as JSON text, publications in as JSON ("wsloop.json")
// or binary ("wsloop.bin") messages. Pure functions, no state.

/** The subprotocol whose publications are JSON text messages. */
export const SUBPROTOCOL_JSON = "wsloop.json";
/** The subprotocol whose publications are binary messages. */
export const SUBPROTOCOL_BINARY = "wsloop.bin";

/** Close code of a connection whose token expired without a refresh. */
export const CLOSE_TOKEN_EXPIRED = 3000;

/**
 * Publication kinds: the first byte of a binary publication, and the
 * names used in the JSON form's "kind" member (absent for "publication").
 */
export const KIND = Object.freeze({
  publication: 0x01,
  delta: 0x02,
  snapshot: 0x03,
  delete: 0x04,
  event: 0x05,
});

const KIND_NAME = ["", "publication", "delta", "snapshot", "delete", "event"];

const utf8 = new TextDecoder("utf-8");

/**
 * Encodes a request as the JSON text the server reads. Members that are
 * undefined, false or empty strings are left out.
 * @param {Record<string, unknown>} req at least {op}
 * @returns {string}
 */
export function encodeRequest(req) {
  const out = {};
  for (const [k, v] of Object.entries(req)) {
    if (v !== undefined && v !== false && v !== "") out[k] = v;
  }
  return JSON.stringify(out);
}

/**
 * Formats a uint64 epoch (a BigInt) as the protocol's 16 lowercase hex
 * digits.
 * @param {bigint} epoch
 * @returns {string}
 */
export function epochString(epoch) {
  return epoch.toString(16).padStart(16, "0");
}

/**
 * Decodes a binary publication. Epochs stay strings (a uint64 does not fit
 * a JS number); seq becomes a Number (exact below 2^53, which a topic's
 * sequence does not reach in practice).
 * @param {ArrayBuffer|Uint8Array} buf one binary WebSocket message
 * @returns {{kind: string, topic: string, epoch: string, seq: number, key: string, data: Uint8Array} | null}
 *   null when buf is not a well-formed publication of a known kind
 */
export function decodeBinary(buf) {
  const b = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  if (b.length < 2) return null;
  const kind = KIND_NAME[b[0]];
  if (!kind) return null;
  const t = b[1];
  let p = 2 + t;
  if (b.length < p + 17) return null;
  const topic = utf8.decode(b.subarray(2, p));
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const epoch = epochString(view.getBigUint64(p));
  const seq = Number(view.getBigUint64(p + 8));
  p += 16;
  const k = b[p++];
  if (b.length < p + k) return null;
  const key = utf8.decode(b.subarray(p, p + k));
  return { kind, topic, epoch, seq, key, data: b.subarray(p + k) };
}

/**
 * Parses a JSON text message from the server: an answer or, with
 * "op":"msg", a publication, whose "kind" is normalised ("publication"
 * when absent) and "key" ("" when absent).
 * @param {string} text
 * @returns {Record<string, any> | null} null when text is not a JSON
 *   object with an "op"
 */
export function decodeText(text) {
  let m;
  try {
    m = JSON.parse(text);
  } catch {
    return null;
  }
  if (m === null || typeof m !== "object" || typeof m.op !== "string") return null;
  if (m.op === "msg") {
    m.kind = m.kind ?? "publication";
    m.key = m.key ?? "";
  }
  return m;
}
