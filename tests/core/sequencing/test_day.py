"""A planned line-day sequenced under the line's stations: every car of the day once,
each where its stations allow, the same order each time."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promiseline import api
from promiseline.core.model.scenario import Scenario
from promiseline.core.sequencing.day import day_instance, paint_day
from promiseline.core.sequencing.roadef import score as roadef_score
from promiseline.errors import InvalidRequestError, ScenarioError
from promiseline.io.scenario_file import load_scenario, scenario_from_dict
from tests.conftest import DATA, examples

STATIONS = [
    {"name": "lidar", "match": {"variant": "M"}, "p": 1, "q": 2},
    {"name": "orange", "match": {"options": {"paint": "orange"}}, "p": 1, "q": 3},
]


def with_stations(tiny: Scenario, stations: list[dict[str, object]]) -> Scenario:
    data = tiny.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["plants"][0]["lines"][0]["stations"] = stations
    return scenario_from_dict(data, "tiny + stations")


def book(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "order_id": [f"d{i:03d}" for i in range(n)],
            "model": ["A"] * n,
            "variant": ["M" if i % 3 == 0 else "S" for i in range(n)],
            "options": ['{"paint":"orange"}' if i % 4 == 0 else "{}" for i in range(n)],
            "market": ["CN"] * n,
            "locked_at": ["2025-01-01T08:00:00"] * n,
        }
    )


def test_a_day_is_sequenced_under_its_stations(tiny: Scenario) -> None:
    s = with_stations(tiny, STATIONS)
    plan = api.plan(s, book(60))
    day = plan.planned.group_by("build_date").len().sort("len", descending=True)["build_date"][0]
    done = api.sequence_day(plan, "l1", day)
    built = plan.planned.filter(pl.col("build_date") == day)["order_id"].sort().to_list()
    assert sorted(done.table["order_id"].to_list()) == built  # every car of the day, once
    rows = done.table.join(book(60), on="order_id")
    assert (rows["lidar"] == (rows["variant"] == "M")).all()
    assert (rows["orange"] == rows["options"].str.contains("orange")).all()
    for station in STATIONS:  # the count reported, recounted from the table
        has = done.table[str(station["name"])].cast(pl.Int64).to_list()
        p, q = int(station["p"]), int(station["q"])  # type: ignore[call-overload]
        over = sum(1 for i in range(len(has) - q + 1) if sum(has[i : i + q]) > p)
        assert over == done.result.score.windows[done.stations.index(str(station["name"]))]
    again = api.sequence_day(plan, "l1", day)
    assert again.table.equals(done.table)  # deterministic


def test_what_cannot_be_sequenced_says_why(tiny: Scenario) -> None:
    plan = api.plan(tiny, book(5))
    day = plan.planned["build_date"][0]
    with pytest.raises(InvalidRequestError, match="has no stations"):
        api.sequence_day(plan, "l1", day)
    s = with_stations(tiny, STATIONS)
    plan = api.plan(s, book(5))
    with pytest.raises(InvalidRequestError, match="no line 'l9'"):
        api.sequence_day(plan, "l9", day)
    with pytest.raises(InvalidRequestError, match="on 2030-01-01: 2030-01-01 is outside the days"):
        api.sequence_day(plan, "l1", dt.date(2030, 1, 1))
    with pytest.raises(ScenarioError, match="p must be less than q"):
        with_stations(tiny, [{"name": "x", "match": {}, "p": 2, "q": 2}])


def test_empty_carriers_make_room_where_a_station_is_full() -> None:
    """Three cars with the option under 1/2 need an empty carrier between each two; a
    sequence without violations needs none."""

    from promiseline.core.sequencing.day import empty_carriers
    from promiseline.core.sequencing.instance import Instance, Rule

    inst = Instance("gaps", np.array([3, 1]), np.array([[True], [False]]), (Rule(0, 1, 2),))
    assert empty_carriers(inst, np.array([0, 0, 0, 1])) == 2
    assert empty_carriers(inst, np.array([0, 1, 0, 0])) == 1
    two = Instance("2/3", np.array([3]), np.array([[True]]), (Rule(0, 2, 3),))
    assert empty_carriers(two, np.array([0, 0, 0])) == 1


def test_every_line_day_is_sequenced(tiny: Scenario) -> None:
    """`sequence_plan`: each planned order of a line with stations in one position of its
    day, positions (carriers) 1..slots per day, and the days' report adds up."""
    s = with_stations(tiny, STATIONS)
    plan = api.plan(s, book(60))
    done = api.sequence_plan(plan)
    planned = plan.planned.filter(pl.col("line") == "l1")
    assert sorted(done.positions["order_id"].to_list()) == sorted(planned["order_id"].to_list())
    per_day = done.positions.group_by("line", "day").agg(
        pl.col("position").min().alias("first"),
        pl.col("position").max().alias("last"),
        pl.col("position").n_unique().alias("distinct"),
        pl.len(),
    )
    slots = plan.capacity.slots[0]
    for day, first, last, distinct, n in per_day.drop("line").iter_rows():
        assert first >= 1
        assert distinct == n
        assert last <= max(n, slots[(day - plan.capacity.start).days])  # free slots run empty
    assert int(done.days["cars"].sum()) == planned.height
    assert done.days.height == planned["build_date"].n_unique()
    assert ((done.days["violations"] == 0) == (done.days["empty_carriers"] == 0)).all()


@settings(max_examples=examples(25), deadline=None)
@given(
    pq=st.sampled_from([(1, 2), (2, 3), (1, 3), (2, 5), (3, 4), (0, 2)]),
    slots=st.integers(5, 17),
    every=st.integers(1, 3),
)
def test_a_day_planned_under_one_station_is_sequenced_without_a_gap(
    pq: tuple[int, int], slots: int, every: int
) -> None:
    """A station caps the cars it fits on a line-day at what that day's slots can hold
    under it, so a planned day needs no empty carrier for it, however many orders want
    the option (here one in `every`)."""
    p, q = pq
    s = scenario_from_dict(
        {
            "name": "one-station",
            "start": "2025-01-06",
            "horizon_days": 30,
            "calendar": {"working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
            "products": [{"model": "A", "variants": [{"name": "S"}, {"name": "M"}]}],
            "plants": [
                {
                    "name": "p",
                    "lines": [
                        {
                            "name": "l1",
                            "models": ["A"],
                            "jph": slots,
                            "shifts": [{"from": "2025-01-06", "hours": 1}],
                            "stations": [{"name": "st", "match": {"variant": "M"}, "p": p, "q": q}],
                        }
                    ],
                }
            ],
            "markets": [{"name": "CN", "lead_days": 0}],
        },
        "one station",
    )
    n = slots * 6
    orders = book(n).with_columns(
        variant=pl.Series(["M" if i % every == 0 else "S" for i in range(n)])
    )
    plan = api.plan(s, orders)
    for day in plan.planned["build_date"].unique().to_list():
        done = api.sequence_day(plan, "l1", day)
        assert done.result.score.total == 0, (day, done.result.score)
        assert done.table.height <= slots
        assert done.table["st"].sum() <= p * (slots // q) + min(p, slots % q)


def painted(max_batch: int = 3) -> Scenario:
    """tests/data/painted.yaml (a line of 12 slots a day, a paint shop, a high and a low
    station) with its batch limit set."""
    data = load_scenario(DATA / "painted.yaml").model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    data["plants"][0]["lines"][0]["paint"]["max_batch"] = max_batch
    return scenario_from_dict(data, "painted")


def painted_book(n: int) -> pl.DataFrame:
    colours = ("black", "white", "blue", "red")
    return pl.DataFrame(
        {
            "order_id": [f"c{i:03d}" for i in range(n)],
            "model": ["A"] * n,
            "variant": ["M" if i % 3 == 0 else "S" for i in range(n)],
            "options": [
                json.dumps({"paint": colours[i * 7 % 4]} | ({"roof": "pan"} if i % 2 else {}))
                for i in range(n)
            ],
            "market": ["CN"] * n,
            "locked_at": ["2025-01-06T08:00:00"] * n,
        }
    )


def runs(values: list[object]) -> list[int]:
    out: list[int] = []
    for i, v in enumerate(values):
        out.append(out[-1] + 1 if i and v == values[i - 1] else 1)
    return out


@settings(max_examples=examples(8), deadline=None)
@given(n=st.integers(12, 36), max_batch=st.integers(1, 5))
def test_a_painted_day_keeps_its_batch_limit_and_few_colour_changes(n: int, max_batch: int) -> None:
    """On a line with a paint shop a day's cars come in batches of at most `max_batch`
    of one colour, never more; colour changes recounted from the table; the ROADEF
    objective no worse than the planning order's; the high station's count is the
    table's; the low station does not cap the plan (every second order wants the roof,
    1 of 3)."""
    s = painted(max_batch)
    book = painted_book(n)
    plan = api.plan(s, book)
    assert plan.planned.height == n
    for day in plan.planned["build_date"].unique().to_list():
        done = api.sequence_day(plan, "l1", day)
        assert done.paint is not None
        paint = done.table["paint"].to_list()
        assert max(runs(paint)) <= max_batch
        assert done.paint.batch_violations == 0
        changes = sum(1 for a, b in itertools.pairwise(paint) if a != b)
        assert changes == done.paint.color
        inst, orders = day_instance(plan, "l1", day)  # the planning order, as ROADEF scores it
        given = roadef_score(paint_day("given", s.lines[0][1], orders, inst), np.arange(inst.cars))
        if given.batch_violations == 0:  # the search starts from it when it keeps the limit
            assert done.paint.objective <= given.objective
        has = done.table["lidar"].cast(pl.Int64).to_list()
        over = sum(1 for i in range(len(has) - 1) if has[i] + has[i + 1] > 1)
        assert over == done.result.score.windows[0]
        again = api.sequence_day(plan, "l1", day)
        assert again.table.equals(done.table)  # deterministic
    roofs = plan.planned.join(book, on="order_id").filter(pl.col("options").str.contains("pan"))
    most = max(roofs.group_by("build_date").len()["len"].to_list(), default=0)
    assert n < 24 or most > 4  # more than 1 of 3 of 12 on some day: no cap


def test_a_day_of_one_colour_says_its_runs_over_the_batch_limit() -> None:
    """A batch limit no order of the day can keep (one colour, limit 2) is not hidden:
    the day's runs over it are counted in the plan's sequencing report."""
    s = painted(max_batch=2)
    book = painted_book(12).with_columns(options=pl.lit('{"paint":"black"}'))
    plan = api.plan(s, book)
    days = api.sequence_plan(plan).days
    assert days["runs_over_batch"].to_list() == [1]
    assert days["colour_changes"].to_list() == [0]
