"""What-if patches merge by name; comparisons show their effect."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from promiseline.core.model.orders import validate_orders
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.planner import plan
from promiseline.core.readout.export_outlook import home_only, outlooks
from promiseline.core.readout.summary import summary
from promiseline.core.studies.whatif import (
    compare,
    default_dates,
    early_changes,
    export_outlook,
    merge,
    patched,
)
from promiseline.errors import ScenarioError
from promiseline.io.scenario_file import scenario_from_dict
from tests.core.planning.test_sea import orders
from tests.core.readout.test_export_outlook import book, export_scenario


def test_merge_rules() -> None:
    """Mappings merge, named lists merge by name (remove drops), other lists replace."""
    base = {
        "a": 1,
        "parts": [{"name": "x", "stock": 1}, {"name": "y", "stock": 2}],
        "shifts": [{"from": 1, "hours": 8}],
    }
    patch = {
        "parts": [
            {"name": "y", "stock": 5},
            {"name": "z", "stock": 0},
            {"name": "x", "remove": True},
        ],
        "shifts": [{"from": 2, "hours": 4}],
    }
    assert merge(base, patch) == {
        "a": 1,
        "parts": [{"name": "y", "stock": 5}, {"name": "z", "stock": 0}],
        "shifts": [{"from": 2, "hours": 4}],
    }
    with pytest.raises(ScenarioError, match="nothing named 'q' to remove"):
        merge(base, {"parts": [{"name": "q", "remove": True}]})


def test_patch_is_validated_whole(tiny: Scenario) -> None:
    """A patch that breaks the scenario is reported with its key path."""
    with pytest.raises(ScenarioError, match="jph: must be > 0"):
        patched(
            tiny,
            {"plants": [{"name": "p1", "lines": [{"name": "l1", "jph": -1}]}]},
            scenario_from_dict,
        )
    more = patched(tiny, {"parts": [{"name": "lidar", "stock": 99}]}, scenario_from_dict)
    assert next(p for p in more.parts if p.name == "lidar").stock == 99
    assert more.plants == tiny.plants


def test_more_capacity_cuts_waits(tiny: Scenario, tiny_orders: pl.DataFrame) -> None:
    """Two more hours a day shorten waits and the backlog; the table shows both."""
    import yaml

    from tests.conftest import DATA

    patch = yaml.safe_load((DATA / "more-hours.yaml").read_text())
    book = validate_orders(tiny_orders, tiny)
    cmp = compare([("base", tiny), ("more", patched(tiny, patch, scenario_from_dict))], book)
    w = cmp.waits().filter(pl.col("variant") == "M")
    assert w["more median"][0] < w["base median"][0]
    assert cmp.plans[1].planned["wait_days"].sum() < cmp.plans[0].planned["wait_days"].sum()
    b = cmp.backlog_at([dt.date(2025, 1, d) for d in range(13, 31)])
    assert (b["more"] <= b["base"]).all()
    assert (b["more"] < b["base"]).any()
    assert cmp.deliveries_by_month()["more"].sum() == cmp.deliveries_by_month()["base"].sum()
    assert set(cmp.utilization().columns) == {"line", "base", "more"}


def test_deliveries_by_month_has_every_month(tiny: Scenario, tiny_orders: pl.DataFrame) -> None:
    """Every month from the first delivery in any scenario to the last in any is a row, a
    month without deliveries too; each column counts that scenario's planned deliveries."""
    late = patched(tiny, {"markets": [{"name": "DE", "opens": "2025-09-01"}]}, scenario_from_dict)
    more = patched(late, {"parts": [{"name": "lidar", "stock": 20}]}, scenario_from_dict)
    cmp = compare([("late", late), ("more", more)], validate_orders(tiny_orders, tiny))
    table = cmp.deliveries_by_month()
    months = table["month"].to_list()
    assert months == [dt.date(2025, m, 1) for m in range(1, 10)]  # DE opens in September
    assert table.filter(pl.col("month") == dt.date(2025, 5, 1)).row(0)[1:] == (0, 0)
    for name, p in zip(cmp.names, cmp.plans, strict=True):
        per_month = p.planned["delivery_date"].dt.truncate("1mo").value_counts()
        got = dict(zip(months, table[name], strict=True))
        assert {m: got[m] for m in per_month["delivery_date"]} == dict(per_month.iter_rows())
        assert table[name].sum() == p.planned.height


def test_utilization_compares_one_period(tiny: Scenario, tiny_orders: pl.DataFrame) -> None:
    """Every scenario's utilization is built / capacity over the same stated days, though
    their last build days differ."""
    import yaml

    from tests.conftest import DATA

    patch = yaml.safe_load((DATA / "more-hours.yaml").read_text())
    patch["parts"] = [{"name": "lidar", "stock": 30}, {"name": "pack", "stock": 40}]
    more = patched(tiny, patch, scenario_from_dict)
    cmp = compare([("base", tiny), ("more", more)], validate_orders(tiny_orders, tiny))
    first, last = cmp.utilization_period()
    ends = [summary(p)["utilization_through"] for p in cmp.plans]
    assert ends[0] != ends[1]
    assert (first, last.isoformat()) == (tiny.start, max(ends))
    table = cmp.utilization()
    for name, p in zip(cmp.names, cmp.plans, strict=True):
        days = p.line_days().filter(pl.col("date").is_between(first, last))
        assert table[name][0] == round(days["built"].sum() / days["capacity"].sum(), 4)


def test_backlog_by_default_3_6_and_12_months_in(tiny: Scenario) -> None:
    """Without dates the backlog is read 3, 6 and 12 months into the first scenario, those
    inside its horizon only."""
    long = tiny.replace(horizon_days=200)
    cmp = compare([("base", long), ("again", long)], validate_orders(pl.DataFrame(), long))
    days = [d - long.start for d in cmp.backlog_at()["date"]]
    assert days == [dt.timedelta(91), dt.timedelta(182)]
    assert cmp.backlog_at().equals(cmp.backlog_at(default_dates(long)))
    assert not cmp.by_sea


def test_export_outlook_beside_no_export_and_each_what_if() -> None:
    """The outlook of the plan, of its book planned without the export orders, and of the
    book planned on each what-if, in that order; each row as the plans made one by one
    give it, from a book or from its table alike."""
    s = export_scenario()
    table = book()
    base = plan(s, orders(s, *table.iter_rows(named=True)))
    wider = patched(
        s,
        {"markets": [{"name": "EX", "lanes": [{"name": "lane-a", "capacity": 4}]}]},
        scenario_from_dict,
    )
    got = export_outlook(base, table, [("wider", wider)])
    by_hand = compare([("wider", wider)], table)
    want = outlooks(
        [
            ("plan", base),
            ("no export", plan(s, validate_orders(home_only(table, base), s))),
            ("wider", by_hand.plans[0]),
        ]
    )
    assert got["scenario"].to_list() == ["plan", "no export", "wider"]
    assert got.equals(want)
    assert got["export_orders"].to_list() == [4, 0, 4]
    # more seats on the faster lane: the export orders wait less
    assert got["export_median_wait"][2] < got["export_median_wait"][0]
    assert export_outlook(base, base.book, [("wider", wider)]).equals(got)
    assert compare([("plan", base.scenario)], table).by_sea


def test_a_what_if_that_changes_the_past_or_comes_too_soon_says_so(tiny: Scenario) -> None:
    """Capacity changed before the plan's day counts only from that day; a shift added
    sooner than its lead time, or a part, is named with the day it could be ready; a
    change after both says nothing."""
    now = tiny.model_copy(update={"as_of": dt.datetime(2025, 1, 10, 9)})

    def said(patch: dict[str, object]) -> list[str]:
        return early_changes(now, patched(now, patch, scenario_from_dict), "p")

    def hours(start: str) -> dict[str, object]:
        shifts = [{"from": "2025-01-01", "hours": 3}, {"from": start, "hours": 5}]
        return {"plants": [{"name": "p1", "lines": [{"name": "l1", "shifts": shifts}]}]}

    gone = said(hours("2025-01-06"))
    assert gone == [
        "p: line l1 changes from 2025-01-06, before the plan's day 2025-01-10: days gone "
        "are not planned again, only the change from 2025-01-10 counts"
    ]
    soon = said(hours("2025-01-20"))  # a shift is ready 28 days from 2025-01-10
    assert soon == [
        "p: line l1 changes from 2025-01-27, sooner than a shift can be ready (28 days "
        "from 2025-01-10: 2025-02-07; sizing.lead_days.shift)"
    ]  # the 20th-24th are a shutdown: the first day built differently is the 27th
    assert said(hours("2025-02-10")) == []
    supply = [{"from": "2025-01-01", "per_week": 3}, {"from": "2025-01-15", "per_week": 9}]
    parts = said({"parts": [{"name": "lidar", "supply": supply}]})
    assert len(parts) == 1
    assert parts[0].startswith("p: part lidar changes from 2025-01-15, sooner than a part")
    assert early_changes(now, now) == []
