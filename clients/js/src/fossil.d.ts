// Type declarations of @wsloop/client/fossil.
export function applyDelta(base: Uint8Array, delta: Uint8Array): Uint8Array;
export function checksum(b: Uint8Array): number;
export function outputSize(delta: Uint8Array): number;
