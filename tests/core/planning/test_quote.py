"""quote() agrees with a full re-plan that includes the quoted order."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promiseline.core.model.orders import validate_orders
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.planner import plan
from promiseline.core.planning.quote import Booking, quote
from promiseline.core.readout.summary import summary
from promiseline.errors import OrderError, QuoteError
from tests.conftest import examples
from tests.strategies import OPTION_SETS, START, options_of, order_tables, scenarios


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_quote_equals_replan(data: st.DataObject) -> None:
    """At the back of the queue or in the middle, the quote is what a re-plan gives."""
    s = data.draw(scenarios())
    raw = data.draw(order_tables(s))
    prod = data.draw(st.sampled_from(s.products))
    variant = data.draw(st.sampled_from(prod.variants)).name
    options = data.draw(st.sampled_from(OPTION_SETS))
    market = data.draw(st.sampled_from(s.markets)).name
    when = dt.datetime.combine(START, dt.time()) + dt.timedelta(
        hours=data.draw(st.integers(-30, 24 * (s.horizon_days + 1)))
    )
    priority = data.draw(st.sampled_from([0, 0, 1, -1]))
    new_id = data.draw(st.sampled_from(["o0000000-5", "zzz", "a"]))
    raw = raw.filter(pl.col("order_id") != new_id)
    q = quote(
        plan(s, validate_orders(raw, s)),
        prod.model,
        variant,
        market,
        options_of(options),
        when,
        priority=priority,
        order_id=new_id,
    )
    row = pl.DataFrame(
        [
            {
                "order_id": new_id,
                "model": prod.model,
                "variant": variant,
                "options": options,
                "market": market,
                "locked_at": when.isoformat(),
                "priority": str(priority),
                "status": "locked",
                "line": None,
                "build_date": None,
            }
        ],
        schema=raw.schema,
    )
    full = plan(s, validate_orders(pl.concat([raw, row]), s)).order(new_id)
    assert (q.build_date, q.delivery_date, q.line, q.bound_by, q.queue_position) == (
        full["build_date"],
        full["delivery_date"],
        full["line"],
        full["bound_by"],
        full["queue_position"],
    )


def test_quote_now_goes_to_the_back(tiny: Scenario, tiny_orders: pl.DataFrame) -> None:
    """An order locked after every other is quoted behind all of them."""
    p = plan(tiny, validate_orders(tiny_orders, tiny))
    q = quote(p, "A", "S", "CN", {}, dt.datetime(2025, 2, 1, 12))
    assert q.queue_position == p.planned.height + 1
    assert q.build_date is not None
    assert q.build_date >= dt.date(2025, 2, 1)
    assert q.wait_days == (q.delivery_date - dt.date(2025, 2, 1)).days  # type: ignore[operator]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("B", "S", "CN", {}), "unknown model 'B'"),
        (("A", "X", "CN", {}), "unknown variant 'X' for model 'A'"),
        (("A", "S", "US", {}), "unknown market 'US'"),
        (("A", "S", "CN", {"roof": ["a"]}), "options must be a flat mapping"),
    ],
)
def test_quote_rejects_unknown_names(
    tiny: Scenario, tiny_orders: pl.DataFrame, args: tuple[object, ...], message: str
) -> None:
    """A quote for something the scenario lacks is a clear error."""
    p = plan(tiny, validate_orders(tiny_orders, tiny))
    with pytest.raises(OrderError, match=message):
        quote(p, *args, when=dt.datetime(2025, 1, 5))  # type: ignore[arg-type]


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_booking_at_the_back_equals_replan(data: st.DataObject) -> None:
    """Orders booked one by one at the back get what a full re-plan with them gives."""
    s = data.draw(scenarios())
    raw = data.draw(order_tables(s)).filter(pl.col("priority") == "0")
    last = validate_orders(raw, s).table["locked_at"].max()
    start = last if isinstance(last, dt.datetime) else dt.datetime.combine(START, dt.time())
    p = plan(s, validate_orders(raw, s))
    booking = Booking(p)
    before = summary(p)
    rows, quotes = [], []
    for i in range(data.draw(st.integers(1, 6))):
        prod = data.draw(st.sampled_from(s.products))
        variant = data.draw(st.sampled_from(prod.variants)).name
        options = data.draw(st.sampled_from(OPTION_SETS))
        market = data.draw(st.sampled_from(s.markets)).name
        when = start + dt.timedelta(hours=1 + i)
        oid = f"zz-{i}"
        q = booking.book(prod.model, variant, market, options_of(options), when)
        quotes.append((oid, q))
        rows.append(
            {
                "order_id": oid,
                "model": prod.model,
                "variant": variant,
                "options": options,
                "market": market,
                "locked_at": when.isoformat(),
                "priority": "0",
                "status": "locked",
                "line": None,
                "build_date": None,
            }
        )
    full = plan(s, validate_orders(pl.concat([raw, pl.DataFrame(rows, schema=raw.schema)]), s))
    for oid, q in quotes:
        r = full.order(oid)
        assert (q.build_date, q.line, q.bound_by, q.queue_position) == (
            r["build_date"],
            r["line"],
            r["bound_by"],
            r["queue_position"] if q.build_date else None,
        )
    assert summary(p) == before  # booking leaves the plan as planned


def test_booking_in_the_middle_is_refused(tiny: Scenario, tiny_orders: pl.DataFrame) -> None:
    """Only the back of the queue can be booked without a re-plan."""
    p = plan(tiny, validate_orders(tiny_orders, tiny))
    with pytest.raises(QuoteError, match="back of the queue"):
        Booking(p).book("A", "S", "CN", {}, dt.datetime(2025, 1, 2))
