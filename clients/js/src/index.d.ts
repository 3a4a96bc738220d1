// Type declarations of @wsloop/client (hand-written; see the JSDoc in
// the modules for the full contracts).

/** The subprotocol whose publications are JSON text messages. */
export const SUBPROTOCOL_JSON: "wsloop.json";
/** The subprotocol whose publications are binary messages. */
export const SUBPROTOCOL_BINARY: "wsloop.bin";
/** Close code of a connection whose token expired without a refresh. */
export const CLOSE_TOKEN_EXPIRED: 3000;
/** Binary kind bytes of publications. */
export const KIND: Readonly<{ publication: 1; delta: 2; snapshot: 3; delete: 4; event: 5 }>;

export type Subprotocol = "wsloop.bin" | "wsloop.json";

/** A place in a topic's stream: epoch is 16 hex digits (a uint64, kept as a string); seq a Number. */
export interface Position {
  epoch: string;
  seq: number;
}

/** What a delivered publication is. */
export type PublicationKind = "publication" | "snapshot" | "delete" | "event";

/**
 * A publication as delivered. data is a Uint8Array in "wsloop.bin" and the
 * parsed JSON "data" in "wsloop.json" (undefined for deletes in JSON).
 */
export interface Publication<T = any> {
  kind: PublicationKind;
  topic: string;
  epoch: string;
  seq: number;
  /** "" when the publication has no key. */
  key: string;
  data: T;
  /** true when data was rebuilt from a Fossil delta. */
  delta?: boolean;
}

/** A "subscribed" answer, or a resubscription's refusal (error). */
export interface SubscribedEvent {
  topic: string;
  position?: Position;
  /** "none" (fresh), "ok" (missed messages follow), "failed" (lost), "snapshot" (state replaced). */
  recovery?: "none" | "ok" | "failed" | "snapshot";
  /** Snapshot entries that follow; the state was cleared for them. */
  snapshot?: number;
  resubscribed: boolean;
  error?: ServerError;
}

export interface SubscribeOptions<T = any> {
  since?: Position;
  snapshot?: boolean;
  delta?: "fossil";
  conflate?: boolean;
  onPublication?: (pub: Publication<T>, sub: Subscription<T>) => void;
  onSubscribed?: (ev: SubscribedEvent, sub: Subscription<T>) => void;
  onGap?: (last: Position | null, got: Position, sub: Subscription<T>) => void;
  onUnsubscribed?: (reason: string, sub: Subscription<T>) => void;
}

export interface BackoffOptions {
  /** First delay, ms (default 250). */
  initial?: number;
  /** Largest delay, ms (default 30000). */
  max?: number;
  /** Random share taken off each delay, 0..1 (default 0.5). */
  jitter?: number;
}

export type TokenSource = string | (() => string | Promise<string>);

export interface ClientOptions {
  token?: TokenSource;
  subprotocol?: Subprotocol;
  backoff?: BackoffOptions;
  /** Refresh a token this many ms before it expires (at most half its remaining life; default 30000). */
  refreshAhead?: number;
  /** The WebSocket constructor (default: globalThis.WebSocket). */
  WebSocket?: new (url: string, protocols?: string | string[]) => WebSocket;
  onOpen?: (detail: { protocol: string }) => void;
  onClose?: (detail: { code: number; reason: string }) => void;
  onError?: (detail: { error: unknown }) => void;
  onRefreshed?: (detail: { exp: number }) => void;
}

export interface ClientEventMap {
  open: { protocol: string };
  close: { code: number; reason: string };
  error: { error: unknown };
  refreshed: { exp: number };
  unsubscribed: { topic: string; reason: string };
}

export class ClientEvent<D = any> extends Event {
  constructor(type: string, detail: D);
  readonly detail: D;
}

/** A client of wsloop's topics protocol; reconnects and recovers until close(). */
export class Client extends EventTarget {
  constructor(url: string, options?: ClientOptions);
  readonly connected: boolean;
  readonly protocol: string;
  readonly token: string | undefined;
  connect(): Promise<void>;
  close(): void;
  subscribe<T = any>(topic: string, options?: SubscribeOptions<T>): Promise<Subscription<T>>;
  unsubscribe(topic: string): Promise<void>;
  publish(topic: string, data: unknown, options?: { key?: string }): Promise<{ topic: string } & Position>;
  refresh(token?: string): Promise<number>;
  addEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: (ev: ClientEvent<ClientEventMap[K]>) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
}

/** One topic's subscription: its keyed state and position. */
export class Subscription<T = any> {
  readonly topic: string;
  /** Live keys and their latest values. */
  readonly state: Map<string, T>;
  /** The last position delivered (or answered). */
  readonly position: Position | null;
  readonly closed: boolean;
  readonly options: SubscribeOptions<T>;
  unsubscribe(): Promise<void>;
}

/** A server's "error" answer, or "closed"/"disconnected"/"already_subscribed"/"not_subscribed"/"unsubscribed" from the client. */
export class ServerError extends Error {
  constructor(code: string, message: string);
  readonly code: string;
}

export class Backoff {
  constructor(options?: BackoffOptions);
  next(): number;
  reset(): void;
}

export function decodeClaims(token: string): Record<string, any> | null;
export function expiresAt(token: string): number | null;

export interface BinaryPublication {
  kind: "publication" | "delta" | "snapshot" | "delete" | "event";
  topic: string;
  epoch: string;
  seq: number;
  key: string;
  data: Uint8Array;
}
export function decodeBinary(buf: ArrayBuffer | Uint8Array): BinaryPublication | null;
export function decodeText(text: string): Record<string, any> | null;
export function encodeRequest(req: Record<string, unknown>): string;
export function epochString(epoch: bigint): string;
export function applyDelta(base: Uint8Array, delta: Uint8Array): Uint8Array;
