// Errors the client reports.

/**
 * An "error" answer of the server, or a request the client could not
 * complete. code is the protocol's error code ("forbidden", "bad_topic",
 * ...) or, for the client's own failures, "closed" (the client was closed)
 * and "disconnected" (the connection ended before the answer).
 */
export class ServerError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(`wsloop: ${code}: ${message}`);
    this.name = "ServerError";
    this.code = code;
  }
}
