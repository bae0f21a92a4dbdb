"""The promise window: the delivery dates a customer is told, and when a window moved.

Until Monte Carlo windows, a window runs from the planned delivery date to that date plus
3 days or 5 % of the wait, whichever is more. The rule is written once per shape: for one
order (`promise_window`) and for a whole plan (`plan_windows`); a test holds them equal.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from promiseline.core.arrays import F64, I64
from promiseline.core.futures.calibration import SPARE, shortest_runs
from promiseline.core.futures.recalibrate import Margins
from promiseline.core.futures.simulate import Simulation
from promiseline.core.model.window import (
    MONTE_CARLO,
    NEARBY,
    NOMINAL,
    PLAN,
    ModelWindow,
    Window,
    WindowChange,
)
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


_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "order_id": pl.String,
    "build_date": pl.Date,
    "earliest": pl.Date,
    "latest": pl.Date,
    "queue_position": pl.Int64,
    "likely": pl.Date,
    "source": pl.String,
    "probability": pl.Float64,
    "model": pl.Struct(dict.fromkeys(("earliest", "likely", "latest"), pl.Date)),
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
        model: Sequence[ModelWindow | None] | None = None,
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
            [None if m is None else m.to_dates() for m in model or [None] * len(order_id)],
        )
        return cls(
            pl.DataFrame(
                {n: pl.Series(v, dtype=t) for (n, t), v in zip(_SCHEMA.items(), cols, strict=True)}
            )
        )

    @classmethod
    def columns(cls, frame: pl.DataFrame) -> Promises:
        """From a table with the columns of `of`, in that order (types cast; the model's
        windows none when it has no column of them)."""
        names = list(_SCHEMA)[: frame.width]
        out = frame.rename(dict(zip(frame.columns, names, strict=True)))
        missing = (pl.lit(None).alias(n) for n in list(_SCHEMA)[frame.width :])
        return cls(out.with_columns(missing).cast(_SCHEMA))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self.frame.height

    def items(self) -> list[tuple[str, Window]]:
        return [(r[0], _window(r[1:])) for r in self.frame.iter_rows(named=False)]


def _window(r: Sequence[Any]) -> Window:
    """A window from a row of _SCHEMA's columns after the order id."""
    m = r[-1]
    model = ModelWindow(m["earliest"], m["likely"], m["latest"]) if m and m["earliest"] else None
    w = Window(*r[:-1])
    return replace(w, model=model) if model else w


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
            pl.lit(None).alias("model"),
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
        WindowChange(r[0], _window(r[1:k]), _window(r[k:]))
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
    """Monte Carlo windows of every planned order (`Simulation.orders`): the window
    `told_windows` gives, which the backtest scores (the shortest run of delivery days
    holding 80 % of its futures, the probability it holds, the median as the likely date,
    kept inside the window: an order most futures do not build in the horizon is told
    the days the others build it, its likely day the last)."""
    o = sim.orders().select(
        "window_earliest", "window_likely", "window_latest", "window_probability"
    )
    t = pl.concat([sim.base.table, o], how="horizontal").filter(
        (pl.col("status") == "planned") & pl.col("window_latest").is_not_null()
    )
    return Promises(
        t.select(
            "order_id",
            "build_date",
            pl.col("window_earliest").alias("earliest"),
            pl.col("window_latest").alias("latest"),
            "queue_position",
            pl.col("window_likely").alias("likely"),
            pl.lit(MONTE_CARLO).alias("source"),
            pl.col("window_probability").alias("probability"),
            pl.lit(None).alias("model"),
        ).cast(_SCHEMA)  # type: ignore[arg-type]
    )


def pooled_target(futures: int) -> float:
    """The share of a stretch's pooled offsets its window holds. The orders of a stretch
    share each future's luck (a ramp-up's slip moves them all), so however many orders
    are pooled the stretch is only as many draws as there are futures, and a shortest run
    holding NOMINAL of them holds less of the law (the demo as of its launch, the model's
    own law of 200 futures as the truth: windows told 13-38 weeks ahead held 79 % stating
    84-87 %). So the window holds the conformal rank of that many draws, plus SPARE, and
    states what it holds times futures / (futures + 1) (the rank's share of the law), or
    all when it holds every future's every order (as `honest_runs` does: the days every
    future agrees on)."""
    n = max(futures, 1)
    return min(1.0, (math.ceil(NOMINAL * (n + 1)) + SPARE) / n)


SPREAD_STRETCHES = 50  # the queue is cut into this many stretches per model and market
SPREAD_DAYS = 400  # offsets from the planned date pooled per stretch: -400 .. +400 days
BINS_PAD = 512  # room for a forecast's bins past the last offset


@dataclass(frozen=True, slots=True)
class QueueSpread:
    """How far the simulated delivery days lie from the planned date, per model, variant,
    market and stretch of the queue (variants differ in parts: a scarce part can hold one
    to a fixed date while the line makes the other's wait uncertain): a new order gets
    the window of the orders around its place at once, before the next simulation
    covers it. A stretch is found by how far ahead
    the planned delivery lies (a queue position would drift as the queue ahead is built
    between two simulations, and take a new order for one at the front)."""

    # (model, variant, market) -> (the last days ahead of each stretch, [stretch, (earliest, likely,
    # latest) in days from the planned date, and the probability that run holds])
    table: dict[tuple[str, str, str], tuple[list[int], list[tuple[int, int, int, float]]]]

    @classmethod
    def of(cls, sim: Simulation) -> QueueSpread:
        """Per model, market and stretch of the queue: the orders' simulated delivery days
        less their planned ones, pooled over the stretch (a mixture: a new order's offset
        is like one of theirs, not like their median), and the shortest run of offsets
        holding NOMINAL of it, its median and what it holds. A window of the median
        offsets was as narrow as one order's and held far less than it said."""
        plan = sim.base
        t = plan.table
        total = sim.totals.hist.sum(axis=1)
        rows = np.flatnonzero(
            (t["status"] == "planned").to_numpy()
            & t["delivery_date"].is_not_null().to_numpy()
            & (total > 0)
        )
        if not len(rows):
            return cls({})
        now = plan.scenario.now
        keys = t[pl.Series(rows)].select(
            "model",
            "variant",
            "market",
            (pl.col("delivery_date") - pl.lit(plan.scenario.start)).dt.total_days().alias("day"),
            (pl.col("delivery_date") - pl.lit(now)).dt.total_days().alias("ahead"),
        )
        keys = keys.with_columns(
            (
                pl.col("ahead").rank("ordinal").over("model", "variant", "market")
                * SPREAD_STRETCHES
                // (pl.len().over("model", "variant", "market") + 1)
            ).alias("stretch")
        )
        group = keys.select(pl.struct("model", "variant", "market", "stretch").rank("dense") - 1)
        gid = group.to_series().to_numpy().astype(np.int64)
        n_groups = int(gid.max()) + 1
        span = SPREAD_DAYS
        mix = np.zeros((n_groups, 2 * span + BINS_PAD))
        plan_day = keys["day"].to_numpy().astype(np.int64)
        for lo in range(0, len(rows), 50_000):
            part = slice(lo, lo + 50_000)
            fc = sim.forecast(rows[part])
            w = fc.weights / fc.weights.sum(axis=1, keepdims=True)
            w[:, -1] = 0.0  # not built in the horizon: no day (it counts against the window)
            shift = np.clip(fc.base - plan_day[part] + fc.offsets[0] + span, 0, 2 * span)
            g = gid[part]
            order = np.lexsort((shift, g))
            pair = np.stack([g[order], shift[order]], axis=1)
            cut = np.flatnonzero(np.any(np.diff(pair, axis=0) != 0, axis=1)) + 1
            sums = np.add.reduceat(w[order], np.concatenate([[0], cut]), axis=0)
            for (gg, sh), row in zip(pair[np.concatenate([[0], cut])], sums, strict=True):
                mix[gg, sh : sh + w.shape[1]] += row
        counts = np.bincount(gid, minlength=n_groups).astype(np.float64)
        mix /= counts[:, None]
        offs = np.arange(mix.shape[1], dtype=np.int64) - span
        lo_i, hi_i, mass = shortest_runs(mix, offs, pooled_target(sim.futures))
        mass = np.where(mass > 1 - 1e-9, 1.0, mass * sim.futures / (sim.futures + 1))
        cum = np.cumsum(mix, axis=1)
        mid_i = np.argmax(cum >= 0.5 * cum[:, -1:] - 1e-12, axis=1)
        upto = np.full(n_groups, np.iinfo(np.int64).min)
        np.maximum.at(upto, gid, keys["ahead"].to_numpy().astype(np.int64))
        first = np.unique(gid, return_index=True)[1]
        names = keys[pl.Series(first)].select("model", "variant", "market", "stretch").rows()
        table: dict[tuple[str, str, str], tuple[list[int], list[tuple[int, int, int, float]]]]
        table = {}
        for i in sorted(range(n_groups), key=lambda i: names[i]):
            m, v, k, _ = names[i]
            ups, spread = table.setdefault((m, v, k), ([], []))
            ups.append(int(upto[i]))
            spread.append(
                (int(offs[lo_i[i]]), int(offs[mid_i[i]]), int(offs[hi_i[i]]), float(mass[i]))
            )
        return cls(table)

    def window(
        self,
        model: str,
        variant: str,
        market: str,
        build: dt.date | None,
        delivery: dt.date | None,
        queue_position: int | None,
        today: dt.date,
    ) -> Window | None:
        """The window of a new order planned today for `delivery`, or None when nothing
        alike was simulated: its neighbours' (source NEARBY), with the odds theirs hold."""
        entry = self.table.get((model, variant, market))
        if entry is None or delivery is None:
            return None
        ups, offs = entry
        ahead = (delivery - today).days
        i = min(int(np.searchsorted(ups, ahead)), len(ups) - 1)
        lo, mid, hi, odds = offs[i]
        if ahead > ups[-1] > 0:  # past every simulated order (the queue grew since)
            lo, mid, hi = _beyond(ups, offs, ahead)
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

    def to_json(self) -> dict[str, Any]:
        return {
            "by": "variant_days_ahead",
            "table": [[m, v, k, ups, offs] for (m, v, k), (ups, offs) in self.table.items()],
        }

    @classmethod
    def from_json(cls, data: Any) -> QueueSpread:
        """From `to_json`; a spread stored in an older shape is not read: the plan's
        stand-in serves until the next simulation stores one."""
        if not isinstance(data, dict) or data.get("by") != "variant_days_ahead":
            return cls({})
        return cls(
            {
                (m, v, k): (list(ups), [(o[0], o[1], o[2], o[3]) for o in offs])
                for m, v, k, ups, offs in data["table"]
            }
        )


TAIL_STRETCHES = 10  # the last stretches of the queue whose trend a new order continues
STEP_DAYS = 7  # neighbouring stretches whose offsets differ by more (and by more than their
# days ahead do) stand either side of a step, not on a trend


def _beyond(
    ups: list[int], offs: list[tuple[int, int, int, float]], ahead: int
) -> tuple[int, int, int]:
    """Offsets for an order planned `ahead` days out, past the last simulated stretch:
    each of earliest, likely and latest continues the trend of the queue's last
    stretches (at the back of a long queue that cancels, the futures run further ahead
    of the plan the further back, faster than in proportion: scaled in proportion, the
    windows told at lock fell late), and the window is at least as wide as the last
    stretch's scaled in proportion (what may go differently grows with the days ahead).

    A step among those stretches (a supply step or a shutdown that the plan and the
    futures cross at different times: on the demo's launch day the YU7 Max orders just
    before February 2026 came 13 days after the plan, those just after 70) is no trend:
    continued, it told windows half a year late and as wide. Then the window spans every
    one of their windows, scaled in proportion, around their median likely offset."""
    k = ahead / ups[-1]
    lo, mid, hi, _ = offs[-1]
    wide = (hi - lo) * k
    x = np.array(ups[-TAIL_STRETCHES:], dtype=np.float64)
    y = np.array([o[:3] for o in offs[-TAIL_STRETCHES:]], dtype=np.float64)
    step = np.abs(np.diff(y, axis=0)).max(axis=1, initial=0) > np.maximum(np.diff(x), STEP_DAYS)
    if step.any():
        lo_, mid_, hi_ = y[:, 0].min() * k, float(np.median(y[:, 1])) * k, y[:, 2].max() * k
    elif len(x) >= 3 and np.ptp(x) > 0:
        slope = np.polyfit(x, y, 1)[0]
        lo_, mid_, hi_ = np.array([lo, mid, hi]) + slope * (ahead - ups[-1])
    else:
        lo_, mid_, hi_ = lo * k, mid * k, hi * k
    grow = max(0.0, wide - (hi_ - lo_)) / 2
    return math.floor(min(lo_, mid_) - grow), round(mid_), math.ceil(max(hi_, mid_) + grow)


def new_order_window(
    spread: QueueSpread | None,
    model: str,
    variant: str,
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
    (built the day it is locked): then the stand-in. A window of one day is what the
    orders around it were told, with the odds theirs held."""
    plan = promise_window(build, delivery, locked, queue_position)
    if spread is None or plan is None or build is None or delivery is None:
        return plan
    w = spread.window(model, variant, market, build, delivery, queue_position, locked)
    if w is None or w.earliest is None or w.latest is None:
        return plan
    soonest = locked + (delivery - build)
    if w.earliest < soonest or w.latest < w.earliest:
        return plan
    return w


EPOCH = dt.date(1970, 1, 1)  # polars' day numbers count from it


def _retold(
    margins: Margins, today: dt.date, q: I64, prob: F64, of_model: npt.NDArray[np.bool_]
) -> tuple[I64, F64, npt.NDArray[np.bool_]]:
    """Windows (earliest, likely, latest day numbers) with odds `prob` as told `today`
    recalibrated (`Margins.apply`), and which moved: only the model's (`of_model`)."""
    out, odds = margins.apply((today - EPOCH).days, q, prob)
    return out, odds, of_model & ((out != q).any(axis=1) | (odds != prob))


def recalibrated(windows: Promises, margins: Margins | None, today: dt.date) -> Promises:
    """The model's windows as told `today`, recalibrated by outcomes (`Margins.apply`):
    each one moved keeps the model's own beside it (what the next margins learn from).
    A plan stand-in is not the model's: as it is."""
    f = windows.frame
    if margins is None or not margins.ready.any() or not f.height:
        return windows
    dates = ("earliest", "likely", "latest")
    q = f.select(pl.col(c).cast(pl.Int64).fill_null(0) for c in dates).to_numpy()
    prob = f["probability"].fill_null(np.nan).to_numpy()
    of_model = (f["source"].fill_null(PLAN) != PLAN) & f["earliest"].is_not_null()
    out, odds, moved = _retold(margins, today, q, prob, of_model.to_numpy())
    if not moved.any():
        return windows
    on = pl.Series(moved)
    new = {c: pl.Series(out[:, i]).cast(pl.Date) for i, c in enumerate(dates)}
    return Promises(
        f.with_columns(
            *(pl.when(on).then(new[c]).otherwise(pl.col(c)).alias(c) for c in dates),
            pl.when(on).then(pl.Series(odds)).otherwise(pl.col("probability")).alias("probability"),
            pl.when(on).then(pl.struct(*dates)).otherwise(pl.col("model")).alias("model"),
        )
    )


def recalibrated_window(w: Window | None, margins: Margins | None, today: dt.date) -> Window | None:
    """One window (an order just taken) as `recalibrated` tells it: in plain arrays, as
    intake runs it for every order."""
    if w is None or margins is None or w.source == PLAN:
        return w
    if w.earliest is None or w.likely is None or w.latest is None:
        return w
    model = ModelWindow(w.earliest, w.likely, w.latest)
    q = np.array([[(d - EPOCH).days for d in (w.earliest, w.likely, w.latest)]], dtype=np.int64)
    prob = np.array([np.nan if w.probability is None else w.probability])
    out, odds, moved = _retold(margins, today, q, prob, np.ones(1, dtype=bool))
    if not moved[0]:
        return w
    e, likely, la = (EPOCH + dt.timedelta(days=int(x)) for x in out[0])
    return replace(w, earliest=e, likely=likely, latest=la, probability=float(odds[0]), model=model)
