"""Baseline for the benchmarks: the workshop fan-out written with ``websockets`` alone.

It speaks the same JSON messages as the product on ``/ws`` for one workshop that
exists from the start: phones ``join`` and ``vote``, a projector ``watch``es, a
console ``control``s, opens rounds and reveals them. It keeps everything in memory
and stores nothing. Votes are acknowledged at once, the projector gets the room view
with fresh counts at most every ``VIEW_INTERVAL`` seconds, and every phone and
projector gets the room view when a round opens or is revealed, sent with
``websockets.broadcast``. Room views have the product's fields and texts (taken from
the rubric file), so a fan-out moves as many bytes as the product's does.

The ping interval and the message size limit are left at the library's defaults.
permessage-deflate is accepted unless ``--no-deflate`` is given, with the library's
default 12-bit windows, which match uvicorn's for its ``websockets-sansio``
implementation.

Run: ``python bench/baseline_server.py --port 8100``; it prints ``Baseline running on``
when it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import signal
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

RUBRIC = Path(__file__).resolve().parent.parent / "rubric" / "nus-academic-support.toml"
VIEW_INTERVAL = 0.1
"""Minimum seconds between two projector updates, as in the product."""


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def histogram_median(counts: list[int]) -> float | None:
    """Return the median level (levels count from 1) of a histogram, or ``None`` when empty."""
    total = sum(counts)
    if total == 0:
        return None
    cumulative = []
    running = 0
    for count in counts:
        running += count
        cumulative.append(running)

    def level_at(position: int) -> int:
        return next(level for level, seen in enumerate(cumulative, 1) if position < seen)

    return (level_at((total - 1) // 2) + level_at(total // 2)) / 2


def ordinal_consensus(counts: list[int]) -> float | None:
    """Return Tastle and Wierman's consensus of a histogram, from 0 to 1."""
    total = sum(counts)
    if total == 0:
        return None
    span = len(counts) - 1
    mean = sum(level * count for level, count in enumerate(counts, 1)) / total
    value = 1.0 + sum(
        count / total * math.log2(1 - abs(level - mean) / span)
        for level, count in enumerate(counts, 1)
        if count
    )
    return round(max(0.0, value), 4)


def distribution(levels: Iterable[int | None], level_count: int) -> dict[str, Any]:
    counts = [0] * level_count
    not_sure = 0
    for level in levels:
        if level is None:
            not_sure += 1
        else:
            counts[level - 1] += 1
    return {
        "counts": counts,
        "not_sure": not_sure,
        "voters": sum(counts) + not_sure,
        "median": histogram_median(counts),
    }


@dataclass
class Round:
    number: int
    item: str
    votes: dict[int, int | None] = field(default_factory=dict)
    result: dict[str, Any] | None = None


class Workshop:
    """The one workshop: its participants, rounds and connected clients."""

    def __init__(self, workshop_id: str, join_code: str, token: str, rubric: dict) -> None:
        self.workshop_id = workshop_id
        self.join_code = join_code
        self.token = token
        self.rubric = rubric
        self.levels: list[str] = rubric["levels"]
        self.roles = [{"id": role["id"], "name": role["name"]} for role in rubric["roles"]]
        self.principles = {principle["id"]: principle for principle in rubric["principles"]}
        self.seq = 1
        self.participants: dict[int, str] = {}
        self.rounds: list[Round] = []
        self.current_item: str | None = None
        self.phones: set[ServerConnection] = set()
        self.projectors: set[ServerConnection] = set()
        self._projector_update: asyncio.TimerHandle | None = None
        self._last_projector_update = 0.0

    # Views

    def room_message(self) -> str:
        rounds_per_item: dict[str, int] = {}
        for round_ in self.rounds:
            rounds_per_item[round_.item] = rounds_per_item.get(round_.item, 0) + 1
        agenda = [
            {
                "position": position,
                "principle_id": principle["id"],
                "number": principle["number"],
                "title": principle["title"],
                "has_levels": bool(principle.get("descriptors")),
                "rounds": rounds_per_item.get(principle["id"], 0),
                "recorded": False,
                "agreed_level": None,
                "notes": "",
            }
            for position, principle in enumerate(self.rubric["principles"], 1)
        ]
        current = None
        rounds = []
        if self.current_item is not None:
            principle = self.principles[self.current_item]
            current = {
                "id": principle["id"],
                "number": principle["number"],
                "title": principle["title"],
                "statement": principle["statement"],
                "descriptors": principle.get("descriptors", []),
                "description": principle.get("description", ""),
                "has_levels": bool(principle.get("descriptors")),
            }
            rounds = [self._round_view(r) for r in self.rounds if r.item == self.current_item]
        view = {
            "seq": self.seq,
            "workshop_id": self.workshop_id,
            "title": "Bench",
            "scope": "institution",
            "unit": "Bench",
            "join_code": self.join_code,
            "levels": self.levels,
            "roles": self.roles,
            "comparison": self.rubric["comparison"],
            "small_group_threshold": 1,
            "agenda": agenda,
            "current": current,
            "rounds": rounds,
        }
        return encode({"type": "room", "view": view})

    def _round_view(self, round_: Round) -> dict[str, Any]:
        voted = dict.fromkeys((role["id"] for role in self.roles), 0)
        for participant in round_.votes:
            voted[self.participants[participant]] += 1
        return {
            "number": round_.number,
            "item": round_.item,
            "status": "voting" if round_.result is None else "revealed",
            "voted": [{"role": role, "count": count} for role, count in voted.items()],
            "result": round_.result,
        }

    def summarise(self, round_: Round) -> dict[str, Any]:
        by_role: dict[str, list[int | None]] = {role["id"]: [] for role in self.roles}
        for participant, level in round_.votes.items():
            by_role[self.participants[participant]].append(level)
        level_count = len(self.levels)
        roles = {role: distribution(votes, level_count) for role, votes in by_role.items()}
        room = distribution((v for votes in by_role.values() for v in votes), level_count)
        first, second = (roles[role]["median"] for role in self.rubric["comparison"])
        return {
            "roles": roles,
            "hidden_roles": [],
            "room": room,
            "gap": first - second if first is not None and second is not None else None,
            "consensus": ordinal_consensus(room["counts"]),
        }

    def broadcast_room(self) -> None:
        broadcast(self.phones | self.projectors, self.room_message())

    def schedule_projector_update(self) -> None:
        """Send the projectors fresh counts within ``VIEW_INTERVAL``, once for any number of
        calls in between."""
        if self._projector_update is not None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last_projector_update + VIEW_INTERVAL - loop.time())
        self._projector_update = loop.call_later(delay, self._update_projectors)

    def _update_projectors(self) -> None:
        self._projector_update = None
        self._last_projector_update = asyncio.get_running_loop().time()
        broadcast(self.projectors, self.room_message())


class Rejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Session:
    """One socket and the kind of client it identified itself as."""

    def __init__(self, workshop: Workshop, socket: ServerConnection) -> None:
        self.workshop = workshop
        self.socket = socket
        self.kind: str | None = None
        self.participant: int | None = None
        self.role: str | None = None

    async def reply(self, message: dict[str, Any]) -> None:
        await self.socket.send(encode(message))

    async def handle(self, text: str | bytes) -> None:
        try:
            message = json.loads(text)
            kind = message["type"]
        except (ValueError, KeyError, TypeError):
            invalid = {"type": "error", "ref": None, "code": "invalid_message"}
            await self.reply({**invalid, "message": "Invalid JSON."})
            return
        ref = message.get("ref")
        try:
            if kind in ("join", "watch", "control"):
                await self.identify(kind, message, ref)
            elif self.kind is None:
                raise Rejected("not_joined", "Send join, watch or control first.")
            elif kind == "vote":
                await self.vote(message, ref)
            elif kind in ("open_round", "reveal"):
                await self.facilitate(kind, message, ref)
            else:
                raise Rejected("invalid_message", f"Unknown message type {kind!r}.")
        except Rejected as rejected:
            await self.reply(
                {"type": "error", "ref": ref, "code": rejected.code, "message": rejected.message}
            )

    async def identify(self, kind: str, message: dict[str, Any], ref: int | None) -> None:
        workshop = self.workshop
        if self.kind is not None:
            raise Rejected("already_joined", "This connection has already joined.")
        if kind == "join":
            if "".join(str(message.get("code", "")).split()).upper() != workshop.join_code:
                raise Rejected("not_found", "No workshop has that join code.")
            role = message.get("role")
            if role not in {r["id"] for r in workshop.roles}:
                raise Rejected("role_required", "Choose a role before joining.")
            workshop.seq += 1
            self.participant = len(workshop.participants) + 1
            self.role = role
            workshop.participants[self.participant] = role
            self.kind = "participant"
        elif message.get("workshop") != workshop.workshop_id:
            raise Rejected("not_found", "There is no such workshop.")
        elif kind == "control":
            if message.get("token") != workshop.token:
                raise Rejected("forbidden", "That facilitator token does not match.")
            self.kind = "facilitator"
        else:
            self.kind = "projector"
        await self.reply(
            {
                "type": "welcome",
                "client": self.kind,
                "workshop": workshop.workshop_id,
                "join_url": f"/j/{workshop.join_code}",
                "participant_token": None,
                "role": self.role,
            }
        )
        if ref is not None:
            await self.reply({"type": "ack", "ref": ref, "seq": workshop.seq})
        if self.kind == "participant":
            workshop.phones.add(self.socket)
            await self.reply({"type": "your_vote", "round": None, "voted": False, "level": None})
        elif self.kind == "projector":
            workshop.projectors.add(self.socket)
            await self.socket.send(workshop.room_message())

    async def vote(self, message: dict[str, Any], ref: int | None) -> None:
        workshop = self.workshop
        if self.participant is None:
            raise Rejected("forbidden", "Only participants can vote.")
        number = message.get("round")
        level = message.get("level")
        if not isinstance(number, int) or not 1 <= number <= len(workshop.rounds):
            raise Rejected("unknown_round", f"There is no round {number}.")
        round_ = workshop.rounds[number - 1]
        if round_ is not workshop.rounds[-1]:
            raise Rejected("round_closed", f"Round {number} is closed.")
        if round_.result is not None:
            raise Rejected("round_revealed", f"Round {number} is already revealed.")
        if level is not None and (not isinstance(level, int) or not 1 <= level <= 5):
            raise Rejected("invalid_level", f"Level {level} is out of range.")
        round_.votes[self.participant] = level
        workshop.seq += 1
        if ref is not None:
            await self.reply({"type": "ack", "ref": ref, "seq": workshop.seq})
        await self.reply({"type": "your_vote", "round": number, "voted": True, "level": level})
        workshop.schedule_projector_update()

    async def facilitate(self, kind: str, message: dict[str, Any], ref: int | None) -> None:
        workshop = self.workshop
        if self.kind != "facilitator":
            raise Rejected("forbidden", "Only the facilitator can do that.")
        if kind == "open_round":
            item = message.get("item")
            if item not in workshop.principles:
                raise Rejected("unknown_item", f"{item!r} is not on the agenda.")
            if workshop.rounds and workshop.rounds[-1].result is None:
                raise Rejected("round_open", "Reveal the open round first.")
            workshop.rounds.append(Round(number=len(workshop.rounds) + 1, item=item))
            workshop.current_item = item
        else:
            number = message.get("round")
            if not isinstance(number, int) or not 1 <= number <= len(workshop.rounds):
                raise Rejected("unknown_round", f"There is no round {number}.")
            round_ = workshop.rounds[number - 1]
            if round_.result is not None:
                raise Rejected("round_revealed", f"Round {number} is already revealed.")
            round_.result = workshop.summarise(round_)
        workshop.seq += 1
        workshop.broadcast_room()
        if ref is not None:
            await self.reply({"type": "ack", "ref": ref, "seq": workshop.seq})


async def serve_forever(arguments: argparse.Namespace) -> None:
    rubric = tomllib.loads(RUBRIC.read_text(encoding="utf-8"))
    workshop = Workshop(arguments.workshop, arguments.code, arguments.token, rubric)

    async def handler(socket: ServerConnection) -> None:
        if socket.request is None or socket.request.path != "/ws":
            await socket.close(1008, "Use /ws.")
            return
        session = Session(workshop, socket)
        try:
            async for text in socket:
                await session.handle(text)
        except ConnectionClosed:
            pass
        finally:
            workshop.phones.discard(socket)
            workshop.projectors.discard(socket)

    stop = asyncio.get_running_loop().create_future()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signal_number, stop.set_result, None)
    compression = "deflate" if arguments.deflate else None
    async with serve(
        handler,
        arguments.host,
        arguments.port,
        compression=compression,
        max_size=2**20,
        backlog=4096,
    ):
        print(f"Baseline running on ws://{arguments.host}:{arguments.port}/ws", flush=True)
        await stop


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the websockets-only baseline server.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8100, help="TCP port (default 8100)")
    parser.add_argument("--workshop", default="baseline", help="id of the one workshop")
    parser.add_argument("--code", default="BENCH1", help="its join code")
    parser.add_argument(
        "--token", default="baseline-facilitator-token", help="its facilitator token"
    )
    parser.add_argument(
        "--no-deflate",
        dest="deflate",
        action="store_false",
        help="do not accept permessage-deflate, as the product by default since it added "
        "WS_PER_MESSAGE_DEFLATE",
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="event loop; uvicorn picks uvloop when it is installed (default uvloop)",
    )
    arguments = parser.parse_args()
    if arguments.loop == "uvloop":
        import uvloop

        uvloop.install()
    asyncio.run(serve_forever(arguments))


if __name__ == "__main__":
    main()
