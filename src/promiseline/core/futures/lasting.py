"""Uncertainty that lasts: a line's level for a whole future, good and bad spells of days,
slowdowns of a line and supplier outages of weeks to months.

Day-to-day uptime drawn independently averages out over the months a customer waits, so
a window told months ahead would be far too narrow. Here each day's uptime keeps its
Beta(mean, sd) law, but the days of one line move together: a latent normal series, a
level shared by every day of the future plus a stationary AR(1), is mapped to the Beta
through its quantile function (a Gaussian copula). Spells (slowdowns, outages) start as a
Poisson process and multiply output or arrivals by 1 - depth while they last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import special, stats
from scipy.signal import lfilter

from promiseline.core.arrays import F64, I64
from promiseline.core.model.scenario import Share, Spread, Uptime

Z_GRID = np.linspace(-7.0, 7.0, 4001)  # the latent's quantile table (error < 1e-4)
MAX_DEPTH = 0.95
Z_READ = 3.5  # a record's day is read as a latent normal within +- this


def beta_shape(mean: float, sd: float) -> tuple[float, float]:
    """The Beta(a, b) of this mean and sd (too wide a sd: the widest Beta there is)."""
    k = mean * (1 - mean) / (sd * sd) - 1
    if k <= 0:
        k = 1e-3
    return mean * k, (1 - mean) * k


@lru_cache(maxsize=64)
def _quantiles(mean: float, sd: float) -> F64:
    """Beta(mean, sd)'s quantile at Phi(z) for each z of Z_GRID."""
    a, b = beta_shape(mean, sd)
    out: F64 = stats.beta.ppf(special.ndtr(Z_GRID), a, b)
    return out


def day_memory(spec: Uptime) -> float:
    """The AR(1)'s correlation from one day to the next: exp(-1 / memory_days), 0 without."""
    return math.exp(-1.0 / spec.memory_days) if spec.memory_days > 0 else 0.0


def latent(rng: np.random.Generator, spec: Uptime, days: int, periods: I64 | None = None) -> F64:
    """A standard normal per day: the future's level (share `level_share` of the
    variance) plus a stationary AR(1) with correlation exp(-1 / memory_days) a day.

    `periods` (a period number per day, non-decreasing: e.g. calendar quarters) draws a
    level of each period instead of one for the whole future: a record of several
    quarters as `fit` reads one (a future draws without it, as before)."""
    phi = day_memory(spec)
    level: F64 | float = rng.standard_normal()
    if periods is not None:
        first = int(periods[0]) if len(periods) else 0
        count = int(periods[-1]) - first + 1 if len(periods) else 0
        level = np.append(level, rng.standard_normal(max(count - 1, 0)))[periods - first]
    shocks = rng.standard_normal(days)
    start = rng.standard_normal()  # the AR(1) starts in its stationary law
    ar: F64 = lfilter([math.sqrt(1 - phi * phi)], [1.0, -phi], shocks, zi=[phi * start])[0]
    share = spec.level_share
    out: F64 = math.sqrt(share) * level + math.sqrt(1 - share) * ar
    return out


def uptime_of(spec: Uptime, z: F64) -> F64:
    """Latent normals mapped to the days' uptime: Beta(mean, sd) through its quantiles."""
    if spec.mean >= 1.0 or spec.sd == 0:
        return np.full(len(z), spec.mean)
    out: F64 = np.interp(z, Z_GRID, _quantiles(spec.mean, spec.sd))
    return out


def lasting_uptime(
    rng: np.random.Generator,
    spec: Uptime,
    days: int,
    periods: I64 | None = None,
    known: Known | None = None,
) -> F64:
    """One line's uptime per day: Beta(mean, sd) each day, moving together over days
    (`periods`: a level of each period, see `latent`; `known`: what the line's record
    says, see `given_record`)."""
    if spec.mean >= 1.0 or spec.sd == 0:
        return np.full(days, spec.mean)
    if known is not None:
        return uptime_of(spec, given_record(rng, spec, days, known))
    return uptime_of(spec, latent(rng, spec, days, periods))


@dataclass(frozen=True, slots=True)
class Known:
    """What a line's record says of its latent uptime (`latent`): the law of its level
    and of the day's AR(1) term on the record's last day, a normal (mean, covariance),
    and the first day after the record."""

    day: int
    mean: F64  # (level, AR term)
    cov: F64  # 2 x 2


def record_latent(spec: Uptime, built: F64, planned: F64) -> tuple[F64, F64]:
    """The latent normal of each day of a line's record (NaN: not read) and the variance
    of its error: the day's uptime is what it built over what the plan asked of it, mapped
    through the Beta's distribution function; a day's count is whole (the plant rounds
    its running total), an error of about one car, the larger in latent terms where the
    Beta is flat. A day it built nothing is not read (a stop the plan did not know, or
    a day not reported: the demo's record has one, and read as an uptime of 0 it pulled
    every future's level four standard deviations down), and a reading is held within
    Z_READ: what lies further is outside the law, not a measure of the level."""
    a, b = beta_shape(spec.mean, spec.sd)
    read = (planned > 0.5) & (built > 0)
    u = np.where(read, built / np.where(read, planned, 1.0), np.nan)
    u = np.clip(u, 1e-6, 1 - 1e-6)
    z = np.clip(special.ndtri(stats.beta.cdf(u, a, b)), -Z_READ, Z_READ)
    slope = stats.beta.pdf(u, a, b) / np.maximum(stats.norm.pdf(z), 1e-12)  # dz / du
    var = slope**2 / (6.0 * np.where(read, planned, 1.0) ** 2) + 1e-3
    return np.where(read, z, np.nan), var


def filtered(spec: Uptime, z: F64, var: F64) -> Known:
    """The law of the level and the AR(1) term after the record `z` (NaN: a day not
    read), each day read with error variance `var`: Kalman's filter, exact for the
    Gaussian latent (level constant, the AR term moving by exp(-1 / memory_days) a day)."""
    phi = day_memory(spec)
    h0, h1 = math.sqrt(spec.level_share), math.sqrt(1 - spec.level_share)
    x0, x1, p00, p01, p11 = 0.0, 0.0, 1.0, 0.0, 1.0  # 2 x 2 written out: a record is long
    for t, (zt, vt) in enumerate(zip(z.tolist(), var.tolist(), strict=True)):
        if t:  # a day passes: the level stays, the AR term decays and is shocked
            x1, p01, p11 = phi * x1, phi * p01, phi * phi * p11 + 1 - phi * phi
        if zt == zt:  # read that day (not NaN)
            g0, g1 = p00 * h0 + p01 * h1, p01 * h0 + p11 * h1  # P h
            k = 1.0 / (h0 * g0 + h1 * g1 + vt)
            e = zt - h0 * x0 - h1 * x1
            x0, x1 = x0 + k * g0 * e, x1 + k * g1 * e
            p00, p01, p11 = p00 - k * g0 * g0, p01 - k * g0 * g1, p11 - k * g1 * g1
    return Known(len(z), np.array([x0, x1]), np.array([[p00, p01], [p01, p11]]))


def _root(cov: F64) -> F64:
    """A square root of a 2 x 2 covariance: Cholesky's (it moves smoothly with the
    matrix), or, for one that rounding left not quite positive, the eigen one."""
    try:
        out: F64 = np.linalg.cholesky(cov).astype(np.float64)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(cov)
        out = (v * np.sqrt(np.maximum(w, 0.0))).astype(np.float64)
    return out


def given_record(rng: np.random.Generator, spec: Uptime, days: int, known: Known) -> F64:
    """Latent normals of every day given the record (`filtered`): the level and the
    record's last AR term drawn from their law, the AR(1) running on from it. Days of
    the record hold the level alone (they are history: nothing is placed on them)."""
    phi = day_memory(spec)
    level, ar = known.mean + _root(known.cov) @ rng.standard_normal(2)
    t0 = min(known.day, days)
    shocks = rng.standard_normal(days - t0)
    path = lfilter([math.sqrt(1 - phi * phi)], [1.0, -phi], shocks, zi=[phi * ar])[0]
    share = spec.level_share
    out = np.full(days, math.sqrt(share) * level)
    out[t0:] += math.sqrt(1 - share) * path
    return out


def spells(
    rng: np.random.Generator, per_year: float, depth: Share, length: Spread, days: int
) -> F64:
    """A factor per day: 1, or 1 - depth while a spell lasts (spells that overlap cut
    twice). Starts are a Poisson process of `per_year` a year over the days; each spell's
    depth and length are normal draws, clipped to [0, 0.95] and at least a day."""
    out = np.ones(days)
    n = rng.poisson(per_year * days / 365.0)
    starts = rng.integers(0, days, n)
    cut = np.clip(
        rng.normal(depth.mean, depth.sd, n) if depth.sd else np.full(n, depth.mean), 0, MAX_DEPTH
    )
    long = rng.normal(length.mean, length.sd, n) if length.sd else np.full(n, length.mean)
    for s, d, k in zip(starts, cut, np.maximum(1, np.rint(long)).astype(np.int64), strict=True):
        out[s : s + k] *= 1.0 - d
    return out
