"""Uncertainty learned from the record: each line's daily output against its plan (and
each part's receipts against its supply) read back into the `uncertainty` section's
uptime, slowdowns and outages, every estimate with its standard error.

The law read is lasting.py's, backwards. Per line, over the record's days:

- uptime_t = built_t / planned_t on the line's working days (planned > 0 by the
  scenario's calendar, shifts and ramp-ups, the days before `start` included), leaving
  out days without a row and the days of slowdown spells (and MARGIN_DAYS either side).
- mean, sd: of those days, the Beta marginal. Their standard errors count how the days
  move together (the fitted level and AR(1) below), sd's also the Beta's kurtosis.
- The normal scores z_t = Phi^-1(F_Beta(u_t)) are fitted by maximum likelihood
  (statsmodels' state-space model: a Kalman filter, for which the days not worked are
  missing values) as z_t = mu + L_q + a_t: a level L_q of each calendar quarter
  (normal, variance tau2) and a stationary AR(1) a_t over calendar days (phi, variance
  v); standard errors from the likelihood's curvature.
- memory_days = -1 / ln(phi) (SE by the delta method); no memory when phi <= 0.
- level_share = tau2 / (tau2 + v): the share of the daily spread that is a quarter's
  own level. Within one stretch a constant level cannot be told from the mean (one draw
  of it is all there is); it shows as quarter means that differ more than the AR(1)
  lets them, so it is measured by quarters and needs three at least (else 0, said so).
  A future draws one level for all its days: a level that really changes each quarter
  is taken to last longer, so windows err wide, not narrow.
- slowdowns: a run of at least MIN_RUN working days whose centred mean over WINDOW
  working days (output over plan) is below the line's median by more than MIN_DEPTH of
  it, or SIGMAS robust standard deviations of that mean if more; its edges are then the
  first and last day below the midpoint between the normal and the spell's level. It
  counts only if its days are deeper than the line's own memory explains: their mean
  normal score, under the law fitted without the spells, is SPELL_Z standard errors
  (of a stretch that long: level and AR(1) counted) below the mean; else its days are
  given back to uptime. Each spell's depth is 1 - its output rate over the normal
  days' rate, its length the calendar days from its first to its last working day.
  per_year = spells / years of record (Poisson SE); depth and days: mean and sd over
  the spells (SEs sd/√k and sd/√(2(k-1)): with a few spells these are rough); a spell
  cut by the record's ends counts for per_year and depth, not for days. Shallower or
  shorter spells are not found (they are part of uptime's spread), and spells that
  overlap are found as one.
- outages, from part receipts (date, part, received; a day without a row received
  nothing): the same detector over calendar days on received / scheduled arrivals,
  over PART_WINDOW days.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy import special, stats

from promiseline.core.arrays import F64, I64, Mask
from promiseline.core.futures.lasting import MAX_DEPTH, beta_shape
from promiseline.core.model.scenario import (
    MAX_DAYS,
    Outage,
    Scenario,
    Share,
    Slowdown,
    Spread,
    Uptime,
)
from promiseline.core.planning.capacity import part_arrivals, planned_vehicles
from promiseline.errors import RecordError, counted

MIN_DAYS = 60  # working days a line needs in the record (days a part needs)
MIN_QUARTERS = 3  # quarters with days for a level of each quarter
WINDOW = 7  # working days in a slowdown's rolling mean
PART_WINDOW = 14  # calendar days in an outage's rolling ratio (receipts come in lumps)
MIN_RUN = 5  # working days (calendar days for parts: 7) a spell lasts at least
MIN_DEPTH = 0.10  # a spell is at least this far below normal
SIGMAS = 3.0  # ... and this many robust sds of the rolling mean
MARGIN_DAYS = 3  # days either side of a spell left out of uptime
NEAR_MIN = 20  # days kept beside a spell in its quarter(s) to compare it with
SPELL_Z = 4.0  # a spell's days are this many standard errors below normal (normal scores)
U_LOW, U_HIGH = 1e-3, 0.999  # uptime kept inside the Beta's support
Z_CLIP = 5.0

BUILT_COLUMNS = ("date", "line", "built")
RECEIPT_COLUMNS = ("date", "part", "received")


@dataclass(frozen=True, slots=True)
class Estimate:
    """A fitted value and its standard error (None: none can be given, e.g. at a bound
    or from a single spell)."""

    value: float
    se: float | None = None

    def text(self, digits: int) -> str:
        se = "n/a" if self.se is None else f"{self.se:.{digits}f}"
        return f"{self.value:.{digits}f} ± {se}"


@dataclass(frozen=True, slots=True)
class Spells:
    """Spells found in a record: how often they start, how deep and long they are."""

    count: int
    years: float
    per_year: Estimate
    depth_mean: Estimate | None
    depth_sd: Estimate | None
    days_mean: Estimate | None
    days_sd: Estimate | None
    found: tuple[tuple[dt.date, dt.date, float], ...]  # first day, last day, depth
    uncut: int  # spells not cut by the record's ends: those `days` is measured on

    def law(self) -> tuple[float, Share, Spread] | None:
        """per_year, depth and days as the scenario takes them (None: no spell)."""
        if not self.count or self.depth_mean is None or self.days_mean is None:
            return None
        d_sd = self.depth_sd.value if self.depth_sd else 0.0
        l_sd = self.days_sd.value if self.days_sd else 0.0
        return (
            round(self.per_year.value, 2),
            Share(mean=round(self.depth_mean.value, 2), sd=round(d_sd, 2)),
            Spread(mean=round(self.days_mean.value, 1), sd=round(l_sd, 1)),
        )


@dataclass(frozen=True, slots=True)
class LineFit:
    """One line's uptime and slowdowns, fitted from its record."""

    line: str
    first: dt.date
    last: dt.date
    working_days: int  # days with planned output in the record's span
    days_used: int  # in the uptime fit
    days_missing: int  # working days without a row
    quarters: int  # calendar quarters with days used
    mean: Estimate
    sd: Estimate
    level_share: Estimate
    memory_days: Estimate
    slowdowns: Spells
    notes: tuple[str, ...] = ()

    def uptime(self) -> Uptime:
        """The fitted law as the scenario takes it (rounded as written)."""
        return Uptime(
            mean=round(self.mean.value, 3),
            sd=round(self.sd.value, 3),
            level_share=round(self.level_share.value, 2),
            memory_days=round(self.memory_days.value, 1),
        )

    def slowdown(self) -> Slowdown | None:
        law = self.slowdowns.law()
        if law is None:
            return None
        return Slowdown(line=self.line, per_year=law[0], depth=law[1], days=law[2])


@dataclass(frozen=True, slots=True)
class PartFit:
    """One part's outages, fitted from its receipts."""

    part: str
    first: dt.date
    last: dt.date
    days_used: int
    outages: Spells
    notes: tuple[str, ...] = ()

    def outage(self) -> Outage | None:
        law = self.outages.law()
        if law is None:
            return None
        return Outage(part=self.part, per_year=law[0], depth=law[1], days=law[2])


@dataclass(frozen=True, slots=True)
class Fit:
    """What `fit` learned: per line uptime and slowdowns, per part outages."""

    source: str
    lines: tuple[LineFit, ...]
    parts: tuple[PartFit, ...] = ()
    skipped: tuple[str, ...] = ()  # lines or parts with too short a record, and why
    receipts_source: str | None = None

    def line_uptime(self) -> dict[str, Uptime]:
        return {f.line: f.uptime() for f in self.lines}

    def slowdowns(self) -> tuple[Slowdown, ...]:
        return tuple(s for f in self.lines if (s := f.slowdown()) is not None)

    def outages(self) -> tuple[Outage, ...]:
        return tuple(o for f in self.parts if (o := f.outage()) is not None)

    def yaml(self) -> FittedYaml:
        """The fitted entries as YAML text, each estimate with its standard error."""
        return FittedYaml(
            line_uptime={f.line: _uptime_yaml(f, self.source) for f in self.lines},
            slowdowns={f.line: _spells_yaml("line", f.line, f.slowdowns) for f in self.lines},
            outages={f.part: _spells_yaml("part", f.part, f.outages) for f in self.parts},
        )


@dataclass(frozen=True, slots=True)
class FittedYaml:
    """YAML lines (unindented) of each fitted entry: a `line_uptime` child per line, the
    `slowdowns` items of each line and the `outages` items of each part (a comment alone
    when none was found)."""

    line_uptime: dict[str, list[str]] = field(default_factory=dict)
    slowdowns: dict[str, list[str]] = field(default_factory=dict)
    outages: dict[str, list[str]] = field(default_factory=dict)


# --- the fit ---


def fit(
    s: Scenario,
    built: pl.DataFrame,
    receipts: pl.DataFrame | None = None,
    *,
    source: str = "record",
    receipts_source: str | None = None,
) -> Fit:
    """Fit each line of the record (`date`, `line`, `built`: one row per line and day)
    and, when given, each part of the receipts (`date`, `part`, `received`)."""
    lines = [ln.name for _, ln in s.lines]
    problems = _unknown(built, "line", lines, source)
    parts = [p.name for p in s.parts]
    if receipts is not None:
        problems += _unknown(receipts, "part", parts, receipts_source or "receipts")
    if problems:
        raise RecordError(problems[0], problems)
    if built.height == 0 and (receipts is None or receipts.height == 0):
        raise RecordError(f"{source}: no rows, nothing to fit")
    fitted: list[LineFit] = []
    skipped: list[str] = []
    if built.height:
        first, span = _span(built)
        planned = planned_vehicles(s, first, span)
        for i, name in enumerate(lines):
            rows = built.filter(pl.col("line") == name)
            if rows.height == 0:
                continue
            got = _daily(rows, "built", first, span)
            result = _fit_line(name, first, planned[i], got)
            if isinstance(result, str):
                skipped.append(result)
            else:
                fitted.append(result)
    part_fits: list[PartFit] = []
    if receipts is not None and receipts.height:
        first, span = _span(receipts)
        arrivals = part_arrivals(s, first, span)
        for i, name in enumerate(parts):
            rows = receipts.filter(pl.col("part") == name)
            if rows.height == 0:
                continue
            got = np.nan_to_num(_daily(rows, "received", first, span))  # no row: none came
            part = _fit_part(name, first, arrivals[i], got, rows)
            if isinstance(part, str):
                skipped.append(part)
            else:
                part_fits.append(part)
    if not fitted and not part_fits:
        raise RecordError(f"{source}: nothing could be fitted: {skipped[0]}", skipped)
    return Fit(source, tuple(fitted), tuple(part_fits), tuple(skipped), receipts_source)


def _span(frame: pl.DataFrame) -> tuple[dt.date, int]:
    """The first day of a record and its days to the last."""
    first, last = frame["date"].min(), frame["date"].max()
    if not isinstance(first, dt.date) or not isinstance(last, dt.date):
        raise TypeError("a record's dates must be dates")
    return first, (last - first).days + 1


def _unknown(frame: pl.DataFrame, column: str, known: list[str], source: str) -> list[str]:
    names = sorted(set(frame[column].unique().to_list()) - set(known))
    return [f"{source}: unknown {column} {n!r}, expected one of {known}" for n in names]


def _daily(rows: pl.DataFrame, column: str, first: dt.date, span: int) -> F64:
    """A value per calendar day from `first` (NaN: no row)."""
    out = np.full(span, np.nan)
    day = np.array([(d - first).days for d in rows["date"].to_list()], dtype=np.int64)
    out[day] = rows[column].cast(pl.Float64).to_numpy()
    return out


def _fit_line(name: str, first: dt.date, planned: F64, built: F64) -> LineFit | str:
    work = planned > 0
    have = work & ~np.isnan(built)
    used_rows = int(have.sum())
    if used_rows < MIN_DAYS:
        return (
            f"line {name}: {counted(used_rows, 'working day')} with output in the record, "
            f"at least {MIN_DAYS} needed: not fitted"
        )
    notes: list[str] = []
    t = np.flatnonzero(have)
    num, den = built[t], planned[t]
    raw = num / den
    over = int((raw > 1).sum())
    if over:
        notes.append(f"{counted(over, 'day')} built more than planned (taken as {U_HIGH})")
    u = np.clip(raw, U_LOW, U_HIGH)
    idle = int((~np.isnan(built) & ~work & (np.nan_to_num(built) > 0)).sum())
    if idle:
        notes.append(f"{counted(idle, 'day')} with output but none planned (left out)")

    quarters = _quarter(first, np.arange(len(planned)))
    runs = _runs(num, den, WINDOW, MIN_RUN, daily=True)
    law = _uptime_outside(u, t, quarters, runs, len(planned))
    if isinstance(law, str):
        return f"line {name}: {law}: not fitted"
    if runs:  # spells deeper than the line's own memory explains, else part of uptime
        keep = ~_left_out(t, runs, len(planned))[t]
        real = [r for r in runs if _spell_score(u, t, quarters, r, law, keep) < -SPELL_Z]
        if len(real) < len(runs):
            runs = real
            law = _uptime_outside(u, t, quarters, runs, len(planned))
            if isinstance(law, str):  # cannot be: fewer days are left out
                return f"line {name}: {law}: not fitted"
    spell_obs = np.zeros(len(t), dtype=bool)
    for a, b in runs:
        spell_obs[a : b + 1] = True
    normal = float(num[~spell_obs].sum() / den[~spell_obs].sum())
    spells_found = _spells(runs, t, num, den, normal, first, years=_years(t))
    if law.quarters < MIN_QUARTERS:
        notes.append(
            f"level_share needs {MIN_QUARTERS} calendar quarters of days, "
            f"the record has {law.quarters}: 0"
        )
    notes += law.notes
    return LineFit(
        line=name,
        first=first + dt.timedelta(days=int(t[0])),
        last=first + dt.timedelta(days=int(t[-1])),
        working_days=int(work[t[0] : t[-1] + 1].sum()),
        days_used=law.days,
        days_missing=int((work & np.isnan(built))[t[0] : t[-1] + 1].sum()),
        quarters=law.quarters,
        mean=law.mean,
        sd=law.sd,
        level_share=law.level_share,
        memory_days=law.memory_days,
        slowdowns=spells_found,
        notes=tuple(notes),
    )


def _uptime_outside(
    u: F64, t: I64, quarters: I64, runs: list[tuple[int, int]], span: int
) -> _Law | str:
    """The uptime law of the days outside the spells (and MARGIN_DAYS either side)."""
    keep = ~_left_out(t, runs, span)[t]
    if keep.sum() < MIN_DAYS:
        return f"fewer than {MIN_DAYS} working days outside slowdowns"
    return _uptime(u[keep], t[keep], quarters)


def _left_out(t: I64, runs: list[tuple[int, int]], span: int) -> Mask:
    """Calendar days left out of uptime: the spells' and MARGIN_DAYS either side."""
    out = np.zeros(span, dtype=bool)
    for a, b in runs:
        out[max(0, t[a] - MARGIN_DAYS) : t[b] + MARGIN_DAYS + 1] = True
    return out


def _spell_score(
    u: F64, t: I64, quarters: I64, run: tuple[int, int], law: _Law, keep: Mask
) -> float:
    """How far below normal a spell's days are, in standard errors: the mean of their
    normal scores less that of the other days kept in the same quarter(s), over the sd
    of that difference under the fitted AR(1) (the quarter's level is common to both);
    with too few such days, less the record's mean, the level counted too."""
    a, b = run
    days = t[a : b + 1]
    z = _scores(u[a : b + 1], law.beta)
    phi = max(law.phi, 0.0)
    near = keep & np.isin(quarters[t], np.unique(quarters[days]))
    if near.sum() < NEAR_MIN:
        v1, _ = _dependence(days, quarters[days], law.share, phi)
        return float((z.mean() - law.mu) / math.sqrt(max(v1, 1e-12)))
    others = t[near]
    var = (1.0 - law.share) * (
        _mean_corr(days, days, phi)
        + _mean_corr(others, others, phi)
        - 2 * _mean_corr(days, others, phi)
    )
    diff = z.mean() - _scores(u[near], law.beta).mean()
    return float(diff / math.sqrt(max(var, 1e-12)))


def _mean_corr(a: I64, b: I64, phi: float) -> float:
    """Mean of phi^|a_i - b_j| over all pairs."""
    return float(np.power(phi, np.abs(a[:, None] - b[None, :])).mean())


def _fit_part(
    name: str, first: dt.date, expected: F64, received: F64, rows: pl.DataFrame
) -> PartFit | str:
    start, days = _span(rows)
    lo = (start - first).days
    span = np.arange(lo, lo + days)
    t = span[expected[span] > 0]
    if len(t) < MIN_DAYS:
        return (
            f"part {name}: {len(t)} day(s) of scheduled supply in the receipts' span, "
            f"at least {MIN_DAYS} needed: not fitted"
        )
    num, den = received[t], expected[t]
    runs = _runs(num, den, PART_WINDOW, PART_WINDOW // 2, daily=False)
    in_spell = np.zeros(len(t), dtype=bool)
    for a, b in runs:
        in_spell[a : b + 1] = True
    normal = float(num[~in_spell].sum() / den[~in_spell].sum()) if (~in_spell).any() else 1.0
    found = _spells(runs, t, num, den, normal, first, years=_years(t))
    return PartFit(
        part=name,
        first=first + dt.timedelta(days=int(t[0])),
        last=first + dt.timedelta(days=int(t[-1])),
        days_used=len(t),
        outages=found,
    )


def _years(t: I64) -> float:
    return (int(t[-1]) - int(t[0]) + 1) / 365.0


def _quarter(first: dt.date, days: I64) -> I64:
    """Calendar quarter number (year x 4 + quarter) of each day from `first`."""
    d = np.datetime64(first, "D") + days
    month = d.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    out: I64 = month // 3
    return out


# --- spells ---


def _rolling(num: F64, den: F64, window: int) -> F64:
    """Centred rolling ratio sum(num) / sum(den) over `window` observations (shorter at
    the ends)."""
    h = window // 2
    cn = np.concatenate([[0.0], np.cumsum(num)])
    cd = np.concatenate([[0.0], np.cumsum(den)])
    i = np.arange(len(num))
    lo, hi = np.maximum(0, i - h), np.minimum(len(num), i + h + 1)
    out: F64 = (cn[hi] - cn[lo]) / np.maximum(cd[hi] - cd[lo], 1e-12)
    return out


def _runs(num: F64, den: F64, window: int, min_run: int, *, daily: bool) -> list[tuple[int, int]]:
    """Spells as (first, last) observation: runs of at least `min_run` observations whose
    rolling ratio is more than max(MIN_DEPTH of the median, SIGMAS robust sds) below the
    median; each run's edges then moved to where the spell's own level begins and ends:
    its first and last day below the midpoint between normal and the run's level (within
    half a window) when the days' own ratios tell (`daily`: a line's output), else where
    the rolling ratio crosses the midpoint between normal and its lowest (receipts come
    in lumps: a day's ratio tells nothing)."""
    m = _rolling(num, den, window)
    base = float(np.median(m))
    spread = 1.4826 * float(np.median(np.abs(m - base)))
    slow = m < base - max(MIN_DEPTH * base, SIGMAS * spread)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], slow.astype(np.int8), [0]])))
    runs = [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    runs = [(a, b) for a, b in runs if b - a + 1 >= min_run]
    r = num / den if daily else m
    h = window // 2
    out: list[tuple[int, int]] = []
    for a, b in runs:
        if daily:
            level = float(num[a : b + 1].sum() / den[a : b + 1].sum())
            lo, hi = max(0, a - h), min(len(r) - 1, b + h)
        else:
            level, lo, hi = float(m[a : b + 1].min()), a, b
        below = np.flatnonzero(r[lo : hi + 1] < (base + level) / 2)
        if len(below):
            a, b = lo + int(below[0]), lo + int(below[-1])
        if out and a <= out[-1][1] + 1:  # touching the last one: one spell
            a = out.pop()[0]
        out.append((a, b))
    return out


def _spells(
    runs: list[tuple[int, int]],
    t: I64,
    num: F64,
    den: F64,
    normal: float,
    first: dt.date,
    *,
    years: float,
) -> Spells:
    found: list[tuple[dt.date, dt.date, float]] = []
    depths: list[float] = []
    lengths: list[float] = []
    for a, b in runs:
        rate = float(num[a : b + 1].sum() / den[a : b + 1].sum())
        depth = float(np.clip(1.0 - rate / normal, 0.0, MAX_DEPTH)) if normal > 0 else 0.0
        depths.append(depth)
        if a > 0 and b < len(t) - 1:  # not cut by the record's ends
            lengths.append(float(t[b] - t[a] + 1))
        found.append(
            (
                first + dt.timedelta(days=int(t[a])),
                first + dt.timedelta(days=int(t[b])),
                round(depth, 3),
            )
        )
    k = len(runs)
    uncut = len(lengths)
    if not lengths:  # every spell cut by the record's ends: their lengths as far as seen
        lengths = [float(t[b] - t[a] + 1) for a, b in runs]
    per_year = Estimate(k / years, math.sqrt(k) / years if k else None)
    depth_mean, depth_sd = _mean_sd(depths, upper=1.0)
    days_mean, days_sd = _mean_sd(lengths, upper=float(MAX_DAYS))
    if days_mean is not None:
        per_year, days_mean = _unmerged(per_year, days_mean)
    return Spells(k, years, per_year, depth_mean, depth_sd, days_mean, days_sd, tuple(found), uncut)


def _unmerged(found: Estimate, days: Estimate) -> tuple[Estimate, Estimate]:
    """Spells start as a Poisson process, so some overlap and are found as one. For
    spells of one length L at rate r, runs are found at rate r e^(-rL) and last
    (e^(rL) - 1) / r on average (the busy periods of an M/G/inf queue); solved for r and
    L from the rate and mean length found: r = found / (1 - found x length),
    L = -ln(1 - found x length) / r. Standard errors scale alike."""
    busy = found.value * days.value / 365.0
    if not 0 < busy < 0.9:
        return found, days
    rate = found.value / (1.0 - busy)
    length = -math.log(1.0 - busy) / rate * 365.0

    def scaled(e: Estimate, by: float) -> Estimate:
        return Estimate(e.value * by, None if e.se is None else e.se * by)

    return scaled(found, rate / found.value), scaled(days, length / days.value)


def _mean_sd(values: list[float], upper: float) -> tuple[Estimate | None, Estimate | None]:
    """Mean and sd of the values with their standard errors (normal theory)."""
    k = len(values)
    if k == 0:
        return None, None
    x = np.asarray(values)
    mean = min(float(x.mean()), upper)
    if k == 1:
        return Estimate(mean), Estimate(0.0)
    sd = min(float(x.std(ddof=1)), upper)
    return Estimate(mean, sd / math.sqrt(k)), Estimate(sd, sd / math.sqrt(2 * (k - 1)))


# --- uptime ---


@dataclass(frozen=True, slots=True)
class _Law:
    """A line's fitted uptime: the estimates, and what scoring a stretch of days needs."""

    mean: Estimate
    sd: Estimate
    level_share: Estimate
    memory_days: Estimate
    days: int
    quarters: int
    beta: tuple[float, float]
    mu: float  # the scores' mean
    phi: float
    share: float
    notes: tuple[str, ...]


def _scores(u: F64, beta: tuple[float, float]) -> F64:
    """Normal scores Phi^-1(F_Beta(u)) (clipped to +-Z_CLIP)."""
    p = np.clip(special.betainc(beta[0], beta[1], u), 1e-12, 1 - 1e-12)
    out: F64 = np.clip(special.ndtri(p), -Z_CLIP, Z_CLIP)
    return out


def _uptime(u: F64, t: I64, quarters: I64) -> _Law:
    """mean, sd, level_share and memory_days of the days' uptime `u` on calendar days
    `t` (`quarters`: the quarter of each calendar day of the record)."""
    notes: list[str] = []
    n = len(u)
    q = quarters[t]
    count = len(np.unique(q))
    levels = count >= MIN_QUARTERS
    new_period = np.diff(quarters[t[0] : t[-1] + 1]) != 0
    mean0 = float(u.mean())
    var = float(u.var(ddof=1))
    if var < 1e-8:  # every day alike: nothing varies, nothing to fit but the mean
        none = Estimate(0.0, None)
        note = "every day's share of plan alike: no spread, memory or level"
        return _Law(Estimate(mean0), none, none, none, n, count, (1.0, 1.0), 0.0, 0.0, 0.0, (note,))
    beta = beta_shape(mean0, _beta_sd(mean0, math.sqrt(var)))
    series = np.full(int(t[-1] - t[0] + 1), np.nan)
    series[t - t[0]] = _scores(u, beta)
    mu, phi, phi_se, share, share_se, fit_notes = _latent_fit(series, new_period, levels)
    v1, v2 = _dependence(t, q, share, max(phi, 0.0))
    # E[sum (u - mean)^2] = n var (1 - v1): the sample's own mean takes v1 of it
    var = float(((u - mean0) ** 2).sum() / (n * max(1.0 - v1, 1e-6)))
    notes += fit_notes
    sd = _beta_sd(mean0, math.sqrt(var))
    beta = beta_shape(mean0, sd)
    kurt = float(stats.beta(*beta).stats(moments="k")) + 3.0
    var_se = math.sqrt(max(kurt - 1.0, 0.0) * v2) * var / max(1.0 - v1, 1e-6)
    if phi <= 0:
        notes.append(f"no day-to-day memory found (phi {phi:.2f})")
        memory = Estimate(0.0, None)
    else:
        days = min(-1.0 / math.log(phi), float(MAX_DAYS)) if phi < 1 else float(MAX_DAYS)
        se = phi_se / (phi * math.log(phi) ** 2) if phi_se is not None and phi < 1 else None
        memory = Estimate(days, se)
    return _Law(
        mean=Estimate(mean0, math.sqrt(var * v1)),
        sd=Estimate(sd, var_se / (2.0 * sd) if sd > 0 else None),
        level_share=Estimate(share, share_se),
        memory_days=memory,
        days=n,
        quarters=count,
        beta=beta,
        mu=mu,
        phi=phi,
        share=share,
        notes=tuple(notes),
    )


def _beta_sd(mean: float, sd: float) -> float:
    """The sd kept inside what a Beta of this mean can have (and the scenario's bound)."""
    return float(min(sd, 0.99 * math.sqrt(mean * (1 - mean)), 0.499))


def _dependence(t: I64, q: I64, share: float, phi: float) -> tuple[float, float]:
    """Mean correlation of the days' pairs, and of their squares: Var(mean) / sd^2 and
    the same factor for the variance, under the fitted level and AR(1)."""
    n = len(t)
    s1 = s2 = 0.0
    for lo in range(0, n, 1024):
        lag = np.abs(t[lo : lo + 1024, None] - t[None, :])
        rho = (1.0 - share) * np.power(phi, lag) + share * (q[lo : lo + 1024, None] == q[None, :])
        s1 += float(rho.sum())
        s2 += float((rho * rho).sum())
    return s1 / (n * n), s2 / (n * n)


def _latent_fit(
    series: F64, new_period: Mask, levels: bool
) -> tuple[float, float, float | None, float, float | None, list[str]]:
    """mu, phi and level_share (with standard errors) of the normal scores, by maximum
    likelihood."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    notes: list[str] = []
    model = _level_ar1(series, new_period, levels)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res: Any = model.fit(disp=False, cov_type="approx", maxiter=500)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        notes.append("the likelihood's optimizer did not report convergence")
    params = np.asarray(res.params, dtype=np.float64)
    cov = np.asarray(res.cov_params(), dtype=np.float64)
    ok = bool(np.isfinite(cov).all()) and bool((np.diag(cov) > 0).all())
    mu, phi = float(params[0]), float(params[1])
    phi_se = math.sqrt(cov[1, 1]) if ok else None
    if not levels:
        return mu, phi, phi_se, 0.0, None, notes
    v, tau2 = float(params[2]), float(params[3])
    total = v + tau2
    share = tau2 / total
    grad = np.array([-tau2, v]) / (total * total)
    var = float(grad @ cov[2:4, 2:4] @ grad) if ok else -1.0
    share_se = math.sqrt(var) if var > 0 and tau2 > 1e-6 else None
    if share_se is None:  # at its bound (no level): the likelihood's curvature from there
        share_se = _bound_se(model, params)
    return mu, phi, phi_se, min(share, 0.99), share_se, notes


def _bound_se(model: Any, params: F64) -> float | None:
    """level_share's standard error when the level's variance sits at 0: from the
    log-likelihood's one-sided second difference in tau2 there, the rest held."""
    v = float(params[2])
    h = 0.02 * v
    ll = []
    for k in range(3):
        p = params.copy()
        p[3] = k * h
        ll.append(float(model.loglike(p)))
    curve = (ll[2] - 2 * ll[1] + ll[0]) / (h * h)
    if not curve < 0:
        return None
    return (1.0 / math.sqrt(-curve)) / v  # d share / d tau2 = 1 / v at tau2 = 0


def _level_ar1(series: F64, new_period: Mask, levels: bool) -> Any:
    """The state-space model z_t = mu + L_q + a_t (statsmodels MLEModel)."""
    from statsmodels.tsa.statespace.mlemodel import MLEModel

    class LevelAR1(MLEModel):  # type: ignore[misc]
        """States: the quarter's level (kept within a quarter, drawn anew at each
        quarter's first day) and a stationary AR(1); no observation noise."""

        def __init__(self, endog: F64, starts: Mask) -> None:
            super().__init__(endog, k_states=2, k_posdef=2)
            self.starts = np.append(starts, False)  # day t+1 starts a quarter
            self["design"] = np.array([[1.0, 1.0]])
            self["selection"] = np.eye(2)
            self["obs_cov"] = np.zeros((1, 1))
            self.ssm.initialize_known(np.zeros(2), np.eye(2))

        @property
        def param_names(self) -> list[str]:
            return ["mu", "phi", "ar_var", "level_var"][: 4 if levels else 3]

        @property
        def start_params(self) -> F64:
            x = self.endog[~np.isnan(self.endog)]
            var = float(x.var()) or 1.0
            return np.array([float(x.mean()), 0.5, 0.8 * var, 0.2 * var][: 4 if levels else 3])

        def transform_params(self, unconstrained: F64) -> F64:
            x = unconstrained
            out = [x[0], np.tanh(x[1]), np.exp(x[2])]
            return np.array(out + ([x[3] ** 2] if levels else []))

        def untransform_params(self, constrained: F64) -> F64:
            p = constrained
            out = [p[0], np.arctanh(np.clip(p[1], -0.999999, 0.999999)), np.log(p[2])]
            return np.array(out + ([np.sqrt(max(p[3], 0.0))] if levels else []))

        def update(self, params: F64, **kwargs: Any) -> F64:
            params = super().update(params, **kwargs)
            mu, phi, v = params[0], params[1], params[2]
            tau2 = params[3] if levels else 0.0
            n = self.nobs
            kind = np.result_type(params.dtype, np.float64)  # complex steps for the Hessian
            self["obs_intercept"] = np.full((1, n), mu, dtype=kind)
            trans = np.zeros((2, 2, n), dtype=kind)
            trans[0, 0, :] = np.where(self.starts, 0.0, 1.0)
            trans[1, 1, :] = phi
            self["transition"] = trans
            cov = np.zeros((2, 2, n), dtype=kind)
            cov[0, 0, :] = np.where(self.starts, tau2, 0.0)
            cov[1, 1, :] = v * (1.0 - phi * phi)
            self["state_cov"] = cov
            first = np.zeros((2, 2), dtype=kind)
            first[0, 0], first[1, 1] = tau2, v
            self.ssm.initialize_known(np.zeros(2, dtype=kind), first)
            return params

    return LevelAR1(series, new_period)


# --- as YAML ---

PAD = 32  # the column comments start at, within an entry


def _line(code: str, comment: str) -> str:
    return f"{code:<{PAD}} # {comment}" if comment else code


def _num(x: float, digits: int) -> str:
    text = f"{x:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _se(e: Estimate | None, digits: int) -> str:
    if e is None or e.se is None:
        return "± n/a"
    return f"± {_num(e.se, digits) if e.se >= 10**-digits else f'{e.se:.1g}'}"


def _uptime_yaml(f: LineFit, source: str) -> list[str]:
    u = f.uptime()
    q = f"a quarter's own level ({f.quarters} quarters)"
    return [
        f"# promiseline fit: {f.days_used} working days of {source}, {f.first}..{f.last}",
        f"{f.line}:",
        _line(f"  mean: {_num(u.mean, 3)}", _se(f.mean, 3)),
        _line(f"  sd: {_num(u.sd, 3)}", _se(f.sd, 3)),
        _line(f"  level_share: {_num(u.level_share, 2)}", f"{_se(f.level_share, 2)}, {q}"),
        _line(f"  memory_days: {_num(u.memory_days, 1)}", _se(f.memory_days, 1)),
    ]


def _spells_yaml(key: str, name: str, sp: Spells) -> list[str]:
    what = "slowdowns" if key == "line" else "outages"
    law = sp.law()
    if law is None:
        return [
            f"# promiseline fit: no {what} of {name} in {sp.years:.1f} years of record "
            f"(at most ~{3 / sp.years:.1f} a year, 95 %)"
        ]
    per_year, depth, days = law
    d_se = f"{_se(sp.depth_mean, 2)}, {_se(sp.depth_sd, 2)}"
    l_se = f"{_se(sp.days_mean, 1)}, {_se(sp.days_sd, 1)}"
    if sp.uncut < sp.count:
        l_se += f" ({sp.uncut} not cut by the record's ends)" if sp.uncut else " (all cut)"
    return [
        f"# promiseline fit: {sp.count} spell(s) in {sp.years:.1f} years of {name}'s record",
        f"- {key}: {name}",
        _line(f"  per_year: {_num(per_year, 2)}", _se(sp.per_year, 2)),
        _line(f"  depth: {{mean: {_num(depth.mean, 2)}, sd: {_num(depth.sd, 2)}}}", d_se),
        _line(f"  days: {{mean: {_num(days.mean, 1)}, sd: {_num(days.sd, 1)}}}", l_se),
    ]
