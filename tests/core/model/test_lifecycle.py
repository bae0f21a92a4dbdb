"""The order lifecycle (lifecycle.py): statuses, allowed progress, and the change and refund
periods around their 7-day boundaries."""

from __future__ import annotations

import datetime as dt

import pytest

from promiseline.core.model.lifecycle import (
    CANCELLABLE,
    IN_PLANNING,
    PROGRESS,
    QUEUED,
    EventKind,
    Policy,
    Status,
    progress_from,
)
from promiseline.core.model.orders import STATUSES
from promiseline.errors import TransitionError

LOCKED_AT = dt.datetime(2025, 3, 1, 10, 0)
WEEK = dt.timedelta(days=7)
TICK = dt.timedelta(microseconds=1)
POLICY = Policy()
NOT_LOCKED = [s for s in Status if s not in (Status.RESERVED, Status.LOCKED)]


def test_status_values_are_the_order_book_statuses() -> None:
    """Status values are exactly the order book's statuses, in lifecycle order."""
    assert tuple(s.value for s in Status) == STATUSES


def test_event_kinds() -> None:
    """The store's event kinds, by value."""
    assert [k.value for k in EventKind] == [
        "created",
        "locked",
        "changed",
        "cancelled",
        "scheduled",
        "eta_changed",
        "built",
        "shipped",
        "delivered",
        "corrected",
    ]


def test_status_groups() -> None:
    """The planner sees reserved, locked and scheduled orders; only the last two queue."""
    assert {Status.RESERVED, Status.LOCKED, Status.SCHEDULED} == IN_PLANNING == CANCELLABLE
    assert {Status.LOCKED, Status.SCHEDULED} == QUEUED
    assert PROGRESS == (Status.SCHEDULED, Status.BUILT, Status.SHIPPED, Status.DELIVERED)


@pytest.mark.parametrize(
    ("target", "sources"),
    [
        (Status.SCHEDULED, {Status.LOCKED}),
        (Status.BUILT, {Status.LOCKED, Status.SCHEDULED}),
        (Status.SHIPPED, {Status.LOCKED, Status.SCHEDULED, Status.BUILT}),
        (Status.DELIVERED, {Status.LOCKED, Status.SCHEDULED, Status.BUILT, Status.SHIPPED}),
    ],
)
def test_progress_from_every_earlier_step(target: Status, sources: set[Status]) -> None:
    """A plant report may skip steps forward from locked, never go back or repeat."""
    assert progress_from(target) == sources


@pytest.mark.parametrize("target", [Status.RESERVED, Status.LOCKED, Status.CANCELLED])
def test_progress_to_a_non_plant_status_is_refused(target: Status) -> None:
    """Reserved, locked and cancelled are not plant progress."""
    with pytest.raises(TransitionError, match=f"status must be one of .*got '{target.value}'"):
        progress_from(target)


def test_reserved_orders_change_freely() -> None:
    """A reserved order may change whenever (its lock time is irrelevant)."""
    POLICY.check_change("o1", Status.RESERVED, None, LOCKED_AT + 100 * WEEK)
    POLICY.check_change("o1", Status.RESERVED, LOCKED_AT, LOCKED_AT + 100 * WEEK)


def test_locked_orders_change_for_seven_days() -> None:
    """A locked order may change up to exactly 7 days after it locked, not a moment later."""
    POLICY.check_change("o1", Status.LOCKED, LOCKED_AT, LOCKED_AT)
    POLICY.check_change("o1", Status.LOCKED, LOCKED_AT, LOCKED_AT + WEEK)
    POLICY.check_change("o1", Status.LOCKED, None, LOCKED_AT + 100 * WEEK)  # lock time unknown
    with pytest.raises(TransitionError, match="order o1 locked more than 7 days ago"):
        POLICY.check_change("o1", Status.LOCKED, LOCKED_AT, LOCKED_AT + WEEK + TICK)


def test_change_period_follows_the_policy() -> None:
    """Another change period moves the boundary and names it."""
    short = Policy(change_days=2)
    short.check_change("o1", Status.LOCKED, LOCKED_AT, LOCKED_AT + dt.timedelta(days=2))
    with pytest.raises(TransitionError, match="more than 2 days ago"):
        short.check_change("o1", Status.LOCKED, LOCKED_AT, LOCKED_AT + dt.timedelta(days=3))


@pytest.mark.parametrize("status", NOT_LOCKED)
def test_only_reserved_or_locked_orders_change(status: Status) -> None:
    """From scheduled on (and cancelled) the configuration is fixed, whenever it locked."""
    with pytest.raises(TransitionError, match=f"order o1 is {status.value}; it can no longer"):
        POLICY.check_change("o1", status, LOCKED_AT, LOCKED_AT)


@pytest.mark.parametrize("status", list(Status))
def test_only_reserved_orders_lock(status: Status) -> None:
    """Locking is allowed from reserved only."""
    if status == Status.RESERVED:
        POLICY.check_lock("o1", status)
        return
    with pytest.raises(TransitionError, match=f"o1 is {status.value}; only a reserved order"):
        POLICY.check_lock("o1", status)


@pytest.mark.parametrize("status", list(Status))
def test_cancel_until_built(status: Status) -> None:
    """Reserved, locked and scheduled orders may cancel; built or later, or cancelled, not."""
    if status in (Status.RESERVED, Status.LOCKED, Status.SCHEDULED):
        POLICY.check_cancel("o1", status)
        return
    with pytest.raises(TransitionError, match=f"o1 is {status.value}; it can no longer be canc"):
        POLICY.check_cancel("o1", status)


def test_refund_while_reserved_or_within_seven_days_of_locking() -> None:
    """The deposit is refunded while reserved, or up to exactly 7 days after locking."""
    assert POLICY.refund_due(Status.RESERVED, None, LOCKED_AT + 100 * WEEK)
    assert POLICY.refund_due(Status.RESERVED, LOCKED_AT, LOCKED_AT + 100 * WEEK)
    for status in (Status.LOCKED, Status.SCHEDULED):
        assert POLICY.refund_due(status, LOCKED_AT, LOCKED_AT + WEEK)
        assert not POLICY.refund_due(status, LOCKED_AT, LOCKED_AT + WEEK + TICK)
        assert not POLICY.refund_due(status, None, LOCKED_AT)  # lock time unknown: no refund
    assert Policy(refund_days=14).refund_due(Status.LOCKED, LOCKED_AT, LOCKED_AT + 2 * WEEK)
