// The WebSocket implementation the tests use: the global one (Node >= 22,
// or --experimental-websocket), else the ws package that bench/ installs
// (cd bench && npm ci).

const wsPath = new URL("../../../bench/node_modules/ws/wrapper.mjs", import.meta.url);

let ws = null;
try {
  ws = await import(wsPath);
} catch {
  ws = null;
}

/** The ws package (WebSocket, WebSocketServer), or null when not installed. */
export const wsPackage = ws;

/** The WebSocket constructor for Client. */
export const WebSocketImpl = globalThis.WebSocket ?? ws?.WebSocket;

if (!WebSocketImpl) {
  throw new Error("no WebSocket: use Node >= 22, or run `cd bench && npm ci` for the ws package");
}
