"""Statistics of one revealed round: distributions, medians, the gap and consensus.

Levels are numbered from 1. A vote of ``None`` means "not sure": it is counted in
``not_sure`` and in ``voters`` but left out of every statistic.

Consensus is Tastle and Wierman's measure for ordinal scales (Tastle, W. J. and
Wierman, M. J., "Consensus and dissention: A measure of ordinal dispersion",
International Journal of Approximate Reasoning 45(3), 2007):

    Cns = 1 + sum_i p_i * log2(1 - |i - mean| / (levels - 1))

It is 1 when everyone chose the same level and 0 when the room is split evenly
between the two extreme levels, and unlike a standard deviation it is bounded and
reads the same for any number of voters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import msgspec

__all__ = ("Distribution", "RoundResult", "consensus", "median", "summarise", "summarise_round")


class Distribution(msgspec.Struct, frozen=True):
    """Counts of one group's votes in one round, with their median."""

    counts: list[int]
    """Votes per level, lowest level first."""
    not_sure: int
    voters: int
    """Everyone who voted, "not sure" included."""
    median: float | None
    """Median level of the votes that chose a level; ``None`` when none did."""


class RoundResult(msgspec.Struct, frozen=True):
    """The statistics shown to the room after a reveal."""

    roles: dict[str, Distribution]
    """Per-role distributions; empty when any role is hidden."""
    hidden_roles: list[str]
    """Roles with voters of whom fewer than the small-group threshold chose a level.
    When there are any, every role's split is withheld and only the room total shows."""
    withheld_roles: list[str]
    """Roles with enough voters whose split is withheld anyway, because a hidden role
    could be worked out from the room total without theirs."""
    room: Distribution
    gap: float | None
    """First comparison role's median minus the second's, in levels; ``None`` when
    either role has no median or is hidden."""
    consensus: float | None
    """Tastle-Wierman consensus of the whole room, from 0 to 1."""


def median(counts: list[int]) -> float | None:
    """Return the median level of a histogram, halfway between two levels when the count is even."""
    total = sum(counts)
    if total == 0:
        return None

    def level_at(position: int) -> int:
        seen = 0
        for index, count in enumerate(counts):
            seen += count
            if position < seen:
                return index + 1
        raise AssertionError("position beyond the histogram")

    lower = level_at((total - 1) // 2)
    upper = level_at(total // 2)
    return (lower + upper) / 2


def consensus(counts: list[int]) -> float | None:
    """Return the Tastle-Wierman consensus of a histogram, or ``None`` with no votes."""
    total = sum(counts)
    if total == 0:
        return None
    width = len(counts) - 1
    mean = sum((index + 1) * count for index, count in enumerate(counts)) / total

    value = 1.0
    for index, count in enumerate(counts):
        if count:
            distance = abs(index + 1 - mean) / width
            value += (count / total) * math.log2(1 - distance)
    return round(max(0.0, value), 4)


def summarise(votes: Iterable[int | None], level_count: int) -> Distribution:
    """Count votes into a distribution over ``level_count`` levels."""
    counts = [0] * level_count
    not_sure = 0
    for level in votes:
        if level is None:
            not_sure += 1
        else:
            counts[level - 1] += 1
    return Distribution(
        counts=counts,
        not_sure=not_sure,
        voters=sum(counts) + not_sure,
        median=median(counts),
    )


def summarise_round(
    votes_by_role: Mapping[str, list[int | None]],
    *,
    level_count: int,
    comparison: tuple[str, str],
    small_group_threshold: int,
) -> RoundResult:
    """Summarise a round per role and for the room, withholding small groups.

    A role whose split could expose someone's vote (it has voters, but fewer than
    ``small_group_threshold`` of them chose a level) is listed in ``hidden_roles``.
    Then no role's split is shown at all, because the room total minus the other
    roles would give the hidden one back; the room total is still shown.
    """
    roles: dict[str, Distribution] = {}
    hidden: list[str] = []
    everyone: list[int | None] = []
    for role, votes in votes_by_role.items():
        everyone.extend(votes)
        distribution = summarise(votes, level_count)
        chose_level = distribution.voters - distribution.not_sure
        if distribution.voters and chose_level < small_group_threshold:
            hidden.append(role)
        roles[role] = distribution
    withheld: list[str] = []
    if hidden:
        withheld = [role for role in roles if role not in hidden and roles[role].voters]
        roles = {}

    room = summarise(everyone, level_count)
    first, second = (roles.get(role) for role in comparison)
    gap = None
    if first and second and first.median is not None and second.median is not None:
        gap = first.median - second.median
    return RoundResult(
        roles=roles,
        hidden_roles=hidden,
        withheld_roles=withheld,
        room=room,
        gap=gap,
        consensus=consensus(room.counts),
    )
