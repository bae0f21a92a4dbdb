"""Export allocation: how many cars each export market gets per month, by margin, with
the domestic wait kept to a target, checked by the planner (SCENARIO.md, "Export markets").

1. A MIP (HiGHS) on calendar-month buckets, from the scenario's start month through the
   last month of the window: integer x[m, k, j] cars of model j departing to export
   market k in window month m, margin maximized, within sailing capacity, quota, gates,
   export orders locked, line slots, cumulative part supply and a domestic-service rule
   (every domestic order built by lock + w_lp - lead days, nothing built before its
   lock). Export cars are taken as built in the month they depart.
2. The quotas (x summed over models) become `quota.months` of each market (0 in the
   horizon's other months, so the plan ships exactly the allocation) and the planner
   checks the domestic P90. The service rule is a conservative stand-in for a P90, so
   w_lp is searched (bisection, a few planner runs) for the largest that the planner
   shows keeps the domestic P90 within the target.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from promiseline.core.model.lifecycle import QUEUED
from promiseline.core.model.orders import OrderBook, order_book
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.capacity import Capacity, capacity
from promiseline.core.planning.plan import Plan
from promiseline.core.planning.planner import plan
from promiseline.core.planning.sea import month_index
from promiseline.core.studies.sizing import quiet_highs
from promiseline.errors import AllocationError

__all__ = [
    "Allocation",
    "Inputs",
    "Solved",
    "allocate",
    "inputs",
    "month_key",
    "solve",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Progress = Callable[[str], None]
MAX_RUNS = 8  # planner runs of the w_lp search
TOL = 1e-6
EARLY = 1e-3  # per car: among equal margins, the earlier departure


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
    """First and last bucket of the window, inside the horizon."""
    last_in_horizon = month_index(s.end - dt.timedelta(days=1), s.start)
    if months is None:
        if not len(cap.sea.sail_day):
            raise AllocationError(
                f"no export sailing departs in the horizon ({s.start} to {s.end}): "
                "nothing to allocate"
            )
        first = int(cap.sea.sail_day.min())
        a = month_index(s.start + dt.timedelta(days=first), s.start)
        b = a + 11
    else:
        a, b = month_index(months[0], s.start), month_index(months[1], s.start)
        if b < a:
            raise AllocationError(f"months: {months[1]:%Y-%m} is before {months[0]:%Y-%m}")
    lo, hi = max(a, 0), min(b, last_in_horizon)
    if hi < lo:
        raise AllocationError(
            f"months: {month_key(s.start, a)}..{month_key(s.start, b)} is outside the horizon "
            f"({month_key(s.start, 0)}..{month_key(s.start, last_in_horizon)})"
        )
    return lo, hi


def _bucket_days(s: Scenario, n: int) -> tuple[I64, I64]:
    first = np.array([max(0, (_month_first(s.start, b) - s.start).days) for b in range(n)])
    last = np.array(
        [
            min(s.horizon_days - 1, (_month_first(s.start, b + 1) - s.start).days - 1)
            for b in range(n)
        ]
    )
    return first.astype(np.int64), last.astype(np.int64)


def _queued(s: Scenario, book: OrderBook) -> pl.DataFrame:
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
    q = _queued(s, book)
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


@dataclass(frozen=True, slots=True)
class Solved:
    """A MIP solution: cars per bucket, market and model; domestic builds; line flows."""

    w_lp: int | None  # None: without the domestic-service rows
    x: I64  # [b, k, j]
    dom: F64  # [b, j]
    z: F64  # [b, l, j]
    slack: F64  # [b, j] service shortfall (slack solves only)
    margin: float
    seconds: float


class _Model:
    """Columns and rows for HiGHS, built as lists (the model is small: months x ...)."""

    def __init__(self) -> None:
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.cost: list[float] = []
        self.integer: list[int] = []
        self.row_lo: list[float] = []
        self.row_hi: list[float] = []
        self.starts: list[int] = []
        self.index: list[int] = []
        self.value: list[float] = []

    def var(self, lo: float, hi: float, cost: float = 0.0, integer: bool = False) -> int:
        self.lo.append(lo)
        self.hi.append(hi)
        self.cost.append(cost)
        if integer:
            self.integer.append(len(self.lo) - 1)
        return len(self.lo) - 1

    def row(self, idx: list[int], val: list[float], lo: float, hi: float) -> None:
        if not idx:
            return
        self.starts.append(len(self.index))
        self.index += idx
        self.value += val
        self.row_lo.append(lo)
        self.row_hi.append(hi)

    def run(self, maximize: bool) -> tuple[str, F64, float]:
        """('optimal' | 'infeasible', column values, objective)."""
        import highspy

        with quiet_highs():
            h = highspy.Highs()  # type: ignore[no-untyped-call]
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", 120.0)
        h.setOptionValue("mip_rel_gap", 1e-7)
        inf = highspy.kHighsInf
        n = len(self.lo)
        hi = np.array([inf if math.isinf(v) else v for v in self.hi], dtype=np.float64)
        h.addVars(n, np.array(self.lo, dtype=np.float64), hi)
        h.changeColsCost(n, np.arange(n, dtype=np.int32), np.array(self.cost, dtype=np.float64))
        if self.integer:
            h.changeColsIntegrality(
                len(self.integer),
                np.array(self.integer, dtype=np.int32),
                np.array([highspy.HighsVarType.kInteger] * len(self.integer)),
            )
        if self.starts:
            rhi = np.array([inf if math.isinf(v) else v for v in self.row_hi], dtype=np.float64)
            rlo = np.array([-inf if math.isinf(v) else v for v in self.row_lo], dtype=np.float64)
            h.addRows(
                len(self.starts),
                rlo,
                rhi,
                len(self.index),
                np.array(self.starts, dtype=np.int32),
                np.array(self.index, dtype=np.int32),
                np.array(self.value, dtype=np.float64),
            )
        sense = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
        h.changeObjectiveSense(sense)
        h.run()
        status = h.getModelStatus()
        if status in (
            highspy.HighsModelStatus.kInfeasible,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return "infeasible", np.zeros(n), 0.0
        if status != highspy.HighsModelStatus.kOptimal:
            raise AllocationError(f"the allocation MIP stopped without an answer: {status}")
        sol = np.asarray(h.getSolution().col_value, dtype=np.float64)
        return "optimal", sol, float(h.getInfo().objective_function_value)


def _cumulative(cols: list[list[int]], upto: int) -> list[int]:
    return [c for b in range(upto + 1) for c in cols[b]]


def solve(inp: Inputs, w_lp: int | None, *, slack: bool = False) -> Solved | None:
    """The MIP for one w_lp (None: no service rows); None if infeasible. With `slack`:
    no export, and the least total shortfall on the service rows (always feasible)."""
    import time

    t0 = time.perf_counter()
    n_b, n_k, n_j, n_l, n_p = inp.n
    m = _Model()
    inf = math.inf
    X = np.full((n_b, n_k, n_j), -1, dtype=np.int64)
    if not slack:
        for b in range(inp.w0, n_b):
            for k in range(n_k):
                room = min(float(inp.sail_cap[b, k]), float(inp.quota[b, k]))
                for j in range(n_j):
                    ub = min(room, float(inp.export_locked[b, k, j]))
                    if inp.open[b, k, j] and inp.margin[k, j] > 0 and ub >= 1:
                        early = EARLY * (n_b - b) / n_b  # ties: ship sooner
                        X[b, k, j] = m.var(0.0, ub, float(inp.margin[k, j]) + early, integer=True)
    Z = np.full((n_b, n_l, n_j), -1, dtype=np.int64)
    for b in range(n_b):
        for ln in range(n_l):
            if inp.slots[b, ln] > 0:
                for j in range(n_j):
                    if inp.builds[ln, j]:
                        Z[b, ln, j] = m.var(0.0, inf)
    D = np.array([[m.var(0.0, inf) for _ in range(n_j)] for _ in range(n_b)]).reshape(n_b, n_j)
    need = inp.need(w_lp) if w_lp is not None else None
    S = np.full((n_b, n_j), -1, dtype=np.int64)
    if slack and need is not None:
        for b in range(n_b):
            for j in range(n_j):
                if need[b, j] > 0:
                    S[b, j] = m.var(0.0, inf, 1.0)
    xs = [[[int(c) for c in X[b, k] if c >= 0] for b in range(n_b)] for k in range(n_k)]
    for b in range(inp.w0, n_b):  # sailings and quota
        for k in range(n_k):
            idx = xs[k][b]
            m.row(idx, [1.0] * len(idx), -inf, min(float(inp.sail_cap[b, k]), inp.quota[b, k]))
    for k in range(n_k):  # export orders locked by then
        for j in range(n_j):
            cols = [[int(X[b, k, j])] if X[b, k, j] >= 0 else [] for b in range(n_b)]
            for b in range(inp.w0, n_b):
                idx = _cumulative(cols, b)
                m.row(idx, [1.0] * len(idx), -inf, float(inp.export_locked[b, k, j]))
    for b in range(n_b):  # line slots
        for ln in range(n_l):
            idx = [int(c) for c in Z[b, ln] if c >= 0]
            m.row(idx, [1.0] * len(idx), -inf, float(inp.slots[b, ln]))
    for b in range(n_b):  # built = domestic + export
        for j in range(n_j):
            zs = [int(c) for c in Z[b, :, j] if c >= 0]
            out = [int(D[b, j])] + [int(c) for c in X[b, :, j] if c >= 0]
            m.row(zs + out, [1.0] * len(zs) + [-1.0] * len(out), 0.0, 0.0)
    built = [[[int(c) for c in Z[b, :, j] if c >= 0] for b in range(n_b)] for j in range(n_j)]
    for p in range(n_p):  # cumulative parts
        for b in range(n_b):
            uses: list[int] = []
            val: list[float] = []
            for j in range(n_j):
                if inp.use[j, p] > 0:
                    span = _cumulative(built[j], b)
                    uses += span
                    val += [float(inp.use[j, p])] * len(span)
            m.row(uses, val, -inf, float(inp.on_hand[b, p]))
    for j in range(n_j):  # domestic: not before the lock, and by the service rule
        for b in range(n_b):
            idx = [int(D[c, j]) for c in range(b + 1)]
            m.row(idx, [1.0] * len(idx), -inf, float(inp.dom_locked[b, j]))
            if need is not None and need[b, j] > 0:
                extra = [int(S[b, j])] if S[b, j] >= 0 else []
                m.row(idx + extra, [1.0] * (len(idx) + len(extra)), float(need[b, j]), inf)
    status, sol, _ = m.run(maximize=not slack)
    if status == "infeasible":
        return None

    def take(ix: I64) -> F64:
        return np.where(ix >= 0, sol[np.maximum(ix, 0)] if len(sol) else 0.0, 0.0)

    x = np.rint(take(X)).astype(np.int64)
    return Solved(
        w_lp=w_lp,
        x=x,
        dom=take(D),
        z=take(Z),
        slack=take(S),
        margin=float((x * inp.margin[None, :, :]).sum()) if not slack else 0.0,
        seconds=time.perf_counter() - t0,
    )


def _orders(n: float) -> str:
    return f"{math.ceil(n - TOL):,}"


def infeasible_message(inp: Inputs, w: int) -> str:
    """Why the service rule cannot hold even with no export: the shortfall, and the line
    capacity or part that binds in the least-shortfall solution."""
    sol = solve(inp, w, slack=True)
    assert sol is not None
    total = sol.slack.sum(axis=1)
    worst = int(np.argmax(total))
    short = [j for j in range(len(inp.models)) if sol.slack[worst, j] > TOL]
    who = " and ".join(f"{_orders(sol.slack[worst, j])} orders of {inp.models[j]}" for j in short)
    head = (
        f"domestic P90 <= {w} days cannot be met even with no export: {who} would miss it "
        f"by {inp.months[worst]}"
    )
    models = [j for j in range(len(inp.models)) if sol.slack[: worst + 1, j].max() > TOL]
    limits: list[str] = []
    full = []
    for ln, name in enumerate(inp.lines):
        if not inp.builds[ln, models].any():
            continue
        used = sol.z[: worst + 1, ln, :].sum(axis=1)
        cap = inp.slots[: worst + 1, ln]
        hit = np.flatnonzero((cap > 0) & (used >= cap - TOL * np.maximum(cap, 1)))
        if len(hit):
            full.append((name, int(hit[0])))
    if full:
        first = min(b for _, b in full)
        limits.append(
            f"line capacity of {', '.join(n for n, _ in full)} binds (full from "
            f"{inp.months[first]})"
        )
    built = np.cumsum(sol.z.sum(axis=1), axis=0)  # [b, j]
    for p, part in enumerate(inp.parts):
        if not (inp.use[models, p] > 0).any():
            continue
        used = built[: worst + 1] @ inp.use[:, p]
        have = inp.on_hand[: worst + 1, p]
        hit = np.flatnonzero(used >= have - TOL * np.maximum(have, 1))
        if len(hit):
            limits.append(f"part {part} binds (used up by {inp.months[int(hit[0])]})")
    if not any(inp.builds[:, j].any() for j in models):
        limits.append("no line builds the model")
    why = "; ".join(limits) or "no line or part is full (orders lock too late to be built)"
    return f"{head}; {why}"


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
    q = _queued(inp.scenario, book)
    markets = set(q["market"].to_list())
    leads = [m.lead_days or 0 for m in inp.scenario.markets if not m.export and m.name in markets]
    return max(leads, default=0) - 1


def _early_checks(inp: Inputs, book: OrderBook, w: int) -> None:
    s = inp.scenario
    q = _queued(s, book)
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
