"""Progress from the plant: an order scheduled, built, shipped or delivered, checked
against the scenario and the day before the store takes it.

One rule for the service's `POST /v1/orders/{id}/progress` and the bulk `promiseline
import --progress`: a report names what happened, where (a line that builds the model, a
day inside the horizon and not in the future, by sea a sailing of the order's market that
has departed), and the same report twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from promiseline.core.model.lifecycle import (
    CORRECTABLE,
    PROGRESS,
    EventKind,
    Status,
    progress_from,
)
from promiseline.core.model.records import CLEARABLE, Event, OrderRecord, Transition
from promiseline.core.model.scenario import Scenario
from promiseline.errors import InvalidRequestError, TransitionError

PROGRESS_COLUMNS = ("order_id", "status", "line", "build_date", "sailing_id", "at")


@dataclass(frozen=True, slots=True)
class Report:
    """What the plant says of one order (None: not said; known fields are kept)."""

    order_id: str
    status: Status
    line: str | None = None
    build_date: dt.date | None = None
    sailing_id: str | None = None
    at: dt.datetime | None = None  # when it happened (default: when it is reported)


@dataclass(frozen=True, slots=True)
class ProgressImport:
    """What a progress file did: orders that moved on, and rows that changed nothing."""

    moved: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class Standing:
    """What is known of the order now: nothing it did can come before `since` (when it
    locked) nor before `last_step` (when it was last built, shipped or delivered)."""

    model: str
    market: str
    status: Status
    line: str | None
    build_date: dt.date | None
    sailing_id: str | None
    since: dt.datetime | None = None
    last_step: dt.datetime | None = None


STEPS = frozenset({EventKind.BUILT, EventKind.SHIPPED, EventKind.DELIVERED})
"""Events that say when something happened to the car (their `at`), in order."""


def last_step(events: Sequence[Event]) -> dt.datetime | None:
    """When the order was last built, shipped or delivered, since its last correction
    (what a correction took back does not bind the next report)."""
    out: dt.datetime | None = None
    for e in events:
        if e.kind == EventKind.CORRECTED:
            out = None
        elif e.kind in STEPS:
            out = e.at if out is None else max(out, e.at)
    return out


def standing(rec: OrderRecord, events: Sequence[Event] = ()) -> Standing:
    """The order as a report is checked against; `events` (its history) bound when the
    next step may be said to happen."""
    return Standing(
        rec.model,
        rec.market,
        rec.status,
        rec.line,
        rec.build_date,
        rec.sailing_id,
        rec.locked_at or rec.created_at,
        last_step(events),
    )


def correction(rec: OrderRecord, reason: str, actor: str, at: dt.datetime) -> Transition:
    """Put a scheduled, built, shipped or delivered order back to locked, its line, build
    date and sailing cleared (progress reported wrongly, or that a new scenario no longer
    fits): one `corrected` event saying what it was and why. The plant then reports it
    again, by the progress rule."""
    if rec.status not in CORRECTABLE:
        raise TransitionError(
            f"order {rec.order_id} is {rec.status}; only a "
            f"{', '.join(s.value for s in PROGRESS)} order can be put back to locked"
        )
    reason = reason.strip()
    if not reason:
        raise InvalidRequestError("reason: say why the progress is taken back, got nothing")
    was = {
        k: str(v)
        for k, v in (
            ("status", rec.status.value),
            ("line", rec.line),
            ("build_date", rec.build_date),
            ("sailing_id", rec.sailing_id),
        )
        if v is not None
    }
    return Transition(
        rec.order_id,
        EventKind.CORRECTED,
        frozenset({rec.status}),
        actor,
        at,
        status=Status.LOCKED,
        clear=CLEARABLE,
        data={"status": Status.LOCKED.value, "from": was, "reason": reason},
    )


def transition(r: Report, current: Status, actor: str) -> Transition:
    """The store's change for a checked report: from the status it was checked against
    (a change meanwhile makes it not allowed), one event saying what was reported."""
    assert r.at is not None  # `check` fills it
    data = {"status": r.status.value} | {
        k: str(v)
        for k, v in (("line", r.line), ("build_date", r.build_date), ("sailing_id", r.sailing_id))
        if v is not None
    }
    return Transition(
        r.order_id,
        EventKind(r.status.value),
        frozenset({current}),
        actor,
        r.at,
        status=r.status,
        line=r.line,
        build_date=r.build_date,
        sailing_id=r.sailing_id,
        data=data,
    )


def check(s: Scenario, now: dt.datetime, order: Standing, r: Report) -> Report | None:
    """The report made whole (what it leaves out taken from the order), or None when it
    changes nothing (the same report again). Raises InvalidRequestError when the report
    cannot be true, TransitionError when the order's status forbids it."""
    if r.status not in PROGRESS:
        raise InvalidRequestError(
            f"status must be one of {[p.value for p in PROGRESS]}, got {r.status.value!r}"
        )
    if r.at is not None and r.at > now:
        raise InvalidRequestError(f"at: {r.at} is in the future (now is {now:%Y-%m-%d %H:%M})")
    same = (
        order.status == r.status
        and r.line in (None, order.line)
        and r.build_date in (None, order.build_date)
        and r.sailing_id in (None, order.sailing_id)
    )
    if same:
        return None
    allowed = progress_from(r.status) | (
        {Status.SCHEDULED} if r.status == Status.SCHEDULED else set()
    )
    if order.status not in allowed:
        raise TransitionError(f"order {r.order_id} is {order.status}; it cannot become {r.status}")
    whole = replace(
        r,
        line=r.line or order.line,
        build_date=r.build_date or order.build_date,
        sailing_id=r.sailing_id or order.sailing_id,
        at=r.at or now,
    )
    if r.status == Status.SCHEDULED and (r.line is None or r.build_date is None):
        raise InvalidRequestError("a scheduled order needs line and build_date")
    _check_slot(s, now.date(), order, whole)
    _check_sailing(s, now.date(), order, whole)
    _check_when(s, order, whole)
    return whole


def _check_when(s: Scenario, order: Standing, r: Report) -> None:
    """Things happen in order: not before the horizon, nor before the order locked; a
    car is built before it ships or is delivered, shipped not before its sailing, and
    each step not before the last one reported."""
    assert r.at is not None
    at = r.at
    if at.date() < s.start:
        raise InvalidRequestError(
            f"at: {at:%Y-%m-%d %H:%M} is before the scenario's start ({s.start})"
        )
    if order.since is not None:
        locked = order.since.date()
        if at.date() < locked:
            raise InvalidRequestError(
                f"at: {at:%Y-%m-%d %H:%M} is before the order locked ({locked}); expected "
                f"{locked} or later"
            )
        if r.build_date is not None and r.build_date < locked:
            raise InvalidRequestError(
                f"build_date: {r.build_date} is before the order locked ({locked}); expected "
                f"{locked} or later"
            )
    if r.status == Status.SCHEDULED:
        return
    if r.build_date is not None and at.date() < r.build_date:
        raise InvalidRequestError(
            f"at: {at:%Y-%m-%d %H:%M} is before the car was built ({r.build_date}); "
            "expected that day or later"
        )
    departs = _departs(r.sailing_id)
    if r.status != Status.BUILT and departs is not None and at.date() < departs:
        raise InvalidRequestError(
            f"at: {at:%Y-%m-%d %H:%M} is before its sailing departs ({departs}); "
            "expected that day or later"
        )
    if order.last_step is not None and at < order.last_step:
        raise InvalidRequestError(
            f"at: {at:%Y-%m-%d %H:%M} is before the order's last step "
            f"({order.status} at {order.last_step:%Y-%m-%d %H:%M}); expected that or later"
        )


def _departs(sailing_id: str | None) -> dt.date | None:
    if sailing_id is None:
        return None
    try:
        return dt.date.fromisoformat(sailing_id.partition(":")[2])
    except ValueError:
        return None


def _check_slot(s: Scenario, today: dt.date, order: Standing, r: Report) -> None:
    """Where and when: needed for scheduled, built and shipped (a delivered order the
    plant says nothing more of holds no slot in a plan, as the contract has it)."""
    lines = [ln.name for _, ln in s.lines if order.model in ln.models]
    if r.status == Status.DELIVERED and r.line is None and r.build_date is None:
        return
    if r.line is None or r.build_date is None:
        raise InvalidRequestError(
            f"{r.status.value}: say where and when it was built: line (one of {lines}) "
            "and build_date"
        )
    if r.line not in lines:
        raise InvalidRequestError(
            f"line: {r.line!r} does not build model {order.model!r}, expected one of {lines}"
        )
    if not s.start <= r.build_date < s.end:
        raise InvalidRequestError(
            f"build_date: {r.build_date} is outside the horizon ({s.start} to {s.end})"
        )
    if r.status == Status.SCHEDULED:
        if r.build_date < today:
            raise InvalidRequestError(f"build_date: {r.build_date} is before today ({today})")
    elif r.build_date > today:
        raise InvalidRequestError(f"build_date: {r.build_date} is in the future (today {today})")


def _check_sailing(s: Scenario, today: dt.date, order: Standing, r: Report) -> None:
    market = next(m for m in s.markets if m.name == order.market)
    if r.sailing_id is None:
        if market.lanes and r.status == Status.SHIPPED:
            names = [ln.name for ln in market.lanes]
            raise InvalidRequestError(
                f"sailing_id: a shipped order of market {market.name} names its sailing, "
                f"<lane>:<YYYY-MM-DD> with a lane of {names}"
            )
        return
    if not market.lanes:
        raise InvalidRequestError(f"sailing_id: market {market.name} is reached by road")
    lane, _, day = r.sailing_id.partition(":")
    names = [ln.name for ln in market.lanes]
    try:
        departs = dt.date.fromisoformat(day)
    except ValueError:
        departs = None
    if lane not in names or departs is None:
        raise InvalidRequestError(
            f"sailing_id: expected <lane>:<YYYY-MM-DD> with a lane of {names}, got {r.sailing_id!r}"
        )
    if r.build_date is not None and departs < r.build_date:
        raise InvalidRequestError(
            f"sailing_id: departs {departs}, before the car was built ({r.build_date})"
        )
    if r.status in (Status.SHIPPED, Status.DELIVERED) and departs > today:
        raise InvalidRequestError(f"sailing_id: departs {departs}, which is after today ({today})")


def check_reports(
    s: Scenario,
    now: dt.datetime,
    orders: Mapping[str, Standing],
    reports: Sequence[tuple[int, Report]],
) -> tuple[list[tuple[Report, Status]], int, list[str]]:
    """A batch of numbered reports (a progress file): the changes to make (each with the
    status it was checked against), how many change nothing, and a line per row that is
    wrong. Each order once: a file says where an order stands, not its history."""
    changes: list[tuple[Report, Status]] = []
    errors: list[str] = []
    unchanged = 0
    seen: dict[str, int] = {}
    for row, r in reports:
        where = f"row {row} order {r.order_id!r}"
        if r.order_id in seen:
            errors.append(f"{where}: the order is on row {seen[r.order_id]} too")
            continue
        seen[r.order_id] = row
        order = orders.get(r.order_id)
        if order is None:
            errors.append(f"{where}: no such order")
            continue
        try:
            whole = check(s, now, order, r)
        except (InvalidRequestError, TransitionError) as e:
            errors.append(f"{where}: {e}")
            continue
        if whole is None:
            unchanged += 1
        else:
            changes.append((whole, order.status))
    return changes, unchanged, errors
