"""Specification of the round statistics in ``server.stats``.

Histograms list the number of votes per level, lowest level first, on a five-level scale
unless a test passes another count.
"""

from __future__ import annotations

import pytest

from server.stats import Distribution, consensus, median, summarise, summarise_round

LEVEL_COUNT = 5
COMPARISON = ("staff", "student")


# Median ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([0, 0, 1, 0, 0], 3.0),
        ([1, 1, 1, 0, 0], 2.0),
        ([2, 0, 1, 0, 0], 1.0),
        ([0, 0, 1, 3, 1], 4.0),
        ([0, 0, 0, 0, 7], 5.0),
    ],
)
def test_median_of_odd_count_is_a_level(counts: list[int], expected: float) -> None:
    assert median(counts) == expected


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([0, 1, 1, 0, 0], 2.5),
        ([1, 0, 0, 1, 0], 2.5),
        ([0, 2, 0, 0, 2], 3.5),
        ([1, 0, 0, 0, 1], 3.0),
        ([3, 0, 0, 0, 1], 1.0),
        ([0, 0, 2, 2, 0], 3.5),
    ],
)
def test_median_of_even_count_is_midpoint(counts: list[int], expected: float) -> None:
    assert median(counts) == expected


def test_median_without_votes_is_none() -> None:
    assert median([0, 0, 0, 0, 0]) is None


# Consensus ---------------------------------------------------------------------------------


@pytest.mark.parametrize("counts", [[5, 0, 0, 0, 0], [0, 0, 3, 0, 0], [0, 0, 0, 0, 1]])
def test_consensus_of_unanimous_room_is_one(counts: list[int]) -> None:
    assert consensus(counts) == 1.0


@pytest.mark.parametrize("counts", [[1, 0, 0, 0, 1], [4, 0, 0, 0, 4], [3, 3]])
def test_consensus_of_split_between_extremes_is_zero(counts: list[int]) -> None:
    assert consensus(counts) == 0.0


def test_consensus_of_mixed_votes() -> None:
    # Votes at levels 1, 3 and 3 on five levels, so the width is 5 - 1 = 4.
    # mean = (1 + 3 + 3) / 3 = 7/3
    # level 1: p = 1/3, |1 - 7/3| / 4 = 1/3, log2(1 - 1/3) = log2(2/3) = -0.584963
    # level 3: p = 2/3, |3 - 7/3| / 4 = 1/6, log2(1 - 1/6) = log2(5/6) = -0.263034
    # Cns = 1 + (1/3)(-0.584963) + (2/3)(-0.263034) = 1 - 0.194988 - 0.175356 = 0.629656
    assert consensus([1, 0, 2, 0, 0]) == pytest.approx(0.6297, abs=1e-4)


def test_consensus_ignores_room_size() -> None:
    assert consensus([2, 0, 4, 0, 0]) == consensus([1, 0, 2, 0, 0])


def test_consensus_rises_as_votes_gather() -> None:
    spread = consensus([1, 1, 1, 1, 1])
    closer = consensus([0, 1, 3, 1, 0])

    assert spread is not None
    assert closer is not None
    assert 0.0 < spread < closer < 1.0


def test_consensus_without_votes_is_none() -> None:
    assert consensus([0, 0, 0, 0, 0]) is None


# Summarise ---------------------------------------------------------------------------------


def test_summarise_counts_not_sure_separately() -> None:
    distribution = summarise([1, None, 3, 3, None], LEVEL_COUNT)

    assert distribution.counts == [1, 0, 2, 0, 0]
    assert distribution.not_sure == 2
    assert distribution.voters == 5
    assert distribution.median == 3.0


def test_summarise_all_not_sure_has_no_median() -> None:
    distribution = summarise([None, None], LEVEL_COUNT)

    assert distribution.counts == [0, 0, 0, 0, 0]
    assert distribution.not_sure == 2
    assert distribution.voters == 2
    assert distribution.median is None


def test_summarise_without_votes_is_empty() -> None:
    distribution = summarise([], LEVEL_COUNT)

    assert distribution == Distribution(counts=[0, 0, 0, 0, 0], not_sure=0, voters=0, median=None)


# Summarise a round -------------------------------------------------------------------------


def test_round_gap_is_first_median_minus_second() -> None:
    votes = {"staff": [4, 4, 5], "student": [2, 2, 3]}

    result = summarise_round(
        votes, level_count=LEVEL_COUNT, comparison=COMPARISON, small_group_threshold=3
    )

    assert result.roles["staff"].median == 4.0
    assert result.roles["student"].median == 2.0
    assert result.gap == 2.0


def test_round_gap_follows_comparison_order() -> None:
    votes = {"staff": [4, 4, 5], "student": [2, 2, 3]}

    result = summarise_round(
        votes, level_count=LEVEL_COUNT, comparison=("student", "staff"), small_group_threshold=3
    )

    assert result.gap == -2.0


def test_round_gap_can_be_half_level() -> None:
    votes = {"staff": [3, 4], "student": [3, 3]}

    result = summarise_round(
        votes, level_count=LEVEL_COUNT, comparison=COMPARISON, small_group_threshold=2
    )

    assert result.gap == 0.5


def test_round_room_combines_every_role() -> None:
    votes = {"staff": [4, None, 5], "student": [2, 2, 3, None]}

    result = summarise_round(
        votes, level_count=LEVEL_COUNT, comparison=COMPARISON, small_group_threshold=2
    )

    assert result.room == Distribution(counts=[0, 2, 1, 1, 1], not_sure=2, voters=7, median=3.0)
    assert result.consensus == consensus([0, 2, 1, 1, 1])


def test_round_hides_role_below_threshold() -> None:
    # Four staff voted, but only one chose a level, so the split would show that vote.
    votes = {"staff": [5, None, None, None], "student": [2, 2, 3]}

    result = summarise_round(
        votes, level_count=LEVEL_COUNT, comparison=COMPARISON, small_group_threshold=3
    )

    assert result.hidden_roles == ["staff"]
    # The student split is withheld too: room minus students would give the staff vote back.
    assert result.roles == {}


def test_round_counts_hidden_role_in_room() -> None:
    votes = {"staff": [5, None], "student": [2, 2, 3]}

    result = summarise_round(
        votes, level_count=LEVEL_COUNT, comparison=COMPARISON, small_group_threshold=3
    )

    assert result.room.counts == [0, 2, 1, 0, 1]
    assert result.room.not_sure == 1
    assert result.room.voters == 5


def test_round_shows_role_at_threshold() -> None:
    votes = {"staff": [1, 2, 3, None], "student": [2, 2, 3]}

    result = summarise_round(
        votes, level_count=LEVEL_COUNT, comparison=COMPARISON, small_group_threshold=3
    )

    assert result.hidden_roles == []
    assert result.roles["staff"].counts == [1, 1, 1, 0, 0]


def test_round_shows_role_without_voters() -> None:
    votes: dict[str, list[int | None]] = {"staff": [], "student": [2, 2, 3]}

    result = summarise_round(
        votes, level_count=LEVEL_COUNT, comparison=COMPARISON, small_group_threshold=3
    )

    assert result.hidden_roles == []
    assert result.roles["staff"].voters == 0
    assert result.gap is None


@pytest.mark.parametrize(
    "votes",
    [
        {"staff": [4], "student": [2, 2, 3]},
        {"staff": [4, 4, 5], "student": [1, None, None]},
        {"staff": [4], "student": [1]},
    ],
    ids=["first-hidden", "second-hidden", "both-hidden"],
)
def test_round_gap_is_none_when_role_hidden(votes: dict[str, list[int | None]]) -> None:
    result = summarise_round(
        votes, level_count=LEVEL_COUNT, comparison=COMPARISON, small_group_threshold=3
    )

    assert result.hidden_roles != []
    assert result.gap is None


def test_round_hides_role_all_not_sure() -> None:
    # Showing the split would tell the room that every staff member chose "not sure".
    votes = {"staff": [None, None, None], "student": [2, 2, 3]}

    result = summarise_round(
        votes, level_count=LEVEL_COUNT, comparison=COMPARISON, small_group_threshold=1
    )

    assert result.hidden_roles == ["staff"]
    assert result.room.not_sure == 3
    assert result.gap is None


def test_round_without_votes_has_no_statistics() -> None:
    votes: dict[str, list[int | None]] = {"staff": [], "student": []}

    result = summarise_round(
        votes, level_count=LEVEL_COUNT, comparison=COMPARISON, small_group_threshold=3
    )

    assert result.room.voters == 0
    assert result.room.median is None
    assert result.consensus is None
    assert result.gap is None


def test_hidden_role_not_recoverable_from_room() -> None:
    # With two roles, the room total minus the shown role is the hidden role's split.
    # Here it would expose the one staff member's vote at level 5, the vote that the
    # small-group rule exists to protect.
    votes = {"staff": [5], "student": [2, 2, 3]}

    result = summarise_round(
        votes, level_count=LEVEL_COUNT, comparison=COMPARISON, small_group_threshold=3
    )

    remainder = list(result.room.counts)
    for distribution in result.roles.values():
        for index, count in enumerate(distribution.counts):
            remainder[index] -= count
    assert result.hidden_roles == ["staff"]
    assert remainder != [0, 0, 0, 0, 1]
