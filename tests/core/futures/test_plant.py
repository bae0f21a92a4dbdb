"""A plant working as the plan says (core/futures/plant.py): one day equals a plain
reference, every report passes the progress rule, no line-day builds past its capacity
or a car before its day, every car built is shipped and delivered in order, and with
uptime 1 a plant reporting day after day is the plan rolled forward."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promiseline.core.futures.plant import CLOSE, PlantDay, plant_day, uptimes
from promiseline.core.model.lifecycle import Status
from promiseline.core.model.orders import BOOK_COLUMNS, validate_orders
from promiseline.core.model.progress import Report, Standing, check
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.plan import HISTORY, RESERVED, Plan
from promiseline.core.planning.planner import plan
from promiseline.core.planning.roll import roll
from promiseline.errors import PromiselineError
from tests.conftest import examples
from tests.strategies import order_tables, scenarios

SETTINGS = settings(
    max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
STAGE = {s.value: i for i, s in enumerate((Status.BUILT, Status.SHIPPED, Status.DELIVERED))}


# --- a plain reference, straight from the module's text ---


def reference(p: Plan, day: dt.date, up: dict[str, float]) -> PlantDay:
    """Row by row over the plan's table as plain dictionaries."""
    s, cap = p.scenario, p.capacity
    rows = p.table.to_dicts()
    export = {m.name for m in s.markets if m.export}
    at = dt.datetime.combine(day, dt.time(23, 59))
    index = (day - s.start).days
    built: list[Report] = []
    made: set[str] = set()
    capacity: dict[str, int] = {}
    slipped = 0
    for li, name in enumerate(cap.line_names):
        cars = [
            (i, r)
            for i, r in enumerate(rows)
            if p.group[i] != RESERVED and r["line"] == name and r["build_date"] == day
        ]
        # a day outside the horizon has no line-day: nothing is built (a frozen order
        # dated past the horizon's end is listed, but no plant reports it: the progress
        # rule refuses a build date outside the horizon)
        inside = 0 <= index < cap.days
        capacity[name] = max(int(cap.slots[li, index]), len(cars)) if inside else 0
        k = min(len(cars), math.floor(capacity[name] * up[name] + 0.5))
        slipped += len(cars) - k
        for i, r in cars[:k]:
            if p.group[i] == HISTORY:
                continue
            if r["departure_date"] is not None and r["departure_date"] < day:
                slipped += 1
                continue
            made.add(r["order_id"])
            built.append(Report(r["order_id"], Status.BUILT, name, day, r["sailing_id"], at))
    shipped, delivered = [], []
    for i, r in enumerate(rows):
        was = r["status"] if p.group[i] == HISTORY else None
        if was not in ("built", "shipped") and r["order_id"] not in made:
            continue
        sea = r["market"] in export
        if sea and r["sailing_id"] is None:
            continue
        if r["departure_date"] is not None and r["departure_date"] < r["build_date"]:
            continue
        gone = was == "shipped"
        if sea and not gone and r["departure_date"] <= day:
            shipped.append(Report(r["order_id"], Status.SHIPPED, sailing_id=r["sailing_id"], at=at))
            gone = True
        if r["delivery_date"] is not None and r["delivery_date"] <= day and (gone or not sea):
            delivered.append(Report(r["order_id"], Status.DELIVERED, at=at))
    return PlantDay(day, up, capacity, tuple(built), tuple(shipped), tuple(delivered), slipped)


# --- a plant reporting day after day, through the progress rule ---


@dataclass
class Plant:
    """A book kept as the plant reports it: each day planned as of that day, its reports
    checked by the progress rule (core/model/progress.check) and applied."""

    scenario: Scenario
    rows: dict[str, dict[str, Any]]
    seed: int = 0
    days: list[tuple[PlantDay, Plan]] = field(default_factory=list)
    said: dict[str, list[str]] = field(default_factory=dict)  # order -> statuses reported

    def book(self, day: dt.date) -> Plan:
        s = self.scenario.replace(as_of=day)
        table = pl.DataFrame(
            list(self.rows.values()), schema=dict.fromkeys(BOOK_COLUMNS, pl.String)
        )
        book = validate_orders(table, s)
        assert not book.rejected, book.rejected[:3]
        return plan(s, book)

    def run(self, first: dt.date, last: dt.date) -> None:
        day = first
        while day <= last:
            p = self.book(day)
            out = plant_day(p, day, self.seed)
            assert out == reference(p, day, uptimes(p, day, self.seed))
            self.apply(p.scenario, out)
            self.caught_up(p, day)
            self.days.append((out, p))
            day += dt.timedelta(days=1)

    def caught_up(self, p: Plan, day: dt.date) -> None:
        """At a day's close every car built is shipped once its sailing left and
        delivered once its day came (as the plan of that day has them)."""
        export = {m.name for m in p.scenario.markets if m.export}
        for row in p.table.iter_rows(named=True):
            now = self.rows[row["order_id"]]["status"]
            if now not in ("built", "shipped", "delivered"):
                continue
            sea = row["market"] in export
            if sea and row["sailing_id"] is None:
                continue  # nothing to ship on
            departs, arrives = row["departure_date"], row["delivery_date"]
            if departs is not None and departs < row["build_date"]:
                continue  # history that cannot be
            if sea and departs is not None and departs <= day:
                assert now in ("shipped", "delivered"), (day, row, now)
            if arrives is not None and arrives <= day:
                assert now == "delivered", (day, row, now)

    def apply(self, s: Scenario, out: PlantDay) -> None:
        now = dt.datetime.combine(out.day, CLOSE)
        for r in out.reports:
            row = self.rows[r.order_id]
            was = Standing(
                row["model"],
                row["market"],
                Status(row["status"]),
                row["line"],
                dt.date.fromisoformat(row["build_date"]) if row["build_date"] else None,
                row["sailing_id"],
            )
            whole = check(s, now, was, r)  # the rule a plant's report passes
            assert whole is not None, f"{r} says nothing new of {row}"
            row.update(
                status=whole.status.value,
                line=whole.line,
                build_date=whole.build_date.isoformat() if whole.build_date else None,
                sailing_id=whole.sailing_id,
            )
            self.said.setdefault(r.order_id, []).append(r.status.value)


def clean(raw: pl.DataFrame, s: Scenario) -> dict[str, dict[str, Any]]:
    """The random book as a plant could have reported it: no named sailing leaving before
    its car is built, and schedules only in the frozen zone (an order scheduled beyond it
    is planned as locked, as `roll` leaves the book; see the module's text)."""
    frozen_end = s.now + dt.timedelta(days=s.frozen_days)
    rows = {}
    for r in raw.to_dicts():
        if r["sailing_id"] and r["build_date"] and r["sailing_id"].split(":")[1] < r["build_date"]:
            r["sailing_id"] = None
        if r["status"] == "scheduled" and r["build_date"] and r["build_date"] >= str(frozen_end):
            r.update(status="locked", line=None, build_date=None, sailing_id=None)
        rows[r["order_id"]] = r
    return rows


def uncertain(data: st.DataObject, s: Scenario) -> Scenario:
    """The scenario with a random uptime (sometimes per line)."""
    spec = {
        "mean": data.draw(st.sampled_from([0.3, 0.6, 0.85, 0.95, 1.0])),
        "sd": data.draw(st.sampled_from([0.0, 0.05, 0.2])),
    }
    lines = {
        ln.name: {"mean": data.draw(st.sampled_from([0.5, 0.9]))}
        for _, ln in s.lines
        if data.draw(st.booleans())
    }
    return s.replace(uncertainty={"uptime": spec, "line_uptime": lines})


# --- one day ---


@SETTINGS
@given(data=st.data())
def test_one_day_is_the_reference_and_passes_the_progress_rule(data: st.DataObject) -> None:
    s = data.draw(scenarios(moment=True))
    s = uncertain(data, s)
    rows = clean(data.draw(order_tables(s)), s)
    seed = data.draw(st.integers(0, 3))
    day = s.now + dt.timedelta(days=data.draw(st.integers(0, s.horizon_days)))
    p = Plant(s, rows, seed).book(day)
    out = plant_day(p, day, seed)
    assert out == reference(p, day, uptimes(p, day, seed))
    assert out == plant_day(p, day, seed)  # the same day draws the same
    t = p.table
    for line, can in out.capacity.items():
        mine = [r for r in out.built if r.line == line]
        assert len(mine) <= can  # never past the line-day's capacity
    for r in out.built:  # only cars the plan puts on that line and day, never later ones
        row = t.row(by_predicate=pl.col("order_id") == r.order_id, named=True)
        assert (row["line"], row["build_date"]) == (r.line, day)
        assert row["status"] not in ("built", "shipped", "delivered")
    for stage in (out.built, out.shipped, out.delivered):
        assert len({r.order_id for r in stage}) == len(stage)
    Plant(s, rows, seed).apply(p.scenario, out)  # every report passes the rule, in order


def test_a_day_before_the_plan_is_refused(tiny: Scenario) -> None:
    p = plan(tiny.replace(as_of=dt.date(2025, 1, 10)), validate_orders(_tiny_book(), tiny))
    with pytest.raises(PromiselineError, match="plan as of 2025-01-09"):
        plant_day(p, dt.date(2025, 1, 9))


def _tiny_book() -> pl.DataFrame:
    from tests.conftest import DATA

    return pl.read_csv(DATA / "tiny_orders.csv", infer_schema=False)


def test_a_day_on_the_tiny_plan(tiny: Scenario) -> None:
    """Uptime 1: the plan's cars of the day are built, in queue order, on its line; the
    reports are stamped at the day's close. Uptime 0.5: one car of the two slots, the
    first in the queue; the other slips."""
    day = dt.date(2025, 1, 10)
    s = tiny.replace(as_of=day)
    p = plan(s, validate_orders(_tiny_book(), s))
    planned = p.table.filter(pl.col("build_date") == day, pl.col("status") == "planned")
    out = plant_day(p, day)
    assert [r.order_id for r in out.built] == planned["order_id"].to_list() == ["o00", "o01"]
    assert {(r.line, r.build_date, r.at) for r in out.built} == {
        ("l1", day, dt.datetime(2025, 1, 10, 23, 59))
    }
    assert (out.uptime, out.capacity, out.slipped) == ({"l1": 1.0}, {"l1": 2}, 0)
    assert out.shipped == out.delivered == ()
    low = plant_day(plan(s.replace(uncertainty={"uptime": {"mean": 0.5}}), p.book), day)
    assert [r.order_id for r in low.built] == ["o00"]
    assert low.slipped == 1
    assert low.text() == "2025-01-10: 1 built, 0 shipped, 0 delivered, 1 slipped (uptime l1 50%)"


def test_a_car_built_already_that_day_counts_first(tiny: Scenario) -> None:
    """A car the plant reported built today takes its share of the day's output: with
    two slots and uptime 0.5 the line builds one car, and that one is it."""
    day = dt.date(2025, 1, 10)
    s = tiny.replace(as_of=day, uncertainty={"uptime": {"mean": 0.5}})
    book = _tiny_book().with_columns(
        pl.when(pl.col("order_id") == "o02").then(pl.lit(v)).otherwise(pl.col(c)).alias(c)
        for c, v in (("status", "built"), ("line", "l1"), ("build_date", "2025-01-10"))
    )
    p = plan(s, validate_orders(book, s))
    on_day = p.table.filter(pl.col("build_date") == day, pl.col("status") != "unplanned")
    assert on_day["order_id"].to_list() == ["o02", "o00"]
    out = plant_day(p, day)
    assert (out.built, out.slipped) == ((), 1)


def test_uptime_is_drawn_as_the_monte_carlo_draws_it(tiny: Scenario) -> None:
    """Over many days the uptimes drawn have the scenario's mean and sd; each day is fixed
    by (seed, day), another seed draws otherwise."""
    s = tiny.replace(uncertainty={"uptime": {"mean": 0.9, "sd": 0.05}})
    p = plan(s, validate_orders(_tiny_book(), s))
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(2000)]
    draws = np.array([uptimes(p, d, 7)["l1"] for d in days])
    n = len(draws)
    assert abs(draws.mean() - 0.9) < 4 * 0.05 / np.sqrt(n)
    assert abs(draws.std() - 0.05) < 0.05 * 4 / np.sqrt(2 * n)
    assert ((draws > 0) & (draws <= 1)).all()
    assert uptimes(p, days[3], 7) == uptimes(p, days[3], 7) != uptimes(p, days[3], 8)
    assert uptimes(plan(tiny, p.book), days[3], 7) == {"l1": 1.0}  # no uncertainty


# --- day after day ---


def early(data: st.DataObject, s: Scenario) -> Scenario:
    """The scenario as of one of its first days (a day: reports come at its close), so
    that the plant has the horizon to work in."""
    return s.replace(as_of=s.start + dt.timedelta(days=data.draw(st.integers(0, 3))))


def run_days(data: st.DataObject, s: Scenario) -> tuple[Plant, dt.date]:
    """The plant reports every day from the scenario's day to the horizon's end."""
    rows = clean(data.draw(order_tables(s, max_orders=80)), s)
    plant = Plant(s, rows, data.draw(st.integers(0, 3)))
    last = max(s.now, s.end - dt.timedelta(days=1))
    plant.run(s.now, last)
    return plant, last


@SETTINGS
@given(data=st.data())
def test_with_uptime_one_a_plant_day_after_day_is_the_plan_rolled(data: st.DataObject) -> None:
    """Uptime 1: every car is built on the line and day the first plan gave it, shipped on
    its sailing, delivered on its day: the book ends as `roll` writes it (history alike,
    every other order still open), and no order is overdue then."""
    s = early(data, data.draw(scenarios(moment=True)))
    plant, last = run_days(data, s)
    to = last + dt.timedelta(days=1)
    first = plant.days[0][1]
    was = {r["order_id"]: r["status"] for r in first.book.table.to_dicts()}
    history = ("built", "shipped", "delivered")
    for want in roll(first, to).book.table.to_dicts():
        got = plant.rows[want["order_id"]]
        if was[want["order_id"]] in history:  # it was so already (roll drops a sailing
            assert got["status"] == want["status"], (got, want)  # outside the horizon)
        elif want["status"] in history:
            keys = ("status", "line", "sailing_id")
            assert {k: got[k] for k in keys} == {k: want[k] for k in keys}, (got, want)
            assert got["build_date"] == want["build_date"].isoformat()
        else:  # open: roll may schedule it in the new frozen zone, the plant does not
            assert got["status"] not in history, (got, want)
    assert sum(out.slipped for out, _ in plant.days) == 0
    late = plant.book(to).table.filter("overdue")["order_id"]
    assert set(late) <= set(first.table.filter("overdue")["order_id"])  # none made overdue


@SETTINGS
@given(data=st.data())
def test_a_plant_with_luck_builds_within_capacity_and_in_order(data: st.DataObject) -> None:
    """Any uptime: each line-day builds at most its capacity, each car on the day the plan
    of that day put it; every order's reports go forward (built, shipped, delivered), and
    every car built is shipped and delivered once the plan's day for it has come."""
    s = uncertain(data, early(data, data.draw(scenarios(moment=True))))
    plant, last = run_days(data, s)
    for out, p in plant.days:
        placed = p.table.filter(pl.col("build_date") == out.day)
        for line, can in out.capacity.items():
            before = placed.filter(
                pl.col("line") == line, pl.col("status").is_in(["built", "shipped", "delivered"])
            ).height
            assert before + sum(r.line == line for r in out.built) <= can
        for r in out.built:
            row = placed.row(by_predicate=pl.col("order_id") == r.order_id, named=True)
            assert row["line"] == r.line
    for said in plant.said.values():
        assert said == sorted(said, key=STAGE.__getitem__)
        assert len(set(said)) == len(said)
    final = plant.book(last + dt.timedelta(days=1)).table
    export = {m.name for m in s.markets if m.export}
    for row in final.filter(pl.col("status").is_in(["built", "shipped"])).iter_rows(named=True):
        sailing_ok = row["sailing_id"] is not None or row["market"] not in export
        due = row["delivery_date"] is not None and row["delivery_date"] <= last
        assert not (due and sailing_ok), row  # due, and not delivered
        departed = row["departure_date"] is not None and row["departure_date"] <= last
        assert not (departed and row["status"] == "built"), row  # gone, and not shipped


def test_a_frozen_order_dated_past_the_horizon_is_not_built(tiny: Scenario) -> None:
    """Found by hypothesis: a plan as of the horizon's last day lists a frozen order dated
    after it; no line-day exists there, so the plant builds nothing (it slips) and never
    reports a build date the progress rule refuses."""
    end = tiny.start + dt.timedelta(days=tiny.horizon_days)
    s = tiny.replace(as_of=end - dt.timedelta(days=1))
    raw = pl.DataFrame(
        {
            "order_id": ["late"],
            "model": ["A"],
            "variant": ["S"],
            "options": [""],
            "market": ["CN"],
            "locked_at": [str(tiny.start) + "T08:00:00"],
            "priority": ["0"],
            "status": ["scheduled"],
            "line": ["l1"],
            "build_date": [str(end)],
            "sailing_id": [None],
        }
    )
    p = plan(s, validate_orders(raw, s))
    assert p.table.filter(pl.col("order_id") == "late")["build_date"].item() == end
    day = plant_day(p, end, seed=0)
    assert day.built == ()
    assert day.slipped == 1
