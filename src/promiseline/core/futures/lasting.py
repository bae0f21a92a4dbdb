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
from functools import lru_cache

import numpy as np
from scipy import special, stats
from scipy.signal import lfilter

from promiseline.core.arrays import F64, I64
from promiseline.core.model.scenario import Share, Spread, Uptime

Z_GRID = np.linspace(-7.0, 7.0, 4001)  # the latent's quantile table (error < 1e-4)
MAX_DEPTH = 0.95


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


def latent(rng: np.random.Generator, spec: Uptime, days: int, periods: I64 | None = None) -> F64:
    """A standard normal per day: the future's level (share `level_share` of the
    variance) plus a stationary AR(1) with correlation exp(-1 / memory_days) a day.

    `periods` (a period number per day, non-decreasing: e.g. calendar quarters) draws a
    level of each period instead of one for the whole future: a record of several
    quarters as `fit` reads one (a future draws without it, as before)."""
    phi = math.exp(-1.0 / spec.memory_days) if spec.memory_days > 0 else 0.0
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
    rng: np.random.Generator, spec: Uptime, days: int, periods: I64 | None = None
) -> F64:
    """One line's uptime per day: Beta(mean, sd) each day, moving together over days
    (`periods`: a level of each period, see `latent`)."""
    if spec.mean >= 1.0 or spec.sd == 0:
        return np.full(days, spec.mean)
    return uptime_of(spec, latent(rng, spec, days, periods))


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
