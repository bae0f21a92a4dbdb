"""A plant that works as the plan says, with the scenario's luck: the progress one day
produces (what `serve --simulate-plant` reports, so a demo service left running stays
true).

Given a plan made as of a day (or earlier) and that day, the plant:

- **builds**: each line works that day with an uptime drawn as the Monte Carlo draws it
  (the scenario's `uncertainty.line_uptime`, else `uptime`, a Beta; 1 without either), by
  a generator seeded with (seed, the day), so a day is the same whoever asks. Its
  capacity is the line-day's slots (or the cars the plan holds on it, if more: history
  and frozen schedules may exceed the slots, the plant said so); it builds
  `round(capacity x uptime)` of the cars the plan put on that line and day, in plan
  order (cars already reported built that day count first), and the rest slip. Each is
  reported `built` on its line and day, with the sailing the plan gives it by sea.
- **ships**, by sea, every car built (before or that day) whose sailing departs on or
  before the day: `shipped` with its sailing.
- **delivers** every car built (and, by sea, shipped) whose delivery date is on or
  before the day: `delivered`.

Every report is stamped at the day's close (23:59). With uptime 1 a plant day after day
reproduces the plan (the property tests hold it equal to rolling the plan forward). The
uptime follows the law a Monte Carlo future's does, not its draws, and is rounded per
day, where a future floors its running total of output.

What it does not model: parts (a car the plan built is built, whatever the supply did),
ramp-up slips, shortfalls, cancellations and new orders (customers, not the plant), late
sailings or deliveries (each happens on the plan's day), and scheduling (it reports no
`scheduled`: the frozen schedule is the plant's own, and a scheduled car that slips is
overdue until the plan builds it). A car by sea the plan gives no sailing (history
reported without one), or one whose named sailing leaves before it is built, is left for
a person: the progress rule would refuse what the plant could say of it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from promiseline.core.futures.sampling import draw_uptime
from promiseline.core.model.lifecycle import Status
from promiseline.core.model.progress import Report
from promiseline.core.planning.plan import HISTORY, RESERVED, Plan
from promiseline.errors import PromiselineError

CLOSE = dt.time(23, 59)  # a plant day's reports are stamped at its close


@dataclass(frozen=True, slots=True)
class PlantDay:
    """What the plant did on one day: the reports, in the order they apply (every built,
    then every shipped, then every delivered), and how it went per line."""

    day: dt.date
    uptime: dict[str, float]  # per line, as drawn
    capacity: dict[str, int]  # per line: cars it could build that day (before uptime)
    built: tuple[Report, ...]
    shipped: tuple[Report, ...]
    delivered: tuple[Report, ...]
    slipped: int  # cars the plan put on the day that were not built

    @property
    def reports(self) -> list[Report]:
        return [*self.built, *self.shipped, *self.delivered]

    def text(self) -> str:
        """One line: the day's counts and the uptimes drawn."""
        up = ", ".join(f"{k} {v:.0%}" for k, v in self.uptime.items())
        return (
            f"{self.day}: {len(self.built):,} built, {len(self.shipped):,} shipped, "
            f"{len(self.delivered):,} delivered, {self.slipped:,} slipped (uptime {up})"
        )


def uptimes(plan: Plan, day: dt.date, seed: int) -> dict[str, float]:
    """Each line's uptime on `day`, drawn from the scenario's uncertainty with a generator
    seeded by (seed, day): the same day always draws the same."""
    s = plan.scenario
    u = s.uncertainty
    rng = np.random.default_rng([seed, day.toordinal()])
    out: dict[str, float] = {}
    for _, line in s.lines:
        spec = None if u is None else u.line_uptime.get(line.name, u.uptime)
        out[line.name] = float(draw_uptime(rng, spec, 1)[0]) if spec is not None else 1.0
    return out


def plant_day(plan: Plan, day: dt.date, seed: int = 0) -> PlantDay:
    """The progress the plant reports on `day` if it works as `plan` says, with the
    scenario's uptime (see the module's text). Pure: the same plan, day and seed give the
    same reports."""
    s = plan.scenario
    if day < s.now:
        raise PromiselineError(
            f"plant day {day}: the plan is as of {s.now} and says nothing of an earlier day; "
            f"plan as of {day}"
        )
    at = dt.datetime.combine(day, CLOSE)
    cap = plan.capacity
    index = (day - s.start).days
    group = pl.Series("group", plan.group)
    t = plan.table.with_columns(group, pl.int_range(pl.len()).alias("i"))
    took = (pl.col("group") != RESERVED) & pl.col("line").is_not_null()
    on_day = t.filter(took & (pl.col("build_date") == day))
    drawn = uptimes(plan, day, seed)
    capacity: dict[str, int] = {}
    built: list[Report] = []
    made: set[str] = set()
    slipped = 0
    for li, name in enumerate(cap.line_names):
        cars = on_day.filter(pl.col("line") == name).sort("i")
        inside = 0 <= index < cap.days  # outside the horizon nothing is built (no line-day)
        slots = int(cap.slots[li, index]) if inside else 0
        capacity[name] = max(slots, cars.height) if inside else 0
        k = min(cars.height, math.floor(capacity[name] * drawn[name] + 0.5))
        slipped += cars.height - k
        for car in cars.head(k).iter_rows(named=True):
            if car["group"] == HISTORY:
                continue  # reported built already: it counts, nothing to say
            if car["departure_date"] is not None and car["departure_date"] < day:
                slipped += 1  # scheduled on a sailing gone before it is built: unreportable
                continue
            made.add(car["order_id"])
            built.append(Report(car["order_id"], Status.BUILT, name, day, car["sailing_id"], at))
    export = [m.name for m in s.markets if m.export]
    history = (pl.col("group") == HISTORY) & pl.col("status").is_in(
        [Status.BUILT.value, Status.SHIPPED.value]
    )
    cars = t.filter(history | pl.col("order_id").is_in(sorted(made))).sort("i")
    shipped: list[Report] = []
    delivered: list[Report] = []
    for car in cars.iter_rows(named=True):
        oid, status = car["order_id"], car["status"]
        by_sea = car["market"] in export
        if by_sea and car["sailing_id"] is None:
            continue  # no sailing to ship on: a person must name one
        departs, arrives = car["departure_date"], car["delivery_date"]
        gone = status == Status.SHIPPED.value
        if departs is not None and departs < car["build_date"]:
            continue  # its sailing left before it was built: not reportable
        if by_sea and not gone and departs is not None and departs <= day:
            shipped.append(Report(oid, Status.SHIPPED, sailing_id=car["sailing_id"], at=at))
            gone = True
        if arrives is not None and arrives <= day and (gone or not by_sea):
            delivered.append(Report(oid, Status.DELIVERED, at=at))
    return PlantDay(day, drawn, capacity, tuple(built), tuple(shipped), tuple(delivered), slipped)
