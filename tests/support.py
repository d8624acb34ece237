"""Helpers for tests that run the real server: a process on a free port and clients."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30.0
RECEIVE_TIMEOUT = 5.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ServerProcess:
    """``python -m server`` running in a child process, with its log lines collected."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    environment: dict[str, str] = field(default_factory=dict)
    arguments: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    _new_line: asyncio.Event = field(default_factory=asyncio.Event)
    process: asyncio.subprocess.Process | None = None
    _reader: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self) -> None:
        environment = {**os.environ, "DATA_DIR": str(self.data_dir), **self.environment}
        environment.pop("WEB_CONCURRENCY", None)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server",
            "--port",
            str(self.port),
            *self.arguments,
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        ready = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read_log(ready))
        await asyncio.wait_for(ready, STARTUP_TIMEOUT)

    async def _read_log(self, ready: asyncio.Future[None]) -> None:
        assert self.process is not None and self.process.stdout is not None
        workers = (
            int(self.arguments[self.arguments.index("--workers") + 1])
            if "--workers" in self.arguments
            else 1
        )
        listening = False
        started = 0
        async for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.log.append(line)
            self._new_line.set()
            listening = listening or "Uvicorn running on" in line
            started += "Application startup complete" in line
            if listening and started >= workers and not ready.done():
                ready.set_result(None)
        if not ready.done():
            ready.set_exception(RuntimeError("server exited early:\n" + "\n".join(self.log)))

    async def log_line(self, text: str, timeout: float = 10) -> str:
        """Wait until a log line contains ``text``, then return that line."""

        async def wait() -> str:
            seen = 0
            while True:
                for line in self.log[seen:]:
                    if text in line:
                        return line
                seen = len(self.log)
                self._new_line.clear()
                await self._new_line.wait()

        return await asyncio.wait_for(wait(), timeout)

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
        code = await asyncio.wait_for(self.process.wait(), 20)
        if self._reader is not None:
            await self._reader
        return code

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10)

    async def create_workshop(self, **fields: Any) -> dict[str, Any]:
        body = {"title": "Physics benchmarking", "scope": "department", "unit": "Physics"}
        body.update(fields)
        async with self.http() as client:
            response = await client.post("/api/workshops", json=body)
        assert response.status_code == 201, response.text
        return response.json()


class Client:
    """A websocket client that numbers its requests and keeps every frame it received."""

    _refs = itertools.count(1)

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self.frames: list[str] = []
        self.timeout = RECEIVE_TIMEOUT
        """Seconds to wait for each message before failing."""
        self.messages: list[dict[str, Any]] = []
        self._unread: list[dict[str, Any]] = []

    @classmethod
    async def connect(cls, ws_url: str) -> Client:
        return cls(await websockets.connect(ws_url, max_size=None))

    async def close(self) -> None:
        await self.connection.close()

    async def send(self, message: dict[str, Any]) -> int:
        ref = next(self._refs)
        await self.connection.send(json.dumps({**message, "ref": ref}))
        return ref

    async def send_raw(self, frame: str | bytes) -> None:
        await self.connection.send(frame)

    async def _next(self) -> dict[str, Any]:
        frame = await asyncio.wait_for(self.connection.recv(), self.timeout)
        text = frame if isinstance(frame, str) else frame.decode()
        self.frames.append(text)
        message = json.loads(text)
        self.messages.append(message)
        return message

    async def expect(self, kind: str, where: Any = None) -> dict[str, Any]:
        """Return the first unread message of type ``kind`` for which ``where`` holds."""
        for index, message in enumerate(self._unread):
            if message["type"] == kind and (where is None or where(message)):
                del self._unread[: index + 1]
                return message
        self._unread.clear()
        while True:
            message = await self._next()
            if message["type"] == kind and (where is None or where(message)):
                return message

    async def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send a message and return the ack or error sent in response."""
        ref = await self.send(message)
        while True:
            reply = await self._next()
            if reply["type"] in ("ack", "error") and reply.get("ref") == ref:
                return reply
            self._unread.append(reply)

    async def view(self, where: Any) -> dict[str, Any]:
        """Wait for a room or console view for which ``where(view)`` holds; return the room view."""

        def matches(message: dict[str, Any]) -> bool:
            if message["type"] == "room":
                return bool(where(message["view"]))
            if message["type"] == "console":
                return bool(where(message["view"]["room"]))
            return False

        for index, message in enumerate(self._unread):
            if matches(message):
                del self._unread[: index + 1]
                return _room_of(message)
        self._unread.clear()
        while True:
            message = await self._next()
            if matches(message):
                return _room_of(message)


def _room_of(message: dict[str, Any]) -> dict[str, Any]:
    return message["view"] if message["type"] == "room" else message["view"]["room"]


async def join_phone(server: ServerProcess, code: str, role: str) -> Client:
    phone = await Client.connect(server.ws_url)
    reply = await phone.request({"type": "join", "code": code, "role": role})
    assert reply["type"] == "ack", reply
    return phone
