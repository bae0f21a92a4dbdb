"""The scenario: everything but the orders (SCENARIO.md), as immutable validated objects.

Pydantic checks each value where it stands; `Scenario` then checks the references
between sections (a line's model, a variant's part, a mix limit's line) so that every
problem is reported with its key path, all at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cached_property
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from promiseline.errors import OrderError, ScenarioError

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\s:]+$")]
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(2199, 12, 31)
MAX_DAYS = 3660  # ten years: the longest horizon, lead time or period a scenario may name


def _sane_date(d: dt.date) -> dt.date:
    if not FIRST_DAY <= d <= LAST_DAY:
        raise ValueError(f"must be a date from {FIRST_DAY} to {LAST_DAY}")
    return d


Day = Annotated[dt.date, AfterValidator(_sane_date)]
Days = Annotated[int, Field(ge=0, le=MAX_DAYS)]


def _sane_moment(m: dt.datetime | dt.date) -> dt.datetime | dt.date:
    _sane_date(m.date() if isinstance(m, dt.datetime) else m)
    if isinstance(m, dt.datetime) and m.tzinfo is not None:
        raise ValueError("must be a plant-local date or date-time, without a UTC offset")
    return m


Moment = Annotated[dt.datetime | dt.date, AfterValidator(_sane_moment)]


def _time_zone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}, expected e.g. Asia/Shanghai") from None
    return name


TimeZone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_time_zone)]


def _date_ordered(entries: tuple[Any, ...]) -> tuple[Any, ...]:
    """Schedules ("from this date on") must be listed in date order."""
    froms = [e.from_ for e in entries]
    if froms != sorted(froms):
        raise ValueError(f"entries must be in date order of 'from', got {froms}")
    return entries


class Frozen(BaseModel):
    """Immutable, strict about unknown keys (a typo is an error, not a silent default) and
    about yes/no: no scenario value is one, so a YAML `off` is never taken for 0."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_yes_no(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(
                "a yes/no value is not allowed here (YAML reads a bare no, yes, on or off as "
                "false or true: write a number, or put text in quotes)"
            )
        return value


class Shutdown(Frozen):
    """Days (inclusive) on which nothing is built."""

    name: Name
    from_: Day = Field(alias="from")
    to: Day

    @model_validator(mode="after")
    def _ordered(self) -> Shutdown:
        if self.to < self.from_:
            raise ValueError(f"'to' ({self.to}) is before 'from' ({self.from_})")
        return self


class Calendar(Frozen):
    working_days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    shutdowns: tuple[Shutdown, ...] = ()


class Variant(Frozen):
    name: Name
    parts: dict[str, Annotated[int, Field(ge=1, le=1000)]] = Field(default_factory=dict)


class Product(Frozen):
    model: Name
    variants: tuple[Variant, ...] = Field(min_length=1, max_length=200)
    cost: Annotated[float, Field(ge=0, le=1e9)] = 0.0  # extension: per car, for allocation


class Shift(Frozen):
    """Hours per working day from a date on (until the next entry)."""

    from_: Day = Field(alias="from")
    hours: Annotated[float, Field(ge=0, le=24)]


class RampUp(Frozen):
    """Rate fraction rising from `initial` to 1 over `weeks` weeks after `from`."""

    from_: Day = Field(alias="from")
    initial: Annotated[float, Field(ge=0, le=1)]
    weeks: Annotated[float, Field(ge=0, le=520)]
    shape: Literal["linear", "s"] = "linear"


class Match(Frozen):
    """Which orders a mix limit counts: every given key must match."""

    model: Name | None = None
    variant: Name | None = None
    options: dict[str, str] = Field(default_factory=dict)


class Station(Frozen):
    """A station of a line that fits an option: at most `p` of the cars it matches in any
    `q` consecutive cars of the line's sequence (core/sequencing). A `high` station (the
    default) must hold: it caps the plan's line-days; a `low` one is a wish the sequence
    weighs after paint colour changes (ROADEF 2005's order of objectives)."""

    name: Name
    match: Match
    p: Annotated[int, Field(ge=0, le=1000)]
    q: Annotated[int, Field(ge=1, le=1000)]
    priority: Literal["high", "low"] = "high"

    @model_validator(mode="after")
    def _p_under_q(self) -> Station:
        if self.p >= self.q:
            raise ValueError(f"station {self.name!r}: p must be less than q, got {self.p}/{self.q}")
        return self


class Paint(Frozen):
    """A line's paint shop (extension): the colour is the order's option `option` (a car
    without it is its own colour, none); at most `max_batch` cars of one colour in a row,
    and the sequence keeps colour changes few (after its high-priority stations)."""

    option: Annotated[str, Field(min_length=1, max_length=100)]
    max_batch: Annotated[int, Field(ge=1, le=100_000)]


class LostSlots(Frozen):
    """Slots a line loses on one day (extension): the empty carriers its build sequence
    needs that day (`plan --sequence`), so fewer cars are planned on it."""

    date: Day
    slots: Annotated[int, Field(ge=1, le=100_000)]


class Line(Frozen):
    name: Name
    models: tuple[Name, ...] = Field(min_length=1)
    jph: Annotated[float, Field(gt=0, le=1000)]
    start: Day | None = None
    working_days: tuple[Weekday, ...] | None = None
    shifts: Annotated[tuple[Shift, ...], Field(min_length=1), AfterValidator(_date_ordered)]
    ramp_up: RampUp | None = None
    shutdowns: tuple[Shutdown, ...] = ()  # extension: line-only stops (retooling)
    stations: tuple[Station, ...] = Field(default=(), max_length=50)  # extension: spacing
    paint: Paint | None = None  # extension: paint batches in the line's sequence
    lost_slots: tuple[LostSlots, ...] = Field(default=(), max_length=20_000)  # extension


class Plant(Frozen):
    name: Name
    start: Day | None = None  # extension: a plant phase; default start of its lines
    lines: tuple[Line, ...] = Field(min_length=1, max_length=100)


class Supply(Frozen):
    from_: Day = Field(alias="from")
    per_week: Annotated[float, Field(ge=0, le=1e8)]


class Part(Frozen):
    name: Name
    stock: Annotated[int, Field(ge=0, le=10**9)] = 0
    supply: Annotated[tuple[Supply, ...], AfterValidator(_date_ordered)] = ()


class MixLimit(Frozen):
    """At most floor(max_share x slots) matching orders per line per day.

    Without `line` the limit holds on every line, each line on its own (extension).
    """

    name: Name
    line: Name | None = None
    match: Match
    max_share: Annotated[float, Field(ge=0, le=1)]


class Sailing(Frozen):
    """Sailings of a lane: every `every` days from `from` through `to`, or one on `date`
    (with its own `capacity`, else the lane's)."""

    every: Annotated[int, Field(ge=1, le=MAX_DAYS)] | None = None
    from_: Day | None = Field(default=None, alias="from")
    to: Day | None = None
    date: Day | None = None
    capacity: Annotated[int, Field(ge=0, le=10**6)] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Sailing:
        recurring = (self.every, self.from_, self.to)
        if self.date is not None:
            if any(x is not None for x in recurring):
                raise ValueError("a sailing has either 'date' or 'every', 'from' and 'to'")
        elif any(x is None for x in recurring):
            raise ValueError("a recurring sailing needs 'every', 'from' and 'to'")
        elif self.to < self.from_:  # type: ignore[operator]
            raise ValueError(f"'to' ({self.to}) is before 'from' ({self.from_})")
        return self

    @property
    def recurring(self) -> tuple[dt.date, dt.date, int]:
        """(from, to, every) of a recurring sailing."""
        first, last, every = self.from_, self.to, self.every
        if first is None or last is None or every is None:  # the validator rules it out
            raise ValueError("a recurring sailing needs 'every', 'from' and 'to'")
        return first, last, every

    def dates(self, lo: dt.date = FIRST_DAY, hi: dt.date = LAST_DAY) -> list[dt.date]:
        """Its departure dates from `lo` through `hi` (only those are enumerated, so a
        daily sailing over centuries costs no more than the days asked for)."""
        if self.date is not None:
            return [self.date] if lo <= self.date <= hi else []
        first, last, every = self.recurring
        k0 = max(0, -(-(lo - first).days // every))  # first k with first + k*every >= lo
        k1 = (min(last, hi) - first).days // every
        return [first + dt.timedelta(days=k * every) for k in range(k0, k1 + 1)]


class Lane(Frozen):
    """A way to an export market by sea: truck to `port`, ship, truck to the customer."""

    name: Name
    port: Name | None = None  # extension: the departure port (yard stock); default the lane
    inland_days: Days
    transit_days: Days
    last_mile_days: Days
    capacity: Annotated[int, Field(ge=0, le=10**6)]  # cars per sailing for this maker
    sailings: tuple[Sailing, ...] = Field(min_length=1, max_length=1000)

    @property
    def departure_port(self) -> str:
        return self.port or self.name


class Gate(Frozen):
    """Homologation: no delivery of this model (variant) before `from`."""

    model: Name
    variant: Name | None = None
    from_: Day = Field(alias="from")


def _month_key(key: str) -> str:
    try:
        dt.date.fromisoformat(key + "-01")
    except ValueError:
        raise ValueError(f"month {key!r} must be written YYYY-MM") from None
    return key


Month = Annotated[str, AfterValidator(_month_key)]


class Quota(Frozen):
    """Departures per calendar month for a market: `max_per_month`, or per month in
    `months` (extension; what `allocate` sets), a month not named taking the default."""

    max_per_month: Annotated[int, Field(ge=0, le=10**8)] | None = None
    months: dict[Month, Annotated[int, Field(ge=0, le=10**8)]] = Field(default_factory=dict)

    @field_validator("months", mode="before")
    @classmethod
    def _months_not_days(cls, value: Any) -> Any:
        days = [k for k in value if isinstance(k, dt.date)] if isinstance(value, dict) else []
        if days:  # YAML reads a key 2027-03-01 as a date
            raise ValueError(
                f"months are written YYYY-MM (a month, not a day), got {days[0].isoformat()}"
            )
        return value

    def cap(self, year: int, month: int) -> int | None:
        return self.months.get(f"{year:04d}-{month:02d}", self.max_per_month)


class Market(Frozen):
    """Where cars are delivered: by road (`lead_days`) or by sea (`lanes`)."""

    name: Name
    lead_days: Days | None = None
    opens: Day | None = None
    lanes: tuple[Lane, ...] = Field(default=(), max_length=50)
    gates: tuple[Gate, ...] = Field(default=(), max_length=1000)
    price: Annotated[float, Field(ge=0, le=1e9)] = 0.0
    logistics_cost: Annotated[float, Field(ge=0, le=1e9)] = 0.0
    tariff: Annotated[float, Field(ge=0, le=10)] = 0.0  # share of price
    quota: Quota | None = None
    build_ahead_days: Days | None = None  # build no sooner than needed (SCENARIO.md)

    @model_validator(mode="after")
    def _road_or_sea(self) -> Market:
        if self.lead_days is not None and self.lanes:
            raise ValueError(
                f"market {self.name!r} has both 'lead_days' (by road) and 'lanes' (by sea): "
                "keep one (in a what-if, 'lead_days: null' turns a road market to sea)"
            )
        if self.lead_days is None and not self.lanes:
            raise ValueError(
                f"market {self.name!r} needs 'lead_days' (by road) or 'lanes' (by sea)"
            )
        given = {
            "gates": self.gates,
            "quota": self.quota,
            "build_ahead_days": self.build_ahead_days,
        }
        sea_only = [repr(k) for k, v in given.items() if v not in ((), None)]
        if not self.lanes and sea_only:
            raise ValueError(
                f"{' and '.join(sea_only)} belong to an export market (one with 'lanes'), "
                f"not to {self.name!r} by road"
            )
        return self

    @property
    def export(self) -> bool:
        return bool(self.lanes)

    def gate(self, model: str, variant: str | None) -> dt.date | None:
        """The latest `from` of the gates matching this model and variant (variant None:
        the gates of the whole model only)."""
        froms = [
            g.from_
            for g in self.gates
            if g.model == model and (g.variant is None or g.variant == variant)
        ]
        return max(froms, default=None)

    def build_floor(self, model: str, variant: str | None) -> dt.date | None:
        """The earliest build day `build_ahead_days` allows an order of this model and
        variant: `need - fastest - N` (SCENARIO.md, "Export markets"), None when the key
        is absent or neither `opens` nor a gate gives a `need`."""
        if self.build_ahead_days is None:
            return None
        need = max((d for d in (self.opens, self.gate(model, variant)) if d), default=None)
        if need is None:
            return None
        fastest = min(ln.inland_days + ln.transit_days + ln.last_mile_days for ln in self.lanes)
        return need - dt.timedelta(days=fastest + self.build_ahead_days)


class Spread(Frozen):
    """A normal draw: mean and standard deviation (sd 0: always the mean)."""

    mean: Annotated[float, Field(ge=0, le=MAX_DAYS)] = 0.0
    sd: Annotated[float, Field(ge=0, le=MAX_DAYS)] = 0.0


class RampSlip(Spread):
    """A line's own ramp-up slip; `at_least`: days it is already known to be late (the
    ramp-up has not started that many days after its `from`), so the slip is drawn from
    the spread given that it is at least this."""

    at_least: Days = 0


class Uptime(Frozen):
    """Share of a line's planned output it achieves on a day: Beta with this mean and sd.

    Days are independent unless one of these makes good and bad days last (each day's
    share still Beta(mean, sd): a Gaussian copula, so `mean` and `sd` keep their meaning):
    `level_share`, the share of the day-to-day spread that is the future's own level for
    the line (a line that runs 3 % under plan for the whole year); `memory_days`, how long
    a good or bad spell lasts (an autocorrelation of exp(-1/memory_days) a day).
    """

    mean: Annotated[float, Field(gt=0, le=1)] = 1.0
    sd: Annotated[float, Field(ge=0, lt=0.5)] = 0.0
    level_share: Annotated[float, Field(ge=0, lt=1)] = 0.0
    memory_days: Annotated[float, Field(ge=0, le=MAX_DAYS)] = 0.0

    @property
    def lasting(self) -> bool:
        return self.sd > 0 and (self.level_share > 0 or self.memory_days > 0)


class Share(Frozen):
    """A normal draw of a share, clipped to [0, 0.95]."""

    mean: Annotated[float, Field(ge=0, le=1)] = 0.0
    sd: Annotated[float, Field(ge=0, le=1)] = 0.0


class Slowdown(Frozen):
    """Spells in which a line builds less for weeks to months (a supplier's quality hold,
    a retooling gone long): they start `per_year` times a year on average (Poisson, at
    any day), cut output by `depth` and last `days`."""

    line: Name | None = None  # None: every line, each on its own
    per_year: Annotated[float, Field(ge=0, le=365)]
    depth: Share
    days: Spread


class Outage(Frozen):
    """Spells in which a supplier delivers less of a part for weeks to months: they start
    `per_year` times a year on average, cut arrivals by `depth` and last `days`."""

    part: Name | None = None  # None: every part, each on its own
    per_year: Annotated[float, Field(ge=0, le=365)]
    depth: Share
    days: Spread


class Shortfall(Frozen):
    """Supply disruption: each month it starts with `per_month` chance, at a random day,
    and cuts arrivals by `depth` for `days` days."""

    part: Name | None = None  # None: every part, each on its own
    per_month: Annotated[float, Field(ge=0, le=1)]
    depth: Annotated[float, Field(ge=0, le=1)]
    days: Annotated[int, Field(ge=1, le=MAX_DAYS)]


class InflowMix(Frozen):
    model: Name
    variant: Name
    share: Annotated[float, Field(gt=0, le=1e6)]


class Inflow(Frozen):
    """New orders after the book: `per_day` at `start`, halving every `half_life_days`,
    with gamma noise of coefficient of variation `noise` on each day's rate. A plan as
    of a later day draws the orders still to come (from its day) at the rate of then."""

    per_day: Annotated[float, Field(ge=0, le=1e6)]
    start: Day | None = None  # default: the day after the last lock in the book
    half_life_days: Annotated[float, Field(gt=0, le=1e5)] = 90.0
    days: Days = 365
    noise: Annotated[float, Field(ge=0, le=10)] = 0.0
    mix: tuple[InflowMix, ...] = ()  # default: every variant alike
    market: Name | None = None  # default: the first market


class Cancellation(Frozen):
    """Weekly chance that a waiting order cancels: base + per_month_wait x (quoted wait in
    months), at most max_weekly. When a future's delivery slips more than
    refund_slip_days past the promise, refund_take_rate of those customers cancel too."""

    base_weekly: Annotated[float, Field(ge=0, le=1)] = 0.002
    per_month_wait: Annotated[float, Field(ge=0, le=1)] = 0.001
    max_weekly: Annotated[float, Field(ge=0, le=1)] = 0.05
    refund_slip_days: Days = 30
    refund_take_rate: Annotated[float, Field(ge=0, le=1)] = 0.3


class Uncertainty(Frozen):
    """What may go differently (extension, for Monte Carlo). Absent parts do not vary."""

    uptime: Uptime | None = None  # every line
    line_uptime: dict[str, Uptime] = Field(default_factory=dict)  # per line, overrides
    ramp_slip: Spread | None = None  # days a ramp-up starts late
    line_ramp_slip: dict[str, RampSlip] = Field(default_factory=dict)  # per line, overrides
    shortfalls: tuple[Shortfall, ...] = ()
    slowdowns: tuple[Slowdown, ...] = ()
    outages: tuple[Outage, ...] = ()
    inflow: Inflow | None = None
    cancellation: Cancellation | None = None


class Lever(Frozen):
    """A capacity addition the sizing may buy, in whole units.

    kind shift: `amount` more hours a working day on `line`; kind line: a new line like
    `line` (same models, shifts and days) at `amount` jph; kind part: `amount` more of
    `part` a week. Each unit costs `cost`; it can start `lead_days` after the plan's day
    (`as_of`, else `start`) at the earliest: by default the sizing section's lead for
    its kind.
    """

    name: Name
    kind: Literal["shift", "line", "part"]
    line: Name | None = None
    part: Name | None = None
    amount: Annotated[float, Field(gt=0, le=1e8)]
    cost: Annotated[float, Field(ge=0, le=1e15)]
    lead_days: Days | None = None
    max_units: Annotated[int, Field(ge=1, le=1000)] = 1


class LeverLeads(Frozen):
    """Days from the plan's day to a lever's first day, by kind, unless a lever names its
    own: a shift needs people hired and trained, a line building and ramping, parts a
    supplier's added output."""

    shift: Days = 28
    line: Days = 182
    part: Days = 56


class SizingDefaults(Frozen):
    lead_days: LeverLeads = LeverLeads()


class Scenario(Frozen):
    """A production scenario: calendar, products, plants, parts, mix limits, markets."""

    name: Name
    start: Day
    horizon_days: Annotated[int, Field(ge=1, le=MAX_DAYS)]
    frozen_days: Days = 0
    calendar: Calendar = Calendar()
    products: tuple[Product, ...] = Field(min_length=1, max_length=200)
    plants: tuple[Plant, ...] = Field(min_length=1, max_length=50)
    parts: tuple[Part, ...] = Field(default=(), max_length=200)
    mix_limits: tuple[MixLimit, ...] = Field(default=(), max_length=200)
    markets: tuple[Market, ...] = Field(min_length=1, max_length=500)
    uncertainty: Uncertainty | None = None  # extension: Monte Carlo
    levers: tuple[Lever, ...] = ()  # extension: capacity sizing
    sizing: SizingDefaults = SizingDefaults()  # extension: what a lever needs to start
    as_of: Moment | None = None  # the moment of the plan (default: start)
    lead_in_days: Days = 0  # the fewest days from lock to build
    timezone: TimeZone | None = None  # extension: the plant's, for the service's midnight

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        problems = reference_problems(self)
        if problems:  # not a ValueError: pydantic passes it through with every problem
            raise ScenarioError("scenario", problems)
        return self

    # --- lookups used by the core (cheap, computed on demand) ---

    @property
    def now(self) -> dt.date:
        """D, the day the plan is made as of: `as_of`'s date, or `start`."""
        if self.as_of is None:
            return self.start
        return self.as_of.date() if isinstance(self.as_of, dt.datetime) else self.as_of

    @property
    def end(self) -> dt.date:
        """The first day after the horizon."""
        return self.start + dt.timedelta(days=self.horizon_days)

    @property
    def lines(self) -> tuple[tuple[Plant, Line], ...]:
        """Every line with its plant, in scenario order (the planner's tie-break order)."""
        return tuple((p, ln) for p in self.plants for ln in p.lines)

    def product(self, model: str) -> Product:
        for p in self.products:
            if p.model == model:
                return p
        raise KeyError(model)

    def check_order(self, model: str, variant: str, market: str) -> None:
        """Raise OrderError unless the scenario builds this model and variant and delivers
        to this market (the one check for intake, changes and quotes)."""
        models, markets = self.catalog
        if model not in models:
            raise OrderError(f"unknown model {model!r}, expected one of {sorted(models)}")
        if variant not in models[model]:
            raise OrderError(
                f"unknown variant {variant!r} for model {model!r}, expected one of {models[model]}"
            )
        if market not in markets:
            raise OrderError(f"unknown market {market!r}, expected one of {markets}")

    @cached_property
    def catalog(self) -> tuple[dict[str, list[str]], list[str]]:
        """Variants by model, and markets (looked up for every order taken)."""
        models = {p.model: [v.name for v in p.variants] for p in self.products}
        return models, [m.name for m in self.markets]

    def replace(self, **changes: object) -> Scenario:
        """A validated copy with some top-level keys changed."""
        data = self.model_dump(by_alias=True)
        data.update(changes)
        return Scenario.model_validate(data)


def plant_time(clock_reading: dt.datetime, timezone: str | None) -> dt.datetime:
    """A naive reading of the machine's clock as plant-local time (the scenario's time
    zone; none: the machine's own)."""
    if timezone is None:
        return clock_reading
    return clock_reading.astimezone().astimezone(ZoneInfo(timezone)).replace(tzinfo=None)


def _dupes(names: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]


def _unknown(path: str, kind: str, names: Iterable[str], known: Iterable[str]) -> list[str]:
    """'path: unknown kind 'x', expected one of [...]' for each name not known."""
    known = sorted(known)
    return [
        f"{path}: unknown {kind} {n!r}, expected one of {known}" for n in names if n not in known
    ]


def reference_problems(s: Scenario) -> list[str]:
    """Cross-section problems, each as 'key.path: what is wrong'."""
    out: list[str] = []
    models = {p.model: p for p in s.products}
    part_names = {p.name for p in s.parts}
    line_names = [ln.name for _, ln in s.lines]
    for what, names in (
        ("products[].model", [p.model for p in s.products]),
        ("plants[].name", [p.name for p in s.plants]),
        ("plants[].lines[].name", line_names),
        ("parts[].name", [p.name for p in s.parts]),
        ("markets[].name", [m.name for m in s.markets]),
        ("mix_limits[].name", [m.name for m in s.mix_limits]),
    ):
        for d in _dupes(names):
            out.append(f"{what}: duplicate name {d!r}")
    for i, prod in enumerate(s.products):
        for d in _dupes([v.name for v in prod.variants]):
            out.append(f"products[{i}].variants: duplicate variant {d!r}")
        for j, v in enumerate(prod.variants):
            out += _unknown(f"products[{i}].variants[{j}].parts", "part", v.parts, part_names)
    for i, plant in enumerate(s.plants):
        for j, ln in enumerate(plant.lines):
            out += _unknown(f"plants[{i}].lines[{j}].models", "model", ln.models, models)
    mix_names = {m.name for m in s.mix_limits}
    for i, plant in enumerate(s.plants):
        for j, ln in enumerate(plant.lines):
            for d in _dupes([st.name for st in ln.stations]):
                out.append(f"plants[{i}].lines[{j}].stations: duplicate name {d!r}")
            for k, st in enumerate(ln.stations):
                if st.name in mix_names:
                    out.append(
                        f"plants[{i}].lines[{j}].stations[{k}].name: {st.name!r} is also a "
                        "mix limit's name (a station holds orders back as a mix limit does, "
                        "under its own name)"
                    )
    for i, mx in enumerate(s.mix_limits):
        if mx.line is not None and mx.line not in line_names:
            out.append(
                f"mix_limits[{i}].line: unknown line {mx.line!r}, expected one of {line_names}"
            )
        want = mx.match
        if want.model is not None and want.model not in models:
            out.append(f"mix_limits[{i}].match.model: unknown model {want.model!r}")
        if want.variant is not None:
            cands = [models[want.model]] if want.model in models else list(models.values())
            if not any(v.name == want.variant for p in cands for v in p.variants):
                out.append(f"mix_limits[{i}].match.variant: unknown variant {want.variant!r}")
    u = s.uncertainty
    if u is not None:
        out += _unknown("uncertainty.line_uptime", "line", u.line_uptime, line_names)
        out += _unknown("uncertainty.line_ramp_slip", "line", u.line_ramp_slip, line_names)
        for i, sf in enumerate(u.shortfalls):
            if sf.part is not None:
                out += _unknown(f"uncertainty.shortfalls[{i}].part", "part", [sf.part], part_names)
        for i, sd in enumerate(u.slowdowns):
            if sd.line is not None:
                out += _unknown(f"uncertainty.slowdowns[{i}].line", "line", [sd.line], line_names)
        for i, og in enumerate(u.outages):
            if og.part is not None:
                out += _unknown(f"uncertainty.outages[{i}].part", "part", [og.part], part_names)
        if u.inflow is not None:
            for i, share in enumerate(u.inflow.mix):
                if share.model not in models:
                    out.append(f"uncertainty.inflow.mix[{i}].model: unknown model {share.model!r}")
                elif share.variant not in {v.name for v in models[share.model].variants}:
                    out.append(
                        f"uncertainty.inflow.mix[{i}].variant: unknown variant {share.variant!r}"
                    )
            if u.inflow.market is not None:
                out += _unknown(
                    "uncertainty.inflow.market",
                    "market",
                    [u.inflow.market],
                    [m.name for m in s.markets],
                )
    lane_names = [ln.name for m in s.markets for ln in m.lanes]
    for d in _dupes(lane_names):
        out.append(f"markets[].lanes[].name: duplicate lane {d!r} (lane names are global)")
    for i, mk in enumerate(s.markets):
        for j, g in enumerate(mk.gates):
            where = f"markets[{i}].gates[{j}]"
            if g.model not in models:
                out.append(f"{where}.model: unknown model {g.model!r}")
            elif g.variant is not None and g.variant not in {
                v.name for v in models[g.model].variants
            }:
                out.append(f"{where}.variant: unknown variant {g.variant!r}")
    for i, lv in enumerate(s.levers):
        need = "part" if lv.kind == "part" else "line"
        value = lv.part if need == "part" else lv.line
        known = part_names if need == "part" else line_names
        if value is None:
            out.append(f"levers[{i}].{need}: a {lv.kind} lever needs '{need}'")
        else:
            out += _unknown(f"levers[{i}].{need}", need, [value], known)
    if s.now < s.start:
        out.append(f"as_of: {s.now} is before start ({s.start}): a plan is made on or after it")
    if s.frozen_days > s.horizon_days:
        out.append(f"frozen_days: must be <= horizon_days ({s.horizon_days}), got {s.frozen_days}")
    return out
