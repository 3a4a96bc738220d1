"""Reference echo server for the hostile suite: Python websockets (Debian's
python3-websockets, 10.x asyncio API) with its defaults, except max_size
16 MiB (wsloop's and gorilla's message limit). permessage-deflate is on, as
by default. Every text or binary message goes back with the same type.

Usage: /usr/bin/python3 ws_echo.py --port PORT
Prints "listening 127.0.0.1:PORT" once it serves; exits on SIGTERM/SIGINT.
"""
import argparse
import asyncio
import logging
import signal

import websockets


async def echo(ws, path=None):
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.exceptions.ConnectionClosed:
        pass


async def main(port):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    async with websockets.serve(echo, "127.0.0.1", port, max_size=16 << 20):
        print("listening 127.0.0.1:%d" % port, flush=True)
        await stop


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(p.parse_args().port))
