"""Hypothesis strategies: small random scenarios and order books that stress every rule."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import polars as pl
from hypothesis import strategies as st

from promiseline.core.model.orders import BOOK_COLUMNS
from promiseline.core.model.scenario import WEEKDAYS, Market, Scenario

START = dt.date(2025, 1, 1)
OPTION_SETS = ["", '{"roof":"pan"}', '{"paint":"green"}', '{"roof":"pan","paint":"green"}']


def _date(draw: st.DrawFn, lo: int, hi: int) -> dt.date:
    return START + dt.timedelta(days=draw(st.integers(lo, hi)))


@st.composite
def scenarios(draw: st.DrawFn, export: bool | None = None, moment: bool | None = None) -> Scenario:
    """A random scenario; `export` True forces a market by sea, False rules it out;
    `moment` True plans it as of a day in its horizon with a lead-in (None: maybe)."""
    horizon = draw(st.integers(5, 45))
    n_parts = draw(st.integers(0, 3))
    parts = [
        {
            "name": f"p{i}",
            "stock": draw(st.integers(0, 8)),
            "supply": sorted(
                (
                    {
                        "from": _date(draw, -3, horizon),
                        "per_week": draw(st.sampled_from([0, 1, 2.5, 5, 7, 10, 21])),
                    }
                    for _ in range(draw(st.integers(0, 2)))
                ),
                key=lambda x: x["from"],
            ),
        }
        for i in range(n_parts)
    ]
    models = []
    for m in range(draw(st.integers(1, 2))):
        variants = []
        for v in range(draw(st.integers(1, 3))):
            need = {f"p{i}": draw(st.integers(1, 2)) for i in range(n_parts) if draw(st.booleans())}
            variants.append({"name": f"v{v}", "parts": need})
        models.append({"model": f"M{m}", "variants": variants})
    model_names = [m["model"] for m in models]
    lines = []
    for i in range(draw(st.integers(1, 3))):
        line: dict[str, Any] = {
            "name": f"l{i}",
            "models": draw(st.lists(st.sampled_from(model_names), min_size=1, unique=True)),
            "jph": draw(st.sampled_from([0.3, 0.5, 1, 1.5, 2, 3])),
            "shifts": sorted(
                (
                    {
                        "from": _date(draw, -2, horizon),
                        "hours": draw(st.sampled_from([0, 1, 2, 3.5, 4, 8])),
                    }
                    for _ in range(draw(st.integers(1, 2)))
                ),
                key=lambda x: x["from"],
            ),
        }
        if draw(st.booleans()):
            line["start"] = _date(draw, -2, horizon // 2)
        if draw(st.booleans()):
            line["ramp_up"] = {
                "from": _date(draw, -5, horizon),
                "initial": draw(st.sampled_from([0.0, 0.2, 0.5])),
                "weeks": draw(st.sampled_from([0, 0.5, 1, 3])),
                "shape": draw(st.sampled_from(["linear", "s"])),
            }
        if draw(st.booleans()):
            line["working_days"] = draw(
                st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True)
            )
        if draw(st.integers(0, 3)) == 0:
            a = draw(st.integers(0, horizon))
            line["shutdowns"] = [
                {
                    "name": "retool",
                    "from": START + dt.timedelta(days=a),
                    "to": START + dt.timedelta(days=a + draw(st.integers(0, 4))),
                }
            ]
        if draw(st.integers(0, 3)) == 0:  # slots lost to empty carriers (plan --sequence)
            line["lost_slots"] = [
                {"date": _date(draw, -2, horizon + 2), "slots": draw(st.integers(1, 3))}
                for _ in range(draw(st.integers(1, 3)))
            ]
        if draw(st.integers(0, 3)) == 0:  # stations: they cap a day's matching cars
            line["stations"] = [
                {
                    "name": f"st{k}",
                    "match": draw(st.sampled_from([{"options": {"roof": "pan"}}, {}])),
                    "p": (pq := draw(st.sampled_from([(0, 1), (1, 2), (2, 3), (1, 5)])))[0],
                    "q": pq[1],
                    "priority": draw(st.sampled_from(["high", "high", "low"])),
                }
                for k in range(draw(st.integers(1, 2)))
            ]
        lines.append(line)
    half = (len(lines) + 1) // 2
    plants = [{"name": "pa", "lines": lines[:half]}]
    if lines[half:]:
        plants.append({"name": "pb", "lines": lines[half:]})
    mix_limits = []
    for i in range(draw(st.integers(0, 3))):
        match: dict[str, Any] = {}
        if draw(st.booleans()):
            match["model"] = draw(st.sampled_from(model_names))
            if draw(st.booleans()):
                match["variant"] = "v0"
        if draw(st.booleans()):
            match["options"] = {"roof": "pan"}
        mx: dict[str, Any] = {
            "name": f"mx{i}",
            "match": match,
            "max_share": draw(st.sampled_from([0, 0.25, 0.5, 0.6, 1])),
        }
        if draw(st.booleans()):
            mx["line"] = draw(st.sampled_from([ln["name"] for ln in lines]))
        mix_limits.append(mx)
    shutdowns = []
    if draw(st.booleans()):
        a = draw(st.integers(0, horizon))
        shutdowns.append(
            {
                "name": "cny",
                "from": START + dt.timedelta(days=a),
                "to": START + dt.timedelta(days=a + draw(st.integers(0, 6))),
            }
        )
    markets = [{"name": "CN", "lead_days": draw(st.integers(0, 9))}]
    if draw(st.booleans()):
        markets.append(
            {
                "name": "DE",
                "lead_days": draw(st.integers(0, 40)),
                "opens": _date(draw, 0, horizon + 30),
            }
        )
    if export or (export is None and draw(st.booleans())):
        markets.append(_export_market(draw, horizon, models))
    data = {
        "name": "random",
        "start": START,
        "horizon_days": horizon,
        "frozen_days": draw(st.integers(0, 4)),
        "calendar": {
            "working_days": draw(
                st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True)
            ),
            "shutdowns": shutdowns,
        },
        "products": models,
        "plants": plants,
        "parts": parts,
        "mix_limits": mix_limits,
        "markets": markets,
    }
    if moment or (moment is None and draw(st.booleans())):
        day = START + dt.timedelta(days=draw(st.integers(0, horizon)))
        at = dt.datetime.combine(day, dt.time(draw(st.integers(0, 23))))
        data["as_of"] = draw(st.sampled_from([day, at]))
        data["lead_in_days"] = draw(st.sampled_from([0, 0, 1, 3, 7]))
    return Scenario.model_validate(data)


def _export_market(draw: st.DrawFn, horizon: int, models: list[dict[str, Any]]) -> dict[str, Any]:
    """A market by sea: lanes with recurring and one-off sailings (some on the same date,
    some outside the horizon), small capacities, gates and sometimes a monthly quota."""
    lanes = []
    for i in range(draw(st.integers(1, 3))):
        sailings: list[dict[str, Any]] = []
        for _ in range(draw(st.integers(1, 3))):
            if draw(st.integers(0, 3)) > 0:
                a = draw(st.integers(-5, horizon))
                sailings.append(
                    {
                        "every": draw(st.integers(1, 7)),
                        "from": START + dt.timedelta(days=a),
                        "to": START + dt.timedelta(days=a + draw(st.integers(0, horizon + 5))),
                    }
                )
            else:
                one: dict[str, Any] = {"date": _date(draw, -3, horizon + 3)}
                if draw(st.booleans()):
                    one["capacity"] = draw(st.integers(0, 4))
                sailings.append(one)
        lanes.append(
            {
                "name": f"lane{i}",
                "port": draw(st.sampled_from(["tianjin", "shanghai"])),
                "inland_days": draw(st.integers(0, 4)),
                "transit_days": draw(st.integers(0, 12)),
                "last_mile_days": draw(st.integers(0, 5)),
                "capacity": draw(st.sampled_from([0, 1, 2, 3, 5])),
                "sailings": sailings,
            }
        )
    gates = []
    for _ in range(draw(st.integers(0, 2))):
        m = draw(st.sampled_from(models))
        gate: dict[str, Any] = {"model": m["model"], "from": _date(draw, 0, horizon + 30)}
        if draw(st.booleans()):
            gate["variant"] = draw(st.sampled_from(m["variants"]))["name"]
        gates.append(gate)
    market: dict[str, Any] = {"name": "EX", "lanes": lanes, "gates": gates}
    if draw(st.booleans()):
        market["opens"] = _date(draw, 0, horizon + 30)
    if draw(st.integers(0, 2)) == 0:
        months = {}
        if draw(st.booleans()):
            months[f"{START.year:04d}-{START.month + 1:02d}"] = draw(st.integers(0, 3))
        market["quota"] = {"max_per_month": draw(st.integers(0, 6)), "months": months}
    if draw(st.booleans()):
        market["build_ahead_days"] = draw(st.sampled_from([0, 1, 5, 20]))
    return market


@st.composite
def order_tables(draw: st.DrawFn, s: Scenario, max_orders: int = 40) -> pl.DataFrame:
    n = draw(st.integers(0, max_orders))
    rows = []
    lines = [(ln.name, ln.models) for _, ln in s.lines]
    now = (s.now - s.start).days
    for i in range(n):
        prod = draw(st.sampled_from(s.products))
        status = draw(
            st.sampled_from(
                ["locked"] * 6
                + ["scheduled", "scheduled", "reserved", "cancelled"]
                + ["built", "built", "shipped", "delivered"]
            )
        )
        market = draw(st.sampled_from(s.markets))
        line = build = sailing = None
        if status in ("scheduled", "built", "shipped", "delivered") and draw(st.booleans()):
            cands = [n_ for n_, ms in lines if prod.model in ms]
            if cands:
                line = draw(st.sampled_from(cands))
                hi = now + s.frozen_days + 2 if status == "scheduled" else now + 1
                build = s.start + dt.timedelta(days=draw(st.integers(-1, hi)))
                if market.lanes and draw(st.booleans()):
                    sailing = draw(st.sampled_from(_sailings(s, market)))
        rows.append(
            {
                "order_id": f"o{draw(st.integers(0, 10**6)):07d}-{i}",
                "model": prod.model,
                "variant": draw(st.sampled_from(prod.variants)).name,
                "options": draw(st.sampled_from(OPTION_SETS)),
                "market": market.name,
                "locked_at": (
                    dt.datetime.combine(START, dt.time())
                    + dt.timedelta(hours=draw(st.integers(-48, 24 * (s.horizon_days + 2))))
                ).isoformat(),
                "priority": str(draw(st.sampled_from([0, 0, 0, 1, 2, -1]))),
                "status": status,
                "line": line,
                "build_date": build.isoformat() if build else None,
                "sailing_id": sailing,
            }
        )
    schema = dict.fromkeys(BOOK_COLUMNS, pl.String)
    return pl.DataFrame(rows, schema=schema)


def _sailings(s: Scenario, market: Market) -> list[str]:
    """Ids of the market's sailings, and one of a day with none (it holds no seat)."""
    ids = [
        f"{lane.name}:{day.isoformat()}"
        for lane in market.lanes
        for entry in lane.sailings
        for day in entry.dates()
        if s.start <= day < s.end
    ]
    return [*ids, f"{market.lanes[0].name}:{(s.start - dt.timedelta(days=1)).isoformat()}"]


def options_of(text: str) -> dict[str, str]:
    return json.loads(text) if text else {}
