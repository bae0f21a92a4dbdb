"""Promise windows (window.py): 3 days or 5 % of the wait, the same rule per order and per
plan, and exactly the moved or never-promised windows found."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promiseline.core.orders import validate_orders
from promiseline.core.plan import Plan
from promiseline.core.planner import plan
from promiseline.core.window import (
    NO_WINDOW,
    Promises,
    Window,
    WindowChange,
    changes,
    plan_windows,
    promise_window,
    slack_days,
)
from tests.strategies import order_tables, scenarios

LOCKED = dt.date(2025, 1, 1)
D = dt.timedelta


def day(n: int) -> dt.date:
    return LOCKED + D(days=n)


@pytest.mark.parametrize(
    ("wait", "slack"),
    [(-5, 3), (0, 3), (1, 3), (60, 3), (61, 4), (80, 4), (81, 5), (200, 10), (365, 19)],
)
def test_slack_is_three_days_or_five_percent_rounded_up(wait: int, slack: int) -> None:
    """The window's width: at least 3 days, else 5 % of the wait rounded up."""
    assert slack_days(wait) == slack


def test_promise_window_by_hand() -> None:
    """From the delivery date to delivery + slack of the wait since locking; build date and
    queue position kept; no window without both dates."""
    assert promise_window(day(50), day(57), LOCKED, 12) == Window(day(50), day(57), day(60), 12)
    assert promise_window(day(90), day(97), LOCKED, 3) == Window(day(90), day(97), day(102), 3)
    assert promise_window(None, day(9), LOCKED, None) is None
    assert promise_window(day(2), None, LOCKED, None) is None


def test_window_to_json() -> None:
    """Dates as ISO text, no date as null."""
    assert Window(day(1), day(8), day(11), 4).to_json() == {
        "build_date": "2025-01-02",
        "earliest": "2025-01-09",
        "likely": "2025-01-09",
        "latest": "2025-01-12",
        "confidence": None,
        "source": "plan",
        "queue_position": 4,
    }
    mc = Window(day(1), day(7), day(12), 4, day(9), "monte-carlo")
    assert mc.to_json() | {"build_date": None} == {
        "build_date": None,
        "earliest": "2025-01-08",
        "likely": "2025-01-10",
        "latest": "2025-01-13",
        "confidence": 0.8,
        "source": "monte-carlo",
        "queue_position": 4,
    }
    assert NO_WINDOW.to_json() == dict.fromkeys(
        ("build_date", "earliest", "likely", "latest", "confidence", "queue_position")
    ) | {"source": "plan"}
    change = WindowChange("o1", NO_WINDOW, Window(day(1), day(8), day(11), 4))
    assert change.to_json() == {"from": NO_WINDOW.to_json(), "to": change.after.to_json()}


def expected_windows(p: Plan) -> list[tuple[str, Window]]:
    out = []
    for r in p.planned.iter_rows(named=True):
        w = promise_window(
            r["build_date"], r["delivery_date"], r["locked_at"].date(), r["queue_position"]
        )
        if w is not None:
            out.append((r["order_id"], w))
    return out


def test_plan_windows_by_hand(tiny_plan: Plan) -> None:
    """The tiny plan: one window per planned order, none for reserved or unplanned ones."""
    promised = plan_windows(tiny_plan)
    assert len(promised) == tiny_plan.planned.height
    assert promised.items() == expected_windows(tiny_plan)
    assert "o20" not in dict(promised.items())  # reserved: quoted, not promised


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_plan_windows_equal_promise_window_row_by_row(data: st.DataObject) -> None:
    """The vectorized windows of a plan are promise_window of each planned row, in order."""
    s = data.draw(scenarios())
    p = plan(s, validate_orders(data.draw(order_tables(s)), s))
    assert plan_windows(p).items() == expected_windows(p)


def promises(rows: dict[str, Window]) -> Promises:
    ids = list(rows)
    ws = [rows[i] for i in ids]
    return Promises.of(
        ids,
        [w.build_date for w in ws],
        [w.earliest for w in ws],
        [w.latest for w in ws],
        [w.queue_position for w in ws],
    )


def test_changes_by_hand() -> None:
    """Moved earliest or latest dates are changes; a new build date or queue position alone
    is not; an order never told a window is a first promise; orders on one side only are
    neither."""
    same = Window(day(10), day(17), day(20), 1)
    old = {
        "same": same,
        "requeued": same,
        "earlier": same,
        "wider": same,
        "never": NO_WINDOW,
        "gone": same,  # not in the new plan
    }
    new = {
        "same": same,
        "requeued": Window(day(11), day(17), day(20), 9),
        "earlier": Window(day(9), day(16), day(19), 1),
        "wider": Window(day(10), day(17), day(21), 1),
        "never": same,
        "fresh": same,  # not promised before: not in the store's promises
    }
    first, moved = changes(promises(new), promises(old))
    assert first.items() == [("never", same)]
    assert moved == [
        WindowChange("earlier", same, new["earlier"]),
        WindowChange("wider", same, new["wider"]),
    ]


windows = st.one_of(
    st.just(NO_WINDOW),
    st.builds(
        lambda b, e, w, q: Window(day(b), day(b + e), day(b + e + w), q),
        st.integers(0, 3),
        st.integers(0, 2),
        st.integers(3, 4),
        st.integers(1, 3),
    ),
)


@settings(max_examples=100, deadline=None)
@given(
    old=st.dictionaries(st.sampled_from("abcdefgh"), windows),
    new=st.dictionaries(st.sampled_from("abcdefgh"), windows.filter(lambda w: w != NO_WINDOW)),
)
def test_changes_finds_exactly_the_moved_and_the_never_promised(
    old: dict[str, Window], new: dict[str, Window]
) -> None:
    """First promises: in both, never told a window; moved: in both, told one whose earliest
    or latest date differs now."""
    first, moved = changes(promises(new), promises(old))
    both = sorted(set(old) & set(new))
    assert sorted(first.items()) == [(i, new[i]) for i in both if old[i] == NO_WINDOW]
    want = [
        WindowChange(i, old[i], new[i])
        for i in both
        if old[i] != NO_WINDOW
        and (old[i].earliest, old[i].latest) != (new[i].earliest, new[i].latest)
    ]
    assert sorted(moved, key=lambda c: c.order_id) == want
