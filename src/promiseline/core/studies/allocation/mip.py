"""The allocation MIP (HiGHS): margin-maximizing cars per month, market and model within
every limit, and, when a domestic target cannot be met, the words that say what binds."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from promiseline.core.arrays import F64, I64
from promiseline.core.studies.allocation.inputs import Inputs
from promiseline.core.studies.highs import INFEASIBLE, OPTIMAL, Model
from promiseline.errors import AllocationError

TOL = 1e-6
EARLY = 1e-3  # per car: among equal margins, the earlier departure


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


def _cumulative(cols: list[list[int]], upto: int) -> list[int]:
    return [c for b in range(upto + 1) for c in cols[b]]


def solve(inp: Inputs, w_lp: int | None, *, slack: bool = False) -> Solved | None:
    """The MIP for one w_lp (None: no service rows); None if infeasible. With `slack`:
    no export, and the least total shortfall on the service rows (always feasible)."""
    import time

    t0 = time.perf_counter()
    n_b, n_k, n_j, n_l, n_p = inp.n
    m = Model()
    inf = math.inf
    X = np.full((n_b, n_k, n_j), -1, dtype=np.int64)
    if not slack:
        for b in range(inp.w0, n_b):
            for k in range(n_k):
                room = min(float(inp.sail_cap[b, k]), float(inp.quota[b, k]))
                for j in range(n_j):
                    ub = min(room, float(inp.export_locked[b, k, j]), float(inp.reach[b, k, j]))
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
    got = m.solve(maximize=not slack, mip_rel_gap=1e-7)
    if got.status == INFEASIBLE:
        return None
    if got.status != OPTIMAL:
        raise AllocationError(f"the allocation MIP stopped without an answer: {got.status}")
    sol = got.x

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
