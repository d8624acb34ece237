"""What each kind of client may see of a workshop, computed from its state.

The room view goes to projectors and phones alike; the console view adds what only
facilitators see (join and connection counts). Neither ever carries an individual
vote: before a reveal a round shows how many of each role have voted, and after it
the per-role distributions of :mod:`server.stats`.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from server.domain import ASPECT_SEPARATOR, Round, WorkshopState, split_item
from server.rubric import Aspect, Principle, Role
from server.stats import RoundResult

__all__ = ("AgendaEntry", "ConsoleView", "RoomView", "build_console_view", "build_room_view")


class PrincipleView(msgspec.Struct, frozen=True):
    """A principle as phones and the projector show it."""

    id: str
    number: int
    title: str
    statement: str
    descriptors: list[str]
    """One per level, lowest first; empty for a discussion item."""
    description: str
    has_levels: bool
    item: str
    """The agenda item on screen: the principle id, or ``<principle>/<aspect>``."""
    aspect: AspectSummary | None
    """The aspect on screen when the item is one aspect of the principle."""


class AspectSummary(msgspec.Struct, frozen=True):
    id: str
    title: str
    description: str


class AspectEntry(msgspec.Struct, frozen=True):
    """One aspect of an agenda item and what has been recorded for it."""

    id: str
    item: str
    """The id to send in commands: ``<principle>/<aspect>``."""
    title: str
    rounds: int
    recorded: bool
    agreed_level: int | None
    notes: str


class PriorityView(msgspec.Struct, frozen=True):
    """A principle chosen as a priority; owners are role holders the facilitator typed."""

    target_level: int | None
    actions: str
    staff_owner: str
    student_owner: str


class AgendaEntry(msgspec.Struct, frozen=True):
    """One agenda item and what has been recorded for it."""

    position: int
    principle_id: str
    number: int
    title: str
    has_levels: bool
    rounds: int
    recorded: bool
    agreed_level: int | None
    notes: str
    aspects: list[AspectEntry]
    aspect_mean: float | None
    """Mean of the levels agreed for the aspects, or ``None`` before any is agreed."""
    priority: PriorityView | None


class RoleCount(msgspec.Struct, frozen=True):
    role: str
    count: int


class RoundView(msgspec.Struct, frozen=True):
    """A round of votes: counts while voting, results once revealed."""

    number: int
    item: str
    status: Literal["voting", "revealed"]
    voted: list[RoleCount]
    """How many of each role have voted so far, "not sure" included."""
    result: RoundResult | None
    opened_at: float
    """When the round opened, in Unix seconds by the server's clock."""


class RoomView(msgspec.Struct, frozen=True):
    """The shared view of a workshop for projectors and phones."""

    seq: int
    """Sequence number of the last event the view includes."""
    workshop_id: str
    title: str
    scope: str
    unit: str
    join_code: str
    levels: list[str]
    roles: list[Role]
    comparison: tuple[str, str]
    small_group_threshold: int
    agenda: list[AgendaEntry]
    current: PrincipleView | None
    """The agenda item on screen, or ``None`` before the first one."""
    rounds: list[RoundView]
    """Every round on the current item, oldest first; the last is the live one."""


class Presence(msgspec.Struct, frozen=True):
    """Counts of the clients connected right now."""

    participants: list[RoleCount]
    projectors: int
    facilitators: int


class ConsoleView(msgspec.Struct, frozen=True):
    """The facilitator's view: the room view plus join and connection counts."""

    room: RoomView
    joined: list[RoleCount]
    connected: Presence


def _principle_view(principle: Principle, item: str, aspect: Aspect | None) -> PrincipleView:
    return PrincipleView(
        id=principle.id,
        number=principle.number,
        title=principle.title,
        statement=principle.statement,
        descriptors=principle.descriptors,
        description=principle.description,
        has_levels=principle.has_levels,
        item=item,
        aspect=AspectSummary(aspect.id, aspect.title, aspect.description) if aspect else None,
    )


def aspect_mean(levels: list[int]) -> float | None:
    """Return the mean of aspect levels to two decimals, or ``None`` for no levels."""
    return round(sum(levels) / len(levels), 2) if levels else None


def _aspect_entries(
    state: WorkshopState, principle: Principle, rounds_per_item: dict[str, int]
) -> list[AspectEntry]:
    entries = []
    for aspect in principle.aspects:
        item = f"{principle.id}{ASPECT_SEPARATOR}{aspect.id}"
        agreement = state.agreements.get(item)
        entries.append(
            AspectEntry(
                id=aspect.id,
                item=item,
                title=aspect.title,
                rounds=rounds_per_item.get(item, 0),
                recorded=agreement is not None,
                agreed_level=agreement.level if agreement else None,
                notes=agreement.notes if agreement else "",
            )
        )
    return entries


def _priority_view(state: WorkshopState, principle_id: str) -> PriorityView | None:
    priority = state.priorities.get(principle_id)
    if priority is None:
        return None
    return PriorityView(
        target_level=priority.target_level,
        actions=priority.actions,
        staff_owner=priority.staff_owner,
        student_owner=priority.student_owner,
    )


def _round_view(state: WorkshopState, round_: Round) -> RoundView:
    voted = {role.id: round_.voted_by_role.get(role.id, 0) for role in state.rubric.roles}
    return RoundView(
        number=round_.number,
        item=round_.item,
        status="revealed" if round_.revealed else "voting",
        voted=[RoleCount(role=role, count=count) for role, count in voted.items()],
        result=round_.result,
        opened_at=round_.opened_at,
    )


def build_room_view(state: WorkshopState) -> RoomView:
    """Build the view that projectors and phones receive."""
    created = state.created
    rounds_per_item: dict[str, int] = {}
    for round_ in state.rounds:
        rounds_per_item[round_.item] = rounds_per_item.get(round_.item, 0) + 1

    agenda = []
    for position, principle in enumerate(state.agenda_principles(), start=1):
        agreement = state.agreements.get(principle.id)
        agenda.append(
            AgendaEntry(
                position=position,
                principle_id=principle.id,
                number=principle.number,
                title=principle.title,
                has_levels=principle.has_levels,
                rounds=rounds_per_item.get(principle.id, 0),
                recorded=agreement is not None,
                agreed_level=agreement.level if agreement else None,
                notes=agreement.notes if agreement else "",
                aspects=_aspect_entries(state, principle, rounds_per_item),
                aspect_mean=aspect_mean(state.aspect_levels(principle)),
                priority=_priority_view(state, principle.id),
            )
        )

    current = None
    rounds: list[RoundView] = []
    if state.current_item is not None:
        principle_id, aspect_id = split_item(state.current_item)
        principle = state.rubric.principle(principle_id)
        if principle is not None:
            aspect = principle.aspect(aspect_id) if aspect_id else None
            current = _principle_view(principle, state.current_item, aspect)
        rounds = [_round_view(state, r) for r in state.rounds if r.item == state.current_item]

    return RoomView(
        seq=state.seq,
        workshop_id=created.workshop_id,
        title=created.title,
        scope=created.scope,
        unit=created.unit,
        join_code=created.join_code,
        levels=state.rubric.levels,
        roles=state.rubric.roles,
        comparison=state.rubric.comparison,
        small_group_threshold=created.small_group_threshold,
        agenda=agenda,
        current=current,
        rounds=rounds,
    )


def build_console_view(state: WorkshopState, room: RoomView, connected: Presence) -> ConsoleView:
    """Build the facilitator's view around an already built room view."""
    joined = dict.fromkeys((role.id for role in state.rubric.roles), 0)
    for role in state.participants.values():
        joined[role] += 1
    return ConsoleView(
        room=room,
        joined=[RoleCount(role=role, count=count) for role, count in joined.items()],
        connected=connected,
    )
