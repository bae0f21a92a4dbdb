"""A plan made sequenceable by taking empty carriers off the days that need them: each
round's plan is the contract's plan (the reference planner) on the scenario with the slots
taken off so far, and the rounds stop as the rule says."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promiseline.core.model.orders import validate_orders
from promiseline.core.planning.planner import plan
from promiseline.core.sequencing.day import sequence_plan
from promiseline.core.sequencing.replan import sequenced_plan, with_lost_slots
from promiseline.errors import InvalidRequestError
from promiseline.io.scenario_file import load_scenario
from tests.conftest import DATA, examples
from tests.reference import reference_plan
from tests.strategies import order_tables, scenarios


def rows(p: pl.DataFrame) -> dict[str, tuple[object, ...]]:
    return {
        r["order_id"]: (r["status"], r["line"], r["build_date"], r["bound_by"])
        for r in p.iter_rows(named=True)
    }


@settings(max_examples=examples(40), deadline=None)
@given(data=st.data(), rounds=st.integers(1, 3))
def test_each_round_plans_as_the_reference_does(data: st.DataObject, rounds: int) -> None:
    s = data.draw(scenarios(export=False))
    book = validate_orders(data.draw(order_tables(s)), s)
    done = sequenced_plan(plan(s, book), rounds=rounds)
    assert 1 <= done.rounds <= rounds
    lost = Counter(done.lost)
    want = {
        oid: (r.status, r.line, r.build, r.bound_by)
        for oid, r in reference_plan(with_lost_slots(s, lost), book.table).items()
    }
    assert rows(done.plan.table) == want
    again = sequence_plan(done.plan)
    assert again.days.equals(done.sequences.days.with_columns(again.days["seconds"]))
    if done.rounds < rounds:  # it stopped early: nothing left to take off
        assert done.settled
    for (line, day), n in done.lost.items():
        assert n > 0
        assert isinstance(day, dt.date)
        assert line in {ln.name for _, ln in s.lines if ln.stations}


def test_a_day_two_stations_cannot_share_loses_a_slot_and_is_planned_again() -> None:
    """Three slots a day; a car needing both stations (1 of 2 each) and one needing each:
    each station alone has room (2 of 3), but the first car cannot sit next to either
    other, so the day needs one empty carrier. Planned again without that slot, the day
    takes what its two slots can hold and the rest moves to the next day."""
    s = load_scenario(DATA / "two-stations.yaml")
    raw = pl.read_csv(DATA / "two-stations-orders.csv", infer_schema=False)
    book = validate_orders(raw, s)
    first = plan(s, book)
    assert first.planned["build_date"].unique().to_list() == [dt.date(2025, 1, 6)]
    once = sequenced_plan(first, rounds=1)
    assert not once.settled
    assert once.rounds == 1
    assert once.sequences.days["empty_carriers"].to_list() == [1]
    done = sequenced_plan(first, rounds=3)
    assert done.settled
    assert done.rounds == 2
    assert done.lost == {("l1", dt.date(2025, 1, 6)): 1}
    days = dict(done.plan.table.select("order_id", "build_date").iter_rows())
    assert days == {
        "both": dt.date(2025, 1, 6),
        "lidar": dt.date(2025, 1, 7),
        "roof": dt.date(2025, 1, 7),
    }


def test_no_rounds_is_one_clear_error() -> None:
    s = load_scenario(DATA / "two-stations.yaml")
    book = validate_orders(pl.read_csv(DATA / "two-stations-orders.csv", infer_schema=False), s)
    with pytest.raises(InvalidRequestError, match="rounds must be 1 or more, got 0"):
        sequenced_plan(plan(s, book), rounds=0)
