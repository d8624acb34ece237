"""The one websocket endpoint shared by phones, projectors and facilitators.

A client says who it is with its first message (``join``, ``watch`` or ``control``)
and may then send the commands its kind allows. Every rejected message gets an
``error`` naming the problem and leaves the socket open.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from server import domain
from server.connection import Connection
from server.domain import CommandRejected, WorkshopState
from server.hub import Hub, WorkshopRuntime
from server.protocol import (
    Ack,
    ClearPriority,
    ClientMessage,
    Control,
    Error,
    Join,
    OpenRound,
    Record,
    Reveal,
    SetPriority,
    ShowItem,
    Vote,
    Watch,
    Welcome,
    decode_client_message,
    encode,
    salvage_ref,
)
from server.security import RateLimiter, client_address, origin_allowed
from server.settings import Settings
from server.store import StoreUnavailable

__all__ = ("MAX_MESSAGE_BYTES", "workshop_socket")

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024
"""Largest client message handled; larger ones get an error. The server closes the
connection only above uvicorn's own ``ws_max_size``."""


class _Session:
    """The identity a socket declared, and the commands it may send."""

    __slots__ = (
        "address",
        "connection",
        "hub",
        "join_base",
        "limiter",
        "max_participants",
        "runtime",
    )

    def __init__(
        self,
        hub: Hub,
        connection: Connection,
        join_base: str,
        *,
        address: str,
        limiter: RateLimiter,
        max_participants: int,
    ) -> None:
        self.hub = hub
        self.connection = connection
        self.join_base = join_base
        self.address = address
        self.limiter = limiter
        self.max_participants = max_participants
        self.runtime: WorkshopRuntime | None = None

    def reply(self, message: Ack | Error | Welcome) -> None:
        self.connection.send(encode(message))

    def reject(self, ref: int | None, code: str, message: str) -> None:
        self.reply(Error(ref=ref, code=code, message=message))

    async def handle(self, message: ClientMessage) -> None:
        try:
            if isinstance(message, Join | Watch | Control):
                await self._identify(message)
            else:
                await self._command(message)
        except CommandRejected as rejected:
            self.reject(message.ref, rejected.code, rejected.message)
        except StoreUnavailable as error:
            self.reject(message.ref, "store_unavailable", str(error))

    async def _identify(self, message: Join | Watch | Control) -> None:
        if self.runtime is not None:
            raise CommandRejected(
                "already_joined", "This connection has already joined; open a new one to switch."
            )
        if isinstance(message, Join):
            if self.limiter.blocked(self.address):
                raise CommandRejected(
                    "rate_limited",
                    "Too many wrong join codes from this network; wait a minute and try again.",
                )
            runtime = await self.hub.by_code(message.code)
            if runtime is None:
                self.limiter.record(self.address)
                raise CommandRejected(
                    "not_found",
                    f"No workshop has the join code {message.code!r}; "
                    "check the code on the screen.",
                )
            await self._join(runtime, message)
            return

        runtime = await self.hub.by_id(message.workshop)
        if runtime is None:
            raise CommandRejected("not_found", f"There is no workshop {message.workshop!r}.")
        if isinstance(message, Control):
            expected = runtime.state.created.facilitator_digest
            if not hmac.compare_digest(domain.token_digest(message.token), expected):
                raise CommandRejected(
                    "forbidden", "That facilitator token does not match this workshop."
                )
            self.connection.kind = "facilitator"
            logger.info("workshop %s: a facilitator connected", runtime.workshop_id)
        else:
            self.connection.kind = "projector"
        self._welcome(runtime, message.ref)

    async def _join(self, runtime: WorkshopRuntime, message: Join) -> None:
        token = message.token or secrets.token_urlsafe(32)
        joined: list[str] = []

        def decide(state: WorkshopState) -> list[domain.Event]:
            participant, events = domain.decide_join(state, role=message.role, token=token)
            # NOTE: workers check the cap against their own copy, so several workers
            # joining people at the same moment can pass it by a few.
            if events and len(state.participants) >= self.max_participants:
                raise CommandRejected(
                    "workshop_full",
                    f"This workshop is full: it takes {self.max_participants} participants.",
                )
            joined.append(participant)
            return events

        await runtime.execute(decide)
        participant = joined[0]
        self.connection.kind = "participant"
        self.connection.participant = participant
        self.connection.role = runtime.state.participants[participant]
        self._welcome(runtime, message.ref, token=token)
        self.connection.send(runtime.your_vote(participant))

    def _welcome(self, runtime: WorkshopRuntime, ref: int | None, token: str | None = None) -> None:
        self.runtime = runtime
        created = runtime.state.created
        self.reply(
            Welcome(
                client=self.connection.kind,
                workshop=created.workshop_id,
                join_url=f"{self.join_base}/j/{created.join_code}",
                participant_token=token,
                role=self.connection.role,
            )
        )
        if ref is not None:
            self.reply(Ack(ref=ref, seq=runtime.state.seq))
        if self.hub.paused_status is not None:
            self.connection.send(self.hub.paused_status)
        runtime.attach(self.connection)

    async def _command(self, message: ClientMessage) -> None:
        runtime = self.runtime
        if runtime is None:
            raise CommandRejected(
                "not_joined", "Send join, watch or control first to say which workshop this is."
            )
        kind = self.connection.kind
        if isinstance(message, Vote):
            if kind != "participant":
                raise CommandRejected("forbidden", "Only participants can vote.")
            seq = await self._vote(runtime, message)
        else:
            if kind != "facilitator":
                raise CommandRejected("forbidden", "Only the facilitator can do that.")
            seq = await self._facilitate(runtime, message)
        if message.ref is not None:
            self.reply(Ack(ref=message.ref, seq=seq))

    async def _vote(self, runtime: WorkshopRuntime, message: Vote) -> int:
        participant = self.connection.participant
        if participant is None:
            raise CommandRejected("not_joined", "Join the workshop before voting.")
        seq = await runtime.execute(
            lambda state: domain.decide_vote(
                state, participant=participant, round_number=message.round, level=message.level
            )
        )
        # The participant's other tabs learn the new choice; this one has the ack.
        tabs = runtime.connections_of(participant)
        if len(tabs) > 1:
            your_vote = runtime.your_vote(participant)
            for connection in tabs:
                if connection is not self.connection:
                    connection.send(your_vote)
        return seq

    async def _facilitate(self, runtime: WorkshopRuntime, message: ClientMessage) -> int:
        now = time.time()
        workshop = runtime.workshop_id
        match message:
            case ShowItem(item=item):
                seq = await runtime.execute(lambda s: domain.decide_show_item(s, item=item))
                logger.info("workshop %s: showing item %s", workshop, item)
            case OpenRound(item=item):
                seq = await runtime.execute(
                    lambda s: domain.decide_open_round(s, item=item, now=now)
                )
                logger.info("workshop %s: round %d opened", workshop, len(runtime.state.rounds))
            case Reveal(round=number):
                seq = await runtime.execute(
                    lambda s: domain.decide_reveal(s, round_number=number, now=now)
                )
                logger.info("workshop %s: round %d revealed", workshop, number)
            case Record(item=item, level=level, notes=notes):
                seq = await runtime.execute(
                    lambda s: domain.decide_record(s, item=item, level=level, notes=notes, now=now)
                )
                logger.info("workshop %s: agreement recorded for %s", workshop, item)
            case SetPriority():
                seq = await runtime.execute(
                    lambda s: domain.decide_set_priority(
                        s,
                        item=message.item,
                        target_level=message.target_level,
                        actions=message.actions,
                        staff_owner=message.staff_owner,
                        student_owner=message.student_owner,
                        now=now,
                    )
                )
                logger.info("workshop %s: priority set on %s", workshop, message.item)
            case ClearPriority(item=item):
                seq = await runtime.execute(lambda s: domain.decide_clear_priority(s, item=item))
                logger.info("workshop %s: priority cleared on %s", workshop, item)
            case _:
                raise CommandRejected("invalid_message", "That message is not a command.")
        return seq


def _frame_text(event: dict[str, object]) -> str | bytes | None:
    text = event.get("text")
    if isinstance(text, str):
        return text
    data = event.get("bytes")
    if isinstance(data, bytes):
        return data
    return None


@websocket("/ws")
async def workshop_socket(socket: WebSocket) -> None:
    """Serve one client for as long as it stays connected."""
    state = socket.app.state
    settings: Settings = state.settings
    if not origin_allowed(socket, settings.public_url):
        logger.warning("rejected a websocket from another site's page")
        await socket.close(code=1008, reason="Cross-site websocket rejected")
        return
    await socket.accept()
    hub: Hub = state.hub
    # The receive loop runs in this task and the connection sends from a task of its
    # own only while it has something to send: an idle phone costs one task, not three.
    connection = Connection(socket, kind="unidentified", handler=asyncio.current_task())
    session = _Session(
        hub,
        connection,
        state.public_base(socket),
        address=client_address(socket),
        limiter=state.join_limiter,
        max_participants=settings.max_participants,
    )
    try:
        await _receive_loop(socket, session)
    except asyncio.CancelledError:
        # The connection cancels this task once when it drops the client. Any other
        # cancellation, such as the server shutting down, is re-raised.
        task = asyncio.current_task()
        if not connection.dropped or task is None or task.uncancel() > 0:
            raise
    finally:
        connection.drop()
        hub.closed_connections += 1
        if session.runtime is not None:
            session.runtime.detach(connection)
        await _close(socket)


CLOSE_TIMEOUT = 5.0
"""Seconds to wait for the close frame to be sent."""


async def _close(socket: WebSocket) -> None:
    if socket.connection_state == "disconnect":
        return
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await socket.close()
    except (TimeoutError, RuntimeError, OSError, WebSocketDisconnect):
        # NOTE: a client that stopped reading cannot take the close frame, and ASGI
        # offers no way to abort the connection, so its socket and unsent data stay
        # until the client reads again or the kernel gives up on it.
        pass


async def _receive_loop(socket: WebSocket, session: _Session) -> None:
    while not session.connection.dropped:
        try:
            event = await socket.receive()
        except WebSocketDisconnect:
            return
        if event["type"] == "websocket.disconnect":
            return
        frame = _frame_text(event)  # type: ignore[arg-type]
        # Forget the message before waiting for the next one, which may take an hour:
        # ten thousand idle phones would each keep their last message alive.
        del event
        if frame is not None:
            await _handle_frame(session, frame)
            del frame


async def _handle_frame(session: _Session, frame: str | bytes) -> None:
    size = len(frame) if isinstance(frame, bytes) else len(frame.encode())
    if size > MAX_MESSAGE_BYTES:
        session.reject(
            None,
            "too_large",
            f"Message of {size} bytes is over the limit of {MAX_MESSAGE_BYTES}.",
        )
        return
    try:
        message = decode_client_message(frame)
    except msgspec.DecodeError as error:
        session.reject(salvage_ref(frame), "invalid_message", f"Invalid message: {error}")
        return
    try:
        await session.handle(message)
    except Exception:
        logger.exception("unexpected error while handling a %s message", type(message).__name__)
        session.reject(
            message.ref, "server_error", "The server failed to handle that message; try again."
        )
