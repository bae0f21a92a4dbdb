"""The planner: order book + scenario -> Plan, by the planning rule of SCENARIO.md.

Python here only sorts, groups and converts; each order is placed by the compiled loop
in kernel.py. Planning order: history (built, shipped, delivered: where it was built),
frozen scheduled orders (kept on their line and day), then locked and unfrozen scheduled
orders by (priority, locked_at, order_id) from the plan's day and the lead-in on (an
export order not before its market's `build_ahead_days` floor);
reserved orders are quoted last against the final state and book nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from promiseline.core.arrays import I32
from promiseline.core.model.lifecycle import QUEUED, Status
from promiseline.core.model.orders import HISTORY as HISTORY_STATUSES
from promiseline.core.model.orders import OrderBook, order_book
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning import kernel
from promiseline.core.planning.capacity import Capacity, capacity
from promiseline.core.planning.classes import Classes, Config, build_classes
from promiseline.core.planning.plan import (
    ACTIVE,
    FROZEN,
    HISTORY,
    RESERVED,
    Fixed,
    Placement,
    Plan,
    sailing_ids,
)
from promiseline.core.planning.sea import floor_days, market_index
from promiseline.core.planning.state import State

NEVER_CANCELS = np.iinfo(np.int32).max  # `until` of an order that waits as long as it takes

Progress = Callable[[str], None]


def run_kernel(
    cls_: I32,
    rel: I32,
    mk: I32,
    state: State,
    cap: Capacity,
    classes: Classes,
    *,
    book: bool,
    until: I32 | None = None,
) -> Placement:
    """Place (book=True) or only quote orders of these classes, release days and markets
    (`until`: the day each cancels, when it waits that long; default never)."""
    out = Placement.empty(len(cls_))
    kernel.place_orders(
        cls_,
        rel,
        np.full(len(cls_), NEVER_CANCELS, dtype=np.int32) if until is None else until,
        mk,
        state.arrays(),
        classes.arrays(),
        cap.sea.arrays(),
        state.ships(),
        cap.slots,
        state.ilo,
        state.ihi,
        len(cap.part_names),
        len(cap.line_names),
        classes.max_parts,
        (out.day, out.line, out.bound, out.blocked, out.sailing),
        book,
    )
    return out


@dataclass(frozen=True, slots=True)
class FixedBundles:
    """History and frozen orders as the kernel books them: those at home in bundles of
    one class, line and day (booking a bundle leaves the state booking its orders one by
    one would: every count falls by as many), those by sea one by one in planning order
    (each takes the seat the ones before it left). A Monte Carlo future books the same
    fixed orders as every other: bundled once, a rolled book's 274k history orders are
    a few thousand bundles."""

    cls_: I32
    line: I32
    day: I32
    mk: I32
    sailing: I32
    n: I32
    by_sea: I32  # the fixed orders (indexes among them) booked one by one, in order

    @classmethod
    def of(
        cls, cap: Capacity, cls_: I32, fixed: Fixed, mk: I32, fz: npt.NDArray[np.bool_]
    ) -> FixedBundles:
        c, line, day, m, sail = cls_[fz], fixed.line[fz], fixed.day[fz], mk[fz], fixed.sailing[fz]
        lane_ptr = cap.sea.market_lane_ptr
        sea = lane_ptr[m + 1] > lane_ptr[m]
        home = np.flatnonzero(~sea)
        key = np.zeros(len(home), dtype=np.int64)
        for col in (c, line, day, m):  # one number per (class, line, day, market)
            v = col[home].astype(np.int64)
            lo = int(v.min(initial=0))
            key = key * (int(v.max(initial=0)) - lo + 1) + (v - lo)
        _, first, n = np.unique(key, return_index=True, return_counts=True)
        at = np.concatenate([home[first], by_sea := np.flatnonzero(sea)])
        return cls(
            c[at],
            line[at],
            day[at],
            m[at],
            np.where(np.arange(len(at)) < len(first), -1, sail[at]).astype(np.int32),
            np.concatenate([n, np.ones(len(by_sea), dtype=np.int64)]).astype(np.int32),
            by_sea.astype(np.int32),
        )


def place(
    cap: Capacity,
    classes: Classes,
    cls_: I32,
    grp: npt.NDArray[np.int8],
    rel: I32,
    fixed: Fixed,
    mk: I32,
    bundles: FixedBundles | None = None,
    until: I32 | None = None,
) -> tuple[State, Placement]:
    """Place orders of these markets given in planning order: history and frozen ones on
    their day, then the rule, then quote the reserved ones. Used by `plan` and by every
    Monte Carlo future (which passes the fixed orders bundled once: `bundles`, and the
    day each queued order cancels if it still waits then: `until`; the rule places orders
    in turn, so one that cancels changes nothing ahead of it and frees its slot for those
    behind)."""
    state = State.fresh(cap, len(classes.line_ptr) - 1)
    out = Placement.empty(len(cls_))
    fz = (grp == HISTORY) | (grp == FROZEN)
    b = bundles or FixedBundles.of(cap, cls_, fixed, mk, fz)
    seats = np.full(len(b.n), -1, dtype=np.int32)
    kernel.place_fixed(
        b.cls_,
        b.line,
        b.day,
        b.mk,
        b.sailing,
        b.n,
        state.arrays(),
        classes.arrays(),
        cap.sea.arrays(),
        state.ships(),
        seats,
    )
    fixed_sailing = np.full(int(fz.sum()), -1, dtype=np.int32)
    fixed_sailing[b.by_sea] = seats[len(seats) - len(b.by_sea) :]
    act = grp == ACTIVE
    placed = run_kernel(
        cls_[act],
        rel[act],
        mk[act],
        state,
        cap,
        classes,
        book=True,
        until=None if until is None else until[act],
    )
    res = grp == RESERVED
    quoted = (
        run_kernel(cls_[res], rel[res], mk[res], state, cap, classes, book=False)
        if res.any()
        else Placement.empty(0)
    )
    for name in ("day", "line", "bound", "blocked", "sailing"):
        getattr(out, name)[act] = getattr(placed, name)
        getattr(out, name)[res] = getattr(quoted, name)
    out.day[fz] = fixed.day[fz]
    out.line[fz] = fixed.line[fz]
    out.bound[fz] = kernel.NONE
    out.sailing[fz] = fixed_sailing
    return state, out


def _epoch_day(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def _day_index(col: str, start: dt.date) -> pl.Expr:
    return (pl.col(col).cast(pl.Date) - pl.lit(start)).dt.total_days().cast(pl.Int32)


def plan(
    scenario: Scenario,
    orders: OrderBook | pl.DataFrame,
    *,
    progress: Progress | None = None,
) -> Plan:
    """Plan every order of the book on the scenario's capacity."""
    say = progress or (lambda _: None)
    cap = capacity(scenario)
    book = order_book(orders, scenario)
    say("sorting orders")
    now = scenario.now
    frozen_end = now + dt.timedelta(days=scenario.frozen_days)
    line_index = {n: i for i, n in enumerate(cap.line_names)}
    scheduled = (pl.col("status") == Status.SCHEDULED.value) & pl.col("build_date").is_not_null()
    frozen = scheduled & (pl.col("build_date") < frozen_end)
    if scenario.as_of is not None:  # before it, a scheduled order not built is overdue
        frozen = frozen & (pl.col("build_date") >= now)
    inside = pl.col("build_date").is_between(scenario.start, scenario.end, closed="left")
    history = pl.col("status").is_in(HISTORY_STATUSES) & pl.col("line").is_not_null() & inside
    group = (
        pl.when(history)
        .then(HISTORY)
        .when(frozen)
        .then(FROZEN)
        .when(pl.col("status").is_in([s.value for s in QUEUED]))
        .then(ACTIVE)
        .when(pl.col("status") == Status.RESERVED.value)
        .then(RESERVED)
        .otherwise(-1)  # cancelled, or built without a known slot: take no capacity
        .cast(pl.Int8)
    )
    t = book.table
    sorted_ix = t.select(pl.arg_sort_by(group, "priority", "locked_at", "order_id")).to_series()
    grp_all = t.select(group).to_series().gather(sorted_ix).to_numpy()
    order = sorted_ix.to_numpy()[grp_all >= 0]
    start = _epoch_day(scenario.start)
    locked_day = pl.col("locked_at").dt.epoch("us") // 86_400_000_000 - start
    first_day = _epoch_day(now) - start  # no open order is built before the plan's day
    seats = {sid: j for j, sid in enumerate(sailing_ids(scenario, cap.sea))}
    work = t[pl.Series("ix", order)].select(
        pl.Series("ix", order),
        group.alias("group"),
        pl.when(group <= FROZEN)  # history and frozen: from the lock (the backlog's curve)
        .then(locked_day.clip(lower_bound=0))
        .otherwise((locked_day + scenario.lead_in_days).clip(lower_bound=first_day))
        .cast(pl.Int32)
        .alias("rel"),
        pl.col("line").replace_strict(line_index, default=-1, return_dtype=pl.Int32),
        _day_index("build_date", scenario.start).fill_null(-1).alias("fixed_day"),
        pl.when(frozen & ~inside)  # dated outside the horizon: keeps its date, takes nothing
        .then(kernel.NO_SAILING)
        .when(pl.col("sailing_id").is_null())
        .then(pl.when(history).then(kernel.NO_SAILING).otherwise(kernel.CHOOSE))
        .otherwise(
            pl.col("sailing_id").replace_strict(
                seats, default=kernel.NO_SAILING, return_dtype=pl.Int32
            )
        )
        .cast(pl.Int32)
        .alias("fixed_sailing"),
        pl.concat_str(["model", "variant", "options"], separator="\x1f")
        .cast(pl.Categorical)
        .to_physical()
        .alias("config"),
    )
    _, first, config_of = np.unique(
        work["config"].to_numpy(), return_index=True, return_inverse=True
    )
    firsts = t[pl.Series(order[first])]
    configs: list[Config] = list(firsts.select("model", "variant", "options").iter_rows())
    classes, config_class = build_classes(scenario, cap, configs)
    cls_ = config_class[config_of].astype(np.int32)
    grp = work["group"].to_numpy()
    rel = work["rel"].to_numpy().astype(np.int32)
    fixed = Fixed(
        work["line"].to_numpy().astype(np.int32),
        work["fixed_day"].to_numpy().astype(np.int32),
        work["fixed_sailing"].to_numpy().astype(np.int32),
    )
    mk = market_index(scenario, t["market"].gather(work["ix"]))
    floor = floor_days(scenario, mk, t["model"].gather(work["ix"]), t["variant"].gather(work["ix"]))
    floored = (grp > FROZEN) & (floor > rel)  # built no further ahead than needed
    rel = np.where(floored, floor, rel).astype(np.int32)
    say("planning orders")
    state, out = place(cap, classes, cls_, grp, rel, fixed, mk)
    say("building the plan table")
    return Plan.build(
        scenario=scenario,
        capacity=cap,
        book=book,
        classes=classes,
        configs={c: int(k) for c, k in zip(configs, config_class, strict=True)},
        state=state,
        ix=work["ix"].to_numpy(),
        group=grp,
        order_cls=cls_,
        rel=rel,
        floored=floored,
        fixed=fixed,
        placement=out,
        mk=mk,
    )
