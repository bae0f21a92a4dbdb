"""Why a what-if moved a group's waits: which constraints hold its orders back more or
less, and, when a shared part, line or mix limit ties it to another group, the group
that now takes more of it sooner.

A planner who sees SU7 Max wait longer because a third shift was added to the YU7 line
distrusts the tool unless it says why: the YU7 Max now builds sooner and takes the NCM
packs both share before the SU7 Max's turn comes. `reasons` finds that from the two
plans alone: per model and variant whose median or P90 wait moved by more than
`min_days`, the `bound_by` counts before and after, and for the constraint that grew
most (or shrank most) the group whose use of it before the moved group's median build
day grew most (or the what-if's own capacity change).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from promiseline.core.planning.capacity import Capacity
from promiseline.core.planning.plan import Plan

Group = tuple[str, str]  # model, variant


@dataclass(frozen=True, slots=True)
class Reason:
    """Why one group's waits moved under one what-if."""

    whatif: str
    model: str
    variant: str
    median: tuple[float, float]  # days, before and after
    p90: tuple[float, float]
    holds: tuple[tuple[str, int, int], ...]  # constraint, orders it held before, after
    cause: str  # the mechanism, in words ("" when none is found)

    @property
    def worse(self) -> bool:
        return self.median[1] + self.p90[1] > self.median[0] + self.p90[0]

    def text(self) -> str:
        d = "longer" if self.worse else "less"
        head = (
            f"{self.model} {self.variant} waits {d} under {self.whatif} (median "
            f"{self.median[0]:,.0f} → {self.median[1]:,.0f} days, P90 {self.p90[0]:,.0f} → "
            f"{self.p90[1]:,.0f})"
        )
        held = "; ".join(
            f"{c or 'nothing (built on its first day)'} holds back {a:,} of its orders (was {b:,})"
            for c, b, a in self.holds
        )
        return ". ".join(x for x in (head, held, self.cause) if x) + "."


def _waits(plan: Plan) -> dict[Group, tuple[float, float]]:
    w = plan.planned.group_by("model", "variant").agg(
        pl.col("wait_days").median().alias("m"),
        pl.col("wait_days").quantile(0.9, "linear").alias("p"),
    )
    return {(m, v): (float(a), float(b)) for m, v, a, b in w.iter_rows()}


def _holds(plan: Plan, g: Group) -> dict[str, int]:
    t = plan.planned.filter((pl.col("model") == g[0]) & (pl.col("variant") == g[1]))
    return dict(t.group_by("bound_by").len().iter_rows())


def _use_before(plan: Plan, constraint: str, before: dt.date) -> dict[Group, int]:
    """Per group: how much of `constraint` (part units, line slots or mix room) its
    planned orders take on days before `before`."""
    kind, _, name = constraint.partition(":")
    t, cap, line = plan.table, plan.capacity, plan.placement.line
    built = (t["status"] == "planned").to_numpy() & (t["build_date"] < before).to_numpy()
    if kind == "part":  # units per order: its class's quantity of the part
        amount = plan.classes.qty_dense[plan.order_cls, cap.part_names.index(name)]
    elif kind == "line":
        amount = (line == cap.line_names.index(name)).astype(np.int64)
    elif kind == "mix":
        on = np.zeros(t.height, dtype=bool)
        for m, inst in enumerate(cap.mixes):
            if inst.name == name:
                on |= plan.classes.mix_on[plan.order_cls, m] & (line == inst.line)
        amount = on.astype(np.int64)
    else:
        return {}
    used = pl.DataFrame(
        {"model": t["model"], "variant": t["variant"], "n": np.where(built, amount, 0)}
    )
    sums = used.group_by("model", "variant").agg(pl.col("n").sum())
    return {(m, v): int(n) for m, v, n in sums.iter_rows()}


def _median_build(plan: Plan, g: Group) -> dt.date | None:
    t = plan.planned.filter((pl.col("model") == g[0]) & (pl.col("variant") == g[1]))
    d = t["build_date"].sort()
    return None if not d.len() else d[d.len() // 2]


def first_change(base: Capacity, other: Capacity) -> dict[tuple[str, str], dt.date]:
    """The first date each line's output or each part's supply differs between two
    capacities, keyed by (lever kind, name): "line" for a line the base does not have,
    "shift" for a line whose output changed, "part" for a part's supply."""
    out: dict[tuple[str, str], dt.date] = {}

    def first(kind: str, name: str, a: Any, b: Any, a_start: dt.date, b_start: dt.date) -> None:
        shift = (b_start - a_start).days  # align by date: a patch may move the start
        lo = max(0, shift)
        hi = min(len(a), len(b) + shift)
        differ = a[lo:hi] != b[lo - shift : hi - shift]
        if differ.any():
            out[kind, name] = base.date(int(lo + differ.argmax()))

    for j, name in enumerate(other.line_names):
        if name in base.line_names:
            i = base.line_names.index(name)
            first("shift", name, base.vehicles[i], other.vehicles[j], base.start, other.start)
        elif (other.vehicles[j] > 0).any():
            out["line", name] = other.date(int((other.vehicles[j] > 0).argmax()))
    for j, name in enumerate(other.part_names):
        if name in base.part_names:
            i = base.part_names.index(name)
            first("part", name, base.on_hand[i], other.on_hand[j], base.start, other.start)
    return out


def _changed(base: Capacity, other: Capacity) -> dict[str, tuple[dt.date, bool]]:
    """Per line or part the what-if changes: the first day it differs and whether it
    gives more over the horizon (constraint -> (day, more))."""
    out = {}
    for (kind, name), day in first_change(base, other).items():
        if kind == "part":
            i, j = base.part_names.index(name), other.part_names.index(name)
            more = bool(other.on_hand[j, -1] >= base.on_hand[i, -1])
            out[f"part:{name}"] = (day, more)
        else:
            j = other.line_names.index(name)
            had = base.vehicles[base.line_names.index(name)].sum() if kind == "shift" else 0
            out[f"line:{name}"] = (day, bool(other.vehicles[j].sum() >= had))
    return out


def _resources(plan: Plan, g: Group) -> list[str]:
    """The parts, lines and mix limits the group's orders use (as `bound_by` names them)."""
    s, cap = plan.scenario, plan.capacity
    parts = next(v.parts for v in s.product(g[0]).variants if v.name == g[1])
    lines = [
        f"line:{n}" for n, ms in zip(cap.line_names, cap.line_models, strict=True) if g[0] in ms
    ]
    t = plan.table
    mine = ((t["model"] == g[0]) & (t["variant"] == g[1])).to_numpy()
    classes = np.unique(plan.order_cls[mine])
    on = plan.classes.mix_on[classes].any(axis=0) if len(classes) else []
    mixes = sorted({f"mix:{cap.mixes[m].name}" for m in np.flatnonzero(on)})
    return [*(f"part:{p}" for p in parts), *lines, *mixes]


def _cause(base: Plan, other: Plan, g: Group, worse: bool) -> str:
    """The mechanism: the what-if's own change to something the group uses, in the
    direction it moved; else the other group whose use of a shared part, line or mix
    limit before the group's median build day changed most in that direction."""
    mine = _resources(base, g)
    changed = _changed(base.capacity, other.capacity)
    for c in mine:
        if c in changed and changed[c][1] != worse:
            day, more = changed[c]
            return f"The what-if gives {c} {'more' if more else 'less'} from {day}"
    when = _median_build(base, g)
    if when is None:
        return ""
    best: tuple[int, str, Group] | None = None
    for c in mine:
        a, b = _use_before(base, c, when), _use_before(other, c, when)
        for h in (set(a) | set(b)) - {g}:
            n = (b.get(h, 0) - a.get(h, 0)) * (1 if worse else -1)
            if n > 0 and (best is None or (n, c, h) > best):
                best = (n, c, h)
    if best is None:
        return ""
    n, c, h = best
    kind, _, what = c.partition(":")
    noun = {"part": what, "line": f"slots on {what}", "mix": f"room under mix limit {what}"}
    if worse:
        return (
            f"{h[0]} {h[1]} {_sooner(base, other, h)}takes {n:,} more {noun[kind]} before "
            f"{when}, the day {g[0]} {g[1]}'s median order was built"
        )
    return (
        f"{h[0]} {h[1]} takes {n:,} fewer {noun[kind]} before {when}, the day {g[0]} "
        f"{g[1]}'s median order was built"
    )


def _sooner(base: Plan, other: Plan, g: Group) -> str:
    a, b = _median_build(base, g), _median_build(other, g)
    if a is None or b is None or b >= a:
        return ""
    return f"now builds sooner (its median build {(a - b).days} days earlier) and "


def reasons(
    base: Plan, other: Plan, whatif: str = "what-if", min_days: float = 3.0, top: int = 3
) -> list[Reason]:
    """Why each model and variant whose median or P90 wait moved by more than `min_days`
    between `base` and `other` moved (module text)."""
    before, after = _waits(base), _waits(other)
    out = []
    for g in sorted(set(before) & set(after)):
        (m0, p0), (m1, p1) = before[g], after[g]
        if abs(m1 - m0) <= min_days and abs(p1 - p0) <= min_days:
            continue
        worse = m1 + p1 > m0 + p0
        h0, h1 = _holds(base, g), _holds(other, g)
        delta = {c: h1.get(c, 0) - h0.get(c, 0) for c in set(h0) | set(h1)}
        ranked = sorted(delta, key=lambda c: (-abs(delta[c]), c))[:top]
        holds = tuple((c, h0.get(c, 0), h1.get(c, 0)) for c in ranked if delta[c])
        cause = _cause(base, other, g, worse)
        out.append(Reason(whatif, g[0], g[1], (m0, m1), (p0, p1), holds, cause))
    return out


def reasons_table(found: list[Reason]) -> pl.DataFrame:
    """The reasons as a table (a what-if job's `why`, the CLI's and the page's lines)."""
    return pl.DataFrame(
        {
            "what-if": [r.whatif for r in found],
            "model": [r.model for r in found],
            "variant": [r.variant for r in found],
            "median (days)": [f"{r.median[0]:,.0f} → {r.median[1]:,.0f}" for r in found],
            "P90 (days)": [f"{r.p90[0]:,.0f} → {r.p90[1]:,.0f}" for r in found],
            "why": [r.text() for r in found],
        },
        schema=dict.fromkeys(
            ("what-if", "model", "variant", "median (days)", "P90 (days)", "why"), pl.String
        ),
    )
