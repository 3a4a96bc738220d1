// HS256 tokens for the tests, minted with node:crypto.

import { createHmac } from "node:crypto";

/** A 32-byte-or-longer test secret. */
export const SECRET = "wsloop-js-client-test-secret-0123456789";

/**
 * Mints an HS256 JWT.
 * @param {Record<string, any>} claims e.g. {sub, exp, subscribe, publish}
 * @param {string} [secret]
 * @returns {string}
 */
export function mint(claims, secret = SECRET) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const input = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  const sig = createHmac("sha256", secret).update(input).digest("base64url");
  return `${input}.${sig}`;
}

/** @returns {number} the Unix time in seconds, s from now */
export function inSeconds(s) {
  return Math.floor(Date.now() / 1000) + s;
}
