"""What-if patches merge by name; comparisons show their effect."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from promiseline.core.model.orders import validate_orders
from promiseline.core.model.scenario import Scenario
from promiseline.core.readout.summary import summary
from promiseline.core.studies.whatif import compare, merge, patched
from promiseline.errors import ScenarioError
from promiseline.io.scenario_file import scenario_from_dict


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
