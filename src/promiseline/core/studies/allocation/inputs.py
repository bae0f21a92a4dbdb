"""What the allocation MIP is given: months, markets, models, sailing seats, quotas,
gates, line slots and parts in calendar-month buckets, from the scenario and the book."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from promiseline.core.arrays import F64, I64
from promiseline.core.model.lifecycle import QUEUED
from promiseline.core.model.orders import OrderBook, order_book
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.capacity import Capacity, capacity
from promiseline.core.planning.sea import month_index
from promiseline.errors import AllocationError


def month_key(start: dt.date, b: int) -> str:
    """'YYYY-MM' of the b-th calendar month counted from the start's month."""
    y, mo = divmod(start.month - 1 + b, 12)
    return f"{start.year + y:04d}-{mo + 1:02d}"


def _month_first(start: dt.date, b: int) -> dt.date:
    return dt.date.fromisoformat(month_key(start, b) + "-01")


@dataclass(frozen=True, slots=True)
class Inputs:
    """The MIP's data. Buckets b are calendar months from the start's month (as
    `Sea.sail_month`); export is decided in the window buckets w0 .. B - 1 only."""

    scenario: Scenario
    months: tuple[str, ...]  # 'YYYY-MM' per bucket
    last_day: I64  # [b] day index of the bucket's last day inside the horizon
    w0: int  # first window bucket
    markets: tuple[str, ...]  # export markets K
    market_ix: tuple[int, ...]  # their index in scenario.markets
    models: tuple[str, ...]  # J
    lines: tuple[str, ...]  # L
    margin: F64  # [k, j] price - cost - logistics - tariff x price
    sail_cap: I64  # [b, k] capacity of k's sailings departing in b
    reach: I64  # [b, k, j] of those, the seats a car of j can take (build_ahead_days)
    quota: F64  # [b, k] the scenario's cap (inf: none)
    open: npt.NDArray[np.bool_]  # [b, k, j] gate and opens allow delivery
    export_locked: I64  # [b, k, j] export orders locked by the end of b (cumulative)
    slots: I64  # [b, l]
    builds: npt.NDArray[np.bool_]  # [l, j]
    use: F64  # [j, p] parts per car, the book's variant mix of model j
    parts: tuple[str, ...]
    on_hand: I64  # [b, p] cumulative supply through the bucket's last day
    dom_locked: I64  # [b, j] domestic orders locked by the end of b (cumulative)
    dom_due: tuple[I64, ...]  # per model: sorted (lock day - lead days) of domestic orders
    sailing_months: tuple[frozenset[int], ...]  # per k: months (from start) with sailings

    @property
    def n(self) -> tuple[int, int, int, int, int]:
        return (
            len(self.months),
            len(self.markets),
            len(self.models),
            len(self.lines),
            len(self.parts),
        )

    def need(self, w_lp: int) -> I64:
        """[b, j] domestic orders that must be built by the end of b: build-by day
        (lock + w_lp - lead) on or before its last day; overdue ones count in bucket 0."""
        out = np.zeros((len(self.months), len(self.models)), dtype=np.int64)
        for j, due in enumerate(self.dom_due):
            if self.builds[:, j].any():  # the planner cannot build the others at all
                out[:, j] = np.searchsorted(due + w_lp, self.last_day, side="right")
        return out

    def w_free(self) -> int:
        """The smallest w_lp at which no domestic order is due inside the buckets."""
        lows = [int(d[0]) for d in self.dom_due if len(d)]
        return max(0, int(self.last_day[-1]) - min(lows) + 1) if lows else 0


def _window(s: Scenario, cap: Capacity, months: tuple[dt.date, dt.date] | None) -> tuple[int, int]:
    """First and last bucket of the window, inside the horizon and from the plan's day on
    (nothing is allocated to a month already gone)."""
    last_in_horizon = month_index(s.end - dt.timedelta(days=1), s.start)
    now = month_index(s.now, s.start)
    if months is None:
        ahead = cap.sea.sail_day[cap.sea.sail_day >= (s.now - s.start).days]
        if not len(ahead):
            raise AllocationError(
                f"no export sailing departs from {s.now} (the plan's day) to {s.end}: "
                "nothing to allocate"
            )
        first = int(ahead.min())
        a = month_index(s.start + dt.timedelta(days=first), s.start)
        b = a + 11
    else:
        a, b = month_index(months[0], s.start), month_index(months[1], s.start)
        if b < a:
            raise AllocationError(f"months: {months[1]:%Y-%m} is before {months[0]:%Y-%m}")
        if a < now:
            raise AllocationError(
                f"months: {months[0]:%Y-%m} is before the plan's day ({s.now}); allocate from "
                f"{s.now:%Y-%m} on"
            )
    lo, hi = max(a, 0), min(b, last_in_horizon)
    if hi < lo:
        raise AllocationError(
            f"months: {month_key(s.start, a)}..{month_key(s.start, b)} is outside the horizon "
            f"({month_key(s.start, 0)}..{month_key(s.start, last_in_horizon)})"
        )
    return lo, hi


def _bucket_days(s: Scenario, n: int) -> tuple[I64, I64]:
    today = (s.now - s.start).days  # days before the plan's day are gone
    first = np.array([max(today, (_month_first(s.start, b) - s.start).days) for b in range(n)])
    last = np.array(
        [
            min(s.horizon_days - 1, (_month_first(s.start, b + 1) - s.start).days - 1)
            for b in range(n)
        ]
    )
    return first.astype(np.int64), last.astype(np.int64)


def queued(s: Scenario, book: OrderBook) -> pl.DataFrame:
    """Queued orders (locked, scheduled) with their lock day (clipped to the start)."""
    return book.table.filter(pl.col("status").is_in([q.value for q in QUEUED])).select(
        "model",
        "variant",
        "market",
        (pl.col("locked_at").dt.date() - pl.lit(s.start))
        .dt.total_days()
        .clip(lower_bound=0)
        .cast(pl.Int64)
        .alias("lock"),
    )


def _use(s: Scenario, q: pl.DataFrame, parts: tuple[str, ...]) -> F64:
    """[j, p]: parts per car of each model, over its variants weighted by the book."""
    counts = {(m, v): n for m, v, n in q.group_by("model", "variant").len().iter_rows()}
    out = np.zeros((len(s.products), len(parts)))
    for j, prod in enumerate(s.products):
        w = np.array([counts.get((prod.model, v.name), 0) for v in prod.variants], dtype=float)
        w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))
        for wv, v in zip(w, prod.variants, strict=True):
            for p, part in enumerate(parts):
                out[j, p] += wv * v.parts.get(part, 0)
    return out


def _opens(s: Scenario, cap: Capacity, last: I64, mix: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    """[b, k, j]: a car departing on the bucket's last day, on the quickest lane sailing
    that month (transit + last mile), is delivered no earlier than the market opens and
    than the model's gate without a variant."""
    sea = cap.sea
    out = np.zeros((len(last), len(mix), len(s.products)), dtype=bool)
    for k, mi in enumerate(mix):
        mk = s.markets[mi]
        lanes = range(sea.market_lane_ptr[mi], sea.market_lane_ptr[mi + 1])
        legs = {ln: int(sea.transit[ln] + sea.last_mile[ln]) for ln in lanes}
        for b, day in enumerate(last.tolist()):
            sailing = [
                ln
                for ln in lanes
                if np.any(sea.sail_month[sea.sail_ptr[ln] : sea.sail_ptr[ln + 1]] == b)
            ]
            arrive = day + min(legs[ln] for ln in (sailing or list(lanes)))
            for j, prod in enumerate(s.products):
                gates = [g.from_ for g in mk.gates if g.model == prod.model and g.variant is None]
                holds = [d for d in (mk.opens, max(gates, default=None)) if d is not None]
                out[b, k, j] = all(arrive >= (d - s.start).days for d in holds)
    return out


def inputs(
    scenario: Scenario,
    orders: OrderBook | pl.DataFrame,
    months: tuple[dt.date, dt.date] | None = None,
) -> Inputs:
    """The MIP's data from the scenario's capacity and the book's queued orders."""
    s = scenario
    book = order_book(orders, s)
    cap = capacity(s)
    mix = tuple(i for i, m in enumerate(s.markets) if m.export)
    if not mix:
        raise AllocationError("the scenario has no export market (a market with 'lanes')")
    w0, w1 = _window(s, cap, months)
    n_b = w1 + 1
    first, last = _bucket_days(s, n_b)
    models = tuple(p.model for p in s.products)
    sea = cap.sea
    sail_cap = np.zeros((n_b, len(mix)), dtype=np.int64)
    sailing_months: list[set[int]] = [set() for _ in mix]
    kpos = {mi: k for k, mi in enumerate(mix)}
    lane = sea.sail_lane
    for i in range(len(sea.sail_day)):
        k = kpos[int(sea.lane_market[lane[i]])]
        mo = int(sea.sail_month[i])
        sailing_months[k].add(mo)
        if mo < n_b:
            sail_cap[mo, k] += int(sea.sail_cap[i])
    floor = [[s.markets[mi].build_floor(m, None) for m in models] for mi in mix]  # gates of a model
    reach = np.zeros((n_b, len(mix), len(models)), dtype=np.int64)
    for i in range(len(sea.sail_day)):
        k, mo = kpos[int(sea.lane_market[lane[i]])], int(sea.sail_month[i])
        port = int(sea.sail_day[i]) - int(sea.inland[lane[i]])  # built by then to sail
        for j, f in enumerate(floor[k]):
            if mo < n_b and (f is None or port >= (f - s.start).days):
                reach[mo, k, j] += int(sea.sail_cap[i])
    quota = np.full((n_b, len(mix)), np.inf)
    for k, mi in enumerate(mix):
        qt = s.markets[mi].quota
        for b in range(n_b):
            c = qt.cap(*map(int, month_key(s.start, b).split("-"))) if qt else None
            if c is not None:
                quota[b, k] = c
    mk = [s.markets[mi] for mi in mix]
    margin = np.array(
        [[m.price - p.cost - m.logistics_cost - m.tariff * m.price for p in s.products] for m in mk]
    ).reshape(len(mix), len(models))
    q = queued(s, book)
    bucket = np.searchsorted(last, q["lock"].to_numpy(), side="left")
    mname = {m.name: k for k, m in enumerate(mk)}
    jname = {m: j for j, m in enumerate(models)}
    exp_new = np.zeros((n_b + 1, len(mix), len(models)), dtype=np.int64)
    road = {m.name: m.lead_days for m in s.markets if m.lead_days is not None}
    dom_new = np.zeros((n_b + 1, len(models)), dtype=np.int64)
    due: list[list[int]] = [[] for _ in models]
    for (model, market, lock), bk in zip(
        q.select("model", "market", "lock").iter_rows(), bucket.tolist(), strict=True
    ):
        j = jname[model]
        if market in mname:
            exp_new[bk, mname[market], j] += 1
        else:
            dom_new[bk, j] += 1
            due[j].append(lock - int(road[market]))
    within = cap.slots[:, : int(last[-1]) + 1].astype(np.int64)
    slots = np.add.reduceat(within, first, axis=1).T
    parts = cap.part_names
    on_hand = (
        cap.on_hand[:, last].T.astype(np.int64) if parts else np.zeros((n_b, 0), dtype=np.int64)
    )
    return Inputs(
        scenario=s,
        months=tuple(month_key(s.start, b) for b in range(n_b)),
        last_day=last,
        w0=w0,
        markets=tuple(m.name for m in mk),
        market_ix=mix,
        models=models,
        lines=cap.line_names,
        margin=margin,
        sail_cap=sail_cap,
        reach=reach,
        quota=quota,
        open=_opens(s, cap, last, mix),
        export_locked=np.cumsum(exp_new[:n_b], axis=0),
        slots=slots,
        builds=np.array([[m in lm for m in models] for lm in cap.line_models], dtype=bool).reshape(
            len(cap.line_names), len(models)
        ),
        use=_use(s, q, parts),
        parts=parts,
        on_hand=on_hand,
        dom_locked=np.cumsum(dom_new[:n_b], axis=0),
        dom_due=tuple(np.sort(np.asarray(d, dtype=np.int64)) for d in due),
        sailing_months=tuple(frozenset(x) for x in sailing_months),
    )
