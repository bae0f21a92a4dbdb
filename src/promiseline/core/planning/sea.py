"""Export by sea: lanes, sailings and quotas as flat arrays for the kernel (SCENARIO.md,
"Export markets"), and what an order's sailing makes of its delivery date.

A sailing counts when it departs inside the horizon (on or after the start, before the
end): an order whose lanes have no sailing with room there is unplanned, `no sailing`.
Sailings of one lane are sorted by departure, entries on one date merged (the larger
capacity), so "the first sailing departing on or after the port date" is a search.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from promiseline.core.arrays import I32, I64
from promiseline.core.model.scenario import Lane, Market, Scenario
from promiseline.core.planning.kernel import NO_SAILING

__all__ = [
    "NO_SAILING",
    "Sea",
    "Shipped",
    "delivery_day",
    "floor_days",
    "gate_days",
    "market_index",
    "sea",
    "ship",
]

UNCAPPED = np.int64(2**62)
NEVER = -(2**30)  # a market that is always open, an order with no gate


def month_index(day: dt.date, start: dt.date) -> int:
    return (day.year - start.year) * 12 + day.month - start.month


@dataclass(frozen=True, slots=True)
class Sea:
    """Every lane and sailing of the scenario's export markets, in scenario order."""

    lane_names: tuple[str, ...]
    lane_ports: tuple[str, ...]
    lane_market: I32
    inland: I64
    transit: I64
    last_mile: I64
    market_lane_ptr: I32  # [market + 1]: lanes of market m are ptr[m] .. ptr[m + 1]
    sail_ptr: I32  # [lane + 1]: sailings of lane l are ptr[l] .. ptr[l + 1]
    sail_day: I64  # departure, days since the start
    sail_cap: I64
    sail_month: I64  # calendar month of departure, counted from the start's month
    quota: I64  # [market, month]: departures allowed (UNCAPPED: no quota)

    @property
    def sail_lane(self) -> I64:
        return np.repeat(np.arange(len(self.lane_names)), np.diff(self.sail_ptr)).astype(np.int64)

    def arrays(self) -> tuple[Any, ...]:
        """As the kernel takes it (`sea` in kernel.py)."""
        return (
            self.market_lane_ptr,
            self.inland,
            self.transit,
            self.sail_ptr,
            self.sail_day,
            self.sail_cap,
            self.sail_month,
            self.quota,
        )

    def first_on_or_after(self, lane: I64, day: I64) -> I64:
        """Per order: index of the first sailing of `lane` departing on or after `day`
        (the lane's end when none)."""
        out = np.zeros(len(lane), dtype=np.int64)
        for ln in np.unique(lane):
            mine = lane == ln
            a, b = self.sail_ptr[ln], self.sail_ptr[ln + 1]
            out[mine] = a + np.searchsorted(self.sail_day[a:b], day[mine], side="left")
        return out


def sea(s: Scenario) -> Sea:
    """The lanes and sailings of `s` inside its horizon."""
    months = month_index(s.end, s.start) + 1
    names: list[str] = []
    ports: list[str] = []
    market_of: list[int] = []
    legs: list[tuple[int, int, int]] = []
    lane_ptr = [0]
    sail_ptr = [0]
    sail_day: list[int] = []
    sail_cap: list[int] = []
    quota = np.full((len(s.markets), months), UNCAPPED, dtype=np.int64)
    for m, mk in enumerate(s.markets):
        for ln in mk.lanes:
            names.append(ln.name)
            ports.append(ln.departure_port)
            market_of.append(m)
            legs.append((ln.inland_days, ln.transit_days, ln.last_mile_days))
            cap = _lane_days(s, ln)
            on = np.flatnonzero(cap >= 0)
            sail_day += on.tolist()
            sail_cap += cap[on].tolist()
            sail_ptr.append(len(sail_day))
        lane_ptr.append(len(names))
        if mk.quota is not None:
            for i in range(months):
                y, mo = divmod(s.start.month - 1 + i, 12)
                c = mk.quota.cap(s.start.year + y, mo + 1)
                if c is not None:
                    quota[m, i] = c
    epoch = np.datetime64(s.start, "D")
    dates = epoch + np.asarray(sail_day, dtype=np.int64)
    month = (
        dates.astype("datetime64[M]").astype(np.int64)
        - np.datetime64(s.start, "M").astype(np.int64)
        if sail_day
        else np.zeros(0, dtype=np.int64)
    )
    leg = np.asarray(legs, dtype=np.int64).reshape(-1, 3)
    return Sea(
        lane_names=tuple(names),
        lane_ports=tuple(ports),
        lane_market=np.asarray(market_of, dtype=np.int32),
        inland=leg[:, 0].copy(),
        transit=leg[:, 1].copy(),
        last_mile=leg[:, 2].copy(),
        market_lane_ptr=np.asarray(lane_ptr, dtype=np.int32),
        sail_ptr=np.asarray(sail_ptr, dtype=np.int32),
        sail_day=np.asarray(sail_day, dtype=np.int64),
        sail_cap=np.asarray(sail_cap, dtype=np.int64),
        sail_month=month.astype(np.int64),
        quota=quota,
    )


def _lane_days(s: Scenario, ln: Lane) -> I64:
    """Per horizon day: the capacity of the lane's sailing departing that day (-1: none);
    entries on one date merge into one sailing with the larger capacity. Vectorized: a
    lane of a thousand daily entries costs a thousand array steps, not a million."""
    days = s.horizon_days
    cap = np.full(days, -1, dtype=np.int64)
    for entry in ln.sailings:
        size = ln.capacity if entry.capacity is None else entry.capacity
        if entry.date is not None:
            d = np.array([(entry.date - s.start).days])
        else:
            start, end, every = entry.recurring
            first, last = (start - s.start).days, (end - s.start).days
            k0 = max(0, -(first // every))  # the first k with first + k * every >= 0
            d = first + every * np.arange(k0, (min(last, days - 1) - first) // every + 1)
        d = d[(d >= 0) & (d < days)]
        np.maximum.at(cap, d, size)
    return cap


def lane_warnings(s: Scenario) -> list[str]:
    """Export settings that are valid but leave every order of a lane or market without a
    sailing, or do nothing: said by `validate` before a plan surprises anyone."""
    out: list[str] = []
    for i, mk in enumerate(s.markets):
        seats = 0
        for j, ln in enumerate(mk.lanes):
            cap = _lane_days(s, ln)
            where = f"markets[{i}].lanes[{j}] ({ln.name})"
            if not (cap >= 0).any():
                out.append(f"{where}: no sailing departs inside the horizon ({s.start} to {s.end})")
            elif not (cap > 0).any():
                out.append(f"{where}: every sailing inside the horizon has capacity 0")
            seats += int(cap.clip(min=0).sum())
        if mk.lanes and not seats:
            out.append(f"markets[{i}] ({mk.name}): no seat on any sailing: its orders go unplanned")
        if mk.quota is not None:
            first, last = f"{s.start:%Y-%m}", f"{s.end - dt.timedelta(days=1):%Y-%m}"
            for month in sorted(mk.quota.months):
                if not first <= month <= last:
                    out.append(
                        f"markets[{i}].quota.months: {month} is outside the horizon "
                        f"({first} to {last}): it caps nothing"
                    )
    return out


def market_index(s: Scenario, market: pl.Series) -> I32:
    out: I32 = market.replace_strict(
        {m.name: i for i, m in enumerate(s.markets)}, return_dtype=pl.Int32
    ).to_numpy()
    return out


def gate_days(s: Scenario, mk: I32, model: pl.Series, variant: pl.Series) -> I32:
    """Per order (market index, model, variant): the day its homologation gate opens
    (NEVER when none)."""
    return _by_config(s, mk, model, variant, [bool(m.gates) for m in s.markets], Market.gate)


def floor_days(s: Scenario, mk: I32, model: pl.Series, variant: pl.Series) -> I32:
    """Per order: the earliest build day its market's `build_ahead_days` allows (NEVER
    when none: `Market.build_floor`)."""
    ahead = [m.build_ahead_days is not None for m in s.markets]
    return _by_config(s, mk, model, variant, ahead, Market.build_floor)


def _by_config(
    s: Scenario,
    mk: I32,
    model: pl.Series,
    variant: pl.Series,
    markets: list[bool],
    day_of: Callable[[Market, str, str], dt.date | None],
) -> I32:
    """Per order, `day_of` its market, model and variant as a day index (NEVER for None);
    only the orders of the `markets` flagged are looked at, each configuration once."""
    out = np.full(len(mk), NEVER, dtype=np.int32)
    rows = np.flatnonzero(np.isin(mk, [i for i, on in enumerate(markets) if on]))
    if not len(rows):
        return out
    keys = pl.DataFrame(
        {"mk": mk[rows], "model": model.gather(rows), "variant": variant.gather(rows)}
    )
    table = keys.unique()
    days = [day_of(s.markets[m], mo, v) for m, mo, v in table.iter_rows()]
    table = table.with_columns(
        day=pl.Series([NEVER if d is None else (d - s.start).days for d in days], dtype=pl.Int32)
    )
    out[rows] = keys.join(table, on=["mk", "model", "variant"], how="left", maintain_order="left")[
        "day"
    ].to_numpy()
    return out


def delivery_day(day: npt.NDArray[np.integer[Any]], lead: I32 | int, opens: I32 | int) -> I32:
    """By road: build day + market lead time, not before the market opens (SCENARIO.md)."""
    out: I32 = np.maximum(day + lead, opens).astype(np.int32)
    return out


@dataclass(frozen=True, slots=True)
class Shipped:
    """Per order, what its market and sailing make of its build day."""

    delivery: I32  # day index; meaningless where `built` is false
    lane: I32  # -1: not by sea
    port: I32  # port date (day index) on its lane
    sailing: I32  # -1: not by sea
    by_gate: npt.NDArray[np.bool_]
    by_market: npt.NDArray[np.bool_]
    by_sailing: npt.NDArray[np.bool_]  # did not get its lane's first sailing


def ship(sea_: Sea, day: I32, sailing: I32, lead: I32, opens: I32, gate: I32) -> Shipped:
    """Delivery days by the rules of SCENARIO.md: max(build + lead, opens) by road;
    max(arrival + last mile, gate, opens) by sea (where `sailing` >= 0)."""
    by_sea = sailing >= 0
    if not by_sea.any():
        none = np.zeros(len(day), dtype=bool)
        no = np.full(len(day), -1, dtype=np.int32)
        road = delivery_day(day, lead, opens)
        return Shipped(road, no, no, no, none, opens > day + lead, none)
    s_ix = np.where(by_sea, sailing, 0).astype(np.int64)
    lane = np.full(len(day), -1, dtype=np.int32)
    port = np.full(len(day), -1, dtype=np.int32)
    by_sailing = np.zeros(len(day), dtype=bool)
    base = (day.astype(np.int64) + lead).astype(np.int64)
    ln = sea_.sail_lane[s_ix[by_sea]]
    p = day[by_sea].astype(np.int64) + sea_.inland[ln]
    dep = sea_.sail_day[s_ix[by_sea]]
    base[by_sea] = dep + sea_.transit[ln] + sea_.last_mile[ln]
    lane[by_sea] = ln
    port[by_sea] = p
    by_sailing[by_sea] = sea_.first_on_or_after(ln, p) != s_ix[by_sea]
    g = np.where(by_sea, gate, NEVER)
    delivery = np.maximum(np.maximum(base, g), opens).astype(np.int32)
    by_gate = by_sea & (g > base) & (g >= opens)
    by_market = ~by_gate & (opens > base)
    sailed = np.where(by_sea, sailing, -1).astype(np.int32)
    by_sailing &= ~by_gate & ~by_market
    return Shipped(delivery, lane, port, sailed, by_gate, by_market, by_sailing)
