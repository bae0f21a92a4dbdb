"""API verbs the adapters call instead of the core: compare (orders before patches),
export_outlook, lane_warnings, check_role."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from promiseline import api
from promiseline.core.model.scenario import Scenario
from promiseline.core.studies.whatif import export_outlook
from promiseline.errors import PromiselineError
from tests.conftest import DATA
from tests.core.planning.test_sea import day, lane, scenario
from tests.core.readout.test_export_outlook import book, export_scenario

MORE_HOURS = DATA / "more-hours.yaml"


def test_compare_takes_the_orders_before_the_patches(
    tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """compare(scenario, orders, patches), like every verb; the old order is a TypeError
    that says what changed, not a failure deep inside."""
    cmp = api.compare(tiny, tiny_orders, [MORE_HOURS])
    assert cmp.names == ("base", "more-hours")
    with pytest.raises(TypeError, match="the patches now come after the orders"):
        api.compare(tiny, [MORE_HOURS], tiny_orders)  # type: ignore[arg-type]


def test_export_outlook_is_the_cores_on_each_patch(tmp_path: Path) -> None:
    """The plan, the book without export and each what-if patch, named by its file; the
    plan is made when not given."""
    s = export_scenario()
    patch = tmp_path / "wider.yaml"
    patch.write_text("markets:\n  - name: EX\n    lanes:\n      - {name: lane-a, capacity: 4}\n")
    base = api.plan(s, book())
    got = api.export_outlook(s, book(), base, whatifs=[patch])
    assert got["scenario"].to_list() == ["plan", "no export", "wider"]
    wider = api.patched(s, str(patch), api.load_patch(patch))
    assert got.equals(export_outlook(base, book(), [("wider", wider)]))
    assert api.export_outlook(s, book(), whatifs=[patch]).equals(got)


def test_lane_warnings_say_what_carries_nothing() -> None:
    """A lane whose only sailing is after the horizon leaves its market without a seat."""
    s = scenario(lanes=[lane(sailings=[{"date": day(400)}])])
    assert api.lane_warnings(s) == [
        f"markets[1].lanes[0] (lane-a): no sailing departs inside the horizon "
        f"({s.start} to {s.end})",
        "markets[1] (EX): no seat on any sailing: its orders go unplanned",
    ]
    assert api.lane_warnings(export_scenario()) == []


def test_check_role() -> None:
    """A key's role is 'planner' or 'admin'; anything else is named in a user error."""
    assert [api.check_role(r) for r in ("planner", "admin")] == ["planner", "admin"]
    with pytest.raises(PromiselineError, match=r"role must be one of \['planner', 'admin'\]"):
        api.check_role("boss")


def test_backtest_history_of_no_database_names_no_command_line_flag(tmp_path: Path) -> None:
    """From Python, a missing database is named as such (it said '--db: ...', a flag the
    caller never typed)."""
    with pytest.raises(PromiselineError) as e:
        api.backtest_history(f"sqlite:///{tmp_path / 'none.db'}")
    assert "no SQLite database file" in str(e.value)
    assert "--db" not in str(e.value)


@pytest.mark.parametrize("realities", [3, "worse.yaml", [1]])
def test_backtest_says_realities_are_patch_files_and_draws_a_count(
    tiny: Scenario, tiny_orders: pl.DataFrame, realities: object
) -> None:
    """The command line's --realities N is `draws=N` here: a count or one file name as
    `realities` is refused in one sentence (a TypeError, or the name read letter by letter)."""
    with pytest.raises(PromiselineError, match="number of realities drawn is draws="):
        api.backtest(tiny, tiny_orders, realities=realities)  # type: ignore[arg-type]


def test_backtest_warnings_take_an_orders_file_as_backtest_does(tiny: Scenario) -> None:
    said = api.backtest_warnings(tiny, DATA / "tiny_orders.csv")
    assert said == api.backtest_warnings(tiny, pl.read_csv(DATA / "tiny_orders.csv"))
    assert "no `uncertainty`" in said[0]


def test_simulate_warnings_say_when_nothing_is_uncertain(tiny: Scenario) -> None:
    """No uncertainty, or an empty one: every future is the plan, said; any term: silent."""
    (said,) = api.simulate_warnings(tiny)
    assert "every future is its plan" in said
    assert api.simulate_warnings(tiny.replace(uncertainty={})) == [said]
    assert api.simulate_warnings(tiny.replace(uncertainty={"uptime": {"mean": 0.9}})) == []
