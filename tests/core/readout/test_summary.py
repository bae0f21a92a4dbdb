"""The plan summary (report.py): every figure follows from the plan table and its aggregates."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promiseline.core.model.orders import validate_orders
from promiseline.core.planning.plan import Plan
from promiseline.core.planning.planner import plan
from promiseline.core.readout.summary import summary
from tests.conftest import examples
from tests.strategies import order_tables, scenarios

SETTINGS = settings(
    max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
PLANNING = ("locked", "scheduled", "reserved")


def random_plan(data: st.DataObject) -> Plan:
    s = data.draw(scenarios())
    return plan(s, validate_orders(data.draw(order_tables(s)), s))


def test_summary_counts(tiny_plan: Plan) -> None:
    """The summary's counts and waits are those of the table."""
    sm = summary(tiny_plan)
    planned = tiny_plan.planned
    assert sm["orders"]["planned"] == planned.height
    assert sm["orders"]["reserved_quoted"] == 1
    assert sm["orders"]["skipped"] == {"cancelled": 1}
    assert sum(sm["bound_by"].values()) == (planned["bound_by"] != "").sum()
    (a,) = sm["waits_by_model"]
    assert a["median_wait_days"] == planned["wait_days"].median()
    assert a["max_wait_days"] == planned["wait_days"].max()
    assert sm["last_delivery"] == planned["delivery_date"].max().isoformat()  # type: ignore[union-attr]


@SETTINGS
@given(data=st.data())
def test_order_counts_add_up(data: st.DataObject) -> None:
    """Loaded = planned + unplanned + reserved + history + skipped, each counted from the
    table and book (history: built, shipped or delivered where the plan places it)."""
    p = random_plan(data)
    orders = summary(p)["orders"]
    t, book = p.table, p.book.table
    reserved = t.filter(pl.col("reason").str.starts_with("reserved:").fill_null(False))
    assert orders["planned"] == (t["status"] == "planned").sum()
    assert orders["reserved_quoted"] == reserved.height == (book["status"] == "reserved").sum()
    assert orders["unplanned"] == (t["status"] == "unplanned").sum() - reserved.height
    placed = set(t.filter(pl.col("status").is_in(["built", "shipped", "delivered"]))["order_id"])
    assert orders["history"] == dict(
        Counter(t.filter(pl.col("order_id").is_in(list(placed)))["status"])
    )
    assert orders["skipped"] == dict(
        Counter(
            s
            for s, oid in zip(book["status"], book["order_id"], strict=True)
            if s not in PLANNING and oid not in placed
        )
    )
    assert orders["loaded"] == len(p.book) == t.height + sum(orders["skipped"].values())
    assert orders["rejected"] == len(p.book.rejected)


@SETTINGS
@given(data=st.data())
def test_waits_and_bounds_follow_the_planned_rows(data: st.DataObject) -> None:
    """Wait statistics per model and variant, bound_by totals and first/last delivery are
    those of the planned rows."""
    p = random_plan(data)
    sm = summary(p)
    planned = p.planned
    for key, by in (("waits_by_model", ["model"]), ("waits_by_variant", ["model", "variant"])):
        groups = sorted(planned.partition_by(by, as_dict=True).items())
        assert [tuple(g[k] for k in by) for g in sm[key]] == [k for k, _ in groups]
        for got, (_, rows) in zip(sm[key], groups, strict=True):
            w = rows["wait_days"].to_numpy()
            assert got["orders"] == len(w)
            assert got["median_wait_days"] == pytest.approx(np.median(w))
            assert got["p90_wait_days"] == pytest.approx(np.percentile(w, 90))
            assert got["max_wait_days"] == w.max()
    held = Counter(b for b in planned["bound_by"] if b)
    assert sm["bound_by"] == dict(held)
    assert list(sm["bound_by"]) == sorted(held, key=lambda b: (-held[b], b))  # most first
    deliveries = sorted(planned["delivery_date"])
    assert sm["first_delivery"] == (deliveries[0].isoformat() if deliveries else None)
    assert sm["last_delivery"] == (deliveries[-1].isoformat() if deliveries else None)


@SETTINGS
@given(data=st.data())
def test_line_part_and_backlog_figures_follow_the_days(data: st.DataObject) -> None:
    """Lines in scenario order with their plants, each built = its planned rows in the
    horizon (all within the stated period); parts and backlog are the part_days and backlog
    tables."""
    p = random_plan(data)
    s = p.scenario
    sm = summary(p)
    last = dt.date.fromisoformat(sm["utilization_through"])
    days = p.line_days()
    booked = p.table.filter(~pl.col("reason").str.starts_with("reserved").fill_null(False))
    # (a frozen export order without a sailing is unplanned but keeps, and builds in, its slot)
    inside = booked.filter(pl.col("build_date").is_between(s.start, s.end, closed="left"))
    assert [(x["line"], x["plant"]) for x in sm["lines"]] == [
        (ln.name, plant.name) for plant, ln in s.lines
    ]
    for x in sm["lines"]:
        mine = inside.filter(pl.col("line") == x["line"])
        assert x["built"] == mine.height == days.filter(pl.col("line") == x["line"])["built"].sum()
        assert mine.height == 0 or mine["build_date"].max() <= last  # type: ignore[operator]

    parts = p.part_days()
    assert [x["part"] for x in sm["parts"]] == [q.name for q in s.parts]
    for x in sm["parts"]:
        mine = parts.filter(pl.col("part") == x["part"])
        low = int(np.argmin(mine["stock"].to_numpy()))
        assert (x["supplied"], x["used"], x["end_stock"]) == tuple(mine.row(-1)[2:])
        assert x["min_stock"] == mine["stock"][low]
        assert x["min_stock_date"] == mine["date"][low].isoformat()

    backlog = p.backlog()["backlog"].to_list()
    assert sm["backlog"]["by_day"] == backlog
    assert sm["backlog"]["peak"] == max(backlog)
    peak_day = s.start + dt.timedelta(days=backlog.index(max(backlog)))
    assert sm["backlog"]["peak_date"] == peak_day.isoformat()


def utilization_adds_up(p: Plan) -> None:
    """Per line, built and capacity are sums of line_days over the stated dates (start
    through the last day an order holds a slot: history, frozen, planned) and utilization
    is built / capacity."""
    sm = summary(p)
    first = dt.date.fromisoformat(sm["utilization_from"])
    last = dt.date.fromisoformat(sm["utilization_through"])
    held = p.table.filter(
        (pl.col("status") == "planned")
        | pl.col("status").is_in(["built", "shipped", "delivered"])
        | (pl.col("reason").str.starts_with("no sailing").fill_null(False))
    )
    # inside the horizon (`end` is the first day after it: a history order built on it,
    # e.g. as of the day after the horizon, holds no slot of the plan's)
    builds = held.filter(
        pl.col("build_date").is_between(p.scenario.start, p.scenario.end, closed="left")
    )
    assert first == p.scenario.start
    assert last == max(builds["build_date"].max() or first, first)
    days = p.line_days().filter(pl.col("date").is_between(first, last))
    for x in sm["lines"]:
        mine = days.filter(pl.col("line") == x["line"])
        assert x["built"] == mine["built"].sum()
        assert x["capacity"] == mine["capacity"].sum()
        share = x["built"] / x["capacity"] if x["capacity"] else 0.0
        assert x["utilization"] == round(share, 4)  # JSON keeps 4 decimals


def test_utilization_is_built_over_capacity_on_the_stated_days(tiny_plan: Plan) -> None:
    """On the tiny plan, where capacity runs on after the last build, the line table adds
    up: built / capacity = utilization, both over the stated dates."""
    assert summary(tiny_plan)["utilization_through"] < tiny_plan.scenario.end.isoformat()
    utilization_adds_up(tiny_plan)


@SETTINGS
@given(data=st.data())
def test_utilization_adds_up_on_random_plans(data: st.DataObject) -> None:
    """The same holds on random scenarios and order books."""
    utilization_adds_up(random_plan(data))
