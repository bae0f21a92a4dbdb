"""Capacity sizing: the least-cost set of levers that meets a wait target.

1. Each lever's effect per unit is measured on the real capacity model (slots and part
   arrivals with one unit, minus without), from its earliest start (`lead_days`).
2. A MIP on weekly buckets (HiGHS) chooses whole units of each lever and how many cars of
   each model and variant each line builds each week: line capacity, cumulative part
   supply, nothing built before it is ordered, and by week w + W at least the orders
   released by week w, less the share the target lets wait longer. Cost is minimized.
3. The real planner checks the answer. If the target is missed (the buckets are coarse;
   mix limits are not in the MIP), W is shortened a week and the MIP solved again; then
   units the planner shows are not needed are dropped, dearest first.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from promiseline.core.futures.simulate import Simulation
from promiseline.core.model.lifecycle import QUEUED
from promiseline.core.model.orders import OrderBook, order_book
from promiseline.core.model.scenario import Lever, Scenario
from promiseline.core.planning.capacity import capacity
from promiseline.core.planning.plan import RESERVED, Plan
from promiseline.core.planning.planner import plan
from promiseline.core.readout.summary import summary
from promiseline.core.studies import bounds
from promiseline.core.studies.highs import OPTIMAL, Model
from promiseline.errors import SizingError

_TARGET = re.compile(
    r"^\s*(?P<q>p\d{1,2}|median|max)_wait\s*<=\s*(?P<days>\d+)\s*d?"
    r"(\s+from\s+(?P<from>\d{4}-\d\d-\d\d))?\s*$"
)


@dataclass(frozen=True, slots=True)
class Target:
    """A wait target: the `quantile` of waits, for orders locked from `since`, at most `days`."""

    quantile: float
    days: int
    since: dt.date | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        m = _TARGET.match(text)
        if m is None:
            raise SizingError(
                f"target: expected e.g. 'p90_wait<=180d from 2026-01-01', got {text!r}"
            )
        q = m["q"]
        quantile = 0.5 if q == "median" else 1.0 if q == "max" else int(q[1:]) / 100
        since = dt.date.fromisoformat(m["from"]) if m["from"] else None
        return cls(quantile, int(m["days"]), since)

    def measure(self, p: Plan) -> float:
        """The target's wait on a plan (unplanned orders count as waiting forever)."""
        return self._of(p, p.table["wait_days"])

    def measure_simulation(self, sim: Simulation, percentile: int) -> float:
        """The same, with each order's P`percentile` delivery date of a Monte Carlo run."""
        p = sim.base
        delivery = sim.orders()[f"delivery_p{percentile}"]
        return self._of(p, (delivery - p.table["locked_at"].dt.date()).dt.total_days())

    def _of(self, p: Plan, waits: pl.Series) -> float:
        keep = p.group != RESERVED  # reserved orders only get quotes
        if self.since is not None:
            keep &= (p.table["locked_at"].dt.date() >= self.since).to_numpy()
        if not keep.any():
            return 0.0
        w = waits.fill_null(10**6).to_numpy()[keep]
        return float(np.quantile(w, self.quantile, method="higher"))

    def __str__(self) -> str:
        q = "max" if self.quantile == 1 else f"p{round(self.quantile * 100)}"
        since = f" from {self.since}" if self.since else ""
        return f"{q}_wait<={self.days}d{since}"


def lever_start(s: Scenario, lever: Lever) -> dt.date:
    """A lever's first day: the plan's day plus its lead (nothing starts in the past)."""
    lead = lever.lead_days
    if lead is None:
        lead = getattr(s.sizing.lead_days, lever.kind)
    return s.now + dt.timedelta(days=lead)


def apply_levers(s: Scenario, units: dict[str, int]) -> Scenario:
    """The scenario with these lever units added from each lever's earliest start."""
    data = s.model_dump(mode="python", by_alias=True)
    for lever in s.levers:
        n = units.get(lever.name, 0)
        if n <= 0:
            continue
        start = lever_start(s, lever)
        if lever.kind == "part":
            part = next(p for p in data["parts"] if p["name"] == lever.part)
            part["supply"] = _raised(
                list(part["supply"]), "per_week", start, lever.amount * n, None
            )
            continue
        plant, line = next(
            (p, ln) for p in data["plants"] for ln in p["lines"] if ln["name"] == lever.line
        )
        if lever.kind == "shift":
            line["shifts"] = _raised(list(line["shifts"]), "hours", start, lever.amount * n, 24.0)
        else:
            for i in range(n):
                new = dict(
                    line,
                    name=f"{lever.name}-{i + 1}",
                    jph=lever.amount,
                    start=start,
                    shutdowns=[],
                    ramp_up={"from": start, "initial": 0.5, "weeks": 8, "shape": "s"},
                )
                plant["lines"] = [*plant["lines"], new]
    return Scenario.model_validate(data)


def _raised(
    entries: list[dict[str, Any]], key: str, start: dt.date, add: float, cap: float | None
) -> list[dict[str, Any]]:
    """A 'from this date on' schedule with `add` more from `start`."""
    at_start = 0.0
    for e in entries:
        if e["from"] <= start:
            at_start = e[key]
    out = [dict(e) for e in entries if e["from"] < start]
    out.append({"from": start, key: at_start})
    out += [dict(e) for e in entries if e["from"] > start]
    for e in out:
        if e["from"] >= start:
            e[key] = min(cap, e[key] + add) if cap is not None else e[key] + add
    return out


@dataclass(frozen=True, slots=True)
class Sizing:
    """The levers chosen, their cost and start dates, and the waits they give."""

    target: Target
    units: dict[str, int]
    cost: float
    starts: dict[str, dt.date]
    met: bool
    achieved: float  # the target's wait with these levers, by the planner
    baseline: float  # the same without any lever
    rounds: int
    note: str
    plan: Plan

    def additions(self) -> list[dict[str, Any]]:
        """The capacity to add, lever by lever in the scenario's order: its name, kind,
        first day, units and their cost."""
        return [
            {
                "lever": lv.name,
                "kind": lv.kind,
                "start": self.starts[lv.name],
                "units": self.units[lv.name],
                "cost": lv.cost * self.units[lv.name],
            }
            for lv in self.plan.scenario.levers
            if self.units.get(lv.name)
        ]

    def summary(self) -> dict[str, Any]:
        return {
            "target": str(self.target),
            "met": self.met,
            "baseline_days": self.baseline,
            "achieved_days": self.achieved,
            "cost": self.cost,
            "levers": [
                {"lever": k, "units": v, "start": self.starts[k].isoformat()}
                for k, v in self.units.items()
                if v
            ],
            "rounds": self.rounds,
            "note": self.note,
        }


def _weekly(a: np.ndarray, weeks: int) -> np.ndarray:
    days = a.shape[-1]
    pad = np.zeros((*a.shape[:-1], weeks * 7 - days), dtype=a.dtype)
    out: np.ndarray = np.concatenate([a, pad], axis=-1).reshape(*a.shape[:-1], weeks, 7)
    return out.sum(axis=-1)  # type: ignore[no-any-return]


def _solve(
    s: Scenario, book: OrderBook, target: Target, window_weeks: int, levers: list[Lever]
) -> dict[str, int] | None:
    """The MIP: least-cost whole lever units (None if infeasible)."""
    cap = capacity(s)
    days = cap.days
    weeks = math.ceil(days / 7)
    base_slots = _weekly(cap.slots.astype(np.float64), weeks)
    base_parts = cap.on_hand[:, np.arange(6, weeks * 7, 7).clip(max=days - 1)].astype(np.float64)
    # per-unit effect of each lever, measured on the capacity model
    names = list(cap.line_names)
    week_ends = np.arange(6, weeks * 7, 7).clip(max=days - 1)
    extra_lines: list[tuple[int, frozenset[str], np.ndarray]] = []  # new-line units
    d_slots, d_parts = [], []
    for j, lv in enumerate(levers):
        one = capacity(apply_levers(s, {lv.name: 1}))
        rows_of = [one.line_names.index(nm) for nm in names]
        d_slots.append(_weekly(one.slots[rows_of].astype(np.float64), weeks) - base_slots)
        d_parts.append(one.on_hand[:, week_ends] - base_parts)
        if lv.kind == "line":
            new = one.line_names.index(f"{lv.name}-1")
            extra_lines.append(
                (j, one.line_models[new], _weekly(one.slots[new].astype(np.float64), weeks))
            )
    # demand per (model, variant) and week, from the book
    t = book.table.filter(pl.col("status").is_in([s.value for s in QUEUED]))
    rel = (
        np.clip(
            (t["locked_at"].dt.date().to_numpy() - np.datetime64(s.start, "D")).astype(np.int64),
            0,
            None,
        )
        // 7
    )
    classes = sorted(set(zip(t["model"], t["variant"], strict=True)))
    ci = {c: i for i, c in enumerate(classes)}
    demand = np.zeros((len(classes), weeks))
    np.add.at(
        demand,
        (
            np.array([ci[c] for c in zip(t["model"], t["variant"], strict=True)], dtype=np.int64),
            rel.clip(max=weeks - 1),
        ),
        1,
    )
    since = ((target.since - s.start).days // 7) if target.since else 0
    lines = list(range(len(cap.line_names))) + [-(k + 1) for k in range(len(extra_lines))]

    def builds(li: int, model: str) -> bool:
        models = cap.line_models[li] if li >= 0 else extra_lines[-li - 1][1]
        return model in models

    # variables: lever units, then y[class, line, week]
    nv = len(levers)
    y_index: dict[tuple[int, int, int], int] = {}
    for c, (model, _) in enumerate(classes):
        for li in lines:
            if builds(li, model):
                for w in range(weeks):
                    y_index[(c, li, w)] = nv + len(y_index)
    rows: list[tuple[list[int], list[float], float, float]] = []
    inf = math.inf
    for li in lines:  # line capacity per week
        for w in range(weeks):
            idx = [y_index[(c, li, w)] for c in range(len(classes)) if (c, li, w) in y_index]
            if not idx:
                continue
            coef = [1.0] * len(idx)
            if li >= 0:
                rhs = base_slots[li, w]
                for j in range(nv):
                    if d_slots[j][li, w]:
                        idx.append(j)
                        coef.append(-d_slots[j][li, w])
            else:  # a new line: its slots come only with its lever's units
                j, _, new_slots = extra_lines[-li - 1]
                rhs = 0.0
                idx.append(j)
                coef.append(-new_slots[w])
            rows.append((idx, coef, -inf, rhs))
    needs = {
        (m, v): next(x for x in s.product(m).variants if x.name == v).parts for m, v in classes
    }
    # y indices per class and week, over its lines: the cumulative rows below grow by these
    by_week: list[list[list[int]]] = [[[] for _ in range(weeks)] for _ in classes]
    for (c, _li, w), k in y_index.items():
        by_week[c][w].append(k)
    for p, part in enumerate(cap.part_names):  # parts used by week w <= supply by week w
        users = [(c, float(needs[cl].get(part, 0))) for c, cl in enumerate(classes)]
        users = [(c, q) for c, q in users if q]
        idx, coef = [], []
        for w in range(weeks):
            for c, q in users:
                idx += by_week[c][w]
                coef += [q] * len(by_week[c][w])
            if not idx:
                continue
            levers_here = [j for j in range(nv) if d_parts[j][p, w]]
            rows.append(
                (
                    idx + levers_here,
                    coef + [-float(d_parts[j][p, w]) for j in levers_here],
                    -inf,
                    float(base_parts[p, w]),
                )
            )
    late_share = 1.0 - target.quantile
    for c in range(len(classes)):
        cum = np.cumsum(demand[c])
        counted = cum[-1] - (cum[since - 1] if since > 0 else 0)
        slack = late_share * counted
        idx = []
        for w in range(weeks):
            idx = idx + by_week[c][w]  # built by week w
            rows.append((idx, [1.0] * len(idx), -inf, float(cum[w])))  # no building ahead
            ready = w - window_weeks
            if ready >= since and idx:
                need = float(cum[ready]) - slack
                if need > 0:
                    rows.append((idx, [1.0] * len(idx), need, inf))
    m = Model()
    for lv in levers:
        m.var(0.0, lv.max_units, lv.cost, integer=True)
    for _ in y_index:
        m.var(0.0, inf, 1e-6)  # a whisker: prefer building no more than needed
    for idx, coef, lo, hi in rows:
        m.row(idx, coef, lo, hi)
    got = m.solve()
    if got.status != OPTIMAL:
        return None
    sol = got.x
    return {lv.name: round(sol[j]) for j, lv in enumerate(levers)}


def size(
    scenario: Scenario,
    orders: OrderBook | pl.DataFrame,
    target: Target | str,
    *,
    kinds: tuple[str, ...] = ("shift", "line", "part"),
    max_rounds: int = 8,
) -> Sizing:
    """Least-cost levers that meet the target, checked by the planner."""
    tgt = Target.parse(target) if isinstance(target, str) else target
    levers = [lv for lv in scenario.levers if lv.kind in kinds]
    if not levers:
        raise SizingError(
            f"the scenario has no levers of kind {', '.join(kinds)} (see 'levers' in the README)"
        )
    bounds.check(bounds.sizing_size(scenario, kinds))  # before anything is built
    book = order_book(orders, scenario)
    base_plan = plan(scenario, book)
    baseline = tgt.measure(base_plan)
    starts = {lv.name: lever_start(scenario, lv) for lv in levers}

    def result(units: dict[str, int], p: Plan, met: bool, rounds: int, note: str) -> Sizing:
        cost = float(sum(lv.cost * units.get(lv.name, 0) for lv in levers))
        return Sizing(tgt, units, cost, starts, met, tgt.measure(p), baseline, rounds, note, p)

    def pruned(units: dict[str, int], p: Plan, rounds: int, note: str) -> Sizing:
        units, p = _prune(scenario, book, tgt, levers, units, p)
        return result(units, p, True, rounds, note)

    none = {lv.name: 0 for lv in levers}
    if baseline <= tgt.days:
        return result(none, base_plan, True, 0, "met without any lever")
    window = max(0, tgt.days // 7)
    for rounds in range(1, max_rounds + 1):
        units = _solve(scenario, book, tgt, window, levers)
        if units is None:
            break
        p = plan(apply_levers(scenario, units), book)
        if tgt.measure(p) <= tgt.days:
            return pruned(
                units,
                p,
                rounds,
                f"the MIP's choice met the target by the planner in round {rounds}",
            )
        window -= 1  # buckets were too coarse: ask the MIP for a week more margin
        if window < 0:
            break
    most = {lv.name: lv.max_units for lv in levers}
    p = plan(apply_levers(scenario, most), book)
    if tgt.measure(p) <= tgt.days:
        return pruned(
            most,
            p,
            max_rounds,
            "the MIP's choices fell short; started from every lever at its "
            "maximum and dropped what the planner showed was not needed",
        )
    top = summary(p)["bound_by"]
    binding = next(iter(top), "nothing")
    ran_out = [
        lv.name
        for lv in levers
        if (lv.kind == "part" and binding == f"part:{lv.part}")
        or (lv.kind != "part" and binding.startswith("line:"))
    ]
    first = min(starts.values())
    note = (
        f"not reachable: with every lever at its maximum, the earliest from {first} "
        f"(as of {scenario.now} plus its lead time), the wait is {tgt.measure(p):.0f} "
        f"days; what still binds most is {binding}"
        + (
            f" (lever {', '.join(ran_out)} is at its maximum)"
            if ran_out
            else " (no lever adds to it)"
        )
    )
    return result(most, p, False, max_rounds, note)


def _prune(
    s: Scenario, book: OrderBook, tgt: Target, levers: list[Lever], units: dict[str, int], p: Plan
) -> tuple[dict[str, int], Plan]:
    """Drop units the target does not need, dearest first, while the planner agrees."""
    units = dict(units)
    for lv in sorted(levers, key=lambda x: -x.cost):
        while units.get(lv.name, 0) > 0:
            trial = dict(units, **{lv.name: units[lv.name] - 1})
            q = plan(apply_levers(s, trial), book)
            if tgt.measure(q) > tgt.days:
                break
            units, p = trial, q
    return units, p


__all__ = ["Sizing", "Target", "apply_levers", "size"]
