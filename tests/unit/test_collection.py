"""When the server runs a full garbage collection over frozen objects."""

from __future__ import annotations

from server.collection import (
    GARBAGE_BUDGET,
    GARBAGE_LIMIT,
    SHORT_COLLECTION_CONNECTIONS,
    should_collect_all,
)

FEW = SHORT_COLLECTION_CONNECTIONS - 1
MANY = 10_000


def test_nothing_closed_means_no_collection() -> None:
    assert not should_collect_all(closed=0, connected=0, round_open=False)
    assert not should_collect_all(closed=0, connected=MANY, round_open=False)


def test_few_connected_collects_any_time() -> None:
    assert should_collect_all(closed=1, connected=FEW - 1, round_open=False)
    assert should_collect_all(closed=1, connected=FEW - 1, round_open=True)


def test_many_just_closed_count_as_many() -> None:
    assert not should_collect_all(closed=MANY // 2, connected=FEW, round_open=False)


def test_nobody_connected_collects_any_time() -> None:
    assert should_collect_all(closed=MANY, connected=0, round_open=False)


def test_many_connected_waits_for_budget() -> None:
    assert not should_collect_all(closed=GARBAGE_BUDGET - 1, connected=MANY, round_open=False)
    assert should_collect_all(closed=GARBAGE_BUDGET, connected=MANY, round_open=False)


def test_many_connected_waits_for_round_end() -> None:
    assert not should_collect_all(closed=GARBAGE_LIMIT - 1, connected=MANY, round_open=True)


def test_garbage_limit_collects_while_voting() -> None:
    assert should_collect_all(closed=GARBAGE_LIMIT, connected=MANY, round_open=True)
