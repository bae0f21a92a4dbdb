"""Why a what-if moved waits: the demo's third-shift story in miniature. Two lines, one
model each, a pack both models' big variant share; more hours on line B make B's big
variant take the shared packs sooner (six a day; B's line made only two B X a day),
so A's big variant waits longer, and the reason says so; B's variants wait less, and
the reason names the what-if's own change."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from promiseline.core.model.orders import validate_orders
from promiseline.core.model.scenario import Scenario
from promiseline.core.studies.whatif import compare
from promiseline.core.studies.why import reasons_table

START = dt.date(2025, 1, 6)


def day(n: int) -> str:
    return (START + dt.timedelta(days=n)).isoformat()


def scenario(b_hours: list[dict[str, Any]]) -> Scenario:
    line = {"jph": 1, "models": ["A"], "shifts": [{"from": day(0), "hours": 10}]}
    return Scenario.model_validate(
        {
            "name": "why",
            "start": START,
            "horizon_days": 200,
            "calendar": {"working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
            "products": [
                {"model": "A", "variants": [{"name": "S"}, {"name": "X", "parts": {"pack": 1}}]},
                {"model": "B", "variants": [{"name": "S"}, {"name": "X", "parts": {"pack": 1}}]},
            ],
            "plants": [
                {
                    "name": "p",
                    "lines": [
                        {**line, "name": "la"},
                        {**line, "name": "lb", "models": ["B"], "shifts": b_hours},
                    ],
                }
            ],
            "parts": [{"name": "pack", "stock": 0, "supply": [{"from": day(0), "per_week": 42}]}],
            "markets": [{"name": "CN", "lead_days": 2}],
        }
    )


def book(s: Scenario) -> pl.DataFrame:
    """400 orders of each model, half of them X, B's locked a second before A's."""
    rows = []
    for i in range(400):
        for model, second in (("B", 0), ("A", 1)):
            rows.append(
                {
                    "order_id": f"{model}{i:04d}",
                    "model": model,
                    "variant": "X" if i % 2 else "S",
                    "market": "CN",
                    "locked_at": f"{START}T08:{i // 60:02d}:{i % 60:02d}.{second}",
                }
            )
    return validate_orders(pl.DataFrame(rows), s).table


def test_a_shared_part_taken_sooner_is_named_as_the_cause() -> None:
    base = scenario([{"from": day(0), "hours": 4}])
    more = scenario([{"from": day(0), "hours": 4}, {"from": day(10), "hours": 12}])
    cmp = compare([("base", base), ("more-b", more)], book(base))
    found = {(r.model, r.variant): r for r in cmp.reasons()}
    worse = found["A", "X"]
    assert worse.worse
    assert worse.median[1] > worse.median[0] + 3
    assert "B X now builds sooner" in worse.cause
    assert "more pack before" in worse.cause
    assert worse.text().startswith("A X waits longer under more-b (median ")
    better = found["B", "S"]
    assert not better.worse
    assert better.cause == f"The what-if gives line:lb more from {day(10)}"
    freed = found["A", "S"]  # A X, held longer for packs, leaves line la's slots sooner
    assert not freed.worse
    assert freed.cause.startswith("A X takes ")
    assert " fewer slots on la before " in freed.cause
    table = reasons_table(cmp.reasons())
    assert table.columns == ["what-if", "model", "variant", "median (days)", "P90 (days)", "why"]
    assert table.height == len(found)


def test_nothing_moved_says_nothing() -> None:
    base = scenario([{"from": day(0), "hours": 4}])
    cmp = compare([("base", base), ("same", base)], book(base))
    assert cmp.reasons() == []
    assert reasons_table([]).height == 0
