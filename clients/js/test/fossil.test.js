// Applies every vector of internal/fossil/testdata (written by the Go
// encoder) and requires the Go package's exact results and error messages.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { applyDelta, checksum, outputSize } from "../src/fossil.js";

const testdata = new URL("../../../internal/fossil/testdata/", import.meta.url);

function load(name) {
  return JSON.parse(readFileSync(new URL(name, testdata), "utf8"));
}

function bytes(b64) {
  return new Uint8Array(Buffer.from(b64 ?? "", "base64"));
}

test("applies every vector", () => {
  const vectors = load("vectors.json");
  assert.ok(vectors.length > 50);
  for (const v of vectors) {
    const src = bytes(v.src);
    const dst = bytes(v.dst);
    const delta = bytes(v.delta);
    assert.deepEqual(applyDelta(src, delta), dst, v.name);
    assert.equal(outputSize(delta), dst.length, v.name);
  }
});

test("agrees with Go on corrupt deltas", () => {
  const cases = load("corrupt.json");
  assert.ok(cases.length > 100);
  for (const c of cases) {
    const src = bytes(c.src);
    const delta = bytes(c.delta);
    if (c.error) {
      assert.throws(() => applyDelta(src, delta), { message: c.error }, c.name);
    } else {
      assert.deepEqual(applyDelta(src, delta), bytes(c.dst), c.name);
    }
  }
});

test("checksum", () => {
  const enc = new TextEncoder();
  assert.equal(checksum(enc.encode("")), 0);
  assert.equal(checksum(enc.encode("a")), 0x61000000);
  assert.equal(checksum(enc.encode("abcde")), 0x61626364 + 0x65000000);
  assert.equal(checksum(new Uint8Array([255, 255, 255, 255, 0, 0, 0, 1])), 0);
});

test("rejects arguments that are not Uint8Array", () => {
  assert.throws(() => applyDelta("abc", new Uint8Array()), TypeError);
  assert.throws(() => applyDelta(new Uint8Array(), [48, 10]), TypeError);
});

test("a huge declared length does not allocate it", () => {
  const delta = new TextEncoder().encode("3~~~~~\n5:hello0;");
  assert.throws(() => applyDelta(new Uint8Array(), delta), /target is 5 bytes but the header declares 4294967295/);
});
