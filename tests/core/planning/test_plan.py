"""The Plan's aggregates agree with its per-order table."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promiseline.core.model.orders import validate_orders
from promiseline.core.planning.plan import PLAN_COLUMNS, Plan
from promiseline.core.planning.planner import plan
from tests.conftest import examples
from tests.strategies import order_tables, scenarios


def test_columns_are_the_contract(tiny_plan: Plan) -> None:
    """The table has exactly the plan columns of SCENARIO.md, in order."""
    assert tuple(tiny_plan.table.columns) == PLAN_COLUMNS
    assert tiny_plan.to_pandas().shape == tiny_plan.table.shape


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_aggregates_match_the_orders(data: st.DataObject) -> None:
    """Built per line and day, parts used and the backlog follow from the order rows."""
    s = data.draw(scenarios())
    raw = data.draw(order_tables(s))
    p = plan(s, validate_orders(raw, s))
    booked = p.table.filter(~pl.col("reason").str.starts_with("reserved").fill_null(False))
    inside = booked.filter((pl.col("build_date") >= s.start) & (pl.col("build_date") < s.end))
    built = p.line_days().filter(pl.col("built") > 0)
    counted = inside.group_by("line", pl.col("build_date").alias("date")).len()
    joined = built.join(counted, on=["line", "date"], how="full", coalesce=True)
    assert (joined["built"].fill_null(0) == joined["len"].fill_null(0)).all()

    parts = p.part_days()
    assert (parts["supplied"] - parts["used"] == parts["stock"]).all()

    backlog = p.backlog()
    rows = p.table.filter(pl.col("reason").is_null() | ~pl.col("reason").str.starts_with("res"))
    for day in (0, s.horizon_days // 2, s.horizon_days - 1):
        date = s.start + dt.timedelta(days=day)
        released = rows.filter(
            pl.max_horizontal(pl.col("locked_at").dt.date(), pl.lit(s.start)) <= date
        )
        waiting = released.filter(pl.col("build_date").is_null() | (pl.col("build_date") > date))
        assert backlog["backlog"][day] == waiting.height
