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

from promiseline.core.plan import Plan

MIN_SLACK_DAYS = 3
SLACK_SHARE = 0.05
LIKELY_MOVE_DAYS = 7  # a customer hears of a moved likely date from a week on
WIDTH_MOVE_SHARE = 0.25  # or of a window a quarter wider or narrower
MIN_WIDTH_MOVE_DAYS = 2


@dataclass(frozen=True, slots=True)
class Window:
    """The delivery window promised to the customer, and where the order stands."""

    build_date: dt.date | None
    earliest: dt.date | None
    latest: dt.date | None
    queue_position: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "build_date": _iso(self.build_date),
            "earliest": _iso(self.earliest),
            "latest": _iso(self.latest),
            "queue_position": self.queue_position,
        }


NO_WINDOW = Window(None, None, None, None)


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
    return Window(build, delivery, latest, queue_position)


_SCHEMA = {
    "order_id": pl.String,
    "build_date": pl.Date,
    "earliest": pl.Date,
    "latest": pl.Date,
    "queue_position": pl.Int64,
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
    ) -> Promises:
        cols = (order_id, build_date, earliest, latest, queue_position)
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
        return [(r[0], Window(r[1], r[2], r[3], r[4])) for r in self.frame.iter_rows(named=False)]


@dataclass(frozen=True, slots=True)
class WindowChange:
    """A promised window that moved: what the customer was told, and what holds now."""

    order_id: str
    before: Window
    after: Window

    def to_json(self) -> dict[str, Any]:
        return {"from": self.before.to_json(), "to": self.after.to_json()}


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
        ).cast(_SCHEMA)  # type: ignore[arg-type]
    )


def changes(new: Promises, old: Promises) -> tuple[Promises, list[WindowChange]]:
    """Compare a plan's windows with those promised: (first promises: orders never told a
    window, e.g. imported; windows that moved)."""
    both = new.frame.join(old.frame, on="order_id", how="inner", suffix="_old")
    never = both.filter(pl.col("earliest_old").is_null())
    moved = both.filter(
        pl.col("earliest_old").is_not_null()
        & (
            (pl.col("earliest") != pl.col("earliest_old")).fill_null(True)
            | (pl.col("latest") != pl.col("latest_old")).fill_null(True)
        )
    )
    out = [
        WindowChange(
            r["order_id"],
            Window(
                r["build_date_old"], r["earliest_old"], r["latest_old"], r["queue_position_old"]
            ),
            Window(r["build_date"], r["earliest"], r["latest"], r["queue_position"]),
        )
        for r in moved.iter_rows(named=True)
    ]
    return Promises(never.select(list(_SCHEMA))), out


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


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None
