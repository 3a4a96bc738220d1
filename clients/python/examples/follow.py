"""Follow topics of a wsloop server with their keyed state: one JSON line
per event on stdout, for a person or another program to read.

Start the market feed, then run this from the repository root with
Debian's python3 (it has python3-websockets):

    go run ./cmd/wsloop -mode feed &
    /usr/bin/python3 clients/python/examples/follow.py ws://127.0.0.1:8080/ md.all md.AAPL

Options: --json (the wsloop.json subprotocol; default wsloop.bin),
--delta (Fossil deltas; binary only), --seconds N (stop after N seconds;
default: at SIGTERM or Ctrl-C).

Lines (every one has "ev"; positions are "epoch" and "seq"):

    {"ev":"subscribed","topic":…,"epoch":…,"seq":…,"recovery":"none"|"ok"|"snapshot"|"failed","resubscribed":…}
    {"ev":"snapshot","topic":…,"epoch":…,"seq":…,"state":{…}}        a snapshot is complete
    {"ev":"pub","topic":…,"epoch":…,"seq":…,"kind":…,"key":…,"state":{…}}  after each publication

"state" is the subscription's keyed state (key -> value) at that
position: values in base64 (wsloop.bin) or as their text (wsloop.json).
A "subscribed" line carries it too when the state is complete then
(recovery "ok": the state continues). Connection events come as
"connected", "disconnected", "gap", "delta_failed" and "error" lines.
"""

import argparse
import asyncio
import base64
import json
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from wsloop_client import KIND_SNAPSHOT, SUBPROTOCOL_BINARY, SUBPROTOCOL_JSON, Client  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="Follow wsloop topics with their keyed state.")
    ap.add_argument("url")
    ap.add_argument("topics", nargs="+")
    ap.add_argument("--json", action="store_true", help="the wsloop.json subprotocol")
    ap.add_argument("--delta", action="store_true", help="Fossil deltas (wsloop.bin)")
    ap.add_argument("--seconds", type=float, default=None, help="stop after this long")
    asyncio.run(follow(ap.parse_args()))


def emit(**line):
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def follow(args):
    text = args.json
    subs = {}  # topic -> Subscription, once subscribe() returned

    def state(sub):
        if text:
            return {k: v.decode("utf-8") for k, v in sub.state.items()}
        return {k: base64.b64encode(v).decode("ascii") for k, v in sub.state.items()}

    def on_publication(sub, pub):
        pos = pub.position
        if pub.kind != KIND_SNAPSHOT:
            emit(ev="pub", topic=sub.topic, epoch=pos.epoch, seq=pos.seq, kind=pub.kind, key=pub.key,
                 state=state(sub))
        elif sub.active:  # the snapshot's last entry: the state is complete
            emit(ev="snapshot", topic=sub.topic, epoch=sub.position.epoch, seq=sub.position.seq,
                 state=state(sub))

    def on_event(ev):
        if ev.type == "subscribed":
            line = dict(ev="subscribed", topic=ev.topic, epoch=ev.position.epoch, seq=ev.position.seq,
                        recovery=ev.recovery or "none", resubscribed=ev.resubscribed)
            sub = subs.get(ev.topic)
            if sub is not None and sub.active:
                line["state"] = state(sub)
            emit(**line)
        elif ev.type in ("gap", "delta_failed", "error", "connected", "disconnected", "connect_failed"):
            line = dict(ev=ev.type, topic=ev.topic, code=ev.code, error=repr(ev.error) if ev.error else None)
            emit(**{k: v for k, v in line.items() if v is not None})

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    proto = SUBPROTOCOL_JSON if text else SUBPROTOCOL_BINARY
    async with Client(args.url, subprotocol=proto, on_event=on_event) as client:
        for topic in args.topics:
            subs[topic] = await client.subscribe(topic, snapshot=True, delta=args.delta,
                                                 on_publication=on_publication)
        try:
            await asyncio.wait_for(stop.wait(), args.seconds)
        except asyncio.TimeoutError:
            pass


if __name__ == "__main__":
    main()
