"""The planner's check of an allocation: quotas into the scenario, the domestic P90
planned, and the search for the largest service window the planner confirms."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from promiseline.core.arrays import I64
from promiseline.core.model.orders import OrderBook, order_book
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.plan import Plan
from promiseline.core.planning.planner import plan
from promiseline.core.studies import bounds
from promiseline.core.studies.allocation.inputs import Inputs, inputs, month_key, queued
from promiseline.core.studies.allocation.mip import Solved, infeasible_message, solve
from promiseline.errors import AllocationError

Progress = Callable[[str], None]
MAX_RUNS = 8  # planner runs of the w_lp search


@dataclass(frozen=True, slots=True)
class Trial:
    """One verified MIP solution: the planner's figures for the scenario with its quotas."""

    solved: Solved
    scenario: Scenario
    plan: Plan
    p50: float | None
    p90: float | None


@dataclass(frozen=True)
class Allocation:
    """Monthly export quotas per market, their margin, and what the planner makes of them."""

    target_days: int
    quotas: pl.DataFrame  # month, market, model, cars, margin
    verified: pl.DataFrame  # month, market, quota, departed, wait_p50, wait_p90
    export_waits: pl.DataFrame  # market, orders, wait_p50, wait_p90
    domestic_p50: float | None
    domestic_p90: float | None
    domestic_orders: int
    margin: float
    w_lp: int | None  # None: no service rows (export limited by sailings/quota/demand)
    met: bool
    note: str
    trials: tuple[tuple[int | None, float | None], ...]  # (w_lp, planned domestic P90)
    mip_seconds: float
    scenario: Scenario  # the scenario with the quotas set
    plan: Plan

    def quotas_by_month(self) -> pl.DataFrame:
        """Cars departing per month (rows) and market (columns, in the quotas' order), and
        their total."""
        cars = self.quotas.group_by("month", "market", maintain_order=True).agg(
            pl.col("cars").sum()
        )
        grid = cars.pivot(on="market", index="month", values="cars").sort("month")
        markets = [c for c in grid.columns if c != "month"]
        total = pl.sum_horizontal(markets) if markets else pl.lit(0, pl.Int64)
        return grid.with_columns(total.alias("total"))

    def summary(self) -> dict[str, Any]:
        """JSON-able: the target, the quotas and the verification."""
        return {
            "target": f"domestic_p90<={self.target_days}d",
            "met": self.met,
            "note": self.note,
            "w_lp": self.w_lp,
            "margin": self.margin,
            "domestic": {
                "orders": self.domestic_orders,
                "p50_wait_days": self.domestic_p50,
                "p90_wait_days": self.domestic_p90,
            },
            "quotas": self.quotas.to_dicts(),
            "verified": self.verified.to_dicts(),
            "export_waits": self.export_waits.to_dicts(),
            "search": [{"w_lp": w, "domestic_p90": p} for w, p in self.trials],
            "mip_seconds": round(self.mip_seconds, 3),
        }


def with_quotas(inp: Inputs, x: I64) -> Scenario:
    """The scenario with the allocation as each export market's `quota.months`: the
    cars of each window month, 0 in the horizon's other months with sailings."""
    s = inp.scenario
    markets = [m.model_dump(mode="json", by_alias=True, exclude_none=True) for m in s.markets]
    for k, mi in enumerate(inp.market_ix):
        old = s.markets[mi].quota
        months = {month_key(s.start, b): 0 for b in sorted(inp.sailing_months[k])}
        for b in range(inp.w0, len(inp.months)):
            months[inp.months[b]] = int(x[b, k].sum())
        quota: dict[str, Any] = {"months": dict(sorted(months.items()))}
        if old is not None and old.max_per_month is not None:
            quota["max_per_month"] = old.max_per_month
        markets[mi]["quota"] = quota
    return s.replace(markets=markets)


def _quantile(values: npt.NDArray[Any], q: float) -> float | None:
    return float(np.quantile(values, q, method="higher")) if len(values) else None


def _check(inp: Inputs, book: OrderBook, sol: Solved) -> Trial:
    s = with_quotas(inp, sol.x)
    p = plan(s, book)
    road = [m.name for m in s.markets if not m.export]
    t = p.table.filter((pl.col("status") == "planned") & pl.col("market").is_in(road))
    w = t["wait_days"].to_numpy()
    return Trial(sol, s, p, _quantile(w, 0.5), _quantile(w, 0.9))


def _quota_frame(inp: Inputs, x: I64) -> pl.DataFrame:
    rows = [
        (
            inp.months[b],
            inp.markets[k],
            inp.models[j],
            int(x[b, k, j]),
            float(x[b, k, j] * inp.margin[k, j]),
        )
        for b in range(inp.w0, len(inp.months))
        for k in range(len(inp.markets))
        for j in range(len(inp.models))
    ]
    schema = {
        "month": pl.String,
        "market": pl.String,
        "model": pl.String,
        "cars": pl.Int64,
        "margin": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _verified(inp: Inputs, tr: Trial) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per market and window month: quota and departures (with the waits of the orders
    departing); per market: its export waits overall."""
    t = tr.plan.table.filter(
        (pl.col("status") == "planned")
        & pl.col("market").is_in(list(inp.markets))
        & pl.col("departure_date").is_not_null()
    ).with_columns(pl.col("departure_date").dt.strftime("%Y-%m").alias("month"))
    dep = t.group_by("market", "month").agg(
        pl.len().cast(pl.Int64).alias("departed"),
        pl.col("wait_days").quantile(0.5, "higher").alias("wait_p50"),
        pl.col("wait_days").quantile(0.9, "higher").alias("wait_p90"),
    )
    quota = pl.DataFrame(
        [
            (inp.months[b], inp.markets[k], int(tr.solved.x[b, k].sum()))
            for b in range(inp.w0, len(inp.months))
            for k in range(len(inp.markets))
        ],
        schema={"month": pl.String, "market": pl.String, "quota": pl.Int64},
        orient="row",
    )
    verified = (
        quota.join(dep, on=["market", "month"], how="left")
        .with_columns(pl.col("departed").fill_null(0))
        .select("month", "market", "quota", "departed", "wait_p50", "wait_p90")
        .sort("month", "market")
    )
    waits = (
        t.group_by("market")
        .agg(
            pl.len().cast(pl.Int64).alias("orders"),
            pl.col("wait_days").quantile(0.5, "higher").alias("wait_p50"),
            pl.col("wait_days").quantile(0.9, "higher").alias("wait_p90"),
        )
        .sort("market")
    )
    return verified, waits


def _floor(inp: Inputs, book: OrderBook) -> int:
    """One day less than the longest lead time of a road market with queued orders."""
    q = queued(inp.scenario, book)
    markets = set(q["market"].to_list())
    leads = [m.lead_days or 0 for m in inp.scenario.markets if not m.export and m.name in markets]
    return max(leads, default=0) - 1


def _early_checks(inp: Inputs, book: OrderBook, w: int) -> None:
    s = inp.scenario
    q = queued(s, book)
    slow = [
        m.name
        for m in s.markets
        if m.lead_days is not None and m.lead_days > w and m.name in set(q["market"].to_list())
    ]
    if slow:
        raise AllocationError(
            f"domestic P90 <= {w} days cannot be met even with no export: the lead time of "
            f"market {', '.join(slow)} alone is longer"
        )


def allocate(
    scenario: Scenario,
    book: OrderBook | pl.DataFrame,
    *,
    domestic_p90_days: int,
    months: tuple[dt.date, dt.date] | None = None,
    progress: Progress | None = None,
) -> Allocation:
    """Monthly export quotas of the most margin whose plan keeps the domestic P90 wait
    (planned orders of markets by road) within `domestic_p90_days`, by the planner."""
    say = progress or (lambda _: None)
    target = int(domestic_p90_days)
    if target < 0:
        raise AllocationError(f"domestic P90 target must be >= 0 days, got {target}")
    bounds.check(bounds.allocation_size(scenario, months))  # before anything is built
    books = order_book(book, scenario)
    say("allocation: reading capacity and orders")
    inp = inputs(scenario, books, months)
    _early_checks(inp, books, target)
    trials: list[tuple[int | None, float | None]] = []  # w_lp -1: no export at all
    done: list[Trial] = []
    mip_seconds = 0.0

    def ok(tr: Trial) -> bool:
        return tr.p90 is None or tr.p90 <= target

    def trial(w: int | None) -> Trial | None:
        nonlocal mip_seconds
        label = "without service rows" if w is None else f"w_lp {w} days"
        say(f"allocation: MIP {label} (planner run {len(trials) + 1}, at most {MAX_RUNS})")
        sol = solve(inp, w)
        if sol is None:
            return None
        mip_seconds += sol.seconds
        say(f"allocation: planning with the quotas of {label}")
        tr = _check(inp, books, sol)
        trials.append((w, tr.p90))
        done.append(tr)
        return tr

    most = trial(None)
    assert most is not None  # x = 0 always fits
    if ok(most):
        return _result(
            inp,
            most,
            target,
            True,
            trials,
            mip_seconds,
            "the domestic P90 holds even with the most export: the export is limited by "
            "sailings, quotas, export orders, gates (or production and parts), not by the "
            "domestic target"
            if inp.export_locked.any()
            else "the order book has no export orders (locked or scheduled) for the export "
            "markets: there is nothing to allocate",
        )
    w_free = inp.w_free()
    best: Trial | None = None
    floor = _floor(inp, books)  # below it the rule cannot hold at all
    lo, hi = floor, target  # lo: keeps the target (or cannot hold), hi: misses it
    if target < w_free:
        at_w = trial(target)
        if at_w is None:
            raise AllocationError(infeasible_message(inp, target))
        if ok(at_w):  # search upward
            best, lo, hi = at_w, target, w_free
    while hi - lo > 1 and len(trials) < MAX_RUNS:
        mid = (lo + hi) // 2
        tr = trial(mid)
        if tr is None:  # the rule cannot hold this tight: the answer lies above
            lo = mid
        elif ok(tr):
            best, lo = tr, mid
        else:
            hi = mid
    if best is not None:
        assert best.solved.w_lp is not None
        step = "" if hi - lo <= 1 else f" (to within {hi - lo} days: {MAX_RUNS} planner runs)"
        return _result(
            inp,
            best,
            target,
            True,
            trials,
            mip_seconds,
            f"largest w_lp whose plan keeps the domestic P90 within {target} days: "
            f"{best.solved.w_lp}{step}",
        )
    tried = [t for t in done if t.solved.w_lp is not None] or done
    fallback = min(tried, key=lambda t: (t.p90 or 0.0, -t.solved.margin))
    say("allocation: planning with no export at all")
    bare = _check(inp, books, _no_export(inp))
    trials.append((-1, bare.p90))
    why = (
        f"even with no export at all the planner's domestic P90 is {bare.p90:.0f} days"
        if not ok(bare)
        else f"with no export at all it is {bare.p90 or 0:.0f} days; the planner builds export "
        "orders at their turn in the queue, not in their departure month, so export costs the "
        "domestic queue more than the MIP counts"
    )
    return _result(
        inp,
        fallback,
        target,
        False,
        trials,
        mip_seconds,
        f"no w_lp tried kept the planned domestic P90 within {target} days ({why}); shown: "
        f"w_lp {fallback.solved.w_lp}, the lowest domestic P90 of those tried",
    )


def _no_export(inp: Inputs) -> Solved:
    n_b, n_k, n_j, n_l, _ = inp.n
    zero = np.zeros((n_b, n_j))
    return Solved(
        None,
        np.zeros((n_b, n_k, n_j), dtype=np.int64),
        zero,
        np.zeros((n_b, n_l, n_j)),
        zero,
        0.0,
        0.0,
    )


def _result(
    inp: Inputs,
    tr: Trial,
    target: int,
    met: bool,
    trials: list[tuple[int | None, float | None]],
    mip_seconds: float,
    note: str,
) -> Allocation:
    verified, waits = _verified(inp, tr)
    road = [m.name for m in inp.scenario.markets if not m.export]
    dom = tr.plan.table.filter(
        (pl.col("status") == "planned") & pl.col("market").is_in(road)
    ).height
    return Allocation(
        target_days=target,
        quotas=_quota_frame(inp, tr.solved.x),
        verified=verified,
        export_waits=waits,
        domestic_p50=tr.p50,
        domestic_p90=tr.p90,
        domestic_orders=dom,
        margin=tr.solved.margin,
        w_lp=tr.solved.w_lp,
        met=met,
        note=note,
        trials=tuple(trials),
        mip_seconds=mip_seconds,
        scenario=tr.scenario,
        plan=tr.plan,
    )
