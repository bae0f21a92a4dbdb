"""The overview's tables against the plan, counted one order and one day at a time."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter, defaultdict

import numpy as np
import polars as pl
import pytest

from promiseline import api
from promiseline.core.model.scenario import Scenario
from promiseline.core.readout.overview import MARGIN_DAYS, overview
from promiseline.demo import demo_orders, demo_scenario


def month(d: dt.date) -> dt.date:
    return d.replace(day=1)


def week(d: dt.date) -> dt.date:
    return d - dt.timedelta(days=d.weekday())


def test_tables_equal_the_plan_counted_by_hand(tiny: Scenario, tiny_orders: pl.DataFrame) -> None:
    plan = api.plan(tiny, tiny_orders)
    ov = overview(plan)
    planned = plan.planned.to_dicts()
    days = plan.line_days().to_dicts()
    last_build = max(d["date"] for d in days if d["built"])
    assert ov.end == last_build + dt.timedelta(days=MARGIN_DAYS)
    assert ov.backlog["date"].max() == ov.end
    shown = [d for d in days if d["date"] <= ov.end]
    months_end = max(ov.end, max(o["delivery_date"] for o in planned))  # to the last delivery
    built, cap = Counter[dt.date](), Counter[dt.date]()
    for d in days:
        if d["date"] > months_end:
            continue
        built[month(d["date"])] += d["built"]
        cap[month(d["date"])] += d["capacity"]
    delivered = Counter(month(o["delivery_date"]) for o in planned)
    for r in ov.months.iter_rows(named=True):
        m = r["month"]
        assert (r["built"], r["capacity"], r["delivered"]) == (built[m], cap[m], delivered[m])
    assert ov.months["built"].sum() == len(planned)  # every build is shown
    use: dict[tuple[str, dt.date], list[int]] = defaultdict(lambda: [0, 0])
    for d in shown:
        use[d["line"], week(d["date"])][0] += d["built"]
        use[d["line"], week(d["date"])][1] += d["capacity"]
    assert ov.utilization.height == len(use)
    for r in ov.utilization.iter_rows(named=True):
        b, c = use[r["line"], r["week"]]
        assert (r["built"], r["capacity"]) == (b, c)
        assert r["use"] == (b / c if c else None)
    held = Counter((week(o["build_date"]), o["bound_by"]) for o in planned if o["bound_by"])
    assert {
        (r["week"], r["constraint"]): r["orders"] for r in ov.binding.iter_rows(named=True)
    } == held


def test_waits_are_the_statistics_their_names_say(
    tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """Median and P90 of the group's orders' waits (not of per-order P90s)."""
    plan = api.plan(tiny, tiny_orders)
    ov = overview(plan)
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for o in plan.planned.to_dicts():
        groups[o["model"], o["variant"]].append(o["wait_days"])
    for r in ov.waits["variant"].iter_rows(named=True):
        w = np.array(groups[r["model"], r["variant"]])
        assert r["orders"] == len(w)
        assert r["median_wait_days"] == np.median(w)
        assert r["p90_wait_days"] == pytest.approx(np.percentile(w, 90))  # as summary.json
        assert r["max_wait_days"] == w.max()


def test_axes_end_where_the_demo_ends_not_at_the_horizon() -> None:
    """The demo plans three years; building ends in its second summer."""
    s = demo_scenario()
    sim = api.simulate(s, demo_orders().head(50_000), futures=4, seed=1)
    ov = overview(sim.base, sim.bands())
    horizon = s.start + dt.timedelta(days=s.horizon_days - 1)
    assert ov.end < horizon - dt.timedelta(days=365)
    tail = ov.backlog.filter(pl.col("date") > ov.end - dt.timedelta(days=MARGIN_DAYS))
    peak = ov.backlog["backlog"].max()
    assert tail.select(pl.max_horizontal(pl.exclude("date")).max()).item() <= 0.01 * peak
    assert {"backlog_p10", "backlog_p50", "backlog_p90"} <= set(ov.backlog.columns)
    j = ov.to_json()
    assert j["backlog"][0]["date"] == s.start.isoformat()


def test_months_run_to_the_last_delivery_by_sea() -> None:
    """Export cars arrive a month after their last build: the months chart runs to the
    month of the last delivery (it stopped at the last build, so the demo's 2027 export
    deliveries were missing under a headline 'last delivery April 2027')."""
    from tests.core.planning.test_sea import orders
    from tests.core.readout.test_export_outlook import book, export_scenario

    s = export_scenario()
    plan = api.plan(s, orders(s, *book().iter_rows(named=True)).table)
    ov = overview(plan)
    last = plan.planned["delivery_date"].max()
    assert isinstance(last, dt.date)
    assert last > ov.end  # by sea, after the last build and its margin
    assert ov.months["month"].max() == month(last)
    assert ov.months["delivered"].sum() == plan.planned.height


def test_held_back_is_every_week_by_kind_of_constraint(
    tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """What the binding charts draw: per build week and kind of constraint (the name
    before its colon) the orders held back, every week from the first to the last, a
    week without any a zero (a line was drawn across a shutdown's weeks)."""
    ov = overview(api.plan(tiny, tiny_orders))
    held = ov.held()
    want = Counter[tuple[dt.date, str]]()
    for r in ov.binding.iter_rows(named=True):
        want[r["week"], r["constraint"].split(":")[0]] += r["orders"]
    kinds = {k for _, k in want}
    first, last = min(w for w, _ in want), max(w for w, _ in want)
    weeks = [first + dt.timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]
    assert held.rows() == [(w, k, want[w, k]) for w in weeks for k in sorted(kinds)]
    a = first
    thin = dataclasses.replace(
        ov,
        binding=pl.DataFrame(
            {
                "week": [a, a + dt.timedelta(weeks=2)],
                "constraint": ["line:l1", "part:pack"],
                "orders": [3, 4],
            }
        ),
    )
    assert thin.held().rows() == [
        (a, "line", 3),
        (a, "part", 0),
        (a + dt.timedelta(weeks=1), "line", 0),
        (a + dt.timedelta(weeks=1), "part", 0),
        (a + dt.timedelta(weeks=2), "line", 0),
        (a + dt.timedelta(weeks=2), "part", 4),
    ]
