"""One client's websocket: its identity, its queue of messages and their sending.

Sends never run in the code that produced them. Each connection keeps a short queue
of direct messages (acks, errors, its own vote) plus a single slot for the latest
view. A task drains them while there is something to send and ends when the queue
is empty, so an idle phone holds no task of its own, a stalled phone delays no other
client, and a slow one skips stale views instead of falling behind.

Timers are kept off that path: :func:`watch_connections` visits every connection a
few times a minute, pings the idle ones and drops the ones stuck in one send.
"""

from __future__ import annotations

import asyncio
import logging
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
    """A connected client and the identity it declared.

    ``handler`` is the task serving the socket. The connection cancels it when the
    client is dropped, so that task's cleanup detaches the client and closes the socket
    as far as ASGI allows.
    """

    # Ten thousand phones each hold one of these for hours, so no __dict__.
    __slots__ = (
        "_direct",
        "_finishing",
        "_handler",
        "_sender",
        "_view",
        "dropped",
        "kind",
        "last_sent",
        "participant",
        "role",
        "sending_since",
        "socket",
    )

    def __init__(
        self,
        socket: WebSocket,
        kind: ClientKind,
        handler: asyncio.Task[object] | None = None,
    ) -> None:
        self.socket = socket
        self.kind: ClientKind = kind
        self.participant: str | None = None
        self.role: str | None = None
        self._handler = handler
        self._direct: list[str] = []
        self._view: str | None = None
        self._finishing = False
        self._sender: asyncio.Task[None] | None = None
        self.sending_since: float | None = None
        """Loop time at which the send in progress started, if one is."""
        self.last_sent = asyncio.get_running_loop().time()
        """Loop time at which the last send finished."""
        self.dropped = False
        """Set once the server gave up on this client; nothing more is sent to it."""

    def send(self, message: str) -> None:
        """Queue a message for this client only; a client too slow to keep up is dropped."""
        if self.dropped:
            return
        if len(self._direct) >= MAX_QUEUED_MESSAGES:
            logger.warning("closing a connection (%s) that stopped reading its messages", self.kind)
            self.drop()
            return
        self._direct.append(message)
        self._start_sending()

    def send_view(self, message: str) -> None:
        """Replace any unsent view with ``message``, unless the connection is closing."""
        if self.dropped or self._finishing:
            return
        self._view = message
        self._start_sending()

    def finish(self) -> None:
        """Close the connection once the messages queued so far are sent."""
        self._finishing = True
        self._start_sending()

    def drop(self) -> None:
        """Stop sending to this client and end the task serving its socket."""
        if self.dropped:
            return
        self.dropped = True
        current = asyncio.current_task()
        for task in (self._sender, self._handler):
            if task is not None and task is not current:
                task.cancel()

    def _start_sending(self) -> None:
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_queued())

    async def _send_queued(self) -> None:
        """Send the queued messages in order, then the latest view, and end."""
        loop = asyncio.get_running_loop()
        try:
            while (self._direct or self._view is not None) and not self.dropped:
                if self._direct:
                    message = self._direct.pop(0)
                else:
                    message, self._view = self._view, None
                self.sending_since = loop.time()
                sent = await self._send_now(message)
                self.sending_since = None
                self.last_sent = loop.time()
                if not sent:
                    self.drop()
        finally:
            self._sender = None
        if self._finishing:
            self.drop()

    def check(self, now: float) -> None:
        """Ping the client when it has been sent nothing for a while, and drop it when
        one send has taken longer than ``SEND_TIMEOUT``."""
        if self.sending_since is not None and now - self.sending_since > SEND_TIMEOUT:
            logger.warning(
                "closing a connection (%s): a send took over %ss", self.kind, SEND_TIMEOUT
            )
            self.drop()
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
