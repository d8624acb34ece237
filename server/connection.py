"""One client's websocket: its identity and its own send queue and send task.

Sends never run in the code that produced them. Each connection keeps a small queue
of direct messages (acks, errors, its own vote) plus a single slot for the latest
view, and its own task drains them, so a stalled phone delays no other client and a
slow one skips stale views instead of falling behind.

Timers are kept off that path: :func:`watch_connections` visits every connection a
few times a minute, pings the idle ones and stops the senders stuck in one send.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import Literal

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from server.protocol import Ping, encode

__all__ = ("ClientKind", "Connection")

logger = logging.getLogger(__name__)

ClientKind = Literal["unidentified", "participant", "projector", "facilitator"]

PING_INTERVAL = 15.0
"""Seconds of silence after which the server sends a ping, so clients can tell that a
connection is alive; browsers cannot see protocol-level pings."""
MAX_QUEUED_MESSAGES = 256
SEND_TIMEOUT = 20.0

_PING = encode(Ping())


class Connection:
    """A connected client and the identity it declared."""

    def __init__(
        self,
        socket: WebSocket,
        kind: ClientKind,
        participant: str | None = None,
        role: str | None = None,
    ) -> None:
        self.socket = socket
        self.kind = kind
        self.participant = participant
        self.role = role
        self._direct: deque[str] = deque()
        self._view: str | None = None
        self._ready = asyncio.Event()
        self._finishing = False
        self._sender: asyncio.Task[None] | None = None
        self.sending_since: float | None = None
        """Loop time at which the send in progress started, if one is."""
        self.last_sent = 0.0
        """Loop time at which the last send finished."""
        self.closed = False

    def send(self, message: str) -> None:
        """Queue a message for this client only; a client too slow to keep up is dropped."""
        if self.closed:
            return
        if len(self._direct) >= MAX_QUEUED_MESSAGES:
            logger.warning("closing a %s connection that stopped reading its messages", self.kind)
            self.closed = True
            self._ready.set()
            return
        self._direct.append(message)
        self._ready.set()

    def finish(self) -> None:
        """Close the connection once the messages queued so far are sent."""
        self._finishing = True
        self._ready.set()

    def send_view(self, message: str) -> None:
        """Replace any unsent view with ``message``."""
        self._view = message
        self._ready.set()

    async def run_sender(self) -> None:
        """Send queued messages until the connection closes."""
        self._sender = asyncio.current_task()
        loop = asyncio.get_running_loop()
        self.last_sent = loop.time()
        while not self.closed:
            await self._ready.wait()
            self._ready.clear()
            while (self._direct or self._view is not None) and not self.closed:
                if self._direct:
                    message = self._direct.popleft()
                else:
                    message, self._view = self._view, None
                self.sending_since = loop.time()
                sent = await self._send_now(message)
                self.sending_since = None
                self.last_sent = loop.time()
                if not sent:
                    self.closed = True
                    return
            if self._finishing:
                self.closed = True
                return

    def check(self, now: float) -> None:
        """Ping the client when it has been sent nothing for a while, and stop the sender
        when one send has taken longer than ``SEND_TIMEOUT``."""
        if self.sending_since is not None and now - self.sending_since > SEND_TIMEOUT:
            logger.warning("closing a %s connection: a send took over %ss", self.kind, SEND_TIMEOUT)
            self.closed = True
            if self._sender is not None:
                self._sender.cancel()
        elif self.sending_since is None and now - self.last_sent > PING_INTERVAL:
            self.send(_PING)

    async def _send_now(self, message: str) -> bool:
        try:
            await self.socket.send_data(message, mode="text")
        except (WebSocketDisconnect, OSError, RuntimeError):
            return False
        return True


WATCH_INTERVAL = 5.0
"""Seconds between two visits of every connection by :func:`watch_connections`."""


async def watch_connections(connections: Callable[[], Iterable[Connection]]) -> None:
    """Check every connection each ``WATCH_INTERVAL`` seconds, until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(WATCH_INTERVAL)
        now = loop.time()
        for connection in list(connections()):
            connection.check(now)
