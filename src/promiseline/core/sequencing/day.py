"""A planned line-day as a sequencing instance: the orders a plan builds on one line and
day, grouped in classes by the stations of the line (scenario `stations`) they need.

The orders of one class are placed in planning order at its positions (deterministic:
the same plan and solver seed give the same build order).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from promiseline.core.model.orders import options_dict
from promiseline.core.planning.capacity import matches
from promiseline.core.planning.plan import Plan
from promiseline.core.sequencing.instance import Instance, Rule
from promiseline.core.sequencing.solve import Sequenced, sequence
from promiseline.errors import InvalidRequestError


@dataclass(frozen=True, slots=True)
class DaySequence:
    """A line-day's build order: `table` has position, order_id, class and one column
    per station (whether the car needs it); `result` the solver's answer."""

    line: str
    day: dt.date
    stations: tuple[str, ...]
    table: pl.DataFrame
    result: Sequenced


def day_instance(plan: Plan, line: str, day: dt.date) -> tuple[Instance, pl.DataFrame]:
    """The instance of `line` on `day`, and its orders in planning order with their class."""
    ln = next((ln for _, ln in plan.scenario.lines if ln.name == line), None)
    if ln is None:
        names = [x.name for _, x in plan.scenario.lines]
        raise InvalidRequestError(f"no line {line!r} in the scenario; one of {names}")
    if not ln.stations:
        raise InvalidRequestError(
            f"line {line!r} has no stations: nothing to sequence (scenario lines[].stations)"
        )
    options = plan.book.table["options"].gather(plan.ix.astype(np.int64))
    t = (
        plan.table.with_columns(options.alias("options"))
        .filter((pl.col("line") == line) & (pl.col("build_date") == day))
        .filter(pl.col("status") == "planned")
        .select("order_id", "model", "variant", "queue_position", "options")
    )
    if not t.height:
        raise InvalidRequestError(f"the plan builds nothing on {line} on {day}")
    opts = t["options"].to_list()
    need = np.array(
        [
            [matches(st.match, m, v, options_dict(o)) for st in ln.stations]
            for m, v, o in zip(t["model"].to_list(), t["variant"].to_list(), opts, strict=True)
        ],
        dtype=bool,
    ).reshape(t.height, len(ln.stations))
    kinds, cls = np.unique(need, axis=0, return_inverse=True)
    cls = cls.reshape(-1)
    inst = Instance(
        f"{line} {day}",
        np.bincount(cls, minlength=len(kinds)).astype(np.int64),
        kinds.astype(bool),
        tuple(Rule(i, st.p, st.q) for i, st in enumerate(ln.stations)),
    )
    return inst, t.with_columns(pl.Series("class", cls.astype(np.int64)))


def sequence_day(plan: Plan, line: str, day: dt.date, seconds: float = 10.0) -> DaySequence:
    """The build order of `line` on `day` with the fewest windows over a station's
    capacity (core/sequencing.solve)."""
    inst, orders = day_instance(plan, line, day)
    done = sequence(inst, seconds=seconds)
    # each class's orders, in planning order, at that class's positions
    orders = orders.with_row_index("rank").sort("class", "rank")
    order_of_pos = np.argsort(np.argsort(done.sequence, kind="stable"), kind="stable")
    by_class = orders["order_id"].to_list()
    ids = [by_class[i] for i in order_of_pos]
    ln = next(x for _, x in plan.scenario.lines if x.name == line)
    table = pl.DataFrame(
        {
            "position": np.arange(1, inst.cars + 1),
            "order_id": ids,
            "class": done.sequence,
            **{st.name: inst.options[done.sequence, i] for i, st in enumerate(ln.stations)},
        }
    )
    return DaySequence(line, day, tuple(st.name for st in ln.stations), table, done)
