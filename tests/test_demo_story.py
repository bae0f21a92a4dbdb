"""The demo as the public record has it (issue 20): a later change that breaks the story
fails here, loudly."""

from __future__ import annotations

import polars as pl
import pytest

from promiseline import api
from promiseline.demo import demo_orders, demo_scenario


@pytest.fixture(scope="module")
def outlook() -> dict[str, dict[str, object]]:
    s = demo_scenario()
    table = api.export_outlook(s, demo_orders(), whatifs=["build-at-their-turn"])
    return {r["scenario"]: r for r in table.iter_rows(named=True)}


def test_export_cars_leave_within_weeks_of_being_built(
    outlook: dict[str, dict[str, object]],
) -> None:
    """European cars are built no further ahead than needed (build_ahead_days): the
    median car waits at Tianjin under three weeks, where built at its turn in the queue
    it waited about five months; every export order still sails."""
    plan, at_turn = outlook["plan"], outlook["build-at-their-turn"]
    assert plan["export_orders"] == at_turn["export_orders"] == 8919
    assert plan["no_sailing"] == 0
    assert isinstance(plan["port_median_days"], float)
    assert plan["port_median_days"] < 21
    assert isinstance(at_turn["port_median_days"], float)
    assert at_turn["port_median_days"] > 120
    assert isinstance(plan["yard_peak"], int)
    assert isinstance(at_turn["yard_peak"], int)
    assert plan["yard_peak"] < at_turn["yard_peak"]


def test_export_takes_nothing_from_home_before_the_first_sailing(
    outlook: dict[str, dict[str, object]],
) -> None:
    """Home orders built before the first sailing wait no longer with export than
    without it, and the home orders locked alongside the export ones neither."""
    plan, none = outlook["plan"], outlook["no export"]
    for key in ("home_before_sailing_median_wait", "home_before_sailing_p90_wait"):
        assert plan[key] == none[key]
    for key in ("home_since_median_wait", "home_since_p90_wait"):
        assert plan[key] == none[key]
    assert pl.Series([plan["first_sailing"]]).dtype == pl.Date
