// Connection tokens (JWT): where they come from and when they expire.

const decoder = new TextDecoder("utf-8");

/**
 * Decodes a JWT's payload (the claims) without verifying anything: the
 * client only needs "exp" to refresh in time; the server verifies.
 * @param {string} token a compact JWS (header.payload.signature)
 * @returns {Record<string, any> | null} null when token is not a JWT with
 *   a JSON object payload
 */
export function decodeClaims(token) {
  const parts = typeof token === "string" ? token.split(".") : [];
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const claims = JSON.parse(decoder.decode(bytes));
    return claims !== null && typeof claims === "object" ? claims : null;
  } catch {
    return null;
  }
}

/**
 * The token's expiry in milliseconds since the Unix epoch.
 * @param {string} token
 * @returns {number | null} null without a numeric "exp" claim
 */
export function expiresAt(token) {
  const exp = decodeClaims(token)?.exp;
  return typeof exp === "number" ? exp * 1000 : null;
}

/**
 * How long to wait before refreshing a token that expires at exp: ahead
 * of the expiry by refreshAhead, but never by more than half the time
 * left, so a short-lived token is still used for a while.
 * @param {number} exp expiry, ms since the Unix epoch
 * @param {number} now ms since the Unix epoch
 * @param {number} refreshAhead ms
 * @returns {number} ms to wait, >= 0
 */
export function refreshDelay(exp, now, refreshAhead) {
  const left = exp - now;
  return Math.max(0, left - Math.min(refreshAhead, left / 2));
}

/**
 * Gets a token from the client's token option.
 * @param {string | (() => string | Promise<string>) | undefined} source
 * @returns {Promise<string | undefined>}
 */
export async function fetchToken(source) {
  return typeof source === "function" ? await source() : source;
}
