"""Rolling forward changes no promise: planning the rolled book gives every order the
line, build day, sailing and delivery the plan gave it (SCENARIO.md)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promiseline.core.model.orders import OrderBook, validate_orders
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.planner import plan
from promiseline.core.planning.roll import roll
from promiseline.errors import PromiselineError
from tests.conftest import examples
from tests.core.planning import test_sea as sea
from tests.strategies import order_tables, scenarios

SETTINGS = settings(
    max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
PROMISE = ["line", "build_date", "lane", "sailing_id", "delivery_date"]


def promises(table: pl.DataFrame) -> dict[str, tuple[object, ...]]:
    """What each order was told: its line, build day, lane, sailing and delivery (an
    unplanned order: none of them; its status may read built once rolled)."""
    return {r["order_id"]: tuple(r[c] for c in PROMISE) for r in table.iter_rows(named=True)}


def reserved(book: pl.DataFrame) -> list[str]:
    return book.filter(pl.col("status") == "reserved")["order_id"].to_list()


def assert_roll_keeps_promises(data: st.DataObject, export: bool | None) -> None:
    s = data.draw(scenarios(export=export))
    raw = data.draw(order_tables(s))
    book = validate_orders(raw, s)
    assert not book.rejected
    before = plan(s, book)
    to = s.now + dt.timedelta(days=data.draw(st.integers(0, s.horizon_days + 2)))
    rolled = roll(before, to)
    assert rolled.scenario.now == to
    after = plan(rolled.scenario, rolled.book)
    kept = promises(after.table)
    # every order the rolled plan lists was told the same (a reserved one only holds an
    # indicative quote, and a day before the new plan's own is offered to no one); an
    # order it leaves out took nothing before either: history outside the horizon (built
    # before it, or, rolled past its end, on a day after it)
    stale = set(
        before.table.filter(
            pl.col("order_id").is_in(reserved(rolled.book.table))
            & (pl.col("build_date") < to).fill_null(False)
        )["order_id"]
    )
    want = {k: v for k, v in promises(before.table).items() if k in kept and k not in stale}
    assert {k: v for k, v in kept.items() if k not in stale} == want
    gone = set(before.table["order_id"]) - set(kept)
    left_out = before.table.filter(pl.col("order_id").is_in(list(gone)))
    end = s.start + dt.timedelta(days=s.horizon_days)
    outside = ~left_out["build_date"].fill_null(s.start).is_between(s.start, end, closed="left")
    assert outside.all()
    opened = rolled.book.table.filter(pl.col("status").is_in(["locked", "scheduled"]))
    still_open = after.table.filter(pl.col("order_id").is_in(opened["order_id"].to_list()))
    assert (still_open["build_date"].drop_nulls() >= to).all()  # nothing open before it


@SETTINGS
@given(data=st.data())
def test_rolling_forward_changes_no_promise(data: st.DataObject) -> None:
    assert_roll_keeps_promises(data, export=False)


@SETTINGS
@given(data=st.data())
def test_rolling_forward_changes_no_promise_by_sea(data: st.DataObject) -> None:
    assert_roll_keeps_promises(data, export=True)


def test_the_rolled_book_says_what_happened(tiny, tiny_orders) -> None:  # type: ignore[no-untyped-def]
    """Built before the day, delivered once delivery passed, scheduled in the frozen zone."""
    p = plan(tiny, validate_orders(tiny_orders, tiny))
    to = tiny.start + dt.timedelta(days=20)
    r = roll(p, to)
    got = r.book.table.join(
        p.table.select("order_id", "build_date", "delivery_date"), on="order_id", suffix="_plan"
    )
    for o in got.iter_rows(named=True):
        b, d = o["build_date_plan"], o["delivery_date"]
        if o["status"] in ("built", "shipped", "delivered"):
            assert o["build_date"] == b
            assert b < to
            assert (o["status"] == "delivered") == (d is not None and d < to)
        elif o["status"] == "scheduled" and b is not None and b >= to:
            assert b < to + dt.timedelta(days=tiny.frozen_days)
    assert r.counts().get("delivered", 0) > 0


def test_a_book_does_not_roll_back(tiny, tiny_orders) -> None:  # type: ignore[no-untyped-def]
    p = plan(
        tiny.replace(as_of=tiny.start + dt.timedelta(days=5)), validate_orders(tiny_orders, tiny)
    )
    with pytest.raises(PromiselineError, match="rolls forward only"):
        roll(p, tiny.start)


def _sea_book(s: Scenario, o0: dict[str, str], sailing: str) -> OrderBook:
    """o0 as given (scheduled on l1, naming `sailing` if any), then o1 locked for EX."""
    raw = sea.raw(o0, {}).with_columns(pl.Series("sailing_id", [sailing or None, None]))
    book = validate_orders(raw, s)
    assert not book.rejected, book.rejected
    return book


def test_a_frozen_order_dated_before_the_start_takes_no_seat() -> None:
    """Without as_of a scheduled order dated before the start keeps its date and takes
    nothing (SCENARIO.md): no seat either. It took the first sailing, and once rolled (then
    history outside the horizon, taking nothing) gave it back: o1's promise moved."""
    s = sea.scenario(frozen_days=2)
    before = sea.day(-1).isoformat()
    p = plan(s, _sea_book(s, {"status": "scheduled", "line": "l1", "build_date": before}, ""))
    assert p.order("o0")["sailing_id"] is None
    assert p.order("o1")["sailing_id"] == f"lane-a:{sea.day(3)}"
    after = roll(p, s.start)
    assert plan(after.scenario, after.book).order("o1")["sailing_id"] == f"lane-a:{sea.day(3)}"


def test_a_frozen_order_naming_a_sailing_outside_the_horizon_keeps_the_name() -> None:
    """A frozen export order whose named sailing departs outside the horizon holds no seat;
    rolled, it keeps the name (the plan's own sailing is none, and without a name it
    would take a seat by the export rule: o1's)."""
    s = sea.scenario(frozen_days=2)
    named = f"lane-a:{sea.day(-4)}"
    o0 = {"status": "scheduled", "line": "l1", "build_date": sea.day(0).isoformat()}
    p = plan(s, _sea_book(s, o0, named))
    assert p.order("o0")["sailing_id"] is None
    rolled = roll(p, s.start)
    assert rolled.book.table.filter(pl.col("order_id") == "o0")["sailing_id"].item() == named
    again = plan(rolled.scenario, rolled.book)
    assert promises(again.table) == promises(p.table)
