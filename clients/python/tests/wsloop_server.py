"""A real wsloop process for the client's tests.

build() compiles ./cmd/wsloop once per test run (go build from the
repository root, into a temporary directory removed at exit), or uses
$WSLOOP_BIN. Server starts it on 127.0.0.1 with free ports, reads the
listening addresses from its JSON log, and publishes through the admin
listener's POST /publish/{topic}. Tests skip (unittest.SkipTest) when Go
is not installed; the Go wrapper (clients/python/pytest) fails then in CI.
"""

import asyncio
import atexit
import base64
import hashlib
import hmac
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
from typing import List, Optional

REPO = pathlib.Path(__file__).resolve().parents[3]
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
SECRET = b"a test secret of at least thirty-two bytes"

_binary: Optional[str] = None


def build() -> str:
    """The path of a wsloop binary built from this repository."""
    global _binary
    if _binary is not None:
        return _binary
    if os.environ.get("WSLOOP_BIN"):
        _binary = os.environ["WSLOOP_BIN"]
        return _binary
    go = shutil.which("go")
    if go is None:
        raise unittest.SkipTest("go not found on PATH: cannot build wsloop")
    tmp = tempfile.mkdtemp(prefix="wsloop-pytest-")
    atexit.register(shutil.rmtree, tmp, True)
    out = os.path.join(tmp, "wsloop")
    subprocess.run([go, "build", "-o", out, "./cmd/wsloop"], cwd=REPO, check=True, timeout=300)
    _binary = out
    return out


def mint(claims: dict, secret: bytes = SECRET) -> str:
    """An HS256 JWT with claims."""
    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


class Server:
    """One wsloop -mode pubsub process; start() and stop() may alternate
    (a restart keeps the WebSocket address, so clients reconnect to it)."""

    def __init__(self, *extra: str, jwt: bool = False):
        self.extra: List[str] = list(extra)
        self.addr: Optional[str] = None
        self.admin: Optional[str] = None
        self.log: List[str] = []
        self._proc: Optional[asyncio.subprocess.Process] = None
        self._reader: Optional[asyncio.Task] = None
        self._tmp = tempfile.mkdtemp(prefix="wsloop-pytest-srv-")
        if jwt:
            secret = os.path.join(self._tmp, "secret")
            with open(secret, "wb") as f:
                f.write(SECRET + b"\n")
            self.extra += ["-jwt-secret-file", secret, "-jwt-leeway", "0s"]

    @property
    def url(self) -> str:
        return f"ws://{self.addr}/"

    async def start(self) -> None:
        addr = self.addr or "127.0.0.1:0"
        args = [build(), "-mode", "pubsub", "-addr", addr, "-admin", "127.0.0.1:0",
                "-log-format", "json", "-log-level", "info", "-drain-timeout", "1s", *self.extra]
        self._proc = await asyncio.create_subprocess_exec(
            *args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            line = await asyncio.wait_for(self._proc.stderr.readline(), max(deadline - time.monotonic(), 0.01))
            if not line:
                raise RuntimeError("wsloop exited before listening:\n" + "".join(self.log))
            self.log.append(line.decode(errors="replace"))
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("msg") == "listening":
                self.addr, self.admin = rec["addr"], rec["admin"]
                break
        self._reader = asyncio.get_running_loop().create_task(self._drain(self._proc))

    async def _drain(self, proc: asyncio.subprocess.Process) -> None:
        while True:
            line = await proc.stderr.readline()
            if not line:
                return
            self.log.append(line.decode(errors="replace"))

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, STOP_TIMEOUT)
            self._reader = None

    async def close(self) -> None:
        await self.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    async def publish(self, topic: str, data: bytes, key: Optional[str] = None, **query: str) -> dict:
        """POST /publish/{topic}?key=K on the admin listener; its JSON answer."""
        q = dict(query)
        if key:
            q["key"] = key
        url = f"http://{self.admin}/publish/{urllib.parse.quote(topic)}"
        if q:
            url += "?" + urllib.parse.urlencode(q)
        req = urllib.request.Request(url, data=data, method="POST")

        def post():
            with urllib.request.urlopen(req, timeout=5) as r:
                return json.load(r)
        return await asyncio.to_thread(post)
