"""Sizing: the HiGHS answer, checked by the planner, costs what brute force finds."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import polars as pl
import pytest

from promiseline.core.model.orders import OrderBook, validate_orders
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.planner import plan
from promiseline.core.studies.sizing import (
    SizingError,
    Target,
    apply_levers,
    lever_start,
    size,
)

START = dt.date(2025, 1, 6)
LEVERS: list[dict[str, Any]] = [
    {"name": "shift", "kind": "shift", "line": "l1", "amount": 4, "cost": 10, "max_units": 2}
    | {"lead_days": 0},
    {"name": "packs", "kind": "part", "part": "pack", "amount": 12, "cost": 4, "max_units": 3}
    | {"lead_days": 0},
    {
        "name": "line2",
        "kind": "line",
        "line": "l1",
        "amount": 1,
        "cost": 30,
        "lead_days": 14,
        "max_units": 1,
    },
]


@pytest.fixture(scope="module")
def case() -> tuple[Scenario, OrderBook]:
    s = Scenario.model_validate(
        {
            "name": "sizing",
            "start": START,
            "horizon_days": 150,
            "calendar": {"working_days": ["mon", "tue", "wed", "thu", "fri"]},
            "products": [
                {"model": "A", "variants": [{"name": "S", "parts": {"pack": 1}}, {"name": "X"}]}
            ],
            "plants": [
                {
                    "name": "p",
                    "lines": [
                        {
                            "name": "l1",
                            "models": ["A"],
                            "jph": 1,
                            "shifts": [{"from": START, "hours": 8}],
                        }
                    ],
                }
            ],
            "parts": [{"name": "pack", "stock": 10, "supply": [{"from": START, "per_week": 12}]}],
            "markets": [{"name": "CN", "lead_days": 3}],
            "levers": LEVERS,
        }
    )
    rows = [
        {
            "order_id": f"o{i:03d}",
            "model": "A",
            "variant": "S" if i % 2 else "X",
            "market": "CN",
            "locked_at": (dt.datetime(2025, 1, 6, 8) + dt.timedelta(minutes=20 * i)).isoformat(),
        }
        for i in range(240)
    ]
    return s, validate_orders(pl.DataFrame(rows), s)


def brute(s: Scenario, book: OrderBook, target: Target) -> float | None:
    best = None
    for units in itertools.product(*(range(lv.max_units + 1) for lv in s.levers)):
        choice = {lv.name: n for lv, n in zip(s.levers, units, strict=True)}
        cost = sum(lv.cost * n for lv, n in zip(s.levers, units, strict=True))
        if target.measure(plan(apply_levers(s, choice), book)) <= target.days:
            best = cost if best is None else min(best, cost)
    return best


@pytest.mark.parametrize(
    "target",
    [
        "p90_wait<=60d",
        "p90_wait<=45d",
        "p90_wait<=35d",
        "p90_wait<=20d",
        "max_wait<=50d",
        "max_wait<=25d",
        "p50_wait<=15d",
    ],
)
def test_sizing_costs_what_brute_force_finds(case: tuple[Scenario, OrderBook], target: str) -> None:
    """The cheapest lever set over the whole grid is what sizing returns; the planner
    confirms it meets the target."""
    s, book = case
    tgt = Target.parse(target)
    r = size(s, book, tgt)
    best = brute(s, book, tgt)
    assert best is not None
    assert r.met
    assert r.achieved <= tgt.days
    assert tgt.measure(plan(apply_levers(s, r.units), book)) == r.achieved
    assert r.cost == best, (r.units, r.note)
    added = r.additions()  # what `promiseline size` lists: the levers used, in the scenario's order
    assert [a["lever"] for a in added] == [lv.name for lv in s.levers if r.units.get(lv.name)]
    assert {a["lever"]: a["units"] for a in added} == {k: n for k, n in r.units.items() if n}
    assert sum(a["cost"] for a in added) == r.cost
    kinds = {lv.name: lv.kind for lv in s.levers}
    assert all(a["kind"] == kinds[a["lever"]] and a["start"] == r.starts[a["lever"]] for a in added)


def test_unreachable_target_names_what_ran_out(case: tuple[Scenario, OrderBook]) -> None:
    """A target no lever set reaches says so and names what still binds."""
    s, book = case
    r = size(s, book, "p90_wait<=3d")
    assert not r.met
    assert "not reachable" in r.note
    assert "binds most" in r.note


def test_bad_targets_and_missing_levers(case: tuple[Scenario, OrderBook]) -> None:
    """Targets are parsed strictly; no lever of the asked kind is an error."""
    s, book = case
    with pytest.raises(SizingError, match=r"expected e\.g\."):
        Target.parse("p90 under 6 months")
    with pytest.raises(SizingError, match="no levers of kind"):
        size(s.replace(levers=[]), book, "p90_wait<=30d")
    assert Target.parse("p90_wait<=180d from 2026-01-01") == Target(0.9, 180, dt.date(2026, 1, 1))


def test_no_lever_starts_before_the_plans_day_plus_its_lead(
    case: tuple[Scenario, OrderBook],
) -> None:
    """A lever starts its lead after the plan's day (as_of), by default its kind's lead."""
    s, _ = case
    now = START + dt.timedelta(days=30)
    free = [{k: v for k, v in lv.items() if k != "lead_days"} for lv in LEVERS]
    later = s.replace(as_of=now, levers=free, sizing={"lead_days": {"shift": 21}})
    want = {"shift": 21, "packs": 56, "line2": 182}  # shift as set, the others by default
    assert {lv.name: lever_start(later, lv) for lv in later.levers} == {
        name: now + dt.timedelta(days=d) for name, d in want.items()
    }
    assert lever_start(s, s.levers[2]) == START + dt.timedelta(days=14)  # its own lead
