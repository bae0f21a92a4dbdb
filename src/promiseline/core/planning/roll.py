"""Rolling forward (SCENARIO.md, "Planning as of a moment"): the scenario and the order
book as they stand on a later day if the plan held.

Every order the plan builds before that day is built then (shipped once its sailing
departed, delivered once its delivery date passed), every order it builds in the new
frozen zone is scheduled on its line, day and sailing, a scheduled order the plan puts
elsewhere takes the plan's line, day and sailing (none if unplanned), the rest is as it
was; the scenario is then planned as of that day. With no news, planning the rolled book changes
no promise: each order still open sees only more taken, never less, and the plan's own
final state fits it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from promiseline.core.model.orders import BOOK_COLUMNS, HISTORY, OrderBook
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.plan import ACTIVE, FROZEN, RESERVED, Plan
from promiseline.errors import PromiselineError

_STAGE = {status: i for i, status in enumerate(HISTORY)}  # a later stage never goes back


@dataclass(frozen=True, slots=True)
class Rolled:
    """The scenario as of the new day, and the order book as it stands then."""

    scenario: Scenario
    book: OrderBook
    to: dt.date

    def counts(self) -> dict[str, int]:
        """Orders per status in the rolled book."""
        by = self.book.table.group_by("status").len().sort("status")
        return dict(zip(by["status"], by["len"], strict=True))


def roll(plan: Plan, to: dt.date) -> Rolled:
    """The plan's book rolled forward to `to` (on or after the plan's own day)."""
    s = plan.scenario
    if to < s.now:
        raise PromiselineError(
            f"roll: {to} is before the plan's day ({s.now}); a book rolls forward only"
        )
    frozen_end = to + dt.timedelta(days=s.frozen_days)
    t = plan.table
    took = pl.Series(plan.group != RESERVED) & t["line"].is_not_null()  # it holds a slot
    when = pl.DataFrame(
        {
            "order_id": t["order_id"],
            "took": took,
            "queued": pl.Series((plan.group == FROZEN) | (plan.group == ACTIVE)),
            "frozen": pl.Series(plan.group == FROZEN),
            "p_line": t["line"],
            "p_build": t["build_date"],
            "p_sailing": t["sailing_id"],
            "p_departure": t["departure_date"],
            "p_delivery": t["delivery_date"],
        }
    )
    book = plan.book.table.join(when, on="order_id", how="left")
    built = pl.col("took").fill_null(False) & (pl.col("p_build") < pl.lit(to))
    scheduled = (
        pl.col("queued").fill_null(False)
        & pl.col("took").fill_null(False)
        & pl.col("p_build").is_between(pl.lit(to), pl.lit(frozen_end), closed="left")
    )
    stage = (
        pl.when(pl.col("p_delivery") < pl.lit(to))
        .then(2)
        .when(pl.col("p_departure") < pl.lit(to))
        .then(1)
        .otherwise(0)
    )
    known = pl.col("status").replace_strict(_STAGE, default=-1, return_dtype=pl.Int8)
    reached = pl.max_horizontal(stage, known).replace_strict(
        {v: k for k, v in _STAGE.items()}, return_dtype=pl.String
    )
    # a scheduled order the plan puts elsewhere is scheduled where the plan puts it: its
    # old day must not freeze it in the new frozen zone (SCENARIO.md, our reading)
    moved = (
        built | scheduled | (pl.col("queued").fill_null(False) & (pl.col("status") == "scheduled"))
    )
    rolled = book.with_columns(
        pl.when(built)
        .then(reached)
        .when(scheduled)
        .then(pl.lit("scheduled"))
        .otherwise(pl.col("status"))
        .alias("status"),
        pl.when(moved).then(pl.col("p_line")).otherwise(pl.col("line")).alias("line"),
        pl.when(moved).then(pl.col("p_build")).otherwise(pl.col("build_date")).alias("build_date"),
        # a frozen order the plan shipped on no sailing keeps the one it named (one that
        # departs outside the horizon holds no seat, and without a name it would take one)
        pl.when(moved & ~(pl.col("frozen").fill_null(False) & pl.col("p_sailing").is_null()))
        .then(pl.col("p_sailing"))
        .otherwise(pl.col("sailing_id"))
        .alias("sailing_id"),
    ).select("row", *BOOK_COLUMNS)
    return Rolled(
        s.replace(as_of=to),
        OrderBook(rolled, plan.book.rejected, f"{plan.book.source} rolled to {to}"),
        to,
    )
