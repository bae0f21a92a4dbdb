"""A slow, obviously-correct planner, written straight from SCENARIO.md.

Plain Python, one day and one order at a time; it shares nothing with the fast path but
the scenario model, so the property tests compare two independent readings of the rule.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

import polars as pl

from promiseline.core.model.scenario import WEEKDAYS, Line, Match, Plant, Scenario

EPS = 1e-9


def floor_(x: float) -> int:
    return math.floor(x + EPS)


def last_entry(entries: list[tuple[dt.date, float]], day: dt.date) -> float:
    value = 0.0
    for frm, v in entries:
        if frm <= day:
            value = v
    return value


def ramp(line: Line, day: dt.date) -> float:
    r = line.ramp_up
    if r is None:
        return 1.0
    since = (day - r.from_).days
    if since < 0:
        return r.initial
    if r.weeks == 0:
        return 1.0
    x = since / (7 * r.weeks)
    if x >= 1:
        return 1.0
    f = x if r.shape == "linear" else 3.0 * x * x - 2.0 * x * x * x
    return r.initial + (1.0 - r.initial) * f


def stopped(s: Scenario, line: Line, day: dt.date) -> bool:
    return any(x.from_ <= day <= x.to for x in (*s.calendar.shutdowns, *line.shutdowns))


def works(s: Scenario, plant: Plant, line: Line, day: dt.date) -> bool:
    """A working weekday after the line starts, with shift hours (shutdowns aside)."""
    wd = WEEKDAYS[day.weekday()]
    begin = line.start or plant.start
    hours = last_entry([(x.from_, x.hours) for x in line.shifts], day)
    return (
        wd in (line.working_days or s.calendar.working_days)
        and (begin is None or day >= begin)
        and hours > 0
    )


def line_slots(s: Scenario, plant: Plant, line: Line) -> list[int]:
    out, running, prev = [], 0.0, 0
    for i in range(s.horizon_days):
        day = s.start + dt.timedelta(days=i)
        cap = 0.0
        if works(s, plant, line, day) and not stopped(s, line, day):
            hours = last_entry([(x.from_, x.hours) for x in line.shifts], day)
            cap = line.jph * hours * ramp(line, day)
        running += cap
        whole = floor_(running)
        lost = sum(x.slots for x in line.lost_slots if x.date == day)  # extension
        out.append(max(0, whole - prev - lost))
        prev = whole
    return out


def matches(m: Match, model: str, variant: str, options: dict[str, str]) -> bool:
    return (
        (m.model is None or m.model == model)
        and (m.variant is None or m.variant == variant)
        and all(options.get(k) == v for k, v in m.options.items())
    )


@dataclass
class Row:
    status: str  # planned | unplanned
    line: str | None
    build: dt.date | None
    delivery: dt.date | None
    bound_by: str
    queue: int | None
    sailing: str | None = None  # lane:departure date
    overdue: bool = False


class Reference:
    def __init__(self, s: Scenario) -> None:
        self.s = s
        self.H = s.horizon_days
        self.lines = list(s.lines)
        self.slots = [line_slots(s, p, ln) for p, ln in self.lines]
        self.shut = [
            [
                works(s, p, ln, s.start + dt.timedelta(days=d))
                and stopped(s, ln, s.start + dt.timedelta(days=d))
                for d in range(self.H)
            ]
            for p, ln in self.lines
        ]
        self.used = [[0] * self.H for _ in self.lines]
        self.supply: dict[str, list[int]] = {}
        for part in s.parts:
            running, row = 0.0, []
            for i in range(self.H):
                day = s.start + dt.timedelta(days=i)
                running += last_entry([(x.from_, x.per_week) for x in part.supply], day) / 7.0
                row.append(part.stock + floor_(running))
            self.supply[part.name] = row
        self.consumed = {p.name: [0] * self.H for p in s.parts}
        self.mixes: list[tuple[str, int, Match, list[int]]] = []
        for mx in s.mix_limits:
            for li, (_, ln) in enumerate(self.lines):
                if (
                    (mx.line == ln.name)
                    if mx.line
                    else (mx.match.model is None or mx.match.model in ln.models)
                ):
                    caps = [floor_(mx.max_share * x) for x in self.slots[li]]
                    self.mixes.append((mx.name, li, mx.match, caps))
        for li, (_, ln) in enumerate(self.lines):  # a station: p of every q of the day's slots
            for st in (x for x in ln.stations if x.priority == "high"):
                caps = [st.p * (x // st.q) + min(st.p, x % st.q) for x in self.slots[li]]
                self.mixes.append((st.name, li, st.match, caps))
        self.mix_used = [[0] * self.H for _ in self.mixes]
        # export: per lane, departure -> capacity (sailings inside the horizon, one per date)
        self.sailings: dict[str, dict[dt.date, int]] = {}
        for mk in s.markets:
            for lane in mk.lanes:
                caps: dict[dt.date, int] = {}
                for entry in lane.sailings:
                    for day in entry.dates():
                        if s.start <= day < s.end:
                            size = lane.capacity if entry.capacity is None else entry.capacity
                            caps[day] = max(caps.get(day, 0), size)
                self.sailings[lane.name] = dict(sorted(caps.items()))
        self.loaded: dict[tuple[str, dt.date], int] = {}
        self.departed: dict[tuple[str, int, int], int] = {}  # market, year, month

    def needs(self, model: str, variant: str) -> dict[str, int]:
        prod = next(p for p in self.s.products if p.model == model)
        return dict(next(v for v in prod.variants if v.name == variant).parts)

    def part_ok(self, part: str, q: int, d: int) -> bool:
        total = 0
        used_through = []
        for t in range(self.H):
            total += self.consumed[part][t]
            used_through.append(total)
        return all(self.supply[part][t] - used_through[t] >= q for t in range(d, self.H))

    def my_mixes(self, li: int, model: str, variant: str, opts: dict[str, str]) -> list[int]:
        return [
            m
            for m, (_, mli, match, _) in enumerate(self.mixes)
            if mli == li and matches(match, model, variant, opts)
        ]

    def line_ok(self, li: int, d: int, model: str, variant: str, opts: dict[str, str]) -> bool:
        if model not in self.lines[li][1].models or self.used[li][d] >= self.slots[li][d]:
            return False
        return all(
            self.mix_used[m][d] < self.mixes[m][3][d]
            for m in self.my_mixes(li, model, variant, opts)
        )

    def find(self, model: str, variant: str, opts: dict[str, str], r: int) -> tuple[int, int]:
        """(day, line index) or (H, -1)."""
        need = self.needs(model, variant)
        # parts in scenario order
        for d in range(r, self.H):
            if not all(self.part_ok(p, q, d) for p, q in need.items()):
                continue
            for li in range(len(self.lines)):
                if self.line_ok(li, d, model, variant, opts):
                    return d, li
        return self.H, -1

    def bound(self, model: str, variant: str, opts: dict[str, str], r: int, d: int) -> str:
        mine = [li for li, (_, ln) in enumerate(self.lines) if model in ln.models]
        for b in range(d - 1, r - 1, -1):
            if any(self.slots[li][b] > 0 or self.shut[li][b] for li in mine):
                break
        else:
            return ""
        if not any(self.slots[li][b] > 0 for li in mine):
            return "shutdown"
        need = self.needs(model, variant)
        for part in self.s.parts:
            if part.name in need and not self.part_ok(part.name, need[part.name], b):
                return f"part:{part.name}"
        for li in mine:
            if self.used[li][b] < self.slots[li][b]:
                for m in self.my_mixes(li, model, variant, opts):
                    if self.mix_used[m][b] >= self.mixes[m][3][b]:
                        return f"mix:{self.mixes[m][0]}"
        for li in mine:
            if self.slots[li][b] > 0:
                return f"line:{self.lines[li][1].name}"
        return ""

    def book(self, model: str, variant: str, opts: dict[str, str], li: int, d: int) -> None:
        if not 0 <= d < self.H:
            return
        self.used[li][d] += 1
        for m in self.my_mixes(li, model, variant, opts):
            self.mix_used[m][d] += 1
        for p, q in self.needs(model, variant).items():
            self.consumed[p][d] += q

    def deliver(self, market: str, d: int) -> tuple[dt.date, bool]:
        mk = next(m for m in self.s.markets if m.name == market)
        build = self.s.start + dt.timedelta(days=d)
        assert mk.lead_days is not None
        delivery = build + dt.timedelta(days=mk.lead_days)
        if mk.opens and mk.opens > delivery:
            return mk.opens, True
        return delivery, False

    def has_room(self, market: str, lane: str, day: dt.date) -> bool:
        mk = next(m for m in self.s.markets if m.name == market)
        if self.loaded.get((lane, day), 0) >= self.sailings[lane][day]:
            return False
        quota = mk.quota.cap(day.year, day.month) if mk.quota else None
        return quota is None or self.departed.get((market, day.year, day.month), 0) < quota

    def sailing(self, market: str, d: int) -> tuple[str, dt.date] | None:
        """The sailing an order built on day d takes: per lane the first with room on or
        after its port date; the first to arrive, ties by lane order."""
        mk = next(m for m in self.s.markets if m.name == market)
        best: tuple[dt.date, str, dt.date] | None = None
        for lane in mk.lanes:
            port = self.s.start + dt.timedelta(days=d + lane.inland_days)
            for day in self.sailings[lane.name]:
                if day >= port and self.has_room(market, lane.name, day):
                    arrival = day + dt.timedelta(days=lane.transit_days)
                    if best is None or arrival < best[0]:
                        best = (arrival, lane.name, day)
                    break
        return None if best is None else (best[1], best[2])

    def load(self, market: str, lane: str, day: dt.date) -> None:
        self.loaded[(lane, day)] = self.loaded.get((lane, day), 0) + 1
        key = (market, day.year, day.month)
        self.departed[key] = self.departed.get(key, 0) + 1

    def ship(
        self, o: dict[str, object], d: int, sailing: tuple[str, dt.date], build_bound: str
    ) -> tuple[dt.date, str]:
        """Delivery date and bound of an export order on this sailing."""
        mk = next(m for m in self.s.markets if m.name == o["market"])
        lane = next(ln for ln in mk.lanes if ln.name == sailing[0])
        base = sailing[1] + dt.timedelta(days=lane.transit_days + lane.last_mile_days)
        gates = [
            g.from_ for g in mk.gates if g.model == o["model"] and g.variant in (None, o["variant"])
        ]
        gate = max(gates) if gates else None
        delivery = max([base] + gates + ([mk.opens] if mk.opens else []))
        port = self.s.start + dt.timedelta(days=d + lane.inland_days)
        first = next((x for x in self.sailings[lane.name] if x >= port), None)
        if gate is not None and delivery == gate and gate > base:
            return delivery, f"gate:{mk.name}"
        if mk.opens is not None and delivery == mk.opens and mk.opens > base:
            return delivery, f"market:{mk.name}"
        if first != sailing[1]:
            return delivery, f"sailing:{lane.name}"
        return delivery, build_bound

    def ahead_floor(self, o: dict[str, Any]) -> int | None:
        """The day index before which `build_ahead_days` keeps an export order unbuilt:
        need (the later of opens and the gate's from) less the fastest lane, less N."""
        mk = next(m for m in self.s.markets if m.name == o["market"])
        if mk.build_ahead_days is None:
            return None
        gates = [
            g.from_ for g in mk.gates if g.model == o["model"] and g.variant in (None, o["variant"])
        ]
        dates = gates + ([mk.opens] if mk.opens else [])
        if not dates:
            return None
        fastest = min(ln.inland_days + ln.transit_days + ln.last_mile_days for ln in mk.lanes)
        return (max(dates) - self.s.start).days - fastest - mk.build_ahead_days

    def export(self, market: str) -> bool:
        return bool(next(m for m in self.s.markets if m.name == market).lanes)


def reference_plan(s: Scenario, orders: pl.DataFrame) -> dict[str, Row]:
    """Plan validated orders (the OrderBook table) by the rule, slowly."""
    ref = Reference(s)
    rows = orders.to_dicts()
    now = s.as_of.date() if isinstance(s.as_of, dt.datetime) else (s.as_of or s.start)
    frozen_end = now + dt.timedelta(days=s.frozen_days)

    def key(o: dict[str, object]) -> tuple[object, ...]:
        return (o["priority"], o["locked_at"], o["order_id"])

    def is_history(o: dict[str, Any]) -> bool:
        return (
            o["status"] in ("built", "shipped", "delivered")
            and o["line"] is not None
            and o["build_date"] is not None
            and s.start <= o["build_date"] < s.end
        )

    def is_frozen(o: dict[str, Any]) -> bool:
        return (
            o["status"] == "scheduled"
            and o["build_date"] is not None
            and o["build_date"] < frozen_end
            and (s.as_of is None or o["build_date"] >= now)  # before now: overdue
        )

    def seat(o: dict[str, Any]) -> tuple[str, dt.date] | None:
        """The sailing the order names, if it departs in the horizon."""
        lane, _, day = (o.get("sailing_id") or "").partition(":")
        when = dt.date.fromisoformat(day) if day else None
        return (lane, when) if when in ref.sailings.get(lane, {}) else None

    history = sorted((o for o in rows if is_history(o)), key=key)
    frozen = sorted((o for o in rows if is_frozen(o)), key=key)
    fz_ids = {o["order_id"] for o in frozen}
    active = sorted(
        (o for o in rows if o["status"] in ("locked", "scheduled") and o["order_id"] not in fz_ids),
        key=key,
    )
    reserved = sorted((o for o in rows if o["status"] == "reserved"), key=key)
    out: dict[str, Row] = {}
    queue = 0
    line_index = {ln.name: i for i, (_, ln) in enumerate(ref.lines)}
    for o in history:  # it happened: its slot, parts and named seat, even past capacity
        opts = json.loads(o["options"])
        d = (o["build_date"] - s.start).days
        ref.book(o["model"], o["variant"], opts, line_index[o["line"]], d)
        delivery, sailing = None, None
        if ref.export(o["market"]):
            sailing = seat(o) if o.get("sailing_id") else None
            if sailing is not None:
                ref.load(o["market"], *sailing)
                delivery, _ = ref.ship(o, d, sailing, "")
        else:
            delivery, _ = ref.deliver(o["market"], d)
        out[o["order_id"]] = Row(
            o["status"],
            o["line"],
            o["build_date"],
            delivery,
            "",
            None,
            _id(sailing) if sailing else None,
        )
    for o in frozen:
        opts = json.loads(o["options"])
        d = (o["build_date"] - s.start).days
        ref.book(o["model"], o["variant"], opts, line_index[o["line"]], d)  # kept even unshipped
        if ref.export(o["market"]):
            if not s.start <= o["build_date"] < s.end:  # outside the horizon: takes nothing
                sailing = None
            else:
                sailing = seat(o) if o.get("sailing_id") else ref.sailing(o["market"], d)
            if sailing is None:  # built on its frozen day all the same, never shipped
                out[o["order_id"]] = Row("unplanned", o["line"], o["build_date"], None, "", None)
                continue
            ref.load(o["market"], *sailing)
            queue += 1
            delivery, bound = ref.ship(o, d, sailing, "")
            out[o["order_id"]] = Row(
                "planned", o["line"], o["build_date"], delivery, bound, queue, _id(sailing)
            )
            continue
        queue += 1
        delivery, by_market = ref.deliver(o["market"], d)
        bound = f"market:{o['market']}" if by_market else ""
        out[o["order_id"]] = Row("planned", o["line"], o["build_date"], delivery, bound, queue)
    for group in (active, reserved):
        for o in group:
            opts = json.loads(o["options"])
            earliest = o["locked_at"].date() + dt.timedelta(days=s.lead_in_days)
            r = max((now - s.start).days, (earliest - s.start).days)
            ahead = ref.ahead_floor(o)  # build no further ahead than needed
            floored = ahead is not None and ahead > r
            if floored:
                assert ahead is not None
                r = ahead
            overdue = (
                s.as_of is not None
                and o["status"] == "scheduled"
                and o["build_date"] is not None
                and o["build_date"] < now
            )
            d, li = (ref.H, -1) if r >= ref.H else ref.find(o["model"], o["variant"], opts, r)
            bound = "" if r >= ref.H else ref.bound(o["model"], o["variant"], opts, r, d)
            built_on_floor = floored and li >= 0 and d == r
            if li < 0:
                out[o["order_id"]] = Row("unplanned", None, None, None, bound, None, None, overdue)
                continue
            build = s.start + dt.timedelta(days=d)
            name = ref.lines[li][1].name
            if ref.export(o["market"]):
                sailing = ref.sailing(o["market"], d)
                if sailing is None:  # not built at all: not on the floor either
                    out[o["order_id"]] = Row(
                        "unplanned", None, None, None, bound, None, None, overdue
                    )
                    continue
                if built_on_floor:
                    bound = f"ahead:{o['market']}"
                delivery, bound = ref.ship(o, d, sailing, bound)
                if group is reserved:
                    out[o["order_id"]] = Row(
                        "unplanned", name, build, delivery, bound, None, _id(sailing)
                    )
                    continue
                ref.book(o["model"], o["variant"], opts, li, d)
                ref.load(o["market"], *sailing)
                queue += 1
                out[o["order_id"]] = Row(
                    "planned", name, build, delivery, bound, queue, _id(sailing), overdue
                )
                continue
            delivery, by_market = ref.deliver(o["market"], d)  # by road: no floor
            if group is reserved:
                bound = f"market:{o['market']}" if by_market else bound
                out[o["order_id"]] = Row("unplanned", name, build, delivery, bound, None)
                continue
            ref.book(o["model"], o["variant"], opts, li, d)
            queue += 1
            bound = f"market:{o['market']}" if by_market else bound
            out[o["order_id"]] = Row("planned", name, build, delivery, bound, queue, None, overdue)
    return out


def _id(sailing: tuple[str, dt.date]) -> str:
    return f"{sailing[0]}:{sailing[1].isoformat()}"
