"""Applies every vector of internal/fossil/testdata (written by the Go
encoder) and requires the Go package's exact results and error messages.

Run from the repository root:
/usr/bin/python3 -m unittest discover -s clients/python/tests -t clients/python
"""

import base64
import json
import pathlib
import unittest

from wsloop_client.fossil import apply_delta, checksum, output_size

TESTDATA = pathlib.Path(__file__).resolve().parents[3] / "internal" / "fossil" / "testdata"


def load(name):
    with open(TESTDATA / name, encoding="utf-8") as f:
        return json.load(f)


def raw(b64):
    return base64.b64decode(b64 or "")


class ApplyDeltaTest(unittest.TestCase):
    def test_vectors(self):
        vectors = load("vectors.json")
        self.assertGreater(len(vectors), 50)
        for v in vectors:
            with self.subTest(v["name"]):
                src, dst, delta = raw(v["src"]), raw(v["dst"]), raw(v["delta"])
                self.assertEqual(apply_delta(src, delta), dst)
                self.assertEqual(output_size(delta), len(dst))

    def test_corrupt_deltas_agree_with_go(self):
        cases = load("corrupt.json")
        self.assertGreater(len(cases), 100)
        for c in cases:
            with self.subTest(c["name"]):
                src, delta = raw(c["src"]), raw(c["delta"])
                if c.get("error"):
                    with self.assertRaises(ValueError) as caught:
                        apply_delta(src, delta)
                    self.assertEqual(str(caught.exception), c["error"])
                else:
                    self.assertEqual(apply_delta(src, delta), raw(c.get("dst")))

    def test_bytes_like_arguments(self):
        src = bytearray(b"hello world, hello fossil, hello delta format")
        delta = memoryview(b"i\nB@0,1:.X@C,2G3S5E;")
        self.assertEqual(apply_delta(src, delta), b"hello world. hello fossil, hello delta format")
        with self.assertRaises(TypeError):
            apply_delta("text", b"0\n0;")

    def test_checksum(self):
        self.assertEqual(checksum(b""), 0)
        self.assertEqual(checksum(b"a"), 0x61000000)
        self.assertEqual(checksum(b"abcde"), 0x61626364 + 0x65000000)
        self.assertEqual(checksum(b"\xff\xff\xff\xff\x00\x00\x00\x01"), 0)


if __name__ == "__main__":
    unittest.main()
