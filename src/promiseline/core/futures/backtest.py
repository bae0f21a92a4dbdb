"""Backtest: does a promise come true as often as it says?

One reality is drawn (a future of the world's `uncertainty`; the world is the planner's
scenario, or that scenario with patches the planner does not know about), as of its own
day (`as_of`, else `start`). Time is then replayed through it from that day (a replay
before it would offer days the reality never built on): every `every` days the planner
sees only what was known that day (orders locked so far and not cancelled, what was
really built so far, parts on hand, ramp-ups that really started) and plans and
simulates again, as the service would. Each order's promises are recorded and scored,
as they are made, against the delivery the reality holds for it: the backtest never
lets a promise see the future, it only scores it with the future.

What a replay date knows (`known_on`) is what the service knows on that day: the
scenario as of that day (SCENARIO.md, "Planning as of a moment"), with ramp-ups that
have started at their real start, and the book as the plant reported it: orders the
reality built before the day are history (built, shipped, delivered, with their line,
day and sailing), those it builds in the next `frozen_days` are scheduled there, and
the rest locked so far and not cancelled wait. The same roll a service sees through its
progress, so the backtest scores what the service does.

Those frozen days are closed to every other order, in the replay's plan and in each of
its futures: the reality built nothing else there (an order waiting then could not have
fitted, or the planning rule would have put it there). Open, they handed each future's
good days there (uptime above what the reality had, and so scheduled) to the orders
waiting, and took nothing back on its bad days (scheduled orders hold their slots past
capacity): a few cars a line-day, gained by every order behind them, so that long queues
came after every future. A service's frozen days are scheduled by its own plan at full
rate, so a future's uptime (at most 1) opens no room there either.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from promiseline.core.arrays import F64, I64
from promiseline.core.futures.calibration import (
    WEEK_BUCKETS,
    coverage,
    crps,
    interval_score,
    mean_abs_error,
    on_time,
    p95_lateness,
    pit_histogram,
    randomized_pit,
    rounded,
    verdict,
    weeks_bucket,
    weeks_label,
)
from promiseline.core.futures.promises import (
    QueueSpread,
    new_order_window,
    window_moved,
)
from promiseline.core.futures.recalibrate import Margins, Outcomes, Pending
from promiseline.core.futures.sampling import Draw
from promiseline.core.futures.simulate import (
    MAX_FUTURES,
    Runner,
    Simulation,
    centred,
    certainty_warnings,
    one_future,
    pending,
    prepare,
    simulate,
    told_windows,
)
from promiseline.core.model.lifecycle import QUEUED, Status
from promiseline.core.model.orders import BOOK_COLUMNS, OrderBook, order_book
from promiseline.core.model.scenario import (
    Inflow,
    Part,
    RampSlip,
    Scenario,
    Shutdown,
    Spread,
    Supply,
    Uncertainty,
)
from promiseline.core.model.window import NOMINAL
from promiseline.core.planning.capacity import part_arrivals
from promiseline.core.planning.plan import ACTIVE, FROZEN, Plan, sailing_ids
from promiseline.core.planning.planner import plan
from promiseline.errors import InvalidRequestError

REALITY = MAX_FUTURES + 1  # the reality's future number: no Monte Carlo run draws it
Progress = Callable[[str], None]
KNOWN_COLUMNS = BOOK_COLUMNS[:8]  # what a replay is told of an order: no line or build date


@dataclass(frozen=True, slots=True)
class Reality:
    """Every order that came (the book, then the new orders drawn) and what became of it,
    in days since the world's start."""

    world: Scenario
    book: pl.DataFrame  # KNOWN_COLUMNS; row i is order i below
    locked: I64  # the day it locked
    build: I64  # -1: not built in the horizon
    line: list[str | None]  # where it was built
    sailing: list[str | None]  # by sea, the sailing it left on (<lane>:<date>)
    departure: I64  # -1: not by sea, or not departed in the horizon
    delivery: I64  # -1: not delivered in the horizon
    cancel_on: I64  # day it cancels; horizon days: never
    on_hand: I64  # [part, day] stock + arrivals through that day, as they came
    arrival_scale: F64 | None  # [part, day] the share of the world's supply that came
    ramp_start: dict[str, dt.date]  # line -> the day its ramp-up really started
    parts_of: dict[tuple[str, str], dict[str, int]]  # (model, variant) -> parts
    delivered: npt.NDArray[np.bool_]  # delivered in the horizon, never cancelled
    inflow_start: int  # the day the new orders' rate starts from
    luck: dict[str, dict[str, float]]  # `reality_luck`


def realize(world: Scenario, orders: OrderBook | pl.DataFrame, seed: int) -> Reality:
    """Draw one reality of the world: capacity, cancellations and new orders, then place
    every order in it by the planning rule."""
    base = plan(world, order_book(orders, world))
    prep = centred(prepare(base, world.uncertainty or Uncertainty(), seed))
    f = one_future(prep, REALITY)
    days = prep.cap.days
    keep = prep.grp == ACTIVE  # locked and unfrozen scheduled orders: what is promised
    rows = base.book.table[pl.Series(base.ix)].select(KNOWN_COLUMNS)
    d = f.draw
    new = pl.DataFrame(
        {
            "order_id": [f"new-{i:07d}" for i in range(len(d.inflow_day))],
            "model": [prep.inflow_configs[c][0] for c in d.inflow_config],
            "variant": [prep.inflow_configs[c][1] for c in d.inflow_config],
            "options": ["{}"] * len(d.inflow_day),
            "market": [prep.inflow_market] * len(d.inflow_day),
            "locked_at": [
                dt.datetime.combine(world.start + dt.timedelta(days=int(x)), dt.time(12))
                for x in d.inflow_day
            ],
            "priority": [0] * len(d.inflow_day),
            "status": [Status.LOCKED.value] * len(d.inflow_day),
        }
    )
    book = pl.concat([rows.filter(pl.Series(keep)), new.cast(rows.schema)])
    built = f.line >= 0
    delivery = np.where(built, f.delivery, -1).astype(np.int64)
    delivery[delivery >= days] = -1
    cancel_on = np.concatenate([f.cancel_on, np.full(len(d.inflow_day), days)])
    take = np.concatenate([keep, np.ones(len(d.inflow_day), dtype=bool)])
    slip = d.ramp_slip if d.ramp_slip is not None else np.zeros(len(world.lines), np.int64)
    ramp_start = {
        ln.name: ln.ramp_up.from_ + dt.timedelta(days=int(slip[i]))
        for i, (_, ln) in enumerate(world.lines)
        if ln.ramp_up is not None
    }
    parts_of = {(p.model, v.name): dict(v.parts) for p in world.products for v in p.variants}
    locked = book.select(
        (pl.col("locked_at").dt.date() - pl.lit(world.start)).dt.total_days()
    ).to_series()
    delivery, cancel_on = delivery[take], cancel_on.astype(np.int64)[take]
    names = list(f.cap.line_names)
    ids = sailing_ids(world, f.cap.sea)
    return Reality(
        world,
        book,
        locked.to_numpy().astype(np.int64),
        np.where(built, f.day, -1).astype(np.int64)[take],
        [names[i] if i >= 0 else None for i in f.line[take]],
        [ids[j] if j >= 0 else None for j in f.sailing[take]],
        np.where(built, f.departure, -1).astype(np.int64)[take],
        delivery,
        cancel_on,
        f.cap.on_hand,
        d.supply_scale,
        ramp_start,
        parts_of,
        (delivery >= 0) & (cancel_on >= days),
        prep.inflow_start,
        reality_luck(world, d, (world.now - world.start).days),
    )


def reality_luck(world: Scenario, d: Draw, first: int) -> dict[str, dict[str, float]]:
    """What one reality drew that all its orders share, over the year from its day: each
    line's mean uptime, each ramp-up's days late, each disrupted part's share of its
    supply that came. Coverage pooled over a few realities is as lucky as these (the
    demo's seed 16 started p2-final's ramp-up 35 days late, three standard deviations:
    every YU7 window told in its first month missed late)."""
    year = slice(first, first + 365)
    out: dict[str, dict[str, float]] = {}
    if d.uptime is not None:
        up = d.uptime[:, year].mean(axis=1)
        out["uptime"] = {ln.name: round(float(up[i]), 4) for i, (_, ln) in enumerate(world.lines)}
    if d.ramp_slip is not None:
        out["ramp_slip_days"] = {
            ln.name: int(d.ramp_slip[i])
            for i, (_, ln) in enumerate(world.lines)
            if ln.ramp_up is not None
        }
    if d.supply_scale is not None:
        scale = d.supply_scale[:, year]
        out["supply_share"] = {
            p.name: round(float(scale[j].mean()), 4)
            for j, p in enumerate(world.parts)
            if (scale[j] < 1).any()
        }
    return {k: v for k, v in out.items() if v}


def known_on(planner: Scenario, reality: Reality, day: int) -> tuple[Scenario, pl.DataFrame]:
    """The scenario and order book the service holds on `day` (days since the start): as
    of that day, with the progress the reality's plant reported, and the frozen days
    closed to all but what the plant scheduled there (see the module's text)."""
    now = planner.start + dt.timedelta(days=day)
    started = {ln: d for ln, d in reality.ramp_start.items() if d <= now}
    plants = [
        plant.model_copy(
            update={
                "lines": tuple(
                    ln.model_copy(
                        update={
                            "ramp_up": ln.ramp_up.model_copy(update={"from_": started[ln.name]})
                        }
                    )
                    if ln.ramp_up is not None and ln.name in started
                    else ln
                    for ln in plant.lines
                )
            }
        )
        for plant in planner.plants
    ]
    u = planner.uncertainty or Uncertainty()
    slips = dict(u.line_ramp_slip)
    for _, ln in planner.lines:
        if ln.ramp_up is None:
            continue
        spec = u.line_ramp_slip.get(ln.name, u.ramp_slip) or Spread()
        if ln.name in started:  # its slip is known: the ramp-up starts when it did
            slips[ln.name] = RampSlip()
        elif ln.ramp_up.from_ <= now:  # late, by how much not yet known
            late = (now - ln.ramp_up.from_).days + 1
            slips[ln.name] = RampSlip(mean=spec.mean, sd=spec.sd, at_least=late)
    u = u.model_copy(update={"line_ramp_slip": slips, "inflow": _inflow_pinned(u, reality)})
    parts = known_supply(planner, reality, day)
    calendar = planner.calendar
    if planner.frozen_days:
        closed = Shutdown(
            name="frozen-zone", from_=now, to=now + dt.timedelta(days=planner.frozen_days - 1)
        )
        calendar = calendar.model_copy(update={"shutdowns": (*calendar.shutdowns, closed)})
    scenario = planner.model_copy(
        update={
            "plants": tuple(plants),
            "uncertainty": u,
            "as_of": now,
            "calendar": calendar,
            "parts": parts,
        }
    )
    r = reality
    built = (r.build >= 0) & (r.build < day)
    frozen = (r.build >= day) & (r.build < day + planner.frozen_days)
    known = (r.locked < day) & (r.cancel_on >= day) | built
    status = np.where(
        built,
        np.where(
            (r.delivery >= 0) & (r.delivery < day),
            Status.DELIVERED.value,
            np.where((r.departure >= 0) & (r.departure < day), Status.SHIPPED.value, "built"),
        ),
        np.where(frozen, Status.SCHEDULED.value, Status.LOCKED.value),
    )
    placed = built | frozen
    epoch = np.datetime64(planner.start, "D")
    book = r.book.with_columns(
        pl.Series("status", status),
        pl.Series("line", [x if p else None for x, p in zip(r.line, placed, strict=True)]),
        pl.Series("build_date", np.where(placed, epoch + r.build, np.datetime64("NaT"))),
        pl.Series("sailing_id", [x if p else None for x, p in zip(r.sailing, placed, strict=True)]),
    ).filter(pl.Series(known))
    return scenario, book


def _inflow_pinned(u: Uncertainty, reality: Reality) -> Inflow | None:
    """The new orders' law with its start fixed where the world's began: by default it
    starts after the book's last lock, which a replay's book (holding the new orders
    that came) moves on, each replay a fresh surge the reality never had."""
    if u.inflow is None or u.inflow.start is not None:
        return u.inflow
    start = reality.world.start + dt.timedelta(days=reality.inflow_start)
    return u.inflow.model_copy(update={"start": start})


def known_supply(planner: Scenario, reality: Reality, day: int) -> tuple[Part, ...]:
    """Each part's stock and supply as the plant knows them on `day`: what really came
    before it (the world's supply, cut by the shortfalls and outages that came: runs of
    one daily rate, written as supply entries), then the planner's from that day on. A
    replay that did not know them drew its own shortfalls for the days gone: after a
    shortfall it counted parts that never came (its windows came early), and without
    one it took parts away that had come (its windows came late)."""
    world, scale = reality.world, reality.arrival_scale
    if day <= 0 or (scale is None and world.parts == planner.parts):
        return planner.parts
    start, now = planner.start, planner.start + dt.timedelta(days=day)
    per_week = 7.0 * part_arrivals(world, start, day)  # [part, day] the world's schedule
    if scale is not None:
        per_week = per_week * scale[:, :day]
    out = []
    for rate, part, had in zip(per_week, planner.parts, world.parts, strict=True):
        runs = np.flatnonzero(np.diff(rate, prepend=-1.0) != 0)
        came = [
            Supply.model_validate(
                {"from": start + dt.timedelta(days=int(d)), "per_week": float(rate[d])}
            )
            for d in runs
        ]
        ahead = [x for x in part.supply if x.from_ > now]
        rate_now = [x.per_week for x in part.supply if x.from_ <= now]
        then = Supply.model_validate({"from": now, "per_week": rate_now[-1] if rate_now else 0.0})
        out.append(part.model_copy(update={"stock": had.stock, "supply": (*came, then, *ahead)}))
    return tuple(out)


def check_world(planner: Scenario, world: Scenario) -> None:
    """A reality may differ in anything but the names the replays carry over."""
    for what, a, b in (
        ("lines", [ln.name for _, ln in planner.lines], [ln.name for _, ln in world.lines]),
        ("parts", [p.name for p in planner.parts], [p.name for p in world.parts]),
        ("start", [planner.start], [world.start]),
    ):
        if a != b:
            raise InvalidRequestError(f"reality: its {what} must be the scenario's ({a}), got {b}")


ACC = (
    "promises",  # windows told: at lock, at the first replay after, each eta_changed
    "inside",  # delivered inside the window
    "on_time",  # on or before the likely date
    "abs_error",  # days from the likely date
    "stated",  # the probability the window stated (windows that state odds)
    "stated_n",
    "width",  # days from its first to its last day
    "interval",  # the interval score at the nominal odds
    "crps",  # of the forecast behind it (replay windows only)
    "crps_n",
    "model_n",  # promises whose model window is known (the replay's)
    "inside_model",  # inside the model's own window, before recalibration
    "stated_model",
    "stated_model_n",
)
A = {name: i for i, name in enumerate(ACC)}
ERR_SPAN = 400  # errors of the plan's date kept per day in [-400, 400] (the naive baseline)
TOLD_WEEKS = 4  # by_told_weeks: promises by the 4-week period they were told in


@dataclass(slots=True)
class _Ledger:
    """Promises of one reality's orders as the replays make them (global order index)."""

    n: int
    periods: int  # 4-week periods of the replay span
    origin: int  # the first replay's day: periods count from it
    recalibrate: bool  # tell windows recalibrated by the outcomes known (recalibrate.py)
    first_day: I64 = field(init=False)
    first: I64 = field(init=False)  # (n, 3) earliest, likely, latest delivery days
    first_prob: F64 = field(init=False)  # the probability it stated
    first_at_lock: npt.NDArray[np.bool_] = field(init=False)  # told when it locked
    first_plan: I64 = field(init=False)  # the deterministic plan's date then
    first_crps: F64 = field(init=False)
    first_pit: F64 = field(init=False)  # NaN: no forecast of its own yet
    last: I64 = field(init=False)
    told: I64 = field(init=False)  # the window last told: moves only past the hysteresis
    churn: I64 = field(init=False)
    weeks: F64 = field(init=False)  # [weeks-ahead bucket, ACC]
    by_told: F64 = field(init=False)  # [4-week period told in, ACC]
    errors: I64 = field(init=False)  # [bucket, day]: delivery minus the plan's date
    outcomes: Outcomes = field(init=False)  # the model's windows told, to recalibrate by
    margins: Margins | None = field(init=False)  # the last margins used
    pending: Pending | None = field(init=False)  # the latest replay's forecast of each order
    margins_day: int = field(init=False)  # the day `margins` were learned (and `pending`)

    def __post_init__(self) -> None:
        self.first_day = np.full(self.n, -1, dtype=np.int64)
        self.first = np.zeros((self.n, 3), dtype=np.int64)
        self.first_prob = np.zeros(self.n)
        self.first_at_lock = np.zeros(self.n, dtype=bool)
        self.first_plan = np.zeros(self.n, dtype=np.int64)
        self.first_crps = np.full(self.n, np.nan)
        self.first_pit = np.full(self.n, np.nan)
        self.last = np.zeros((self.n, 3), dtype=np.int64)
        self.told = np.zeros((self.n, 3), dtype=np.int64)
        self.churn = np.zeros(self.n, dtype=np.int64)
        self.weeks = np.zeros((len(WEEK_BUCKETS), len(ACC)))
        self.by_told = np.zeros((self.periods, len(ACC)))
        self.errors = np.zeros((len(WEEK_BUCKETS), 2 * ERR_SPAN + 1), dtype=np.int64)
        self.outcomes = Outcomes()
        self.margins = None
        self.pending = None
        self.margins_day = -1

    def to_tell(self, day: int, g: I64, q: I64, prob: F64, reality: Reality) -> tuple[I64, F64]:
        """The windows to tell orders `g` on `day` for the model's windows `q` (with odds
        `prob`): recalibrated by the outcomes known that day, or as they are."""
        if not self.recalibrate:
            return q, prob
        if self.margins is None or day != self.margins_day:  # windows told today close later
            self.margins = self.outcomes.margins(day, reality.delivery, NOMINAL, self.pending)
            self.margins_day = day
        return self.margins.apply(day, q, prob)

    def replayed(self, sim: Simulation, reality: Reality, day: int) -> None:
        """A replay's simulation is what is known of every order from `day` on."""
        self.pending = pending(sim, reality.book["order_id"], reality.world.start)
        self.margins_day = -1  # learned again with it

    def told_now(
        self,
        g: I64,
        q: I64,
        prob: F64,
        plan: I64,
        day: int | I64,
        reality: Reality,
        model: tuple[I64, F64],
        crps_of: F64 | None = None,
    ) -> None:
        """Windows told to orders `g` on `day` (a replay's, or each order's lock day),
        scored against what came for those the reality delivers; `model`: the model's
        own windows and odds behind them (before recalibration), scored beside them and
        kept as the outcomes to recalibrate by."""
        self.outcomes.add(day, model[0], g)
        y = reality.delivery[g]
        ok = reality.delivered[g]
        g, q, prob, plan, y = g[ok], q[ok], prob[ok], plan[ok], y[ok]
        mq, mprob = model[0][ok], model[1][ok]
        told_day = np.broadcast_to(np.asarray(day, dtype=np.int64), ok.shape)[ok]
        if not len(g):
            return
        acc = promise_sums(y, q, prob, None if crps_of is None else crps_of[ok], model=(mq, mprob))
        b = weeks_bucket((q[:, 1] - told_day) // 7)  # by the promise, not by what came
        np.add.at(self.weeks, b, acc)
        period = np.clip((told_day - self.origin) // (7 * TOLD_WEEKS), 0, self.periods - 1)
        np.add.at(self.by_told, period, acc)
        np.add.at(self.errors, (b, error_bin(y, plan)), 1)


def promise_sums(
    y: I64,
    q: I64,
    prob: F64,
    crps_of: F64 | None = None,
    model: tuple[I64, F64] | None = None,
) -> F64:
    """Each promise's part of a bucket's sums (ACC), one row each: the window `q`
    (earliest, likely, latest) told, stating `prob` (NaN: no odds), against the day `y`
    that came; `crps_of`: the CRPS of the forecast behind it, when there is one;
    `model`: the model's own window and odds, when `q` was recalibrated from them."""
    e, likely, la = q[:, 0], q[:, 1], q[:, 2]
    acc = np.zeros((len(y), len(ACC)))
    acc[:, A["promises"]] = 1
    acc[:, A["inside"]] = (y >= e) & (y <= la)
    acc[:, A["on_time"]] = y <= likely
    acc[:, A["abs_error"]] = np.abs(y - likely)
    acc[:, A["stated"]] = np.nan_to_num(prob, nan=0.0)
    acc[:, A["stated_n"]] = np.isfinite(prob)
    acc[:, A["width"]] = la - e
    acc[:, A["interval"]] = interval_score(y, e, la, 1 - NOMINAL)
    if crps_of is not None:
        acc[:, A["crps"]] = crps_of
        acc[:, A["crps_n"]] = 1
    if model is not None:
        mq, mprob = model
        acc[:, A["model_n"]] = 1
        acc[:, A["inside_model"]] = (y >= mq[:, 0]) & (y <= mq[:, 2])
        acc[:, A["stated_model"]] = np.nan_to_num(mprob, nan=0.0)
        acc[:, A["stated_model_n"]] = np.isfinite(mprob)
    return acc


def error_bin(y: I64, plan: I64) -> I64:
    """The column of the errors histogram (naive_baseline) of each delivery minus the
    plan's date."""
    out: I64 = np.clip(y - plan, -ERR_SPAN, ERR_SPAN) + ERR_SPAN
    return out


def _replay_day(
    ledger: _Ledger,
    reality: Reality,
    index: pl.DataFrame,
    scenario: Scenario,
    book: pl.DataFrame,
    day: int,
    futures: int,
    seed: int,
    runner: Runner | None,
    chunks: int,
) -> Simulation:
    """Plan and simulate what is known on `day`; record and score every promise told (a
    window's first, and one that moved past the hysteresis: an eta_changed)."""
    sim = simulate(scenario, book, futures=futures, seed=seed, runner=runner, chunks=chunks)
    t = sim.base.table
    queued = (sim.base.group == FROZEN) | (sim.base.group == ACTIVE)  # history is told nothing
    rows = np.flatnonzero(queued & (sim.base.placement.line >= 0) & sim.told()).astype(np.int64)
    g_all = t.select("order_id").join(index, on="order_id", how="left")["g"].to_numpy()
    plan_day = (
        t.select((pl.col("delivery_date") - pl.lit(reality.world.start)).dt.total_days())
        .to_series()
        .fill_null(-1)
        .to_numpy()
    )
    ledger.replayed(sim, reality, day)
    rng = np.random.default_rng([seed, day])
    for lo in range(0, len(rows), 50_000):
        r = rows[lo : lo + 50_000]
        fc = sim.forecast(r)
        e, likely, la, model_prob = told_windows(fc)  # the model's window (its own odds)
        model_q = np.stack([e, likely, la], axis=1)  # days since the world's start
        g = g_all[r]
        q, prob = ledger.to_tell(day, g, model_q, model_prob, reality)  # what is told
        y = reality.delivery[g]
        new = ledger.first_day[g] < 0
        moved = ~new & window_moved(ledger.told[g], q)
        ledger.churn[g[moved]] += 1
        ledger.told[g[new | moved]] = q[new | moved]
        ledger.last[g] = q
        told = new | moved
        c = np.full(len(r), np.nan)
        s = np.flatnonzero(told & reality.delivered[g])
        c[s] = crps(fc.rows(s), y[s])
        ledger.told_now(
            g[told],
            q[told],
            prob[told],
            plan_day[r][told],
            day,
            reality,
            (model_q[told], model_prob[told]),
            c[told],
        )
        first = np.flatnonzero(new)
        fg = g[first]
        ledger.first_day[fg] = day
        ledger.first[fg] = q[first]
        ledger.first_prob[fg] = prob[first]
        ledger.first_plan[fg] = plan_day[r[first]]
        ledger.first_crps[fg] = c[first]
        sb = np.flatnonzero(new & reality.delivered[g])
        ledger.first_pit[g[sb]] = randomized_pit(fc.rows(sb), y[sb], rng)
        # an order told at its lock has its own forecast first now: its PIT is scored here
        first_own = np.flatnonzero(~new & np.isnan(ledger.first_pit[g]) & reality.delivered[g])
        ledger.first_pit[g[first_own]] = randomized_pit(fc.rows(first_own), y[first_own], rng)
    return sim


GROWTH = 0.05  # a new simulation once the orders taken since the last are this share of
# the queue it knew (the service simulates again as soon as the book changed: a surge's
# orders are planned behind a queue a few minutes old, not a month old; at a quarter,
# the demo's windows told at lock 39-51 weeks ahead held 58 % stating 85 %, at a
# twentieth 74 %, the backtest taking half as long again)
GROWTH_LEAST = 50  # orders, at least: a queue built down to a few orders (or none) was
# simulated again for every order taken (a year's backtest of a small book took 14 min)
BEYOND_DAYS = 14  # or once an order to tell is planned this far past the queue it knew: a
# window is carried past the last stretch it simulated for two weeks at most (on the
# demo's launch days the YU7 Max orders planned past February 2026's supply step were told
# windows from the stretches before it, 63 days after their plan; they came 22 before it)
TELL_FUTURES = 20  # futures of those simulations: a stretch of the spread pools thousands
# of orders, and these tell windows at lock only (the replays' own windows keep theirs)


@dataclass(slots=True)
class _Teller:
    """What tells a window at lock: the latest simulation's queue spread, how many orders
    came since, and how to simulate again (a window borrowed for an order behind the
    queue a simulation knew is stretched from its last stretch: the demo's launch-day
    surge, taken after the morning's simulation, came weeks before such windows)."""

    futures: int
    seed: int
    runner: Runner | None
    chunks: int
    spread: QueueSpread = field(default_factory=lambda: QueueSpread({}))
    queued: int = 0  # orders the last simulation planned by the rule
    since: int = 0  # orders taken since
    past: bool = False  # an order to tell lies past the queue it knew: simulate again

    def simulated(self, sim: Simulation, seed: int) -> None:
        self.seed = seed
        self.spread = QueueSpread.of(sim)
        self.queued = int((sim.base.group == ACTIVE).sum())
        self.since = 0
        self.past = False

    def room(self) -> int:
        """Orders that may still be taken before the next simulation."""
        return max(1, self.growth() - self.since)

    def stale(self) -> bool:
        return self.since >= self.growth() or self.past

    def beyond(self, p: Plan, ids: pl.Series, today: dt.date) -> int:
        """How many of these orders (planned in `p`, in order) come before the first
        planned more than BEYOND_DAYS past the last stretch simulated for its kind."""
        rows = (
            pl.DataFrame({"order_id": ids})
            .join(
                p.table.select("order_id", "model", "variant", "market", "delivery_date"),
                on="order_id",
                how="left",
                maintain_order="left",
            )
            .rows()
        )
        for i, (_, model, variant, market, delivery) in enumerate(rows):
            entry = self.spread.table.get((model, variant, market))
            if entry is None or delivery is None:
                continue
            if (delivery - today).days > entry[0][-1] + BEYOND_DAYS:
                return i
        return len(rows)

    def growth(self) -> int:
        return max(GROWTH_LEAST, int(GROWTH * self.queued))


def _told_at_lock(
    ledger: _Ledger, reality: Reality, planner: Scenario, teller: _Teller, day: int
) -> None:
    """The window each order locking on `day` is told at its lock, as the service tells
    it: the plan of what is known then (the service re-plans on every change) with the
    order booked at the back of its queue in lock order (what `Booking.book` gives: the
    slot a full re-plan gives), its window the spread of the latest simulation's windows
    around its place (`new_order_window`), else the plan's stand-in. The service
    simulates again whenever the book changed; here once the orders taken since are
    `GROWTH` of the queue (a surge's day is told in a few steps, not from the morning's
    simulation; between surges the replays' cadence, `every`, says how old it may be)."""
    r = reality
    new = np.flatnonzero((r.locked == day) & (ledger.first_day < 0))
    if not len(new):
        return
    new = new[np.argsort(r.book["locked_at"].to_numpy()[new], kind="stable")]
    scenario, known = known_on(planner, reality, day)
    fresh = (
        r.book[pl.Series(new)]
        .with_columns(
            pl.lit(Status.LOCKED.value).alias("status"),
            *(pl.lit(None, dtype=known.schema[c]).alias(c) for c in known.columns[8:]),
        )
        .select(known.columns)
    )
    lo = 0
    p: Plan | pl.DataFrame = known  # the plan of what is known with the orders told so far
    while lo < len(new):
        if teller.stale():
            seed = int(np.random.SeedSequence([teller.seed, day, lo]).generate_state(1)[0])
            sim = simulate(
                scenario,
                p,  # planned already for the orders told so far (their own base)
                futures=min(teller.futures, TELL_FUTURES),
                seed=seed,
                runner=teller.runner,
                chunks=teller.chunks,
            )
            teller.simulated(sim, teller.seed)
        hi = min(len(new), lo + teller.room())
        told, p = p, plan(scenario, order_book(pl.concat([known, fresh[:hi]]), scenario))
        near = teller.beyond(p, fresh["order_id"][lo:hi], scenario.now)
        if near < hi - lo and (near > 0 or teller.since > 0):  # simulate with the orders told
            teller.past = True
            if near == 0:
                p = told
                continue
            hi = lo + near
            p = plan(scenario, order_book(pl.concat([known, fresh[:hi]]), scenario))
        _tell(ledger, reality, teller.spread, day, new[lo:hi], fresh[lo:hi], p)
        teller.since += hi - lo
        lo = hi


def _tell(
    ledger: _Ledger,
    r: Reality,
    spread: QueueSpread,
    day: int,
    new: npt.NDArray[np.int64],
    fresh: pl.DataFrame,
    p: Plan,
) -> None:
    """Tell these new orders their windows from the plan `p` that holds them."""
    got = (
        fresh.select("order_id")
        .with_columns(pl.Series("g", new))
        .join(
            p.table.select(
                "order_id",
                "model",
                "variant",
                "market",
                "build_date",
                "delivery_date",
                "queue_position",
                "locked_at",
            ),
            on="order_id",
        )
    )
    epoch = r.world.start
    gs, qs, probs, plans = [], [], [], []
    for o in got.iter_rows(named=True):
        w = new_order_window(
            spread,
            o["model"],
            o["variant"],
            o["market"],
            o["build_date"],
            o["delivery_date"],
            o["locked_at"].date(),
            o["queue_position"],
        )
        if w is None or w.earliest is None or w.latest is None or o["delivery_date"] is None:
            continue
        likely = w.likely or w.earliest
        gs.append(o["g"])
        qs.append([(d - epoch).days for d in (w.earliest, likely, w.latest)])
        probs.append(w.probability if w.odds is not None else np.nan)
        plans.append((o["delivery_date"] - epoch).days)
    if not gs:
        return
    g, model_q = np.array(gs), np.array(qs, dtype=np.int64)
    model_prob, plan_day = np.array(probs), np.array(plans, dtype=np.int64)
    q, prob = ledger.to_tell(day, g, model_q, model_prob, r)
    ledger.told_now(g, q, prob, plan_day, day, r, (model_q, model_prob))
    ledger.first_day[g] = day
    ledger.first[g] = q
    ledger.first_prob[g] = prob
    ledger.first_at_lock[g] = True
    ledger.first_plan[g] = plan_day
    ledger.told[g] = q
    ledger.last[g] = q


@dataclass(frozen=True, slots=True)
class _Scored:
    """Every order scored, all realities pooled: promised once at least, delivered."""

    realized: I64
    first: I64  # (n, 3) the first window told
    first_prob: F64  # the probability it stated (NaN: the plan's stand-in, no odds)
    at_lock: npt.NDArray[np.bool_]  # told at its lock (else at the first replay after)
    last: I64  # (n, 3) the last before delivery
    plan: I64  # the deterministic plan's date at the first promise
    crps: F64
    pit: F64
    churn: I64


def _row(
    label: str, w: F64, base: tuple[float, float] | None, per_reality: F64 | None = None
) -> dict[str, Any]:
    """One bucket's scores from its sums (ACC), beside the naive baseline's;
    `per_reality`: the same sums of each reality ([reality, ACC]), for the standard error
    of the coverage (`coverage_se`)."""
    n = w[A["promises"]]

    def mean(name: str, digits: int, of: float = n) -> float | None:
        return round(float(w[A[name]] / of), digits) if of else None

    return {
        "weeks": label,
        "promises": int(n),
        "coverage": mean("inside", 4),
        "stated": mean("stated", 4, w[A["stated_n"]]),
        "mean_width_days": mean("width", 2),
        "interval_score": mean("interval", 2),
        "baseline_width_days": round(base[0], 2) if base else None,
        "baseline_interval_score": round(base[1], 2) if base else None,
        "coverage_model": mean("inside_model", 4, w[A["model_n"]]),  # before recalibration
        "stated_model": mean("stated_model", 4, w[A["stated_model_n"]]),
        "coverage_p10_p90": mean("inside", 4),  # the name before stated odds (same value)
        "on_time": mean("on_time", 4),
        "mean_abs_error_days": mean("abs_error", 2),
        "crps_days": mean("crps", 3, w[A["crps_n"]]),
    } | ({} if per_reality is None else {"coverage_se": coverage_se(per_reality)})


def coverage_se(per_reality: F64) -> float | None:
    """The standard error of a pooled coverage when each reality's promises share its
    luck (a line's level for the whole reality, a supplier's shortfalls): the ratio
    estimator's, clustered by reality. A bucket's promises are not independent draws: with
    a lasting level, one reality's windows a year ahead hold or miss nearly together, so 8
    realities pin an 80 % coverage to within sqrt(0.8 x 0.2 / 8), about 14 points, at
    worst, not the 0.1 that a million independent promises would (our own world, 24
    realities: ± 5 points at 13-25 weeks). None with fewer than two realities that told
    the bucket anything."""
    n, inside = per_reality[:, A["promises"]], per_reality[:, A["inside"]]
    told = n > 0
    k = int(told.sum())
    if k < 2:
        return None
    p = inside.sum() / n.sum()
    resid = inside[told] - p * n[told]
    return round(float(math.sqrt(k / (k - 1) * (resid**2).sum()) / n.sum()), 4)


def naive_baseline(errors: I64, alpha: float = 1 - NOMINAL) -> tuple[float, float] | None:
    """The plan's date widened by the central (1 - alpha) range of its own errors on the
    same outcomes (delivery minus plan date, a histogram over days -ERR_SPAN..ERR_SPAN):
    (width, mean interval score). Fitted on what it is scored on, so it flatters itself:
    windows worth telling beat it."""
    n = errors.sum()
    if n == 0:
        return None
    days = np.arange(-ERR_SPAN, ERR_SPAN + 1)
    cum = np.cumsum(errors) / n
    lo = days[np.searchsorted(cum, alpha / 2 - 1e-12)]
    hi = days[np.searchsorted(cum, 1 - alpha / 2 - 1e-12)]
    score = (hi - lo) + (2 / alpha) * (np.maximum(lo - days, 0) + np.maximum(days - hi, 0))
    return float(hi - lo), float((errors * score).sum() / n)


@dataclass(frozen=True)
class Backtest:
    """Scores of the promises made in one or more realities."""

    scenario: str
    realities: tuple[str, ...]  # what each reality was drawn from
    seeds: tuple[int, ...]
    every_days: int
    span_days: int
    futures: int
    replays: int
    ledgers: tuple[_Ledger, ...]
    delivered: tuple[npt.NDArray[np.bool_], ...]
    realized: tuple[I64, ...]
    luck: tuple[dict[str, dict[str, float]], ...]  # each reality's (`reality_luck`)

    def _scored(self, i: int) -> _Scored:
        led, y = self.ledgers[i], self.realized[i]
        m = self.delivered[i] & (led.first_day >= 0)
        return _Scored(
            y[m],
            led.first[m],
            led.first_prob[m],
            led.first_at_lock[m],
            led.last[m],
            led.first_plan[m],
            led.first_crps[m],
            led.first_pit[m],
            led.churn[m],
        )

    @cached_property
    def pooled(self) -> _Scored:
        parts = [self._scored(i) for i in range(len(self.ledgers))]
        return _Scored(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(_Scored))
        )

    def churn_counts(self) -> list[int]:
        """Orders by how many eta_changed messages they got (index: messages)."""
        counts: list[int] = np.bincount(self.pooled.churn).tolist()
        return counts

    def per_reality(self) -> list[dict[str, Any]]:
        out = []
        for i, seed in enumerate(self.seeds):
            p = self._scored(i)
            out.append(
                {
                    "seed": seed,
                    "orders_scored": len(p.realized),
                    "coverage_p10_p90": rounded(coverage, p.realized, p.first[:, 0], p.first[:, 2]),
                    "stated_p10_p90": _stated(p.first_prob),
                    "on_time_first_promise": rounded(on_time, p.realized, p.first[:, 1]),
                    "luck": self.luck[i],
                }
            )
        return out

    def by_weeks_ahead(self) -> list[dict[str, Any]]:
        """Every promise told (at lock, then each eta_changed) by weeks ahead of the likely
        day it told (bucketed by the promise: by what came, a late miss would leave its
        bucket)."""
        each = np.stack([led.weeks for led in self.ledgers])  # [reality, bucket, ACC]
        errors = np.sum([led.errors for led in self.ledgers], axis=0)
        return [
            _row(weeks_label(i), w, naive_baseline(errors[i]), each[:, i])
            for i, w in enumerate(each.sum(axis=0))
        ]

    def by_told_weeks(self) -> list[dict[str, Any]]:
        """The same by the 4-week period of the replay span they were told in."""
        each = np.stack([led.by_told for led in self.ledgers])  # [reality, period, ACC]
        step = TOLD_WEEKS
        return [
            _row(f"{i * step}-{i * step + step - 1}", w, None, each[:, i])
            for i, w in enumerate(each.sum(axis=0))
        ]

    def recalibration(self) -> dict[str, Any]:
        """Whether windows were told recalibrated, and the margins each reality's last
        replay used, by weeks ahead (the earliest day moved earlier, the latest later, by
        these shares of the days ahead; the closed windows behind them; a bucket with too
        few of its own: the days it borrowed, and from which bucket)."""
        out: dict[str, Any] = {"on": any(led.recalibrate for led in self.ledgers)}

        def lent(m: Margins, b: int) -> dict[str, Any]:
            if m.lent[b] < 0:
                return {}
            earlier, later = (round(float(x), 1) for x in m.days[b, :2])
            return {"borrowed_from": weeks_label(int(m.lent[b])), "days": [earlier, later]}

        out["margins"] = [
            [
                {
                    "weeks": weeks_label(b),
                    "earlier_share": round(float(m.lo[b]), 4),
                    "later_share": round(float(m.hi[b]), 4),
                    "outcomes": int(m.outcomes[b]),
                    "applied": bool(m.ready[b]),
                }
                | lent(m, b)
                for b in range(len(WEEK_BUCKETS))
            ]
            for led in self.ledgers
            if (m := led.margins) is not None
        ]
        return out

    def to_json(self) -> dict[str, Any]:
        p = self.pooled
        y, f, last = p.realized, p.first, p.last
        return {
            "scenario": self.scenario,
            "realities": list(self.realities),
            "seeds": list(self.seeds),
            "every_days": self.every_days,
            "span_days": self.span_days,
            "futures": self.futures,
            "replays": self.replays,
            "orders_scored": len(y),
            "first_promises_at_lock": int(p.at_lock.sum()),
            "nominal_coverage": NOMINAL,
            "coverage_p10_p90": rounded(coverage, y, f[:, 0], f[:, 2]),
            "stated_p10_p90": _stated(p.first_prob),
            "coverage_latest": rounded(coverage, y, last[:, 0], last[:, 2]),
            "on_time_first_promise": rounded(on_time, y, f[:, 1]),
            "on_time_latest_promise": rounded(on_time, y, last[:, 1]),
            "on_time_plan_date": rounded(on_time, y, p.plan),
            "mean_abs_error_days_first": rounded(mean_abs_error, y, f[:, 1], digits=2),
            "mean_abs_error_days_latest": rounded(mean_abs_error, y, last[:, 1], digits=2),
            "crps_days": _nanmean(p.crps, 2),
            "pit_histogram": [round(x, 4) for x in pit_histogram(p.pit[np.isfinite(p.pit)])],
            "churn_per_order": rounded(np.mean, p.churn, digits=3),
            "p95_lateness_days": rounded(p95_lateness, y, f[:, 1], digits=1),
            "by_weeks_ahead": self.by_weeks_ahead(),
            "by_told_weeks": self.by_told_weeks(),
            "recalibration": self.recalibration(),
            "per_reality": self.per_reality(),
            "verdict": self.verdict(),
        }

    def verdict(self) -> str:
        """What is wrong, or that nothing is, in one line: the first windows against the
        odds they stated, and the weeks-ahead bucket furthest from its own."""
        p = self.pooled
        if len(p.realized) == 0:
            return "nothing to judge: no order was both promised and delivered"
        return odds_verdict(p.realized, p.first, p.first_prob, self.by_weeks_ahead())


def odds_verdict(realized: I64, first: I64, prob: F64, by_weeks: Sequence[dict[str, Any]]) -> str:
    """The verdict line of first windows `first` (earliest, likely, latest; at least one)
    against the mean odds they stated (`prob`, NaN: none; the nominal odds when none
    did), and the weeks-ahead bucket (`_row`s) furthest from its own: of those with 1,000
    promises or more when there are some."""
    y, f = realized, first
    line = verdict(
        coverage(y, f[:, 0], f[:, 2]),
        float(np.mean(y < f[:, 0])),
        float(np.mean(y > f[:, 2])),
        _stated(prob) or NOMINAL,
    )
    rows = [r for r in by_weeks if r["promises"] and r["stated"] is not None]
    big = [r for r in rows if r["promises"] >= 1000] or rows
    if not big:
        return line
    worst = max(big, key=lambda r: abs(r["coverage"] - r["stated"]))
    se = worst.get("coverage_se")
    luck = "" if se is None else f", ± {se:.0%} across realities"
    return (
        f"{line}; furthest off: {worst['weeks']} weeks ahead, {worst['coverage']:.0%} "
        f"inside windows stating {worst['stated']:.0%} ({worst['promises']:,} promises{luck})"
    )


def _stated(prob: F64) -> float | None:
    """Mean probability the windows stated (those that state odds)."""
    ok = np.isfinite(prob)
    return round(float(prob[ok].mean()), 4) if ok.any() else None


def _nanmean(x: F64, digits: int) -> float | None:
    ok = np.isfinite(x)
    return round(float(x[ok].mean()), digits) if ok.any() else None


def blind_spots(planner: Scenario, orders: OrderBook | pl.DataFrame) -> list[str]:
    """What a replay's futures cannot know of and its reality holds, said before a
    backtest scores windows too sure of themselves: with no uncertainty every future is
    the plan; and no future knows of the book's orders still to lock that jump the queue
    (a smaller priority than an order locked before them and still waiting): they move
    its delivery in every reality. New orders an `inflow` law draws join the back of the
    queue, so they do not stand for these."""
    out = certainty_warnings(planner)
    t = (
        order_book(orders, planner)
        .table.filter(pl.col("status").is_in([s.value for s in QUEUED]))
        .sort("locked_at", "order_id")
    )
    waiting_max = pl.col("priority").cum_max().shift(1)  # of the orders locked before
    first = dt.datetime.combine(planner.now, dt.time())
    jumps = t.select(
        ((pl.col("locked_at") >= first) & (pl.col("priority") < waiting_max)).sum()
    ).item()
    if jumps:
        out.append(
            f"{jumps:,} orders of the book lock on or after {planner.now} with a smaller "
            "priority than an order locked before them and still waiting: no future of a "
            "replay knows they are coming (an `inflow` law draws new orders at the back "
            "of the queue), so the windows told before they lock come true less often "
            "than they say"
        )
    return out


def backtest(
    planner: Scenario,
    orders: OrderBook | pl.DataFrame,
    *,
    worlds: Sequence[tuple[str, Scenario]] = (),
    realities: int = 1,
    futures: int = 50,
    every_days: int = 7,
    span_days: int = 365,
    seed: int = 0,
    runner: Runner | None = None,
    chunks: int = 4,
    progress: Progress | None = None,
    recalibrate: bool = True,
) -> Backtest:
    """Replay `span_days` from the scenario's own day (`as_of`, else `start`) every
    `every_days` through `realities` realities (seeds seed, seed + 1, ...) of each world
    (default: the planner's own scenario) and score every promise made against what came.
    A reality is drawn as of that day, so a replay before it would offer the days in
    between, which the reality never used."""
    first = (planner.now - planner.start).days
    if not 1 <= span_days < planner.horizon_days - first:
        raise InvalidRequestError(
            f"span must be 1 to {planner.horizon_days - first - 1} days (the horizon from "
            f"{planner.now}), got {span_days}"
        )
    if not 1 <= every_days <= span_days:
        raise InvalidRequestError(
            f"every must be 1 to {span_days} days (no longer than the span), got {every_days}"
        )
    if not 1 <= realities <= 100:
        raise InvalidRequestError(f"realities must be 1 to 100, got {realities}")
    say = progress or (lambda _: None)
    kinds = list(worlds) or [("the scenario's own uncertainty", planner)]
    days = list(range(first, first + span_days, every_days))
    ledgers, delivered, realized, names, seeds, luck = [], [], [], [], [], []
    for name, world in kinds:
        check_world(planner, world)
        for r in range(realities):
            rs = seed + r
            say(f"drawing reality {rs} of {name}")
            reality = realize(world, orders, rs)
            index = pl.DataFrame(
                {"order_id": reality.book["order_id"], "g": np.arange(reality.book.height)}
            )
            ledger = _Ledger(
                reality.book.height, -(-span_days // (7 * TOLD_WEEKS)), days[0], recalibrate
            )
            teller = _Teller(futures, seed, runner, chunks)
            for k, day in enumerate(days):
                scenario, book = known_on(planner, reality, day)
                say(
                    f"reality {rs}: replay {k + 1}/{len(days)} "
                    f"(as of {scenario.now}, {book.height:,} orders known)"
                )
                if book.height:
                    mc_seed = int(np.random.SeedSequence([seed, r, k]).generate_state(1)[0])
                    sim = _replay_day(
                        ledger,
                        reality,
                        index,
                        scenario,
                        book,
                        day,
                        futures,
                        mc_seed,
                        runner,
                        chunks,
                    )
                    end = days[k + 1] if k + 1 < len(days) else first + span_days
                    teller.simulated(sim, mc_seed)
                    for d in range(day, end):
                        _told_at_lock(ledger, reality, planner, teller, d)
            ledgers.append(ledger)
            delivered.append(reality.delivered)
            luck.append(reality.luck)
            realized.append(reality.delivery)
            names.append(name)
            seeds.append(rs)
    return Backtest(
        planner.name,
        tuple(names),
        tuple(seeds),
        every_days,
        span_days,
        futures,
        len(days),
        tuple(ledgers),
        tuple(delivered),
        tuple(realized),
        tuple(luck),
    )
