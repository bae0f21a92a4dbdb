"""Export allocation: the MIP's optimum equals a brute force written again from the
definitions, its solution keeps every constraint, infeasible targets name what binds,
and the planner never ships more than the quotas."""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import math
from typing import Any

import highspy
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promiseline.core.model.orders import OrderBook, validate_orders
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.capacity import capacity
from promiseline.core.studies.allocation import allocate, inputs, solve
from promiseline.errors import AllocationError
from tests.conftest import examples

START = dt.date(2030, 1, 1)
EPS = 1e-6


def _day(d: int) -> str:
    return (START + dt.timedelta(days=d)).isoformat()


@st.composite
def cases(draw: st.DrawFn) -> tuple[Scenario, OrderBook, int | None]:
    """2-3 months, 1-2 export markets, 1-2 models, tiny capacities and books."""
    horizon = draw(st.integers(45, 85))
    n_models = draw(st.integers(1, 2))
    models: list[dict[str, Any]] = [
        {
            "model": "A",
            "cost": draw(st.integers(0, 40)) * 1000,
            "variants": [
                {"name": "S", "parts": {"pack": 1}},
                {"name": "M", "parts": {"pack": 1, "chip": 2}},
            ],
        }
    ]
    if n_models == 2:
        models.append(
            {"model": "B", "cost": draw(st.integers(0, 40)) * 1000, "variants": [{"name": "S"}]}
        )
    names = [m["model"] for m in models]
    lines = [
        {
            "name": "l1",
            "models": names,
            "jph": draw(st.sampled_from([0.1, 0.2, 0.3])),
            "shifts": [{"from": _day(0), "hours": 8}],
        }
    ]
    if draw(st.booleans()):
        lines.append(
            {"name": "l2", "models": ["A"], "jph": 0.1, "shifts": [{"from": _day(20), "hours": 8}]}
        )
    parts = [
        {
            "name": p,
            "stock": draw(st.integers(0, 20)),
            "supply": [{"from": _day(0), "per_week": draw(st.integers(0, 12))}],
        }
        for p in ("pack", "chip")
    ]
    markets: list[dict[str, Any]] = [{"name": "CN", "lead_days": draw(st.integers(0, 8))}]
    for k in range(draw(st.integers(1, 2))):
        first = draw(st.integers(0, 12))
        mk: dict[str, Any] = {
            "name": f"E{k}",
            "lanes": [
                {
                    "name": f"lane{k}",
                    "inland_days": draw(st.integers(0, 3)),
                    "transit_days": draw(st.integers(3, 25)),
                    "last_mile_days": draw(st.integers(0, 4)),
                    "capacity": draw(st.integers(1, 2)),
                    "sailings": [{"every": 14, "from": _day(first), "to": _day(horizon)}],
                }
            ],
            "price": draw(st.integers(20, 60)) * 1000,
            "logistics_cost": draw(st.integers(0, 5)) * 1000,
            "tariff": draw(st.sampled_from([0.0, 0.1, 0.25])),
        }
        if draw(st.booleans()):
            mk["quota"] = {"max_per_month": draw(st.integers(0, 3))}
        if draw(st.booleans()):
            mk["gates"] = [
                {"model": draw(st.sampled_from(names)), "from": _day(draw(st.integers(0, 90)))}
            ]
        if draw(st.booleans()):
            mk["opens"] = _day(draw(st.integers(0, 80)))
        if draw(st.booleans()):
            mk["build_ahead_days"] = draw(st.integers(0, 20))
        markets.append(mk)
    s = Scenario.model_validate(
        {
            "name": "alloc",
            "start": START,
            "horizon_days": horizon,
            "calendar": {"working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
            "products": models,
            "plants": [{"name": "p", "lines": lines}],
            "parts": parts,
            "markets": markets,
        }
    )
    rows: list[dict[str, Any]] = []

    def order(model: str, market: str, lock: int) -> None:
        variant = draw(st.sampled_from(["S", "M"])) if model == "A" else "S"
        rows.append(
            {
                "order_id": f"o{len(rows)}",
                "model": model,
                "variant": variant,
                "market": market,
                "locked_at": dt.datetime.combine(START, dt.time(9)) + dt.timedelta(days=lock),
            }
        )

    for _ in range(draw(st.integers(0, 30))):
        order(draw(st.sampled_from(names)), "CN", draw(st.integers(-5, horizon)))
    for mk in markets[1:]:
        for m in names:
            for _ in range(draw(st.integers(0, 2))):
                order(m, mk["name"], draw(st.integers(-5, horizon)))
    book = validate_orders(pl.DataFrame(rows, schema_overrides={"locked_at": pl.Datetime("us")}), s)
    w = draw(st.one_of(st.none(), st.integers(3, 60)))
    return s, book, w


# --- the definitions, written again --------------------------------------------------


def months_of(s: Scenario) -> list[tuple[int, int]]:
    last = s.end - dt.timedelta(days=1)
    out, y, m = [], s.start.year, s.start.month
    while (y, m) <= (last.year, last.month):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def last_day(s: Scenario, ym: tuple[int, int]) -> int:
    d = dt.date(ym[0], ym[1], calendar.monthrange(*ym)[1])
    return min((d - s.start).days, s.horizon_days - 1)


def lock_day(r: dict[str, Any], s: Scenario) -> int:
    return max(0, (r["locked_at"].date() - s.start).days)


class Definitions:
    """Every number of the model, from the scenario and the book directly."""

    def __init__(self, s: Scenario, book: OrderBook, w: int | None) -> None:
        cap = capacity(s)
        self.s, self.w = s, w
        self.months = months_of(s)
        self.last = [last_day(s, ym) for ym in self.months]
        self.models = [p.model for p in s.products]
        self.exports = [m for m in s.markets if m.lanes]
        self.lines = [ln for _, ln in s.lines]
        orders = [
            r for r in book.table.iter_rows(named=True) if r["status"] in ("locked", "scheduled")
        ]
        self.orders = orders
        first = 0
        self.slots, self.on_hand = [], []
        for d in self.last:
            self.slots.append(
                [int(cap.slots[i, first : d + 1].sum()) for i in range(len(self.lines))]
            )
            self.on_hand.append({p.name: int(cap.on_hand[i, d]) for i, p in enumerate(s.parts)})
            first = d + 1
        self.use = {}
        for prod in s.products:
            n = {
                v.name: sum(
                    1 for r in orders if r["model"] == prod.model and r["variant"] == v.name
                )
                for v in prod.variants
            }
            tot = sum(n.values())
            for p in s.parts:
                per = [v.parts.get(p.name, 0) for v in prod.variants]
                wts = [n[v.name] / tot if tot else 1 / len(per) for v in prod.variants]
                self.use[prod.model, p.name] = sum(a * b for a, b in zip(per, wts, strict=True))

    def sail_room(self, b: int, mk: Any) -> float:
        cars = 0
        for ln in mk.lanes:
            days = {}
            for e in ln.sailings:
                for d in e.dates():
                    i = (d - self.s.start).days
                    if 0 <= i < self.s.horizon_days and (d.year, d.month) == self.months[b]:
                        days[i] = max(
                            days.get(i, 0), e.capacity if e.capacity is not None else ln.capacity
                        )
            cars += sum(days.values())
        q = mk.quota.cap(*self.months[b]) if mk.quota else None
        return min(cars, q) if q is not None else cars

    def reach(self, b: int, mk: Any, model: str) -> float:
        """The seats of month b a car of this model can take when it may be built no
        sooner than need - fastest - build_ahead_days (its port date on or after that)."""
        if mk.build_ahead_days is None:
            return math.inf
        need = [g.from_ for g in mk.gates if g.model == model and g.variant is None]
        need += [mk.opens] if mk.opens else []
        if not need:
            return math.inf
        fastest = min(ln.inland_days + ln.transit_days + ln.last_mile_days for ln in mk.lanes)
        floor = max(need) - dt.timedelta(days=fastest + mk.build_ahead_days)
        cars = 0
        for ln in mk.lanes:
            days: dict[dt.date, int] = {}
            for e in ln.sailings:
                for d in e.dates():
                    i = (d - self.s.start).days
                    ok = d - dt.timedelta(days=ln.inland_days) >= floor
                    if 0 <= i < self.s.horizon_days and (d.year, d.month) == self.months[b] and ok:
                        size = e.capacity if e.capacity is not None else ln.capacity
                        days[d] = max(days.get(d, 0), size)
            cars += sum(days.values())
        return cars

    def opened(self, b: int, mk: Any, model: str) -> bool:
        legs = min(ln.transit_days + ln.last_mile_days for ln in mk.lanes)
        arrive = self.s.start + dt.timedelta(days=self.last[b] + legs)
        holds = [g.from_ for g in mk.gates if g.model == model and g.variant is None]
        if mk.opens:
            holds.append(mk.opens)
        return all(arrive >= h for h in holds)

    def export_locked(self, b: int, mk: Any, model: str) -> int:
        return sum(
            1
            for r in self.orders
            if r["market"] == mk.name
            and r["model"] == model
            and lock_day(r, self.s) <= self.last[b]
        )

    def domestic(self, b: int, model: str) -> tuple[int, int]:
        """(must be built by the end of b, locked by then)."""
        lead = {m.name: m.lead_days for m in self.s.markets if m.lead_days is not None}
        mine = [r for r in self.orders if r["model"] == model and r["market"] in lead]
        locked = sum(1 for r in mine if lock_day(r, self.s) <= self.last[b])
        if self.w is None:
            return 0, locked
        due = sum(
            1 for r in mine if lock_day(r, self.s) + self.w - lead[r["market"]] <= self.last[b]
        )
        return due, locked

    def margin(self, mk: Any, model: str) -> float:
        return mk.price - self.s.product(model).cost - mk.logistics_cost - mk.tariff * mk.price

    def production_feasible(self, x: dict[tuple[int, str, str], int]) -> bool:
        """Is there a continuous domestic build and line flow for these export cars?"""
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        nb = len(self.months)
        col = 0
        dom, z = {}, {}
        for b in range(nb):
            for m in self.models:
                h.addVar(0, highspy.kHighsInf)
                dom[b, m] = col
                col += 1
                for i, ln in enumerate(self.lines):
                    if m in ln.models:
                        h.addVar(0, highspy.kHighsInf)
                        z[b, i, m] = col
                        col += 1

        def row(lo: float, hi: float, terms: list[tuple[int, float]]) -> None:
            if terms:
                h.addRow(lo, hi, len(terms), [t[0] for t in terms], [t[1] for t in terms])
            elif lo > EPS or hi < -EPS:
                raise _InfeasibleError

        exp = {
            (b, m): sum(v for (bb, _, mm), v in x.items() if bb == b and mm == m)
            for b in range(nb)
            for m in self.models
        }
        try:
            for b in range(nb):
                for i in range(len(self.lines)):
                    row(
                        -highspy.kHighsInf,
                        self.slots[b][i],
                        [(c, 1.0) for (bb, ii, _), c in z.items() if bb == b and ii == i],
                    )
                for m in self.models:
                    zs = [(c, 1.0) for (bb, _, mm), c in z.items() if bb == b and mm == m]
                    row(exp[b, m], exp[b, m], [*zs, (dom[b, m], -1.0)])
                    due, locked = self.domestic(b, m)
                    if not any(m in ln.models for ln in self.lines):
                        due = 0
                    cum = [(dom[c, m], 1.0) for c in range(b + 1)]
                    row(due, locked, cum)
                for p in self.s.parts:
                    terms = [
                        (c, self.use[mm, p.name])
                        for (bb, _, mm), c in z.items()
                        if bb <= b and self.use[mm, p.name] > 0
                    ]
                    row(-highspy.kHighsInf, self.on_hand[b][p.name], terms)
        except _InfeasibleError:
            return False
        h.run()
        return h.getModelStatus() == highspy.HighsModelStatus.kOptimal

    def brute_force(self) -> float:
        """The best margin over every integer x, by enumeration."""
        nb = len(self.months)
        pairs = [(mk, m) for mk in self.exports for m in self.models]
        choices = []
        for mk, m in pairs:
            seqs = []
            for seq in itertools.product(range(3), repeat=nb):
                cum = np.cumsum(seq)
                if all(
                    cum[b] <= self.export_locked(b, mk, m)
                    and (seq[b] == 0 or self.opened(b, mk, m))
                    and seq[b] <= self.sail_room(b, mk)
                    and seq[b] <= self.reach(b, mk, m)
                    for b in range(nb)
                ):
                    seqs.append(seq)
            choices.append(seqs)
        assert np.prod([len(c) for c in choices]) < 20_000
        found = []
        for combo in itertools.product(*choices):
            x = {(b, mk.name, m): combo[i][b] for i, (mk, m) in enumerate(pairs) for b in range(nb)}
            if all(
                sum(x[b, mk.name, m] for m in self.models) <= self.sail_room(b, mk)
                for mk in self.exports
                for b in range(nb)
            ):
                value = sum(
                    v * self.margin(next(e for e in self.exports if e.name == k), m)
                    for (_, k, m), v in x.items()
                )
                found.append((value, x))
        found.sort(key=lambda t: -t[0])
        for value, x in found:
            if self.production_feasible(x):
                return float(value)
        return float("nan")  # not even x = 0: the service rule cannot hold


class _InfeasibleError(Exception):
    pass


def whole_horizon(s: Scenario) -> tuple[dt.date, dt.date]:
    return s.start, s.end - dt.timedelta(days=1)


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_mip_optimum_equals_brute_force_and_keeps_every_constraint(
    case: tuple[Scenario, OrderBook, int | None],
) -> None:
    s, book, w = case
    d = Definitions(s, book, w)
    best = d.brute_force()
    inp = inputs(s, book, whole_horizon(s))
    sol = solve(inp, w)
    if np.isnan(best):
        assert sol is None
        return
    assert sol is not None
    assert sol.margin == pytest.approx(best, rel=1e-9, abs=1e-6)
    nb = len(d.months)
    assert inp.months == tuple(f"{y:04d}-{m:02d}" for y, m in d.months)
    x = sol.x
    assert (x >= 0).all()
    for k, mk in enumerate(d.exports):
        for b in range(nb):
            assert x[b, k].sum() <= d.sail_room(b, mk)
            for j, m in enumerate(d.models):
                assert x[b, k, j] == 0 or d.opened(b, mk, m)
                assert x[b, k, j] <= d.reach(b, mk, m)
                assert x[: b + 1, k, j].sum() <= d.export_locked(b, mk, m)
    built = sol.z.sum(axis=1)  # [b, j]
    assert built == pytest.approx(sol.dom + x.sum(axis=1), abs=EPS)
    for b in range(nb):
        for i, ln in enumerate(d.lines):
            assert sol.z[b, i].sum() <= d.slots[b][i] + EPS
            for j, m in enumerate(d.models):
                assert m in ln.models or sol.z[b, i, j] == 0
        for p in s.parts:
            used = sum(built[: b + 1, j].sum() * d.use[m, p.name] for j, m in enumerate(d.models))
            assert used <= d.on_hand[b][p.name] + 1e-5
        for j, m in enumerate(d.models):
            due, locked = d.domestic(b, m)
            assert sol.dom[: b + 1, j].sum() <= locked + EPS
            assert sol.dom[: b + 1, j].sum() >= due - EPS


def line_bound(parts_per_week: int = 10_000) -> tuple[Scenario, OrderBook]:
    """Two cars a day, 300 domestic orders locked on day one, one export market."""
    s = Scenario.model_validate(
        {
            "name": "bound",
            "start": START,
            "horizon_days": 120,
            "calendar": {"working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
            "products": [{"model": "A", "variants": [{"name": "S", "parts": {"pack": 1}}]}],
            "plants": [
                {
                    "name": "p",
                    "lines": [
                        {
                            "name": "l1",
                            "models": ["A"],
                            "jph": 0.25,
                            "shifts": [{"from": _day(0), "hours": 8}],
                        }
                    ],
                }
            ],
            "parts": [
                {
                    "name": "pack",
                    "stock": 0,
                    "supply": [{"from": _day(0), "per_week": parts_per_week}],
                }
            ],
            "markets": [
                {"name": "CN", "lead_days": 2},
                {
                    "name": "DE",
                    "price": 50_000,
                    "lanes": [
                        {
                            "name": "de",
                            "inland_days": 1,
                            "transit_days": 10,
                            "last_mile_days": 1,
                            "capacity": 5,
                            "sailings": [{"every": 7, "from": _day(3), "to": _day(119)}],
                        }
                    ],
                },
            ],
        }
    )
    rows = [
        {
            "order_id": f"o{i}",
            "model": "A",
            "variant": "S",
            "market": "CN" if i < 300 else "DE",
            "locked_at": dt.datetime(2030, 1, 1, 9) + dt.timedelta(minutes=i),
        }
        for i in range(330)
    ]
    return s, validate_orders(pl.DataFrame(rows), s)


def test_an_impossible_target_names_the_line() -> None:
    s, book = line_bound()
    with pytest.raises(AllocationError, match=r"cannot be met even with no export") as e:
        allocate(s, book, domestic_p90_days=30)
    assert "orders of A would miss it by 2030-01" in str(e.value)
    assert "line capacity of l1 binds (full from 2030-01)" in str(e.value)
    assert "part" not in str(e.value)


def test_an_impossible_target_names_the_part() -> None:
    s, book = line_bound(parts_per_week=7)
    line = s.plants[0].lines[0].model_copy(update={"jph": 5.0})
    s = s.replace(plants=[{"name": "p", "lines": [line.model_dump(by_alias=True)]}])
    with pytest.raises(AllocationError, match=r"part pack binds") as e:
        allocate(s, book, domestic_p90_days=30)
    assert "line capacity" not in str(e.value)


def test_a_lead_time_longer_than_the_target_is_named() -> None:
    s, book = line_bound()
    with pytest.raises(AllocationError, match=r"lead time of market CN"):
        allocate(s, book, domestic_p90_days=1)


def test_no_export_market_or_months_outside_the_horizon() -> None:
    s, book = line_bound()
    with pytest.raises(AllocationError, match=r"outside the horizon"):
        allocate(s, book, domestic_p90_days=300, months=(dt.date(2031, 1, 1), dt.date(2031, 3, 1)))
    road = s.replace(markets=[{"name": "CN", "lead_days": 2}])
    with pytest.raises(AllocationError, match=r"no export market"):
        allocate(
            road, book.table.filter(pl.col("market") == "CN").drop("row"), domestic_p90_days=300
        )


@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.integers(10, 120))
def test_the_planner_never_ships_more_than_the_quotas(
    case: tuple[Scenario, OrderBook, int | None], target: int
) -> None:
    s, book, _ = case
    try:
        a = allocate(s, book, domestic_p90_days=target, months=whole_horizon(s))
    except AllocationError as e:
        message = str(e)
        a = None
    if a is None:
        assert "cannot be met" in message
        return
    v = a.verified
    assert (v["departed"] <= v["quota"]).all()
    got = a.quotas.group_by("month", "market").agg(pl.col("cars").sum())
    both = v.join(got, on=["month", "market"], maintain_order="left")
    assert both["cars"].to_list() == both["quota"].to_list()
    assert both.height == v.height
    for mk in a.scenario.markets:  # the scenario carries the quotas, month by month
        if mk.lanes:
            assert mk.quota is not None
            for r in v.filter(pl.col("market") == mk.name).iter_rows(named=True):
                assert mk.quota.months[r["month"]] == r["quota"]
    assert a.margin == pytest.approx(float(a.quotas["margin"].sum()))
    assert a.met == (a.domestic_p90 is None or a.domestic_p90 <= target)
    sm = a.summary()
    assert sm["met"] == a.met
    assert len(sm["quotas"]) == a.quotas.height
    grid = a.quotas_by_month()  # what `promiseline allocate` prints: months x markets, total
    markets = list(dict.fromkeys(a.quotas["market"].to_list()))
    assert grid.columns == ["month", *markets, "total"]
    assert grid["month"].to_list() == sorted(set(a.quotas["month"].to_list()))
    for r in grid.iter_rows(named=True):
        month = got.filter(pl.col("month") == r["month"])
        assert {m: r[m] for m in markets} == dict(month.select("market", "cars").iter_rows())
        assert r["total"] == month["cars"].sum()


@pytest.mark.parametrize(("gate", "january"), [("2030-02-11", True), ("2030-02-12", False)])
def test_a_gate_closes_a_month_whose_last_departure_arrives_before_it(
    gate: str, january: bool
) -> None:
    """Departing on 31 January, 10 days at sea and 1 to the customer: 11 February."""
    s, book = line_bound()
    de = s.markets[1].model_dump(by_alias=True)
    s = s.replace(
        markets=[s.markets[0].model_dump(), {**de, "gates": [{"model": "A", "from": gate}]}]
    )
    inp = inputs(s, book, whole_horizon(s))
    assert inp.open[:, 0, 0].tolist() == [january, True, True, True]
