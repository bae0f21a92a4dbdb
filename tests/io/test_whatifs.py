"""The built-in what-ifs of the demo scenario: found by name, valid, and doing what their
names say on a small slice of the demo order book."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from promiseline.api import patched
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.plan import Plan
from promiseline.core.planning.planner import plan
from promiseline.demo import demo_orders, demo_scenario
from promiseline.errors import ScenarioError
from promiseline.io.scenario_file import builtin_whatifs, load_patch

NAMES = ("red-sea-closed", "second-weekly-sailing", "homologation-slip", "build-at-their-turn")
EXPORT = ("DE", "NO")


@pytest.fixture(scope="module")
def demo() -> Scenario:
    return demo_scenario()


@pytest.fixture(scope="module")
def small_book() -> pl.DataFrame:
    """The first 3,000 export orders of the demo book and its first 2,000 home orders."""
    o = demo_orders()
    return pl.concat([o.head(2000), o.filter(pl.col("market").is_in(EXPORT)).head(3000)])


@pytest.fixture(scope="module")
def base(demo: Scenario, small_book: pl.DataFrame) -> Plan:
    return plan(demo, small_book)


def _what_if(demo: Scenario, book: pl.DataFrame, name: str) -> Plan:
    return plan(patched(demo, name, load_patch(name)), book)


def _exports(p: Plan) -> pl.DataFrame:
    return p.table.filter(pl.col("market").is_in(EXPORT)).sort("order_id")


def test_builtin_whatifs_are_listed() -> None:
    """The demo's what-ifs are built in, as YAML text."""
    found = builtin_whatifs()
    assert set(NAMES) <= set(found)
    assert all("markets:" in found[n] for n in NAMES)


def test_load_patch_by_name() -> None:
    """A built-in what-if loads by its name alone."""
    patch = load_patch("red-sea-closed")
    lanes = {ln["name"]: ln for m in patch["markets"] for ln in m["lanes"]}
    assert lanes["tianjin-bremerhaven"]["transit_days"] == 47


def test_file_path_wins_over_builtin_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An existing file of the same name as a built-in what-if is read instead."""
    monkeypatch.chdir(tmp_path)
    Path("red-sea-closed").write_text("frozen_days: 1\n", encoding="utf-8")
    assert load_patch("red-sea-closed") == {"frozen_days": 1}
    assert load_patch(tmp_path / "red-sea-closed") == {"frozen_days": 1}


def test_unknown_name_lists_the_builtins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare name that is neither a file nor a built-in what-if (a typo) says which
    built-ins there are; a missing file by path or with .yaml is a missing file."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError, match=r"nor a built-in what-if .*red-sea-closed"):
        load_patch("red-sea-closd")
    with pytest.raises(ScenarioError, match="cannot read file"):
        load_patch("red-sea-opened.yaml")
    with pytest.raises(ScenarioError, match="cannot read file"):
        load_patch(tmp_path / "patches" / "red-sea-opened")


@pytest.mark.parametrize("name", NAMES)
def test_whatif_applies_to_the_demo(demo: Scenario, name: str) -> None:
    """Each built-in what-if gives a valid scenario that differs from the demo."""
    s = patched(demo, name, load_patch(name))
    assert s != demo
    assert [m.name for m in s.markets] == [m.name for m in demo.markets]
    assert [ln.name for m in s.markets for ln in m.lanes] == [
        ln.name for m in demo.markets for ln in m.lanes
    ]


def test_red_sea_closed_adds_twelve_days_at_sea(
    demo: Scenario, small_book: pl.DataFrame, base: Plan
) -> None:
    """Red Sea closed: every lane's transit grows by 12 days, and (export cars built at
    their turn) each export order keeps its sailing and arrives exactly 12 days later;
    held to build_ahead_days, they are built to leave 12 days sooner."""
    held = _exports(_what_if(demo, small_book, "red-sea-closed"))
    assert held.height == 3000
    assert (held["build_date"].min() - _exports(base)["build_date"].min()).days == -12
    at_turn = patched(demo, "build-at-their-turn", load_patch("build-at-their-turn"))
    base = plan(at_turn, small_book)
    p = plan(patched(at_turn, "red-sea-closed", load_patch("red-sea-closed")), small_book)

    def transit(x: Plan) -> pl.DataFrame:
        return x.sailings().select(
            "sailing_id", (pl.col("arrival_date") - pl.col("departure_date")).dt.total_days()
        )

    both = transit(base).join(transit(p), on="sailing_id", suffix="_closed")
    assert both.height == base.sailings().height == p.sailings().height
    assert (both["arrival_date_closed"] - both["arrival_date"]).to_list() == [12] * both.height
    a, b = _exports(base), _exports(p)
    assert a.height == 3000
    assert b["sailing_id"].to_list() == a["sailing_id"].to_list()
    late = (b["arrival_date"] - a["arrival_date"]).dt.total_days()
    assert late.to_list() == [12] * a.height
    assert (b["delivery_date"] >= a["delivery_date"]).all()


def test_second_weekly_sailing_doubles_the_sailings(
    demo: Scenario, small_book: pl.DataFrame, base: Plan
) -> None:
    """A second weekly sailing doubles the sailings of every lane in the horizon, Thursday
    beside Monday, and no export order departs later than before."""
    p = _what_if(demo, small_book, "second-weekly-sailing")
    per_lane = {
        name: dict(x.sailings().group_by("lane").len().iter_rows())
        for name, x in (("a", base), ("b", p))
    }
    assert per_lane["b"] == {lane: 2 * n for lane, n in per_lane["a"].items()}
    weekdays = set(p.sailings()["departure_date"].dt.weekday().to_list())
    assert weekdays == {1, 4}  # polars: Monday 1, Thursday 4
    a, b = _exports(base), _exports(p)
    assert (b["departure_date"] <= a["departure_date"]).all()


def test_homologation_slip_moves_the_gates(
    demo: Scenario, small_book: pl.DataFrame, base: Plan
) -> None:
    """Homologation six months late: no YU7 export delivery before 2027-09-01."""
    p = _what_if(demo, small_book, "homologation-slip")
    yu7 = _exports(p).filter(pl.col("model") == "YU7")
    assert yu7.height == 3000
    assert yu7["delivery_date"].min() == dt.date(2027, 9, 1)
    assert set(yu7["bound_by"]) == {"gate:DE", "gate:NO"}
    assert _exports(base)["delivery_date"].min() < dt.date(2027, 9, 1)
    gates = {
        (m.name, g.model): g.from_
        for m in patched(demo, "x", load_patch("homologation-slip")).markets
        for g in m.gates
    }
    assert gates[("DE", "YU7")] == gates[("NO", "YU7")] == dt.date(2027, 9, 1)
    assert gates[("DE", "SU7")] == gates[("NO", "SU7")] == dt.date(2027, 12, 1)


def test_gate_patch_moves_the_model_wide_gate() -> None:
    """A patch setting a model's gate moves the model-wide gate, not a variant's gate."""
    s = demo_scenario()
    de = next(m for m in s.model_dump(by_alias=True)["markets"] if m["name"] == "DE")
    de["gates"] = [
        {"model": "SU7", "from": dt.date(2027, 6, 1)},
        {"model": "SU7", "variant": "Ultra", "from": dt.date(2027, 8, 1)},
    ]
    base = patched(s, "two gates", {"markets": [de]})
    later = {"markets": [{"name": "DE", "gates": [{"model": "SU7", "from": dt.date(2027, 9, 1)}]}]}
    market = next(m for m in patched(base, "later", later).markets if m.name == "DE")
    # replaced (like any list of unnamed items) or merged by (model, variant): either way
    # no SU7 of any variant reaches DE before 2027-09-01
    variants = [v.name for v in s.product("SU7").variants]
    assert all(market.gate("SU7", v) == dt.date(2027, 9, 1) for v in variants)
