"""Python websockets client of wsloop's pubsub wire protocol.

Usage: pubsub_websockets.py TOPIC ws://host:port/

While the server publishes on TOPIC continuously, it subscribes, drops its
connection, resubscribes with its last position and checks that recovery
fills the gap exactly (no gap, no duplicate across the replay/live seam);
then it reads the binary form and checks an error answer. Prints OK or
exits non-zero with FAIL: ...
"""
import asyncio
import json
import struct
import sys

import websockets


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


async def recv_json(ws):
    msg = await asyncio.wait_for(ws.recv(), 10)
    if not isinstance(msg, str):
        fail("expected a text message, got %r" % (msg[:40],))
    return json.loads(msg)


async def read_run(ws, epoch, last, n):
    for _ in range(n):
        m = await recv_json(ws)
        if m.get("op") != "msg" or m["epoch"] != epoch or m["seq"] != last + 1:
            fail("after seq %d got %r" % (last, m))
        if m["data"]["i"] != m["seq"]:
            fail("data %r does not match seq %d" % (m["data"], m["seq"]))
        last = m["seq"]
    return last


async def main(topic, url):
    async with websockets.connect(url, subprotocols=["wsloop.json"]) as ws:
        if ws.subprotocol != "wsloop.json":
            fail("subprotocol %r" % ws.subprotocol)
        await ws.send(json.dumps({"op": "subscribe", "topic": topic, "id": 1}))
        ans = await recv_json(ws)
        if ans.get("op") != "subscribed" or ans.get("id") != 1:
            fail("subscribe answer %r" % ans)
        epoch = ans["epoch"]
        last = await read_run(ws, epoch, ans["seq"], 30)
    await asyncio.sleep(0.3)  # the feed goes on without us
    async with websockets.connect(url, subprotocols=["wsloop.json"]) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topic": topic, "since": {"epoch": epoch, "seq": last}}))
        ans = await recv_json(ws)
        if ans.get("recovery") != "ok" or ans["seq"] != last or ans["epoch"] != epoch:
            fail("recovery answer %r after seq %d" % (ans, last))
        await read_run(ws, epoch, last, 400)
        await ws.send("not json")
        while True:
            m = await recv_json(ws)
            if m.get("op") == "error":
                if m.get("code") != "bad_request":
                    fail("error %r" % m)
                break
    async with websockets.connect(url, subprotocols=["wsloop.bin"]) as ws:
        await ws.send(json.dumps({"op": "subscribe", "topic": topic}))
        ans = await recv_json(ws)
        last = ans["seq"]
        for _ in range(20):
            b = await asyncio.wait_for(ws.recv(), 10)
            if not isinstance(b, bytes) or b[0] != 1:
                fail("binary publication expected, got %r" % (b[:20],))
            tl = b[1]
            if b[2:2 + tl].decode() != topic:
                fail("topic %r" % b[2:2 + tl])
            ep, seq = struct.unpack(">QQ", b[2 + tl:18 + tl])
            if "%016x" % ep != epoch or seq != last + 1:
                fail("binary epoch/seq %x/%d after %d" % (ep, seq, last))
            kl = b[18 + tl]
            data = json.loads(b[19 + tl + kl:])
            if data["i"] != seq:
                fail("binary data %r for seq %d" % (data, seq))
            last = seq
    print("OK")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
