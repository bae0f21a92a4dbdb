"""explain() names what bound an order and counts the orders ahead using the same."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.planner import plan
from promiseline.core.readout.explain import explain
from promiseline.errors import UnknownOrderError


def test_every_bound_kind_is_explained(tiny_plan) -> None:  # type: ignore[no-untyped-def]
    """Each planned order's explanation agrees with its plan row."""
    kinds = set()
    for row in tiny_plan.planned.iter_rows(named=True):
        e = explain(tiny_plan, row["order_id"])
        assert (e.build_date, e.line, e.queue_position) == (
            row["build_date"],
            row["line"],
            row["queue_position"],
        )
        assert e.bound_by == row["bound_by"]
        kind = e.bound_by.partition(":")[0]
        kinds.add(kind)
        if kind in ("line", "part", "mix"):
            assert e.ahead_same_constraint is not None
            assert 0 <= e.ahead_same_constraint < row["queue_position"]
            assert e.blocked_day is not None
            assert e.blocked_day < e.build_date
        assert e.order_id in e.text()
    assert {"", "line", "part", "mix", "shutdown", "market"} <= kinds


def test_line_bound_counts_orders_on_that_line(tiny_plan) -> None:  # type: ignore[no-untyped-def]
    """For a line-bound order, everything planned ahead on its line is counted."""
    row = tiny_plan.planned.filter(pl.col("bound_by") == "line:l1").row(-1, named=True)
    ahead = tiny_plan.planned.filter(
        (pl.col("queue_position") < row["queue_position"]) & (pl.col("line") == "l1")
    ).height
    assert explain(tiny_plan, row["order_id"]).ahead_same_constraint == ahead


def test_shutdown_is_named(tiny_plan) -> None:  # type: ignore[no-untyped-def]
    """A shutdown-bound order names the shutdown."""
    row = tiny_plan.planned.filter(pl.col("bound_by") == "shutdown").row(0, named=True)
    assert "cny" in explain(tiny_plan, row["order_id"]).detail


def test_unknown_order(tiny_plan) -> None:  # type: ignore[no-untyped-def]
    """An id that is not in the plan is a clear error."""
    with pytest.raises(UnknownOrderError, match="'nope' is not in the plan"):
        explain(tiny_plan, "nope")


def test_a_built_order_is_history_not_unplanned(tiny: Scenario) -> None:
    """Found in review: a built order was explained as "It is not planned: None."."""
    book = pl.DataFrame(
        {
            "order_id": ["h1", "o1"],
            "model": ["A", "A"],
            "variant": ["S", "S"],
            "market": ["CN", "CN"],
            "locked_at": ["2025-01-02T09:00:00", "2025-01-02T10:00:00"],
            "status": ["built", "locked"],
            "line": ["l1", None],
            "build_date": ["2025-01-03", None],
        }
    )
    p = plan(tiny.replace(as_of=dt.date(2025, 1, 6)), book)
    e = explain(p, "h1")
    assert e.text().count("built on 2025-01-03 on line l1: it is built") == 1
    assert "not planned" not in e.text()
