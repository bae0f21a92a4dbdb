"""Monte Carlo: plan N sampled futures with the planner's own fast path.

Each future redraws capacity (uptime, ramp-up slips, supply shortfalls), cancellations
and new orders, then places every order exactly as `plan` does. Results are kept as
sums that do not depend on the order futures are added in (per-order histograms of
build days, counts per day and constraint), so a run split over processes or a Dask
cluster gives the same answer, bit for bit, as one process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from numba import njit

from promiseline.core.arrays import F64, I32, I64
from promiseline.core.futures.calibration import Forecast, honest_runs
from promiseline.core.futures.lasting import Known, filtered, record_latent
from promiseline.core.futures.recalibrate import NEVER_DAY, Pending
from promiseline.core.futures.sampling import Draw, cancel_day, sample, weekly_hazard
from promiseline.core.model.orders import OrderBook, order_book
from promiseline.core.model.scenario import Scenario, Uncertainty
from promiseline.core.model.window import NOMINAL
from promiseline.core.planning.capacity import Capacity, capacity
from promiseline.core.planning.classes import Classes, build_classes, with_capacity
from promiseline.core.planning.plan import (
    ACTIVE,
    FROZEN,
    HISTORY,
    RESERVED,
    Fixed,
    Plan,
    bound_names,
    final_bound,
)
from promiseline.core.planning.planner import NEVER_CANCELS, FixedBundles, place, plan
from promiseline.core.planning.sea import NEVER, NO_SAILING, delivery_day, ship
from promiseline.errors import InvalidRequestError

BINS = 256  # build-day histogram per order (delivery day by sea): -64 .. +190 days around
# its centre (the pilot futures' median: `centred`)
OFFSET = 64
UNBUILT = BINS - 1  # not built within the horizon
MAX_FUTURES = 65_535  # per-order histogram counts are 16-bit


@dataclass(frozen=True, slots=True)
class Prepared:
    """Everything a future needs; picklable, sent once to each worker."""

    scenario: Scenario
    uncertainty: Uncertainty
    seed: int
    cap: Capacity
    classes: Classes  # book classes, then the inflow configurations' classes
    cls_: I32
    grp: npt.NDArray[np.int8]
    rel: I32  # the first day each order may be built
    floored: npt.NDArray[np.bool_]  # its release is its market's build-ahead floor
    locked: I32  # the day it locked: from then on it is in the backlog
    cancel_from: I32  # the first day it may cancel: its lock, or now if that came first
    fixed: Fixed  # where history and frozen orders stand
    bundles: FixedBundles  # the same, as every future books them
    base_day: I32  # build day in the deterministic plan (days if none)
    lead: I32
    opens: I32
    mk: I32  # market per order
    gate: I32  # homologation gate per order
    by_sea: npt.NDArray[np.bool_]  # its market is reached by sea: its histogram counts
    # delivery days (a sailing makes delivery no function of the build day)
    hist_base: I32  # what its histogram is centred on: base build day, or delivery by sea
    # (then moved to the pilot futures' median: `centred`)
    planned_delivery: I32  # its delivery day in the deterministic plan
    weekly: F64  # weekly cancellation hazard per order (0: it does not cancel)
    inflow_start: int
    inflow_weights: F64
    inflow_cls: I32
    inflow_lead: int
    inflow_opens: int
    inflow_mk: int
    inflow_gate: I32  # per inflow configuration
    inflow_floor: I32  # per inflow configuration: its build-ahead floor (NEVER: none)
    n_codes: int
    inflow_configs: tuple[tuple[str, str], ...] = ()  # (model, variant) of each inflow class
    inflow_market: str = ""
    known: tuple[Known | None, ...] = ()  # per line: its record's word on its lasting uptime


@dataclass(slots=True)
class Partial:
    """Sums over some futures; `merge` adds them up in any order."""

    futures: I64
    hist: npt.NDArray[np.uint16]  # [order, BINS]; futures are capped at 65,535
    cancelled: npt.NDArray[np.uint32]  # [order]
    refunded: npt.NDArray[np.uint32]  # [order]
    backlog: I32  # [future, day]
    deliveries: I32  # [future, day]
    bound: I64  # [future, code]: orders held back by each constraint
    inflow: I64  # [future]: new orders drawn

    @staticmethod
    def merge(parts: Sequence[Partial]) -> Partial:
        order = np.argsort(np.concatenate([p.futures for p in parts]), kind="stable")
        first = parts[0]
        hist, cancelled, refunded = first.hist.copy(), first.cancelled.copy(), first.refunded.copy()
        for p in parts[1:]:
            hist += p.hist
            cancelled += p.cancelled
            refunded += p.refunded

        def stack(name: str) -> Any:
            return np.concatenate([getattr(p, name) for p in parts])[order]

        return Partial(
            stack("futures"),
            hist,
            cancelled,
            refunded,
            stack("backlog"),
            stack("deliveries"),
            stack("bound"),
            stack("inflow"),
        )


@njit(cache=True, nogil=True)
def _sums(  # type: ignore[no-untyped-def]
    hist,
    hist_base,
    by_sea,
    counted,
    locked,
    day,
    line,
    delivery,
    code,
    gone,
    cancel_on,
    inflow_day,
    backlog,
    deliveries,
    bound,
):
    """One future's part of the sums, in one pass over its orders (it was a dozen numpy
    passes): each book order's histogram bin (its build day, its delivery day by sea,
    or not built; a cancelled one none), the backlog per day (an order counts from its
    lock, or a new one from its day, until it is built or cancels: `plan.backlog_curve`),
    deliveries per day and what bound the orders built, of those not cancelled and
    counted (not reserved), and of the new orders built."""
    n, days = hist.shape[0], backlog.shape[0]
    arrive = np.zeros(days + 1, dtype=np.int64)
    leave = np.zeros(days + 1, dtype=np.int64)
    for i in range(day.shape[0]):
        built = line[i] >= 0
        if i < n:
            if built:
                b = (delivery[i] if by_sea[i] else day[i]) - hist_base[i] + OFFSET
                hist[i, min(max(b, 0), UNBUILT - 1)] += 1
            elif not gone[i]:
                hist[i, UNBUILT] += 1
            if not counted[i]:
                continue
            start = locked[i]
            end = cancel_on[i] if gone[i] else (day[i] if built else days)
            if built and not gone[i]:
                if 0 <= delivery[i] < days:
                    deliveries[delivery[i]] += 1
                if 0 <= code[i] < bound.shape[0]:
                    bound[code[i]] += 1
        else:
            start = inflow_day[i - n]
            end = day[i] if built else days
            if built and 0 <= delivery[i] < days:
                deliveries[delivery[i]] += 1
        start = min(max(start, 0), days)
        arrive[start] += 1
        leave[min(max(end, start), days)] += 1
    total = 0
    for t in range(days):
        total += arrive[t] - leave[t]
        backlog[t] = total


def prepare(base: Plan, uncertainty: Uncertainty, seed: int) -> Prepared:
    """Arrays for the futures, from the deterministic plan."""
    s, cap = base.scenario, base.capacity
    days = cap.days
    active = base.group == ACTIVE
    # inflow configurations: the mix, or every variant alike, in the first market
    f = uncertainty.inflow
    mix = (
        [(m.model, m.variant, m.share) for m in f.mix]
        if f is not None and f.mix
        else [(p.model, v.name, 1.0) for p in s.products for v in p.variants]
    )
    configs = list(base.configs)  # configuration -> class in the base plan
    inflow_configs = [(m, v, "{}") for m, v, _ in mix]
    classes, config_class = build_classes(s, cap, configs + inflow_configs)
    by_base = np.zeros(len(base.classes.line_ptr) - 1, dtype=np.int32)
    for c, new in zip(configs, config_class[: len(configs)], strict=True):
        by_base[base.configs[c]] = new  # configurations of one base class share a class
    cls_ = by_base[base.order_cls].astype(np.int32)
    market = {m.name: m for m in s.markets}
    rows = base.table
    planned = base.placement.line >= 0
    base_day = np.where(planned, base.placement.day, days).astype(np.int32)
    wait = rows["wait_days"].fill_null(days).to_numpy().astype(np.float64)
    # an order may cancel from its lock, or from now if it locked before: it is known to be
    # still there now (counting the weeks since its lock over-cancelled the queue ahead of
    # long waits, so futures came too early: a backtest's deliveries fell after them)
    since = np.maximum(base.lock_days(), (s.now - s.start).days).astype(np.int32)
    weekly = np.where(active, weekly_hazard(uncertainty, wait), 0.0)
    last_lock = rows["locked_at"].max()
    start = (
        (f.start - s.start).days
        if f is not None and f.start
        else ((last_lock.date() - s.start).days + 1 if isinstance(last_lock, dt.datetime) else 0)
    )
    inflow_market = market[f.market] if f is not None and f.market else s.markets[0]
    by_sea = np.array([m.export for m in s.markets], dtype=bool)[base.mk]
    hist_base = np.where(by_sea & planned, base.shipped.delivery, base_day).astype(np.int32)
    inflow_gate = [inflow_market.gate(m, v) for m, v, _ in mix]
    inflow_floor = [inflow_market.build_floor(m, v) for m, v, _ in mix]
    fixed_rows = (base.group == HISTORY) | (base.group == FROZEN)
    return Prepared(
        scenario=s,
        uncertainty=uncertainty,
        seed=seed,
        cap=cap,
        classes=classes,
        cls_=cls_,
        grp=base.group,
        rel=base.rel,
        floored=base.floored,
        locked=base.lock_days(),
        cancel_from=since,
        fixed=base.fixed,
        bundles=FixedBundles.of(cap, cls_, base.fixed, base.mk, fixed_rows),
        base_day=base_day,
        lead=base.lead,
        opens=base.opens,
        mk=base.mk,
        gate=base.gate,
        by_sea=by_sea,
        hist_base=hist_base,
        planned_delivery=np.where(
            by_sea, hist_base, delivery_day(base_day, base.lead, base.opens)
        ).astype(np.int32),
        weekly=weekly,
        inflow_start=start,  # the rate's origin: orders are drawn from now on (`sample`)
        inflow_weights=np.array([w for _, _, w in mix], dtype=np.float64),
        inflow_cls=config_class[len(configs) :].astype(np.int32),
        inflow_lead=inflow_market.lead_days or 0,
        inflow_opens=(inflow_market.opens - s.start).days if inflow_market.opens else NEVER,
        inflow_mk=[m.name for m in s.markets].index(inflow_market.name),
        inflow_gate=np.array(
            [(g - s.start).days if g else NEVER for g in inflow_gate], dtype=np.int32
        ),
        inflow_floor=np.array(
            [(f - s.start).days if f else NEVER for f in inflow_floor], dtype=np.int32
        ),
        n_codes=len(bound_names(s, cap)),
        inflow_configs=tuple((m, v) for m, v, _ in mix),
        inflow_market=inflow_market.name,
        known=line_records(base, uncertainty),
    )


def line_records(base: Plan, u: Uncertainty) -> tuple[Known | None, ...]:
    """Per line whose uptime lasts (`Uptime.lasting`), what its record says of it: the
    days before now it was kept busy (an order it could build was released and still
    waited at the day's end), read as what it built over what the plan asked
    (`record_latent`), filtered (`filtered`). A future draws its level and spell from
    there: a line seen running under its mean for months runs on under it. Without it
    every future drew the level afresh, honest only on average over worlds (in one world
    a year's windows held all or nothing, by the level it drew)."""
    s, cap = base.scenario, base.capacity
    now = min((s.now - s.start).days, cap.days)
    out: list[Known | None] = []
    hist = np.flatnonzero(base.group == HISTORY)
    line, day = base.fixed.line[hist], base.fixed.day[hist]
    built = np.zeros((len(s.lines), cap.days + 1))
    ok = (line >= 0) & (day >= 0) & (day < now)
    np.add.at(built, (line[ok], day[ok]), 1.0)
    models = base.table["model"].to_numpy()
    leave = np.where(base.fixed.day >= 0, base.fixed.day, base.placement.day)
    leave = np.where(leave >= 0, leave, cap.days).astype(np.int64)
    came = np.minimum(base.rel, base.lock_days() + s.lead_in_days)  # a queued one's is now
    for i, (_, ln) in enumerate(s.lines):
        spec = u.line_uptime.get(ln.name, u.uptime)
        if spec is None or not spec.lasting or spec.mean >= 1 or now <= 0:
            out.append(None)
            continue
        mine = np.isin(models, list(cap.line_models[i]))
        waiting = np.cumsum(  # orders for it released by each day and not built by its end
            np.bincount(np.clip(came[mine], 0, cap.days), minlength=cap.days + 1)
            - np.bincount(np.clip(leave[mine], 0, cap.days), minlength=cap.days + 1)
        )[:now]
        z, var = record_latent(spec, built[i, :now], cap.vehicles[i, :now])
        z[waiting <= 0] = np.nan
        out.append(filtered(spec, z, var) if np.isfinite(z).any() else None)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Future:
    """One future, order by order: what a backtest's reality is made of."""

    draw: Draw
    cap: Capacity
    day: I32  # build day per book order, then per new order (-1: not built)
    line: I32  # (-1: not built)
    delivery: I32  # where built
    bound: npt.NDArray[np.int16 | np.int32 | np.int64]
    gone: npt.NDArray[np.bool_]  # book orders cancelled in this future
    cancel_on: I64  # day each cancelled book order cancels (days for the others)
    sailing: I32  # by sea: the sailing taken (-1: none, or by road)
    departure: I32  # its departure day (-1: none)


def one_future(prep: Prepared, future: int) -> Future:
    """Draw future number `future` and place every order in it."""
    s, u = prep.scenario, prep.uncertainty
    days = prep.cap.days
    n = len(prep.cls_)
    d = sample(u, s, int(future), prep.seed, n, prep.inflow_start, prep.inflow_weights, prep.known)
    varied = d.uptime is not None or d.ramp_slip is not None or d.supply_scale is not None
    cap = (
        capacity(s, uptime=d.uptime, ramp_slip=d.ramp_slip, supply_scale=d.supply_scale)
        if varied
        else prep.cap
    )
    classes = with_capacity(prep.classes, cap) if varied else prep.classes
    active = prep.grp == ACTIVE
    m = len(d.inflow_day)
    # the day each queued order cancels if it still waits then: whether it does is this
    # future's placement's to say (frozen and reserved orders do not cancel)
    until = np.full(n + m, NEVER_CANCELS, dtype=np.int32)
    if d.cancel_draw is not None:
        t = cancel_day(d.cancel_draw, prep.weekly, prep.cancel_from)
        until[:n] = np.where(active, t, NEVER_CANCELS)
    cls_all = np.concatenate([prep.cls_, prep.inflow_cls[d.inflow_config]]).astype(np.int32)
    grp_all = np.concatenate([prep.grp, np.full(m, ACTIVE, dtype=np.int8)])
    new_rel = d.inflow_day + prep.scenario.lead_in_days
    new_floor = prep.inflow_floor[d.inflow_config]
    rel_all = np.concatenate([prep.rel, np.maximum(new_rel, new_floor)]).astype(np.int32)
    floored = np.concatenate([prep.floored, new_floor > new_rel])
    none = np.full(m, -1, dtype=np.int32)
    f = prep.fixed
    fixed = Fixed(*(np.concatenate([a, none]) for a in (f.line, f.day, f.sailing)))
    mk = np.concatenate([prep.mk, np.full(m, prep.inflow_mk, dtype=np.int32)])
    _, out = place(cap, classes, cls_all, grp_all, rel_all, fixed, mk, prep.bundles, until)
    gate = np.concatenate([prep.gate, prep.inflow_gate[d.inflow_config]])
    lead = np.concatenate([prep.lead, np.full(m, prep.inflow_lead, dtype=np.int32)])
    opens = np.concatenate([prep.opens, np.full(m, prep.inflow_opens, dtype=np.int32)])
    shipped = ship(cap.sea, out.day, out.sailing, lead, opens, gate)
    line = np.where(out.sailing == NO_SAILING, -1, out.line).astype(np.int32)
    ahead = floored & (line >= 0) & (out.day == rel_all)
    bound = final_bound(s, cap, mk, out.bound, shipped, line >= 0, ahead)  # markets, gates, ...
    # cancelled: still waiting on the day it cancels (not built before it, or never)
    gone = (until[:n] < days) & (line[:n] < 0)
    cancel_on = np.where(gone, until[:n], days).astype(np.int64)
    sailing = np.where(shipped.sailing >= 0, shipped.sailing, -1).astype(np.int32)
    sail_day = cap.sea.sail_day if len(cap.sea.sail_day) else np.zeros(1, np.int64)
    departure = np.where(sailing >= 0, sail_day[np.maximum(sailing, 0)], -1).astype(np.int32)
    return Future(
        d, cap, out.day, line, shipped.delivery, bound, gone, cancel_on, sailing, departure
    )


PILOT = 8  # futures drawn first to centre each order's histogram
PILOT_FROM = MAX_FUTURES + 2  # their numbers: no run draws them (the reality is MAX_FUTURES + 1)


def centred(prep: Prepared) -> Prepared:
    """Centre each order's histogram on the median of a few pilot futures instead of the
    deterministic plan, and take the wait its cancelling hazard rises with from them. The
    plan knows no cancellations: at the back of a year's queue a third of the orders
    ahead cancel, and the futures built it two months before the plan, past the
    histogram's 32 early days then, so every such window was clipped late (the demo's
    promises told 52+ weeks ahead: 0 % inside windows stating 82 %, deliveries 59 days
    early). The pilots are numbered apart from every run's futures, so any runner gives
    the same centres."""
    n = len(prep.cls_)
    build = np.full((PILOT, n), np.nan)
    delivery = np.full((PILOT, n), np.nan)
    for i in range(PILOT):
        f = one_future(prep, PILOT_FROM + i)
        ok = (f.line[:n] >= 0) & ~f.gone
        build[i, ok] = f.day[:n][ok]
        delivery[i, ok] = f.delivery[:n][ok]
    some = np.isfinite(build).any(axis=0)
    med_build = np.rint(_column_medians(build[:, some]))
    med_delivery = np.rint(_column_medians(delivery[:, some]))
    centre = prep.hist_base.astype(np.float64)
    centre[some] = np.where(prep.by_sea[some], med_delivery, med_build)
    weekly = prep.weekly.copy()
    cancels = some & (prep.grp == ACTIVE)
    if prep.uncertainty.cancellation is not None and cancels.any():
        wait = med_delivery[cancels[some]] - prep.locked[cancels]
        weekly[cancels] = weekly_hazard(prep.uncertainty, wait)
    return dataclasses.replace(prep, hist_base=centre.astype(np.int32), weekly=weekly)


def _column_medians(a: F64) -> F64:
    """Each column's median over its numbers (NaN: none): `np.nanmedian` of a few rows,
    five times faster (it goes column by column). Every column holds a number."""
    s = np.sort(a, axis=0)  # NaN last
    k = np.isfinite(a).sum(axis=0)
    col = np.arange(a.shape[1])
    out: F64 = (s[(k - 1) // 2, col] + s[k // 2, col]) / 2
    return out


def run_futures(prep: Prepared, futures: Sequence[int]) -> Partial:
    """Plan these futures; the building block that Dask workers run."""
    u = prep.uncertainty
    days = prep.cap.days
    n = len(prep.cls_)
    hist = np.zeros((n, BINS), dtype=np.uint16)
    cancelled = np.zeros(n, dtype=np.uint32)
    refunded = np.zeros(n, dtype=np.uint32)
    k = len(futures)
    backlog = np.zeros((k, days), dtype=np.int32)
    deliveries = np.zeros((k, days), dtype=np.int32)
    bound = np.zeros((k, prep.n_codes), dtype=np.int64)
    inflow = np.zeros(k, dtype=np.int64)
    counted = prep.grp != RESERVED
    base_delivery = prep.planned_delivery
    for j, fut in enumerate(futures):
        f = one_future(prep, fut)
        d, gone = f.draw, f.gone
        inflow[j] = len(d.inflow_day)
        cancelled += gone
        _sums(
            hist,
            prep.hist_base,
            prep.by_sea,
            counted,
            prep.locked,
            f.day,
            f.line,
            f.delivery,
            f.bound,
            gone,
            f.cancel_on,
            d.inflow_day,
            backlog[j],
            deliveries[j],
            bound[j],
        )
        if u.cancellation is not None and d.refund_draw is not None:
            built = f.line[:n] >= 0
            slipped = built & (f.delivery[:n] > base_delivery + u.cancellation.refund_slip_days)
            refunded += slipped & (d.refund_draw < u.cancellation.refund_take_rate)
    return Partial(
        np.asarray(futures, dtype=np.int64),
        hist,
        cancelled,
        refunded,
        backlog,
        deliveries,
        bound,
        inflow,
    )


Runner = Callable[[Prepared, list[list[int]]], list[Partial]]


def _local(prep: Prepared, chunks: list[list[int]]) -> list[Partial]:
    """In this process: all futures into one set of sums (memory stays one histogram)."""
    return [run_futures(prep, [f for c in chunks for f in c])]


def simulate(
    scenario: Scenario,
    orders: OrderBook | pl.DataFrame | Plan,
    *,
    futures: int = 100,
    seed: int = 0,
    runner: Runner | None = None,
    chunks: int = 4,
) -> Simulation:
    """Plan `futures` sampled futures; the same seed gives the same answer, however run.

    `chunks`: how many pieces the futures are cut into for a runner (e.g. 2 per Dask
    worker); each piece returns one histogram per order, so fewer is lighter. An existing
    plan of this scenario may stand for the orders (it is the futures' base)."""
    if not 1 <= futures <= MAX_FUTURES:
        raise InvalidRequestError(f"futures must be 1 to {MAX_FUTURES:,}, got {futures}")
    base = (
        orders
        if isinstance(orders, Plan) and orders.scenario == scenario
        else plan(
            scenario, order_book(orders.book if isinstance(orders, Plan) else orders, scenario)
        )
    )
    u = scenario.uncertainty or Uncertainty()
    prep = centred(prepare(base, u, seed))
    ids = list(range(futures))
    size = -(-futures // max(1, chunks))
    pieces = [ids[i : i + size] for i in range(0, futures, size)]
    parts = (runner or _local)(prep, pieces)
    return Simulation(base, prep, Partial.merge(parts))


def certainty_warnings(s: Scenario) -> list[str]:
    """A Monte Carlo of a scenario in which nothing is uncertain (no `uncertainty`, or an
    empty one) draws its plan in every future: said, since its one-day windows stating
    100 % look like news."""
    u = s.uncertainty
    if u is not None and u.model_dump(exclude_defaults=True):
        return []
    return [
        "the scenario has no `uncertainty` (or an empty one): every future is its plan, so "
        "every window is one day stating 100 % (README, 'Monte Carlo delivery windows'; "
        "or learn one from the record: `promiseline fit`)"
    ]


def told_windows(f: Forecast) -> tuple[I64, I64, I64, F64]:
    """The windows to tell of these orders' forecasts (`Simulation.forecast`): earliest,
    likely, latest day and odds (`honest_runs`: the shortest run of delivery days holding
    NOMINAL of the futures the order is not cancelled in, and the odds it holds out of
    sample; futures that do not build it in the horizon count against the window, on no
    day; where more than half of them do, the likely day is the window's last: the median
    would be the "not built" bin, a day past the window). The service and the backtest
    tell these, so the backtest scores the service's."""
    w = f.weights.copy()
    w[:, UNBUILT] = 0.0  # the bin of "not built in the horizon" is no day
    a, b, odds = honest_runs(w, f.offsets, NOMINAL, f.weights.sum(axis=1))
    earliest, latest = f.base + f.offsets[a], f.base + f.offsets[b]
    likely = np.clip(f.quantiles((0.5,))[:, 0], earliest, latest)
    return earliest, likely, latest, odds


def pending(sim: Simulation, ids: pl.Series, epoch: dt.date) -> Pending:
    """What a simulation knows of these orders' delivery days (`recalibrate.Pending`;
    order k is `ids[k]`), in days since `epoch`: its forecast where it is queued, the
    plan's day once built, nothing where the plan does not queue it (cancelled,
    reserved). The service and the backtest recalibrate by it, windows still undelivered
    by their forecast now."""
    t = sim.base.table
    rows = t.select("order_id").with_row_index("row")
    found = pl.DataFrame({"order_id": ids}).join(
        rows, on="order_id", how="left", maintain_order="left"
    )
    row = found["row"].cast(pl.Int64).fill_null(-1).to_numpy()
    queued = (sim.base.group == FROZEN) | (sim.base.group == ACTIVE)
    own = queued & (sim.base.placement.line >= 0) & (sim.totals.hist.sum(axis=1) > 0)
    start = sim.base.scenario.start
    day = (
        t.select((pl.col("delivery_date") - pl.lit(start)).dt.total_days())
        .to_series()
        .fill_null(-1)
        .to_numpy()
        .astype(np.int64)
    )
    shift = (start - epoch).days
    offsets = np.arange(BINS, dtype=np.int64) - OFFSET
    offsets[UNBUILT] = NEVER_DAY  # not built in the horizon

    def of(k: I64) -> tuple[Forecast, npt.NDArray[np.bool_]]:
        r = row[k]
        at = np.maximum(r, 0)
        mine = (r >= 0) & own[at]
        built = (r >= 0) & (sim.base.group[at] == HISTORY) & (day[at] >= 0)
        base = np.zeros(len(k), dtype=np.int64)
        weights = np.zeros((len(k), BINS))
        weights[:, OFFSET] = 1.0  # on its day: the plan's (none: not counted)
        if mine.any():
            f = sim.forecast(r[mine])
            base[mine], weights[mine] = f.base, f.weights
        base[built] = day[r[built]]
        return Forecast(base + shift, offsets, weights), mine | built

    return of


@dataclass(frozen=True, slots=True)
class Simulation:
    """Delivery windows with odds, per order; fan-chart bands per day; binding odds."""

    base: Plan
    prep: Prepared
    totals: Partial

    @property
    def futures(self) -> int:
        return len(self.totals.futures)

    def told(self, total: I64 | None = None) -> npt.NDArray[np.bool_]:
        """The orders told a Monte Carlo window (`told_windows`): some future builds it in
        the horizon. Where none does there is no day to tell (the plan's stand-in
        stays). `total`: each order's histogram total, where the caller has it."""
        hist = self.totals.hist
        if total is None:
            total = hist.sum(axis=1, dtype=np.int64)
        built: npt.NDArray[np.bool_] = total > hist[:, UNBUILT]
        return built

    def forecast(self, rows: I64) -> Forecast:
        """The delivery-day distribution of these orders (rows of the plan table; each
        must be uncancelled in some future), in days since the scenario start.

        Delivery is max(build + lead, opens), so each build-day bin maps to one delivery
        day; bins before the market opens fold into its opening day. The histogram spans
        -32 .. +222 days around the plan: builds outside land on its edges, and "not
        built in the horizon" counts as the day after the last bin."""
        hist = self.totals.hist[rows].astype(np.float64)
        base = (self.prep.hist_base[rows] + self.prep.lead[rows]).astype(np.int64)
        offsets = np.arange(BINS, dtype=np.int64) - OFFSET
        opens = np.where(self.prep.by_sea[rows], NEVER, self.prep.opens[rows]).astype(np.int64)
        k = opens - base - offsets[0]  # first bin on or after the opening day
        late = k >= BINS  # opens after every bin: all mass on the opening day
        base[late] = opens[late] - offsets[0]
        k = np.clip(k, 0, BINS - 1)
        k[late] = 0
        folded = np.cumsum(hist, axis=1)[np.arange(len(rows)), k]
        hist[np.arange(BINS)[None, :] < k[:, None]] = 0.0
        hist[np.arange(len(rows)), k] = folded
        hist[late] = 0.0
        hist[late, 0] = 1.0
        return Forecast(base, offsets, hist)

    def orders(self) -> pl.DataFrame:
        """Per order: P10/P50/P90 build and delivery dates, chance of cancelling."""
        t, base = self.totals, self.base
        s = base.scenario
        n = len(base.ix)
        q = {p: np.zeros(n, dtype=np.int64) for p in (10, 50, 90)}
        has = {p: np.zeros(n, dtype=bool) for p in (10, 50, 90)}
        total = t.hist.sum(axis=1).astype(np.int64)
        for lo in range(0, n, 50_000):
            hi = min(n, lo + 50_000)
            cum = np.cumsum(t.hist[lo:hi, :UNBUILT], axis=1, dtype=np.int64)
            tot = total[lo:hi]
            for p in q:
                need = np.ceil(p / 100 * tot).astype(np.int64)
                idx = (cum < need[:, None]).sum(axis=1)
                has[p][lo:hi] = (idx < UNBUILT) & (tot > 0)
                q[p][lo:hi] = self.prep.hist_base[lo:hi] + idx - OFFSET
        epoch = np.datetime64(s.start, "D")
        out: dict[str, Any] = {
            "order_id": base.table["order_id"],
            "model": base.table["model"],
            "variant": base.table["variant"],
            "market": base.table["market"],
        }
        for p, day in q.items():
            built = has[p]
            sea = self.prep.by_sea
            deliv = np.where(sea, day, delivery_day(day, self.prep.lead, self.prep.opens))
            out[f"build_p{p}"] = pl.Series(  # by sea the histogram holds delivery days
                np.where(built & ~sea, epoch + day, np.datetime64("NaT")), dtype=pl.Date
            )
            out[f"delivery_p{p}"] = pl.Series(
                np.where(built, epoch + deliv, np.datetime64("NaT")), dtype=pl.Date
            )
        out |= self._windows(total, epoch)
        out["p_unbuilt"] = t.hist[:, UNBUILT] / np.maximum(total, 1)
        out["p_cancel"] = (t.cancelled + t.refunded) / self.futures
        return pl.DataFrame(out)

    def _windows(self, total: I64, epoch: np.datetime64) -> dict[str, pl.Series]:
        """The window to tell per order (`told_windows`; none where `told` says none)."""
        some = self.told(total)
        n = len(some)
        lo, mid, hi = (np.zeros(n, dtype=np.int64) for _ in range(3))
        mass = np.full(n, np.nan)
        ok = np.flatnonzero(some)
        for start in range(0, len(ok), 50_000):
            rows = ok[start : start + 50_000]
            lo[rows], mid[rows], hi[rows], mass[rows] = told_windows(self.forecast(rows))

        def dates(day: I64) -> pl.Series:
            return pl.Series(np.where(some, epoch + day, np.datetime64("NaT")), dtype=pl.Date)

        return {
            "window_earliest": dates(lo),
            "window_likely": dates(mid),
            "window_latest": dates(hi),
            "window_probability": pl.Series(mass, nan_to_null=True),  # null: no window
        }

    def bands(self) -> pl.DataFrame:
        """Per day: backlog and deliveries at P10, P50, P90 over the futures."""
        t = self.totals
        days = t.backlog.shape[1]
        out: dict[str, Any] = {
            "date": np.datetime64(self.base.scenario.start, "D") + np.arange(days)
        }
        for name, arr in (("backlog", t.backlog), ("deliveries", t.deliveries)):
            for p in (10, 50, 90):
                out[f"{name}_p{p}"] = np.percentile(arr, p, axis=0, method="lower")
        return pl.DataFrame(out)

    def constraints(self) -> pl.DataFrame:
        """Per constraint: share of futures where it holds back an order, and how many."""
        names = self.base.bound_text
        b = self.totals.bound
        rows = [
            {
                "constraint": names[c],
                "binds_share": float((b[:, c] > 0).mean()),
                "orders_mean": float(b[:, c].mean()),
            }
            for c in range(1, b.shape[1])
        ]
        return pl.DataFrame(rows).sort("orders_mean", descending=True)

    def summary(self) -> dict[str, Any]:
        o = self.orders().join(self.base.table.select("order_id", "locked_at"), on="order_id")
        wait = o.with_columns(
            ((pl.col("delivery_p50") - pl.col("locked_at").dt.date()).dt.total_days()).alias(
                "wait_p50"
            ),
            ((pl.col("delivery_p90") - pl.col("locked_at").dt.date()).dt.total_days()).alias(
                "wait_p90"
            ),
        )
        by_model = (
            wait.group_by("model", "variant")
            .agg(
                pl.len().alias("orders"),
                pl.col("wait_p50").median().alias("median_of_p50_wait"),
                pl.col("wait_p90").median().alias("median_of_p90_wait"),
                pl.col("p_cancel").mean().alias("cancel_share"),
            )
            .sort("model", "variant")
        )
        return {
            "futures": self.futures,
            "seed": self.prep.seed,
            "new_orders_mean": float(self.totals.inflow.mean()),
            "by_variant": by_model.to_dicts(),
            "constraints": self.constraints().head(10).to_dicts(),
        }
