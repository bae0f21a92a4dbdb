"""A planned line-day as a sequencing instance: the orders a plan builds on one line and
day, grouped in classes by the stations of the line (scenario `stations`) they need.

A day's slots the plan leaves free run as empty carriers: they are a class of their own
with no option (the last), so a day the plan did not fill can space its cars with them
at no cost in output. The orders of one class are placed in planning order at its
positions (deterministic: the same plan and solver seed give the same build order);
positions count carriers, so the table skips those of empty carriers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from promiseline.core.model.orders import options_dict
from promiseline.core.model.scenario import Line
from promiseline.core.planning.capacity import matches
from promiseline.core.planning.plan import Plan
from promiseline.core.sequencing.instance import Instance, Rule, score
from promiseline.core.sequencing.roadef import COLOR, HPRC, LPRC, RatioRule, RoadefDay, RoadefScore
from promiseline.core.sequencing.roadef_search import sequence_day as roadef_sequence
from promiseline.core.sequencing.solve import MOVES, Sequenced, sequence
from promiseline.errors import InvalidRequestError

PLAN_MOVES = 5_000_000  # tries a day in a whole plan: a day without a way out stops there
PAINT_MOVES = 1_000_000  # tries of a painted day (ROADEF's search, 4 rounds of 250,000)


@dataclass(frozen=True, slots=True)
class DaySequence:
    """A line-day's build order: `table` has position, order_id, class and one column
    per station (whether the car needs it); `result` the solver's answer."""

    line: str
    day: dt.date
    stations: tuple[str, ...]
    table: pl.DataFrame
    result: Sequenced
    instance: Instance
    options: tuple[str, ...]  # each car's options (JSON), in the table's order: its paint
    paint: RoadefScore | None = None  # a painted line's: colour changes, runs over the limit

    @property
    def empty_carriers(self) -> int:
        """Empty carriers the line needs beyond the day's slots with this build order
        (none where no window is over capacity)."""
        if not self.result.score.total:
            return 0
        return empty_carriers(self.instance, self.result.sequence)


def planned_with_options(plan: Plan) -> pl.DataFrame:
    """The planned orders with their options (made once for many days)."""
    options = plan.book.table["options"].gather(plan.ix.astype(np.int64))
    return plan.table.with_columns(options.alias("options")).filter(pl.col("status") == "planned")


def day_instance(
    plan: Plan, line: str, day: dt.date, planned: pl.DataFrame | None = None
) -> tuple[Instance, pl.DataFrame]:
    """The instance of `line` on `day`, and its orders in planning order with their class
    (`planned`: `planned_with_options`, when many days are read). A line with a paint
    shop has no empty-carrier class: its batches run the day's cars back to back, and its
    free slots after them."""
    ln = next((ln for _, ln in plan.scenario.lines if ln.name == line), None)
    if ln is None:
        names = [x.name for _, x in plan.scenario.lines]
        raise InvalidRequestError(f"no line {line!r} in the scenario; one of {', '.join(names)}")
    if not ln.stations:
        raise InvalidRequestError(
            f"line {line!r} has no stations: nothing to sequence (scenario lines[].stations)"
        )
    rows = planned_with_options(plan) if planned is None else planned
    t = rows.filter((pl.col("line") == line) & (pl.col("build_date") == day)).select(
        "order_id", "model", "variant", "queue_position", "options"
    )
    if not t.height:
        built = rows.filter(pl.col("line") == line)["build_date"].sort().to_list()
        if not built:
            raise InvalidRequestError(f"the plan builds nothing on {line}")
        first, last = built[0], built[-1]
        where = (
            f"{day} is outside the days it builds on, {first} to {last}"
            if not first <= day <= last
            else f"it builds from {first} to {last}, not on {day} (a day off, or none left)"
        )
        raise InvalidRequestError(f"the plan builds nothing on {line} on {day}: {where}")
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
    counts = np.bincount(cls, minlength=len(kinds)).astype(np.int64)
    free = free_slots(plan, line, day, t.height) if ln.paint is None else 0
    if free:  # the empty carriers: the last class, no option
        kinds = np.vstack([kinds, np.zeros((1, len(ln.stations)), dtype=bool)])
        counts = np.append(counts, free)
    inst = Instance(
        f"{line} {day}",
        counts,
        kinds.astype(bool),
        tuple(Rule(i, st.p, st.q) for i, st in enumerate(ln.stations)),
    )
    return inst, t.with_columns(pl.Series("class", cls.astype(np.int64)))


def free_slots(plan: Plan, line: str, day: dt.date, cars: int) -> int:
    """The slots of `line` on `day` the plan leaves free (none past the horizon)."""
    cap = plan.capacity
    d = (day - cap.start).days
    if not 0 <= d < cap.days:
        return 0
    return max(0, int(cap.slots[cap.line_names.index(line), d]) - cars)


def sequence_day(
    plan: Plan,
    line: str,
    day: dt.date,
    seconds: float = 10.0,
    planned: pl.DataFrame | None = None,
    restarts: int | None = None,
    moves: int = MOVES,
) -> DaySequence:
    """The build order of `line` on `day` with the fewest windows over a station's
    capacity (core/sequencing.solve)."""
    inst, orders = day_instance(plan, line, day, planned)
    ln = next(x for _, x in plan.scenario.lines if x.name == line)
    names = tuple(st.name for st in ln.stations)
    if ln.paint is not None:
        return _painted(line, day, ln, inst, orders, seconds, moves)
    done = sequence(inst, seconds=seconds, restarts=restarts, moves=moves)
    # each class's orders, in planning order, at that class's positions
    orders = orders.with_row_index("rank").sort("class", "rank")
    kinds = orders["class"].n_unique()  # classes of cars; an empty carrier's is the next
    is_car = np.flatnonzero(done.sequence < kinds)
    seq = done.sequence[is_car]
    order_of_pos = np.argsort(np.argsort(seq, kind="stable"), kind="stable")
    ids = orders["order_id"].gather(order_of_pos)
    table = pl.DataFrame(
        {
            "position": is_car + 1,
            "order_id": ids,
            "class": seq,
            **{name: inst.options[seq, i] for i, name in enumerate(names)},
        }
    )
    options = tuple(orders["options"].gather(order_of_pos).to_list())
    return DaySequence(line, day, names, table, done, inst, options)


def paints_of(ln: Line, orders: pl.DataFrame) -> list[str | None]:
    """Each order's colour on a painted line: its paint option's value (None: none)."""
    option = ln.paint.option if ln.paint is not None else ""
    return [options_dict(o).get(option) for o in orders["options"].to_list()]


def paint_day(name: str, ln: Line, orders: pl.DataFrame, inst: Instance) -> RoadefDay:
    """A painted line-day as ROADEF 2005 sees it: each order a car with its colour (no
    paint is a colour too) and the stations it needs (high or low priority); objectives:
    high stations, then colour changes, then low ones; no previous day (a plan's day
    starts its own batches)."""
    if ln.paint is None:
        raise InvalidRequestError(f"line {ln.name!r} has no paint shop (lines[].paint)")
    paints = [p or "" for p in paints_of(ln, orders)]
    colours = {c: i for i, c in enumerate(sorted(set(paints)))}
    cls = orders["class"].to_numpy()
    return RoadefDay(
        name=name,
        ids=tuple(orders["order_id"].to_list()),
        colors=np.array([colours[c] for c in paints], dtype=np.int64),
        options=inst.options[cls],
        prev_colors=np.zeros(0, dtype=np.int64),
        prev_options=np.zeros((0, len(ln.stations)), dtype=bool),
        rules=tuple(RatioRule(st.name, st.p, st.q, st.priority == "high") for st in ln.stations),
        objectives=(HPRC, COLOR, LPRC),
        batch_limit=ln.paint.max_batch,
    )


def _painted(
    line: str,
    day: dt.date,
    ln: Line,
    inst: Instance,
    orders: pl.DataFrame,
    seconds: float,
    moves: int,
) -> DaySequence:
    """A painted line-day sequenced under ROADEF 2005's objectives (roadef_search) in a
    fixed number of tries (the same answer every time), `seconds` at most."""
    r = roadef_sequence(
        paint_day(inst.name, ln, orders, inst), seconds=seconds, moves=min(moves, PAINT_MOVES)
    )
    cls = orders["class"].to_numpy()[r.sequence]
    names = tuple(st.name for st in ln.stations)
    paints = paints_of(ln, orders)
    table = pl.DataFrame(
        {
            "position": np.arange(1, len(cls) + 1),
            "order_id": orders["order_id"].gather(r.sequence),
            "class": cls,
            **{name: inst.options[cls, i] for i, name in enumerate(names)},
            "paint": pl.Series([paints[i] for i in r.sequence], dtype=pl.String),
        }
    )
    found = score(inst, cls)
    result = Sequenced(
        inst.name, cls, found, found.total == 0, r.seconds, "local search (paint batches)"
    )
    options = tuple(orders["options"].gather(r.sequence).to_list())
    return DaySequence(line, day, names, table, result, inst, options, r.score)


def empty_carriers(inst: Instance, seq: npt.NDArray[np.integer]) -> int:
    """Empty carriers a feasible line needs with this order of cars: walking the sequence,
    an empty carrier goes in before each car that would put a window over a station's
    capacity, as many as it takes (a car whose station takes none of them, p = 0, is
    passed as it is: no gap helps it). Zero for a sequence without violations."""
    placed: list[int] = []  # class per carrier, -1 empty
    gaps = 0
    for c in np.asarray(seq).tolist():
        for _ in range(max((r.q for r in inst.rules), default=0)):
            fits = all(
                r.p == 0
                or not inst.options[c, r.option]
                or sum(
                    1
                    for x in placed[len(placed) - r.q + 1 :]
                    if x >= 0 and inst.options[x, r.option]
                )
                < r.p
                for r in inst.rules
            )
            if fits:
                break
            placed.append(-1)
            gaps += 1
        placed.append(int(c))
    return gaps


@dataclass(frozen=True, slots=True)
class PlanSequence:
    """Every line-day with stations sequenced: `positions` (line, day, position,
    order_id) and `days` (line, day, cars, violations, empty carriers; on a painted line
    colour changes and runs over the batch limit; seconds)."""

    positions: pl.DataFrame
    days: pl.DataFrame


def sequence_plan(
    plan: Plan,
    seconds: float = 30.0,
    say: Callable[[str], None] | None = None,
    restarts: int = 1,
    moves: int = PLAN_MOVES,
) -> PlanSequence:
    """Sequence every day of every line that has stations: `restarts` runs of the search a
    day at most (deterministic), `seconds` a day as a safety cap."""
    lines = [ln.name for _, ln in plan.scenario.lines if ln.stations]
    planned = planned_with_options(plan).filter(pl.col("line").is_in(lines))
    by_day = planned.partition_by("line", "build_date", as_dict=True)
    days = sorted(by_day)
    pos, rep = [], []
    for i, (line, day) in enumerate(days):
        if say is not None and i % 50 == 0:
            say(f"sequencing line-days: {i:,} of {len(days):,}")
        done = sequence_day(plan, line, day, seconds, by_day[line, day], restarts, moves)
        pos.append(
            done.table.select(
                pl.lit(line).alias("line"), pl.lit(day).alias("day"), "position", "order_id"
            )
        )
        rep.append(
            {
                "line": line,
                "day": day,
                "cars": done.table.height,
                "violations": done.result.score.total,
                "empty_carriers": done.empty_carriers,
                "colour_changes": done.paint.color if done.paint is not None else None,
                "runs_over_batch": (  # a day of one colour cannot keep a short limit
                    done.paint.batch_violations if done.paint is not None else None
                ),
                "seconds": round(done.result.seconds, 4),
            }
        )
    schema = {
        "line": pl.String,
        "day": pl.Date,
        "cars": pl.Int64,
        "violations": pl.Int64,
        "empty_carriers": pl.Int64,
        "colour_changes": pl.Int64,
        "runs_over_batch": pl.Int64,
        "seconds": pl.Float64,
    }
    empty = pl.DataFrame(
        schema={"line": pl.String, "day": pl.Date, "position": pl.Int64, "order_id": pl.String}
    )
    return PlanSequence(pl.concat(pos) if pos else empty, pl.DataFrame(rep, schema=schema))
