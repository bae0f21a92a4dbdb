"""The promise window: the delivery dates a customer is told, and when a window moved.

Until Monte Carlo windows, a window runs from the planned delivery date to that date plus
3 days or 5 % of the wait, whichever is more. The rule is written once per shape: for one
order (`promise_window`) and for a whole plan (`plan_windows`); a test holds them equal.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from promiseline.core.futures.simulate import Simulation
from promiseline.core.model.window import MONTE_CARLO, NEARBY, NOMINAL, PLAN, Window, WindowChange
from promiseline.core.planning.plan import Plan

MIN_SLACK_DAYS = 3
SLACK_SHARE = 0.05
LIKELY_MOVE_DAYS = 7  # a customer hears of a moved likely date from a week on
WIDTH_MOVE_SHARE = 0.25  # or of a window a quarter wider or narrower
MIN_WIDTH_MOVE_DAYS = 2


def slack_days(wait_days: int) -> int:
    """Width of a window: 3 days, or 5 % of the wait if more."""
    return max(MIN_SLACK_DAYS, math.ceil(SLACK_SHARE * max(wait_days, 0)))


def promise_window(
    build: dt.date | None, delivery: dt.date | None, locked: dt.date, queue_position: int | None
) -> Window | None:
    """The window of one order built on `build`, delivered on `delivery`."""
    if build is None or delivery is None:
        return None
    latest = delivery + dt.timedelta(days=slack_days((delivery - locked).days))
    return Window(build, delivery, latest, queue_position, delivery)


_SCHEMA = {
    "order_id": pl.String,
    "build_date": pl.Date,
    "earliest": pl.Date,
    "latest": pl.Date,
    "queue_position": pl.Int64,
    "likely": pl.Date,
    "source": pl.String,
    "probability": pl.Float64,
}


@dataclass(frozen=True, slots=True)
class Promises:
    """Promised windows of many orders at once (columnar: a re-plan compares 500k)."""

    frame: pl.DataFrame  # the columns of _SCHEMA

    @classmethod
    def of(
        cls,
        order_id: Sequence[str],
        build_date: Sequence[dt.date | None],
        earliest: Sequence[dt.date | None],
        latest: Sequence[dt.date | None],
        queue_position: Sequence[int | None],
        likely: Sequence[dt.date | None] | None = None,
        source: Sequence[str] | None = None,
        probability: Sequence[float | None] | None = None,
    ) -> Promises:
        cols = (
            order_id,
            build_date,
            earliest,
            latest,
            queue_position,
            earliest if likely is None else likely,
            [PLAN] * len(order_id) if source is None else source,
            [None] * len(order_id) if probability is None else probability,
        )
        return cls(
            pl.DataFrame(
                {n: pl.Series(v, dtype=t) for (n, t), v in zip(_SCHEMA.items(), cols, strict=True)}
            )
        )

    @classmethod
    def columns(cls, frame: pl.DataFrame) -> Promises:
        """From a table with the columns of `of`, in that order (types cast)."""
        return cls(frame.rename(dict(zip(frame.columns, _SCHEMA, strict=True))).cast(_SCHEMA))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self.frame.height

    def items(self) -> list[tuple[str, Window]]:
        return [(r[0], Window(*r[1:])) for r in self.frame.iter_rows(named=False)]


def plan_windows(plan: Plan) -> Promises:
    """The window of every planned order (locked or scheduled: reserved orders are only
    quoted), by the rule of `promise_window`, vectorized."""
    planned = plan.table.filter(
        (pl.col("status") == "planned") & pl.col("build_date").is_not_null()
    )
    wait = (pl.col("delivery_date") - pl.col("locked_at").dt.date()).dt.total_days()
    slack = pl.max_horizontal(
        pl.lit(MIN_SLACK_DAYS), (SLACK_SHARE * wait.clip(lower_bound=0)).ceil()
    ).cast(pl.Int64)
    return Promises(
        planned.select(
            "order_id",
            "build_date",
            pl.col("delivery_date").alias("earliest"),
            (pl.col("delivery_date") + pl.duration(days=slack)).alias("latest"),
            "queue_position",
            pl.col("delivery_date").alias("likely"),
            pl.lit(PLAN).alias("source"),
            pl.lit(None).alias("probability"),
        ).cast(_SCHEMA)  # type: ignore[arg-type]
    )


def changes(new: Promises, old: Promises) -> tuple[Promises, list[WindowChange]]:
    """Compare new windows with those told: (windows to store quietly, windows that moved
    and are told with an eta_changed event).

    Quiet: orders never told a window (e.g. imported), and the first Monte Carlo window
    replacing a plan stand-in within the hysteresis of `window_moved` (a change of
    method, not of the plan). Moved: a plan window that changed at all (the plan is
    exact: no noise to damp); any window involving the Monte Carlo that moved past the
    hysteresis, its latest date included: nothing a customer was told changes silently.
    A plan stand-in never replaces a Monte Carlo window."""
    both = new.frame.join(old.frame, on="order_id", how="inner", suffix="_old")
    told = both["earliest_old"].is_not_null().to_numpy()
    src, src_old = both["source"].to_numpy(), both["source_old"].fill_null(PLAN).to_numpy()

    def days(cols: list[str]) -> npt.NDArray[np.int64]:
        return np.stack(
            [both[c].cast(pl.Int64).fill_null(-(2**40)).to_numpy() for c in cols], axis=1
        )

    a = days(["earliest_old", "likely_old", "latest_old"])
    b = days(["earliest", "likely", "latest"])
    plan_plan = (src == PLAN) & (src_old == PLAN)
    switch = (src != PLAN) & (src_old == PLAN)
    mc = (src != PLAN) & (src_old != PLAN)
    exact_move = (a[:, 0] != b[:, 0]) | (a[:, 2] != b[:, 2])
    drift = window_moved(a, b)
    moved = told & ((plan_plan & exact_move) | ((switch | mc) & drift))
    quiet = ~told | (told & switch & ~drift)
    old_cols = [f"{c}_old" if c != "order_id" else c for c in _SCHEMA]
    k = len(_SCHEMA)
    out = [
        WindowChange(r[0], Window(*r[1:k]), Window(*r[k:]))
        for r in both.filter(pl.Series(moved))
        .select(old_cols[0], *old_cols[1:], *list(_SCHEMA)[1:])
        .iter_rows()
    ]
    return Promises(both.filter(pl.Series(quiet)).select(list(_SCHEMA))), out


def window_moved(told: npt.NDArray[np.int64], new: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Per row of (earliest, likely, latest) days: whether the new window moved enough to
    tell the customer, against the window last told (so Monte Carlo noise, which moves a
    window a day or two each way, never adds up to a message unless the drift does)."""
    width_told = told[:, 2] - told[:, 0]
    width_move = np.abs((new[:, 2] - new[:, 0]) - width_told)
    out: npt.NDArray[np.bool_] = (np.abs(new[:, 1] - told[:, 1]) >= LIKELY_MOVE_DAYS) | (
        width_move >= np.maximum(MIN_WIDTH_MOVE_DAYS, np.ceil(WIDTH_MOVE_SHARE * width_told))
    )
    return out


def simulated_windows(sim: Simulation) -> Promises:
    """Monte Carlo windows of every planned order (`Simulation.orders`): the shortest run
    of delivery days holding 80 % of its futures, the probability it holds, and the median
    as the likely date."""
    o = sim.orders().select(
        "delivery_p50", "window_earliest", "window_latest", "window_probability"
    )
    t = pl.concat([sim.base.table, o], how="horizontal").filter(
        (pl.col("status") == "planned")
        & pl.col("delivery_p50").is_not_null()
        & pl.col("window_latest").is_not_null()
    )
    return Promises(
        t.select(
            "order_id",
            "build_date",
            pl.col("window_earliest").alias("earliest"),
            pl.col("window_latest").alias("latest"),
            "queue_position",
            pl.col("delivery_p50").alias("likely"),
            pl.lit(MONTE_CARLO).alias("source"),
            pl.col("window_probability").alias("probability"),
        ).cast(_SCHEMA)  # type: ignore[arg-type]
    )


SPREAD_STRETCHES = 50  # the queue is cut into this many stretches per model and market


@dataclass(frozen=True, slots=True)
class QueueSpread:
    """How far the simulated windows lie from the planned date, per model, market and
    stretch of the queue: a new order gets the window of the orders around its place
    at once, before the next simulation covers it."""

    # (model, market) -> (last queue position of each stretch, [stretch, (earliest, likely,
    # latest) in days from the planned date, and the probability the windows held])
    table: dict[tuple[str, str], tuple[list[int], list[tuple[int, int, int, float]]]]

    @classmethod
    def of(cls, windows: Promises, plan: Plan) -> QueueSpread:
        t = windows.frame.join(
            plan.table.select("order_id", "model", "market", "delivery_date"), on="order_id"
        )
        off = t.with_columns(
            *(
                (pl.col(c) - pl.col("delivery_date")).dt.total_days().alias(c)
                for c in ("earliest", "likely", "latest")
            ),
            (
                pl.col("queue_position").rank("ordinal").over("model", "market")
                * SPREAD_STRETCHES
                // (pl.len().over("model", "market") + 1)
            ).alias("stretch"),
        )
        g = (
            off.group_by("model", "market", "stretch")
            .agg(
                pl.col("queue_position").max().alias("upto"),
                *(
                    pl.col(c).median().round().cast(pl.Int64)
                    for c in ("earliest", "likely", "latest")
                ),
                pl.col("probability").fill_null(NOMINAL).median(),
            )
            .sort("model", "market", "stretch")
        )
        table: dict[tuple[str, str], tuple[list[int], list[tuple[int, int, int, float]]]] = {}
        for r in g.iter_rows(named=True):
            ups, offs = table.setdefault((r["model"], r["market"]), ([], []))
            ups.append(r["upto"])
            offs.append((r["earliest"], r["likely"], r["latest"], r["probability"]))
        return cls(table)

    def window(
        self,
        model: str,
        market: str,
        build: dt.date | None,
        delivery: dt.date | None,
        queue_position: int | None,
    ) -> Window | None:
        """The window of a new order planned for `delivery`, or None when nothing alike
        was simulated: its neighbours' (source NEARBY), with the odds theirs held."""
        entry = self.table.get((model, market))
        if entry is None or delivery is None or queue_position is None:
            return None
        ups, offs = entry
        i = min(int(np.searchsorted(ups, queue_position)), len(ups) - 1)
        lo, mid, hi, odds = offs[i]
        day = dt.timedelta
        return Window(
            build,
            delivery + day(lo),
            delivery + day(hi),
            queue_position,
            delivery + day(mid),
            NEARBY,
            odds,
        )

    def to_json(self) -> list[Any]:
        return [[m, k, ups, offs] for (m, k), (ups, offs) in self.table.items()]

    @classmethod
    def from_json(cls, data: list[Any]) -> QueueSpread:
        """From `to_json`; a spread stored before windows stated odds held 80 % or more."""
        return cls(
            {
                (m, k): (
                    list(ups),
                    [(o[0], o[1], o[2], o[3] if len(o) > 3 else NOMINAL) for o in offs],
                )
                for m, k, ups, offs in data
            }
        )


def new_order_window(
    spread: QueueSpread | None,
    model: str,
    market: str,
    build: dt.date | None,
    delivery: dt.date | None,
    locked: dt.date,
    queue_position: int | None,
) -> Window | None:
    """The window an order gets when it is taken: the Monte Carlo spread of the orders
    around its place in the queue when a simulation has given one, else the plan's
    stand-in. The spread moves a date by what the queue ahead may do (cancellations
    ahead bring it forward); it cannot bring it before the order could come at all
    (built the day it is locked), nor collapse to a single day: then the stand-in."""
    plan = promise_window(build, delivery, locked, queue_position)
    if spread is None or plan is None or build is None or delivery is None:
        return plan
    w = spread.window(model, market, build, delivery, queue_position)
    if w is None or w.earliest is None or w.latest is None:
        return plan
    soonest = locked + (delivery - build)
    if w.earliest < soonest or w.latest <= w.earliest:
        return plan
    return w
