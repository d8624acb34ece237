"""Live workshops in this process: their state, their connections and their fan-out.

A :class:`WorkshopRuntime` contains one workshop's folded state and its connected
clients. A command is decided against the state, then stored with a guard on the
workshop's latest round, so the store settles races between commands from any
process. The state advances only by applying stored events in sequence order, as
the store reports them, so every view shows only what is durable. Views are rebuilt
at most every ``VIEW_INTERVAL`` seconds and each is encoded once for all the clients
of a kind.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Iterator

import msgspec

from server import domain
from server.connection import Connection
from server.domain import (
    CommandRejected,
    Event,
    ParticipantJoined,
    VoteCast,
    WorkshopCreated,
    WorkshopState,
)
from server.protocol import Console, Error, Room, Status, YourVote, encode
from server.rubric import Rubric
from server.store import EventStore, JoinCodeTaken, RoundChanged, StoreUnavailable
from server.views import Presence, RoleCount, RoomView, build_console_view, build_room_view

__all__ = ("Hub", "WorkshopRuntime", "normalise_code")

logger = logging.getLogger(__name__)

FAN_OUT_CHUNK = 500
"""Connections handed a view in one step of the event loop. At about 25 µs of send
work each (an estimate from the 10,000-phone benchmark), a chunk keeps other clients
waiting for about 12 ms."""
MAX_ATTEMPTS = 5
"""Times a command is decided again after losing a race for the latest round."""
VIEW_INTERVAL = 0.1
"""Minimum seconds between two view updates of one workshop; bursts of votes in
between are coalesced into the next update."""
JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""Letters and digits that cannot be confused with each other (no I, O, 0 or 1)."""
JOIN_CODE_LENGTH = 6

_UNSEEN_BY_PHONES = (VoteCast, ParticipantJoined)
"""Events that change nothing a phone's view shows: it leaves out live counts and
who joined."""

_event_encoder = msgspec.json.Encoder()
_event_decoder = msgspec.json.Decoder(Event)


def normalise_code(code: str) -> str:
    """Return a join code as stored: upper case, without spaces or dashes."""
    return "".join(code.split()).replace("-", "").upper()


class WorkshopRuntime:
    """One workshop's state and connections in this process."""

    def __init__(self, state: WorkshopState, store: EventStore) -> None:
        self.state = state
        self._store = store
        self.connections: set[Connection] = set()
        self._by_participant: dict[str, tuple[Connection, ...]] = {}
        """Each participant's open tabs and devices; a tuple, because most have only one."""
        self._audiences: dict[str, set[Connection]] = {}
        """Connections per kind of client."""
        self._texts: dict[str, str] = {}
        """The latest view sent to each kind of client, for clients that join later."""
        self._fingerprints: dict[str, str] = {}
        """Each kind's latest view encoded without its sequence number, to skip repeats."""
        self._phones_stale = True
        """Whether an event since the phones' last view may have changed what they see."""
        self._present: dict[str, int] = {}
        """Connected clients per kind, and participants per role as ``participant:<role>``."""
        self._flush_handle: asyncio.TimerHandle | None = None
        self._last_flush = 0.0
        self._catch_up_lock = asyncio.Lock()
        self._catch_up_task: asyncio.Task[None] | None = None
        self._catch_up_requested = False

    @property
    def workshop_id(self) -> str:
        return self.state.created.workshop_id

    async def execute(self, decide: Callable[[WorkshopState], list[Event]]) -> int:
        """Decide a command against the state, store its events and return the new seq.

        When another command changed the latest round first, the state catches up
        with the store and the command is decided again, so its error names what
        happened (for example that the round is now revealed).

        Raises:
            CommandRejected: from ``decide``; nothing changes.
            StoreUnavailable: the events could not be stored; nothing changes.
        """
        for _ in range(MAX_ATTEMPTS):
            events = decide(self.state)
            if not events:
                return self.state.seq
            expect_round, set_round = domain.round_guard(self.state, events)
            try:
                last_seq = await self._store.append(
                    self.workshop_id,
                    [_event_encoder.encode(event) for event in events],
                    expect_round=expect_round,
                    set_round=set_round,
                )
            except RoundChanged:
                await self.catch_up()
                continue
            except StoreUnavailable as error:
                logger.error("workshop %s: storing events failed: %s", self.workshop_id, error)
                raise StoreUnavailable(
                    "The server could not save that change, so it was not applied; try again."
                ) from error
            first_seq = last_seq - len(events) + 1
            if first_seq <= self.state.seq + 1:
                # The store put exactly these events at these seqs, so they need no read.
                self._apply_new(first_seq - 1, events)
            else:
                # Other commands' events came in between and have not arrived yet.
                await self.catch_up(last_seq)
            return last_seq
        raise CommandRejected(
            "conflict", "The workshop kept changing while that was saved; try again."
        )

    def deliver(self, last_seq: int, events: list[bytes] | None) -> None:
        """Apply newly stored events that end at ``last_seq``.

        When the events are not given, or do not follow on from the state, read them
        from the store instead.
        """
        if last_seq <= self.state.seq:
            return
        if events is None or last_seq - len(events) > self.state.seq:
            self.catch_up_soon()
            return
        decoded = [_event_decoder.decode(payload) for payload in events]
        self._apply_new(last_seq - len(events), decoded)

    def _apply_new(self, after: int, events: list[Event]) -> None:
        """Apply the events stored after seq ``after`` that the state does not have yet.

        A read from the store and a notice of the same events can both arrive while
        the other is awaited, so each event is applied only if it is the next one.
        """
        for seq, event in enumerate(events, start=after + 1):
            if seq == self.state.seq + 1:
                domain.apply(self.state, event)
                if not isinstance(event, _UNSEEN_BY_PHONES):
                    self._phones_stale = True
        self.schedule_views()

    def catch_up_soon(self) -> None:
        """Catch up with the store in the background; many requests make one read each
        time the previous read ends, not one read each."""
        self._catch_up_requested = True
        if self._catch_up_task is None or self._catch_up_task.done():
            self._catch_up_task = asyncio.get_running_loop().create_task(
                self._catch_up_while_requested()
            )

    async def _catch_up_while_requested(self) -> None:
        while self._catch_up_requested:
            self._catch_up_requested = False
            try:
                await self.catch_up()
            except StoreUnavailable as error:
                logger.error(
                    "workshop %s: catching up with the store failed: %s", self.workshop_id, error
                )
                return
            except Exception as error:  # noqa: BLE001 - a bad event must not end the task silently
                # The error text may quote an event, so only its kind is logged.
                logger.error(
                    "workshop %s: applying stored events failed (%s); its views stay at seq %d",
                    self.workshop_id,
                    type(error).__name__,
                    self.state.seq,
                )
                return

    async def catch_up(self, target_seq: int | None = None) -> None:
        """Apply every stored event the state lacks, or only until it reaches ``target_seq``."""
        if target_seq is not None and self.state.seq >= target_seq:
            return
        async with self._catch_up_lock:
            if target_seq is not None and self.state.seq >= target_seq:
                return
            after = self.state.seq
            payloads = await self._store.read(self.workshop_id, after=after)
            self._apply_new(after, [_event_decoder.decode(payload) for payload in payloads])

    def attach(self, connection: Connection) -> None:
        self.connections.add(connection)
        self._audiences.setdefault(connection.kind, set()).add(connection)
        latest = self._texts.get(connection.kind)
        if latest is not None:
            connection.send_view(latest)
        if connection.participant is None:
            self._count(connection.kind, 1)
        else:
            tabs = (*self._by_participant.get(connection.participant, ()), connection)
            self._by_participant[connection.participant] = tabs
            # A participant with several tabs or devices is one person present.
            if len(tabs) == 1:
                self._count(f"participant:{connection.role}", 1)
        self.schedule_views()

    def detach(self, connection: Connection) -> None:
        if connection not in self.connections:
            return
        self.connections.discard(connection)
        self._audiences.get(connection.kind, set()).discard(connection)
        if connection.participant is None:
            self._count(connection.kind, -1)
        else:
            tabs = self._by_participant.pop(connection.participant, ())
            left = tuple(tab for tab in tabs if tab is not connection)
            if left:
                self._by_participant[connection.participant] = left
            else:
                self._count(f"participant:{connection.role}", -1)
        self.schedule_views()

    def close(self) -> None:
        """Forget every connection and cancel the next view update, once the workshop is
        deleted."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self.connections.clear()
        self._audiences.clear()
        self._by_participant.clear()
        self._texts.clear()

    def _count(self, key: str, change: int) -> None:
        self._present[key] = self._present.get(key, 0) + change

    def connections_of(self, participant: str) -> tuple[Connection, ...]:
        """Return the open connections (tabs, devices) of one participant."""
        return self._by_participant.get(participant, ())

    def your_vote(self, participant: str) -> str:
        """Encode a participant's own vote in the latest round, for that participant only."""
        latest = self.state.latest_round
        if latest is None:
            return encode(YourVote(round=None, voted=False, level=None))
        return encode(
            YourVote(
                round=latest.number,
                voted=participant in latest.votes,
                level=latest.votes.get(participant),
            )
        )

    def schedule_views(self) -> None:
        """Send fresh views soon, at most once per ``VIEW_INTERVAL``."""
        if self._flush_handle is not None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last_flush + VIEW_INTERVAL - loop.time())
        self._flush_handle = loop.call_later(delay, self._send_views)

    def _send_views(self) -> None:
        self._flush_handle = None
        self._last_flush = asyncio.get_running_loop().time()
        projectors = self._audiences.get("projector")
        facilitators = self._audiences.get("facilitator")
        phones = self._audiences.get("participant")
        # Phones do not show live counts, so votes and joins cost them no message. With
        # several workers, most have no projector of a workshop and skip its views.
        if not projectors:
            self._forget("projector")
        if self._phones_stale and not phones:
            self._forget("participant")
        if not (projectors or facilitators or (phones and self._phones_stale)):
            return

        room_view = build_room_view(self.state)
        if projectors:
            self._publish("projector", room_view)
        if phones and self._phones_stale:
            self._phones_stale = False
            self._publish("participant", _without_live_counts(room_view))
        if facilitators:
            console_view = build_console_view(self.state, room_view, self._presence())
            text = encode(Console(view=console_view))
            self._texts["facilitator"] = text
            for connection in facilitators:
                connection.send_view(text)

    def _forget(self, kind: str) -> None:
        """Drop the latest view of a kind that has no clients here. It would go stale,
        so the next client of that kind waits for a fresh one."""
        self._texts.pop(kind, None)
        self._fingerprints.pop(kind, None)

    def _publish(self, kind: str, view: RoomView) -> None:
        """Send ``view`` to every client of ``kind`` unless it shows what they already have."""
        fingerprint = encode(Room(view=msgspec.structs.replace(view, seq=0)))
        if fingerprint == self._fingerprints.get(kind):
            return
        self._fingerprints[kind] = fingerprint
        text = encode(Room(view=view))
        self._texts[kind] = text
        self._fan_out(kind, text, list(self._audiences.get(kind, ())), 0)

    def _fan_out(self, kind: str, text: str, connections: list[Connection], start: int) -> None:
        """Hand ``text`` to ``FAN_OUT_CHUNK`` connections, then yield to the event loop
        before the next chunk, so other clients are served while 10,000 phones are."""
        if self._texts.get(kind) is not text:
            return  # A newer view is on its way to everyone.
        end = start + FAN_OUT_CHUNK
        for connection in connections[start:end]:
            connection.send_view(text)
        if end < len(connections):
            asyncio.get_running_loop().call_soon(self._fan_out, kind, text, connections, end)

    def _presence(self) -> Presence:
        roles = [role.id for role in self.state.rubric.roles]
        return Presence(
            participants=[
                RoleCount(role=role, count=self._present.get(f"participant:{role}", 0))
                for role in roles
            ],
            projectors=self._present.get("projector", 0),
            facilitators=self._present.get("facilitator", 0),
        )


def _without_live_counts(view: RoomView) -> RoomView:
    rounds = [
        msgspec.structs.replace(round_, voted=[]) if round_.status == "voting" else round_
        for round_ in view.rounds
    ]
    return msgspec.structs.replace(view, rounds=rounds)


async def load_events(store: EventStore, workshop_id: str) -> list[Event]:
    return [_event_decoder.decode(payload) for payload in await store.read(workshop_id)]


class Hub:
    """Every workshop this process serves, loaded from the store on first use."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._runtimes: dict[str, WorkshopRuntime] = {}
        self._loading: dict[str, asyncio.Lock] = {}
        store.listener = self._deliver
        store.reconnected = self._store_reconnected
        store.disconnected = self._store_disconnected
        store.removed = self._remove
        store.missed = self._catch_up_all
        self.paused_status: str | None = None
        """The status message to greet new clients with while the store is unreachable."""
        self.closed_connections = 0
        """Websockets closed since the process started, identified or not."""

    def connection_count(self) -> int:
        """Return the number of identified connections to every workshop in this process."""
        return sum(len(runtime.connections) for runtime in self._runtimes.values())

    def round_open(self) -> bool:
        """Tell whether a workshop with clients in this process has a round taking votes."""
        return any(
            runtime.connections and runtime.state.voting_round is not None
            for runtime in self._runtimes.values()
        )

    def all_connections(self) -> Iterator[Connection]:
        """Yield every identified connection of every workshop in this process."""
        for runtime in self._runtimes.values():
            yield from runtime.connections

    def _deliver(self, workshop_id: str, last_seq: int, events: list[bytes] | None) -> None:
        runtime = self._runtimes.get(workshop_id)
        if runtime is None:
            return
        try:
            runtime.deliver(last_seq, events)
        except Exception as error:  # noqa: BLE001 - the store's writer or follower must go on
            # An event this version cannot decode, say from a newer worker. The error text
            # may quote the event, so only its kind is logged, and a read tries again.
            logger.error(
                "workshop %s: applying events up to seq %d failed (%s)",
                workshop_id,
                last_seq,
                type(error).__name__,
            )
            runtime.catch_up_soon()

    def _catch_up_all(self) -> None:
        for runtime in self._runtimes.values():
            runtime.catch_up_soon()

    def _remove(self, workshop_id: str) -> None:
        """Forget a deleted workshop and close its clients' connections."""
        runtime = self._runtimes.pop(workshop_id, None)
        if runtime is None:
            return
        logger.info(
            "workshop %s deleted; closing %d connections", workshop_id, len(runtime.connections)
        )
        message = encode(
            Error(
                ref=None,
                code="workshop_deleted",
                message="The facilitator deleted this workshop and all its data.",
            )
        )
        for connection in list(runtime.connections):
            connection.send(message)
            connection.finish()
        runtime.close()

    def _store_disconnected(self) -> None:
        logger.error("the event store is unreachable; changes are paused")
        self._announce(
            Status(
                store="paused",
                message="The server lost its database, so changes are paused; "
                "they resume by themselves once it is back.",
            )
        )

    def _store_reconnected(self) -> None:
        logger.info("the event store is reachable again; catching up")
        self._catch_up_all()
        self._announce(Status(store="ok", message="Changes are saved again."))

    def _announce(self, status: Status) -> None:
        message = encode(status)
        self.paused_status = message if status.store == "paused" else None
        for runtime in self._runtimes.values():
            for connection in runtime.connections:
                connection.send(message)

    async def create_workshop(
        self,
        *,
        title: str,
        scope: str,
        unit: str,
        rubric: Rubric,
        agenda: list[str],
        small_group_threshold: int,
    ) -> tuple[WorkshopRuntime, str]:
        """Create and store a new workshop; return it with its facilitator token."""
        token = secrets.token_urlsafe(32)
        workshop_id = secrets.token_urlsafe(12)
        for _ in range(20):
            join_code = "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))
            created = WorkshopCreated(
                workshop_id=workshop_id,
                title=title,
                scope=scope,
                unit=unit,
                rubric=rubric,
                agenda=agenda,
                join_code=join_code,
                facilitator_digest=domain.token_digest(token),
                small_group_threshold=small_group_threshold,
                created_at=time.time(),
            )
            try:
                await self.store.create(workshop_id, join_code, _event_encoder.encode(created))
            except JoinCodeTaken:
                continue
            runtime = WorkshopRuntime(domain.fold([created]), self.store)
            self._runtimes[workshop_id] = runtime
            logger.info("workshop %s created on rubric %s", workshop_id, rubric.id)
            return runtime, token
        raise StoreUnavailable("no free join code was found after 20 tries")

    async def by_id(self, workshop_id: str) -> WorkshopRuntime | None:
        """Return a workshop's runtime, loading it from the store if needed."""
        runtime = self._runtimes.get(workshop_id)
        if runtime is not None:
            return runtime
        lock = self._loading.setdefault(workshop_id, asyncio.Lock())
        async with lock:
            runtime = self._runtimes.get(workshop_id)
            if runtime is None:
                events = await load_events(self.store, workshop_id)
                if not events:
                    return None
                runtime = WorkshopRuntime(domain.fold(events), self.store)
                self._runtimes[workshop_id] = runtime
                logger.info(
                    "workshop %s loaded from the store (%d events)", workshop_id, len(events)
                )
                # Notices of events stored during the load found no runtime to apply them.
                runtime.catch_up_soon()
        self._loading.pop(workshop_id, None)
        return runtime

    async def by_code(self, code: str) -> WorkshopRuntime | None:
        workshop_id = await self.store.find_by_code(normalise_code(code))
        return await self.by_id(workshop_id) if workshop_id else None
