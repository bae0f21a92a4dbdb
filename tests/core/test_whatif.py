"""What-if patches merge by name; comparisons show their effect."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from promiseline.core.orders import validate_orders
from promiseline.core.scenario import Scenario
from promiseline.core.whatif import compare, merge, patched
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
