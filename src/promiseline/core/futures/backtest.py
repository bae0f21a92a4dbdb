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
    WINDOW,
    coverage,
    crps,
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
from promiseline.core.futures.promises import window_moved
from promiseline.core.futures.simulate import MAX_FUTURES, Runner, one_future, prepare, simulate
from promiseline.core.model.lifecycle import Status
from promiseline.core.model.orders import BOOK_COLUMNS, OrderBook, order_book
from promiseline.core.model.scenario import RampSlip, Scenario, Shutdown, Spread, Uncertainty
from promiseline.core.model.window import NOMINAL
from promiseline.core.planning.plan import ACTIVE, FROZEN, sailing_ids
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
    ramp_start: dict[str, dt.date]  # line -> the day its ramp-up really started
    parts_of: dict[tuple[str, str], dict[str, int]]  # (model, variant) -> parts
    delivered: npt.NDArray[np.bool_]  # delivered in the horizon, never cancelled


def realize(world: Scenario, orders: OrderBook | pl.DataFrame, seed: int) -> Reality:
    """Draw one reality of the world: capacity, cancellations and new orders, then place
    every order in it by the planning rule."""
    base = plan(world, order_book(orders, world))
    prep = prepare(base, world.uncertainty or Uncertainty(), seed)
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
        ramp_start,
        parts_of,
        (delivery >= 0) & (cancel_on >= days),
    )


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
    u = u.model_copy(update={"line_ramp_slip": slips})
    calendar = planner.calendar
    if planner.frozen_days:
        closed = Shutdown(
            name="frozen-zone", from_=now, to=now + dt.timedelta(days=planner.frozen_days - 1)
        )
        calendar = calendar.model_copy(update={"shutdowns": (*calendar.shutdowns, closed)})
    scenario = planner.model_copy(
        update={"plants": tuple(plants), "uncertainty": u, "as_of": now, "calendar": calendar}
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


def check_world(planner: Scenario, world: Scenario) -> None:
    """A reality may differ in anything but the names the replays carry over."""
    for what, a, b in (
        ("lines", [ln.name for _, ln in planner.lines], [ln.name for _, ln in world.lines]),
        ("parts", [p.name for p in planner.parts], [p.name for p in world.parts]),
        ("start", [planner.start], [world.start]),
    ):
        if a != b:
            raise InvalidRequestError(f"reality: its {what} must be the scenario's ({a}), got {b}")


@dataclass(slots=True)
class _Ledger:
    """Promises of one reality's orders as the replays make them (global order index)."""

    n: int
    first_day: I64 = field(init=False)
    first: I64 = field(init=False)  # (n, 3) P10, P50, P90 delivery days
    first_plan: I64 = field(init=False)  # the deterministic plan's date then
    first_crps: F64 = field(init=False)
    first_pit: F64 = field(init=False)
    last: I64 = field(init=False)
    told: I64 = field(init=False)  # the window last told: moves only past the hysteresis
    churn: I64 = field(init=False)
    weeks: F64 = field(init=False)  # [bucket, (promises, inside, on time, abs error, crps)]

    def __post_init__(self) -> None:
        self.first_day = np.full(self.n, -1, dtype=np.int64)
        self.first = np.zeros((self.n, 3), dtype=np.int64)
        self.first_plan = np.zeros(self.n, dtype=np.int64)
        self.first_crps = np.zeros(self.n)
        self.first_pit = np.zeros(self.n)
        self.last = np.zeros((self.n, 3), dtype=np.int64)
        self.told = np.zeros((self.n, 3), dtype=np.int64)
        self.churn = np.zeros(self.n, dtype=np.int64)
        self.weeks = np.zeros((len(WEEK_BUCKETS), 5))


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
) -> None:
    """Plan and simulate what is known on `day`; record and score every promise."""
    sim = simulate(scenario, book, futures=futures, seed=seed, runner=runner, chunks=chunks)
    t = sim.base.table
    queued = (sim.base.group == FROZEN) | (sim.base.group == ACTIVE)  # history is told nothing
    rows = np.flatnonzero(
        queued & (sim.base.placement.line >= 0) & (sim.totals.hist.sum(axis=1) > 0)
    ).astype(np.int64)
    g_all = t.select("order_id").join(index, on="order_id", how="left")["g"].to_numpy()
    plan_day = (
        t.select((pl.col("delivery_date") - pl.lit(reality.world.start)).dt.total_days())
        .to_series()
        .fill_null(-1)
        .to_numpy()
    )
    rng = np.random.default_rng([seed, day])
    for lo in range(0, len(rows), 50_000):
        r = rows[lo : lo + 50_000]
        fc = sim.forecast(r)
        q = fc.quantiles(WINDOW)  # days since the world's start (the replay's own)
        g = g_all[r]
        y = reality.delivery[g]
        scored = reality.delivered[g]
        new = ledger.first_day[g] < 0
        # churn: a window that moved past the hysteresis is an eta_changed message
        told = ledger.told[g]
        moved = ~new & window_moved(told, q)
        ledger.churn[g[moved]] += 1
        ledger.told[g[new | moved]] = q[new | moved]
        ledger.last[g] = q
        # scores, as the promise is made (it never saw y: it is only scored with it)
        s = np.flatnonzero(scored)
        c = crps(fc.rows(s), y[s])
        weeks = (y[s] - day) // 7
        b = weeks_bucket(weeks)
        acc = np.stack(
            [
                np.ones(len(s)),
                ((y[s] >= q[s, 0]) & (y[s] <= q[s, 2])).astype(np.float64),
                (y[s] <= q[s, 1]).astype(np.float64),
                np.abs(y[s] - q[s, 1]).astype(np.float64),
                c,
            ],
            axis=1,
        )
        np.add.at(ledger.weeks, b, acc)
        first = np.flatnonzero(new)
        fg = g[first]
        ledger.first_day[fg] = day
        ledger.first[fg] = q[first]
        ledger.first_plan[fg] = plan_day[r[first]]
        both = new[s]  # scored rows promised for the first time
        sb = s[both]
        ledger.first_crps[g[sb]] = c[both]
        ledger.first_pit[g[sb]] = randomized_pit(fc.rows(sb), y[sb], rng)


@dataclass(frozen=True, slots=True)
class _Scored:
    """Every order scored, all realities pooled: promised once at least, delivered."""

    realized: I64
    first: I64  # (n, 3) the first window promised
    last: I64  # (n, 3) the last before delivery
    plan: I64  # the deterministic plan's date at the first promise
    crps: F64
    pit: F64
    churn: I64


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

    def _scored(self, i: int) -> _Scored:
        led, y = self.ledgers[i], self.realized[i]
        m = self.delivered[i] & (led.first_day >= 0)
        return _Scored(
            y[m],
            led.first[m],
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
                    "on_time_first_promise": rounded(on_time, p.realized, p.first[:, 1]),
                }
            )
        return out

    def to_json(self) -> dict[str, Any]:
        p = self.pooled
        y, f, last = p.realized, p.first, p.last
        weeks = np.sum([led.weeks for led in self.ledgers], axis=0)
        return {
            "scenario": self.scenario,
            "realities": list(self.realities),
            "seeds": list(self.seeds),
            "every_days": self.every_days,
            "span_days": self.span_days,
            "futures": self.futures,
            "replays": self.replays,
            "orders_scored": len(y),
            "nominal_coverage": NOMINAL,
            "coverage_p10_p90": rounded(coverage, y, f[:, 0], f[:, 2]),
            "coverage_latest": rounded(coverage, y, last[:, 0], last[:, 2]),
            "on_time_first_promise": rounded(on_time, y, f[:, 1]),
            "on_time_latest_promise": rounded(on_time, y, last[:, 1]),
            "on_time_plan_date": rounded(on_time, y, p.plan),
            "mean_abs_error_days_first": rounded(mean_abs_error, y, f[:, 1], digits=2),
            "mean_abs_error_days_latest": rounded(mean_abs_error, y, last[:, 1], digits=2),
            "crps_days": rounded(np.mean, p.crps, digits=2),
            "pit_histogram": [round(x, 4) for x in pit_histogram(p.pit)],
            "churn_per_order": rounded(np.mean, p.churn, digits=3),
            "p95_lateness_days": rounded(p95_lateness, y, f[:, 1], digits=1),
            "by_weeks_ahead": [
                {
                    "weeks": weeks_label(i),
                    "promises": int(w[0]),
                    "coverage_p10_p90": round(w[1] / w[0], 4) if w[0] else None,
                    "on_time": round(w[2] / w[0], 4) if w[0] else None,
                    "mean_abs_error_days": round(w[3] / w[0], 2) if w[0] else None,
                    "crps_days": round(w[4] / w[0], 3) if w[0] else None,
                }
                for i, w in enumerate(weeks)
            ],
            "per_reality": self.per_reality(),
            "verdict": self.verdict(),
        }

    def verdict(self) -> str:
        """What is wrong, or that nothing is, in one line."""
        y, f = self.pooled.realized, self.pooled.first
        if len(y) == 0:
            return "nothing to judge: no order was both promised and delivered"
        return verdict(
            coverage(y, f[:, 0], f[:, 2]),
            float(np.mean(y < f[:, 0])),
            float(np.mean(y > f[:, 2])),
        )


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
) -> Backtest:
    """Replay `span_days` from the scenario's own day (`as_of`, else `start`) every
    `every_days` through `realities` realities (seeds seed, seed + 1, ...) of each world
    (default: the planner's own scenario) and score every promise made against what came.
    A reality is drawn as of that day, so a replay before it would offer the days in
    between, which the reality never used."""
    first = (planner.now - planner.start).days
    if not 1 <= every_days <= span_days:
        raise InvalidRequestError(f"every must be 1 to {span_days} days, got {every_days}")
    if not 1 <= span_days < planner.horizon_days - first:
        raise InvalidRequestError(
            f"span must be 1 to {planner.horizon_days - first - 1} days (the horizon from "
            f"{planner.now}), got {span_days}"
        )
    if not 1 <= realities <= 100:
        raise InvalidRequestError(f"realities must be 1 to 100, got {realities}")
    say = progress or (lambda _: None)
    kinds = list(worlds) or [("the scenario's own uncertainty", planner)]
    days = list(range(first, first + span_days, every_days))
    ledgers, delivered, realized, names, seeds = [], [], [], [], []
    for name, world in kinds:
        check_world(planner, world)
        for r in range(realities):
            rs = seed + r
            say(f"drawing reality {rs} of {name}")
            reality = realize(world, orders, rs)
            index = pl.DataFrame(
                {"order_id": reality.book["order_id"], "g": np.arange(reality.book.height)}
            )
            ledger = _Ledger(reality.book.height)
            for k, day in enumerate(days):
                scenario, book = known_on(planner, reality, day)
                say(
                    f"reality {rs}: replay {k + 1}/{len(days)} "
                    f"(as of {scenario.now}, {book.height:,} orders known)"
                )
                if book.height:
                    mc_seed = int(np.random.SeedSequence([seed, r, k]).generate_state(1)[0])
                    _replay_day(
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
            ledgers.append(ledger)
            delivered.append(reality.delivered)
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
    )
