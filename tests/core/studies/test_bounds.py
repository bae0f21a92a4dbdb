"""Issue 19, finding 2 (part): a scenario that passes validation (ten years, 200 extra
lines, 100 mix limits) took one sizing job to 10 GB. Sizing and allocation are sized
from the scenario first and refused over the bounds, before anything is built; the
demo and the README's examples pass with room."""

from __future__ import annotations

from typing import Any

import pytest

from promiseline import api
from promiseline.core.model.orders import OrderBook
from promiseline.core.model.scenario import Scenario
from promiseline.core.studies import bounds, highs, sizing
from promiseline.core.studies.allocation import check as allocation_check
from promiseline.demo import demo_scenario
from promiseline.errors import StudyTooLargeError
from tests.core.studies.test_sizing import case  # noqa: F401 - fixture

MARGIN = 10  # the demo's studies are at least this far under each bound


def crowd_scenario() -> Scenario:
    """The finding's scenario: the demo with a 3,660-day horizon, 200 more lines like
    its first (two plants of 100) and 100 mix limits; it passes validation."""
    data: dict[str, Any] = demo_scenario().model_dump(mode="json", by_alias=True)
    first = data["plants"][0]["lines"][0]
    data["horizon_days"] = 3660
    for p in range(2):
        lines = [dict(first, name=f"x{p}-{i}") for i in range(100)]
        data["plants"].append({"name": f"extra{p}", "lines": lines})
    variant = data["products"][0]["variants"][0]["name"]
    data["mix_limits"] = [
        {"name": f"mix{i}", "line": f"x{i % 2}-{i // 2}", "match": {"variant": variant}}
        | {"max_share": 0.5}
        for i in range(100)
    ]
    return Scenario.model_validate(data)


def test_the_demo_sizes_and_allocates_with_room() -> None:
    """The demo (the README's `size demo demo`, `allocate demo demo`, every lever kind)
    is counted well under both bounds."""
    s = demo_scenario()
    for size in (bounds.sizing_size(s), bounds.allocation_size(s)):
        assert bounds.check(size) is size
        assert size.nonzeros * MARGIN < bounds.MAX_NONZEROS, size.text()
        assert size.cells * MARGIN < bounds.MAX_CELLS, size.text()
    api.check_sizing(s, ("shifts", "lines", "parts"))
    api.check_allocation(s)


def test_the_crowd_scenario_is_refused_before_anything_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The finding's scenario: counted over the bound, and `size` / `allocate` refuse it
    naming what to cut without reading the book, a capacity model or the planner."""
    s = crowd_scenario()
    size = bounds.sizing_size(s)
    assert size.nonzeros > bounds.MAX_NONZEROS, size.text()

    def never(*_: object, **__: object) -> None:
        raise AssertionError("built something before the size check")

    for module, name in (
        (api, "read_orders"),
        (api, "order_book"),
        (sizing, "plan"),
        (sizing, "capacity"),
        (allocation_check, "inputs"),
        (allocation_check, "plan"),
    ):
        monkeypatch.setattr(module, name, never)
    with pytest.raises(StudyTooLargeError, match=r"^sizing: too large to run: its MIP would"):
        api.size(s, "orders.csv", "p90_wait<=180d")
    with pytest.raises(StudyTooLargeError, match="shorten horizon_days"):
        api.check_sizing(s)
    with pytest.raises(StudyTooLargeError, match=r"^allocation: too large to run"):
        api.allocate(s, "orders.csv", domestic_p90_days=300)


def test_the_count_bounds_the_model_built(
    case: tuple[Scenario, OrderBook],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The estimate is an upper bound of the MIP sizing really builds (its nonzeros and
    columns), so a study under the bound is not bigger than it says."""
    s, book = case
    built: list[tuple[int, int]] = []
    solve = highs.Model.solve

    def counted(self: highs.Model, **kw: Any) -> highs.Solution:
        built.append((len(self.index), len(self.lo)))
        return solve(self, **kw)

    monkeypatch.setattr(highs.Model, "solve", counted)
    sizing.size(s, book, "p90_wait<=35d")
    assert built
    est = bounds.sizing_size(s)
    assert max(n for n, _ in built) <= est.nonzeros
    assert max(v for _, v in built) <= est.variables
