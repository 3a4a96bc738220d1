// wsloop's JavaScript client: the topics protocol (pubsub/doc.go) for
// browsers and Node >= 18, without dependencies.

export { Client, ClientEvent } from "./client.js";
export { Subscription } from "./subscription.js";
export { ServerError } from "./errors.js";
export { Backoff } from "./backoff.js";
export { decodeClaims, expiresAt } from "./token.js";
export {
  KIND,
  SUBPROTOCOL_BINARY,
  SUBPROTOCOL_JSON,
  CLOSE_TOKEN_EXPIRED,
  decodeBinary,
  decodeText,
  encodeRequest,
  epochString,
} from "./wire.js";
export { applyDelta } from "./fossil.js";
