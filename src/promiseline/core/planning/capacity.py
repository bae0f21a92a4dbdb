"""Capacity in whole units per day: line slots, part arrivals and mix-limit caps.

Follows the arithmetic of SCENARIO.md to the slot: float64, products taken left to
right, running totals summed day by day, every floor taken as floor(value + 1e-9).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from promiseline.core.arrays import F64, I32, I64, Mask
from promiseline.core.model.scenario import WEEKDAYS, Line, Match, Plant, RampUp, Scenario, Shutdown
from promiseline.core.planning.sea import Sea, sea

EPS = 1e-9


def whole(running: F64) -> I64:
    """Whole units of a running total, by the contract's floor rule."""
    return np.floor(running + EPS).astype(np.int64)


def matches(match: Match, model: str, variant: str, options: Mapping[str, str]) -> bool:
    """Whether an order with this configuration is counted by a mix limit."""
    if match.model is not None and match.model != model:
        return False
    if match.variant is not None and match.variant != variant:
        return False
    return all(options.get(k) == v for k, v in match.options.items())


@dataclass(frozen=True, slots=True)
class MixInstance:
    """One mix limit on one line (a limit without `line` has one per line), or a station
    of a line (extension), which caps a day's matching cars by its spacing `p` of `q`."""

    name: str
    line: int
    match: Match
    max_share: float
    spacing: tuple[int, int] | None = None

    def caps(self, slots: npt.NDArray[np.integer]) -> I64:
        """The most matching orders on each day of `slots`: `floor(max_share x slots)`;
        for a station, what `slots` consecutive cars can hold with at most `p` in any
        `q` (the first `p` of every `q`): `p x (slots // q) + min(p, slots mod q)`."""
        if self.spacing is None:
            return whole(self.max_share * slots.astype(np.float64))
        p, q = self.spacing
        n = slots.astype(np.int64)
        return p * (n // q) + np.minimum(p, n % q)


@dataclass(frozen=True, slots=True)
class Capacity:
    """Per line, part and mix limit, one value per horizon day (index 0 = scenario start)."""

    start: dt.date
    days: int
    line_names: tuple[str, ...]
    plant_names: tuple[str, ...]  # plant of each line
    line_models: tuple[frozenset[str], ...]
    vehicles: F64  # [line, day] jph x hours x ramp on working days
    slots: I32  # [line, day] whole slots
    shutdown: Mask  # [line, day] a working day lost to a shutdown
    part_names: tuple[str, ...]
    on_hand: I64  # [part, day] stock + whole arrivals through that day
    mixes: tuple[MixInstance, ...]
    mix_cap: I32  # [mix, day] orders that may match on that line and day
    sea: Sea  # lanes and sailings of the export markets

    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day)

    def day(self, date: dt.date) -> int:
        return (date - self.start).days


def _dates(start: dt.date, days: int) -> npt.NDArray[np.datetime64]:
    return np.datetime64(start, "D") + np.arange(days)


def _schedule(dates: npt.NDArray[np.datetime64], froms: list[dt.date], values: list[float]) -> F64:
    """The value of the last entry whose `from` <= day; 0 before the first."""
    if not froms:
        return np.zeros(len(dates))
    idx = np.searchsorted(np.array(froms, dtype="datetime64[D]"), dates, side="right") - 1
    vals = np.asarray(values, dtype=np.float64)[np.maximum(idx, 0)]
    return np.where(idx >= 0, vals, 0.0)


def ramp(dates: npt.NDArray[np.datetime64], r: RampUp | None) -> F64:
    """Rate fraction per day: `initial` before `from`, rising to 1, then 1."""
    if r is None:
        return np.ones(len(dates))
    since = (dates - np.datetime64(r.from_, "D")).astype(np.int64)
    if r.weeks == 0:
        return np.where(since < 0, r.initial, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):  # a tiny `weeks` is a step
        x = since / (7.0 * r.weeks)
        f = x if r.shape == "linear" else 3.0 * x * x - 2.0 * x * x * x
        rising = r.initial + (1.0 - r.initial) * f  # 0 x inf where initial is 1: not used
    return np.where(since < 0, r.initial, np.where(x >= 1.0, 1.0, rising))


def _in_shutdown(dates: npt.NDArray[np.datetime64], stops: tuple[Shutdown, ...]) -> Mask:
    out = np.zeros(len(dates), dtype=bool)
    for s in stops:
        out |= (dates >= np.datetime64(s.from_, "D")) & (dates <= np.datetime64(s.to, "D"))
    return out


def line_start(plant: Plant, line: Line) -> dt.date | None:
    return line.start or plant.start


def _line(
    s: Scenario, plant: Plant, line: Line, dates: npt.NDArray[np.datetime64], slip: int = 0
) -> tuple[F64, Mask]:
    weekday = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; 0 = mon
    workdays = line.working_days or s.calendar.working_days
    works = np.isin(weekday, [WEEKDAYS.index(d) for d in workdays])
    begin = line_start(plant, line)
    if begin is not None:
        works &= dates >= np.datetime64(begin, "D")
    hours = _schedule(dates, [x.from_ for x in line.shifts], [x.hours for x in line.shifts])
    works &= hours > 0
    stopped = _in_shutdown(dates, s.calendar.shutdowns + line.shutdowns)
    r = line.ramp_up
    if r is not None and slip:
        r = r.model_copy(update={"from_": r.from_ + dt.timedelta(days=slip)})
    vehicles = np.where(works & ~stopped, line.jph * hours * ramp(dates, r), 0.0)
    return vehicles, works & stopped


def planned_vehicles(s: Scenario, first: dt.date, days: int) -> F64:
    """Vehicles per line and day [line, day] from `first` for `days` days, by the
    scenario's lines, calendar, shifts and ramp-ups (no uptime): what the plan asked of
    each line on those days, the days before `start` included (a record of the past is
    read against the shifts the scenario lists for it; before a line's first shift,
    none)."""
    dates = _dates(first, days)
    out = np.zeros((len(s.lines), days))
    for i, (plant, line) in enumerate(s.lines):
        out[i] = _line(s, plant, line, dates)[0]
    return out


def part_arrivals(s: Scenario, first: dt.date, days: int) -> F64:
    """Arrivals per part and day [part, day] by the supply schedules (per_week / 7)."""
    dates = _dates(first, days)
    out = np.zeros((len(s.parts), days))
    for i, part in enumerate(s.parts):
        out[i] = _schedule(dates, [x.from_ for x in part.supply], [x.per_week for x in part.supply])
    return out / 7.0


def capacity(
    s: Scenario,
    *,
    uptime: F64 | None = None,
    ramp_slip: npt.NDArray[np.int64] | None = None,
    supply_scale: F64 | None = None,
) -> Capacity:
    """Slots, part supply and mix caps for every day of the horizon.

    A Monte Carlo future passes its draws: `uptime` [line, day] multiplies each day's
    vehicles, `ramp_slip` [line] delays ramp-ups by whole days, `supply_scale` [part, day]
    multiplies part arrivals. Without them this is the deterministic capacity, to the bit.
    """
    dates = _dates(s.start, s.horizon_days)
    lines = s.lines
    vehicles = np.zeros((len(lines), len(dates)))
    shutdown = np.zeros((len(lines), len(dates)), dtype=bool)
    for i, (plant, line) in enumerate(lines):
        slip = int(ramp_slip[i]) if ramp_slip is not None else 0
        vehicles[i], shutdown[i] = _line(s, plant, line, dates, slip)
    if uptime is not None:
        vehicles = vehicles * uptime
    running = whole(np.cumsum(vehicles, axis=1))
    slots = np.diff(running, axis=1, prepend=0).astype(np.int32)
    for i, (_, line) in enumerate(lines):  # extension: slots lost to empty carriers
        for lost in line.lost_slots:
            d = (lost.date - s.start).days
            if 0 <= d < len(dates):
                slots[i, d] = max(0, int(slots[i, d]) - lost.slots)

    on_hand = np.zeros((len(s.parts), len(dates)), dtype=np.int64)
    for i, part in enumerate(s.parts):
        rate = _schedule(dates, [x.from_ for x in part.supply], [x.per_week for x in part.supply])
        daily = rate / 7.0 if supply_scale is None else rate / 7.0 * supply_scale[i]
        on_hand[i] = part.stock + whole(np.cumsum(daily))

    line_names = [ln.name for _, ln in lines]
    mixes: list[MixInstance] = []
    for mx in s.mix_limits:
        for i, (_, line) in enumerate(lines):
            on_line = line.name == mx.line if mx.line else mx.match.model in (None, *line.models)
            if on_line:
                mixes.append(MixInstance(mx.name, i, mx.match, mx.max_share))
    for i, (_, line) in enumerate(lines):  # extension: a station caps as a mix limit does
        for st in line.stations:
            if st.priority == "high":  # a low one is a wish of the sequence only
                mixes.append(MixInstance(st.name, i, st.match, st.p / st.q, (st.p, st.q)))
    mix_cap = np.zeros((len(mixes), len(dates)), dtype=np.int32)
    for m, inst in enumerate(mixes):
        mix_cap[m] = inst.caps(slots[inst.line])

    return Capacity(
        start=s.start,
        days=s.horizon_days,
        line_names=tuple(line_names),
        plant_names=tuple(p.name for p, _ in lines),
        line_models=tuple(frozenset(ln.models) for _, ln in lines),
        vehicles=vehicles,
        slots=slots,
        shutdown=shutdown,
        part_names=tuple(p.name for p in s.parts),
        on_hand=on_hand,
        mixes=tuple(mixes),
        mix_cap=mix_cap,
        sea=sea(s),
    )
