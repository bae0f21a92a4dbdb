"""Does a promise come true as often as it says? Scores of delivery-date forecasts
against the dates that came.

A forecast is a distribution over whole delivery days per order: a base day and weights
over day offsets from it (what a Monte Carlo run holds), with the window read off it
(P10, P50, P90). Scores, each proper or plainly defined:

- coverage: share of deliveries inside [earliest, latest] (the 80 % window);
- on time: share delivered on or before the likely date;
- mean absolute error of the likely date, in days; P95 of lateness after it;
- CRPS (days): the continuous ranked probability score of the whole distribution, exact
  on whole days (checked against scoringrules);
- randomized PIT: F(y - 1) + U (F(y) - F(y - 1)), uniform on [0, 1] exactly when the
  forecast is calibrated, whole days notwithstanding; its 10-bin histogram.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

from promiseline.core.arrays import F64, I64
from promiseline.core.model.window import NOMINAL

SPARE = 1  # draws a window holds past the conformal rank (see honest_runs)
WINDOW = (0.1, 0.5, 0.9)  # earliest, likely, latest
WEEK_BUCKETS = (0, 4, 8, 13, 26, 39, 52)  # weeks ahead: 0-3, 4-7, 8-12, 13-25, ...
PIT_BINS = ("before P10", "P10 to P50", "after P50 to P90", "after P90")
PIT_CALIBRATED = (0.1, 0.4, 0.4, 0.1)  # the share of each when the window is calibrated


@dataclass(frozen=True, slots=True)
class Forecast:
    """Per order (rows): P(delivery on day base + offsets[j]) = weights[i, j] / row sum."""

    base: I64  # (n,) a day number per order (e.g. days since the epoch)
    offsets: I64  # (k,) day offsets, increasing
    weights: F64  # (n, k), each row with a positive sum

    def __post_init__(self) -> None:
        if self.weights.shape != (len(self.base), len(self.offsets)):
            raise ValueError(
                f"weights must be (orders, offsets) = {(len(self.base), len(self.offsets))}, "
                f"got {self.weights.shape}"
            )
        if np.any(np.diff(self.offsets) <= 0):
            raise ValueError("offsets must increase")
        if np.any(self.weights < 0) or np.any(self.weights.sum(axis=1) <= 0):
            raise ValueError("weights must be >= 0 with a positive sum per order")

    def cdf_before(self, day: I64) -> tuple[F64, F64]:
        """(P(X < day), P(X <= day)) per order."""
        w = self.weights / self.weights.sum(axis=1, keepdims=True)
        cum = np.cumsum(w, axis=1)
        rel = day - self.base
        hi = np.searchsorted(self.offsets, rel, side="right")  # bins <= day
        lo = np.searchsorted(self.offsets, rel, side="left")  # bins < day
        rows = np.arange(len(day))
        at_or_before = np.where(hi > 0, cum[rows, np.maximum(hi - 1, 0)], 0.0)
        before = np.where(lo > 0, cum[rows, np.maximum(lo - 1, 0)], 0.0)
        return before, np.minimum(at_or_before, 1.0)

    def rows(self, index: npt.NDArray[np.integer[Any]]) -> Forecast:
        """The forecasts of some orders."""
        return Forecast(self.base[index], self.offsets, self.weights[index])

    def window(self, target: float = NOMINAL) -> tuple[I64, I64, I64, F64]:
        """(earliest, likely, latest, probability) per order: the shortest run of whole days
        holding at least `target` of the mass (see `shortest_runs`), its median day, and
        the mass it holds: the odds to state, on whole days never below the target. (Of
        Monte Carlo draws, the odds of a run are out of sample: `simulate.told_windows`.)"""
        w = self.weights / self.weights.sum(axis=1, keepdims=True)
        lo, hi, mass = shortest_runs(w, self.offsets, target)
        likely = self.quantiles((0.5,))[:, 0]
        return self.base + self.offsets[lo], likely, self.base + self.offsets[hi], mass

    def quantiles(self, qs: tuple[float, ...] = WINDOW) -> I64:
        """(n, len(qs)) days: the smallest day whose P(X <= day) reaches q."""
        w = self.weights / self.weights.sum(axis=1, keepdims=True)
        cum = np.cumsum(w, axis=1)
        out = np.empty((len(self.base), len(qs)), dtype=np.int64)
        for j, q in enumerate(qs):
            first = np.argmax(cum >= q - 1e-12, axis=1)
            out[:, j] = self.base + self.offsets[first]
        return out


def shortest_runs(weights: F64, offsets: I64, target: float) -> tuple[I64, I64, F64]:
    """Per row of probabilities over the days `offsets`: the first and last column of the
    shortest run of days (last day minus first) whose mass reaches `target`, the more
    likely of equally short ones (then the earlier), and that mass. A row's mass may sum
    to less than 1 (the rest on no day, e.g. not built in the horizon): if even every day
    together falls short, the run from its first day with mass to its last, and what it
    holds. A P10-P90 window of whole days holds 80 % or more, up to all of a narrow
    distribution; this one holds as little over the target as whole days allow."""
    n = weights.shape[0]
    lo = np.zeros(n, dtype=np.int64)
    hi = np.zeros(n, dtype=np.int64)
    mass = np.zeros(n, dtype=np.float64)
    _shortest_runs(np.ascontiguousarray(weights), offsets.astype(np.int64), target, lo, hi, mass)
    return lo, hi, mass


def honest_runs(
    counts: F64, offsets: I64, target: float, draws: F64 | None = None
) -> tuple[I64, I64, F64]:
    """Per row of Monte Carlo draws counted over the days `offsets` (`draws`: how many
    there were, those on no day included; default the row's count): the window to tell,
    its first and last column, and the odds it holds out of sample.

    The shortest run of a sample holding the target of it holds less of the law the
    sample came from: the sample's own luck picked it (of 40 draws of a wide law, the
    shortest run holding 32 holds 73 % of the law while its draws say 80 %; of 200, 77 %).
    So the window is the shortest run holding ceil(target (n + 1)) + SPARE of the n draws
    (the conformal rank, plus one: 79 % of a wide law at 40 draws), and the odds are its
    leave-one-out share (the jackknife): how often the same rule, on the other draws,
    holds the draw left out. A delivery exchangeable with the draws (a reality of the same
    law) falls inside that often: within two points in `benchmarks/honest_windows.py`.
    Odds from the draws the run holds, or a rule that widened until its leave-one-out
    share reached the target, stated 2 to 5 points more than was held. With too few
    draws, the run from the first day drawn to the last."""
    n = counts.shape[0]
    lo = np.zeros(n, dtype=np.int64)
    hi = np.zeros(n, dtype=np.int64)
    odds = np.zeros(n, dtype=np.float64)
    c = np.ascontiguousarray(np.rint(counts))
    total = c.sum(axis=1) if draws is None else np.asarray(draws, dtype=np.float64)
    _honest_runs(c, offsets.astype(np.int64), target, total, lo, hi, odds)
    return lo, hi, odds


@njit(cache=True, nogil=True)
def _best_run(c, off, need):  # type: ignore[no-untyped-def]
    """The shortest run of the compact day list (counts `c`, day offsets `off`) holding
    `need` draws, the more likely of equally short ones, then the earlier: (first, last)
    positions; too few draws: from the first day with a draw to the last."""
    d = c.shape[0]
    best_w, best_m, best_a, best_b = 1 << 62, -1.0, -1, -1
    j, inside = 0, 0.0  # the run [a, j) holds `inside`
    for a in range(d):
        while inside < need - 0.5 and j < d:
            inside += c[j]
            j += 1
        if inside < need - 0.5:
            break
        if c[a] > 0:
            width = off[j - 1] - off[a]
            if width < best_w or (width == best_w and inside > best_m):
                best_w, best_m, best_a, best_b = width, inside, a, j - 1
        inside -= c[a]
    if best_a < 0:  # too few draws: all of them
        for a in range(d):
            if c[a] > 0:
                if best_a < 0:
                    best_a = a
                best_b = a
    return best_a, best_b


NONE = np.int64(1) << 62  # no run: a key above every run's


@njit(cache=True, nogil=True)
def _key(off, s, e, held):  # type: ignore[no-untyped-def]
    """A run's rank, lowest best: the shorter, then the more draws, then the earlier."""
    return ((off[e] - off[s]) << 40) | (((1 << 27) - np.int64(held)) << 12) | s


@njit(cache=True, nogil=True)
def _ends(c, need, out):  # type: ignore[no-untyped-def]
    """out[s]: the last position of the shortest run from s holding `need` draws (len(c):
    none); never decreasing in s."""
    d = c.shape[0]
    j, inside = 0, 0.0
    for s in range(d):
        while inside < need - 0.5 and j < d:
            inside += c[j]
            j += 1
        out[s] = j - 1 if inside >= need - 0.5 else d
        inside -= c[s]


@njit(cache=True, nogil=True)
def _left_out_held(c, off, need):  # type: ignore[no-untyped-def]
    """Draws held by the run the rule (`_best_run`, `need` draws) picks from the others,
    each draw left out in turn, in O(days): left out at u, a run from s keeps its end
    unless it held u (s <= u <= end), when it needs one draw more: the runs that do not
    hold u are a prefix and a suffix of the starts, those that do a window of starts
    moving right with u (a monotone queue of their minimum)."""
    d = c.shape[0]
    drawn = c.sum()
    if drawn - 1 < need - 0.5:  # too few draws: the run from the first left to the last
        held = 0.0
        for u in range(d):
            if c[u] > 1 or (u > 0 and u < d - 1):
                held += c[u]
        return held
    e1 = np.empty(d, dtype=np.int64)
    e2 = np.empty(d, dtype=np.int64)
    _ends(c, need, e1)
    _ends(c, need + 1, e2)
    cum = np.zeros(d + 1)
    for t in range(d):
        cum[t + 1] = cum[t] + c[t]
    key1 = np.full(d, NONE)
    key2 = np.full(d, NONE)
    for s in range(d):
        if e1[s] < d:
            key1[s] = _key(off, s, e1[s], cum[e1[s] + 1] - cum[s])
        if e2[s] < d:
            key2[s] = _key(off, s, e2[s], cum[e2[s] + 1] - cum[s] - 1)
    pre = np.full(d + 1, NONE)  # pre[x]: the best of key1[:x]
    suf = np.full(d + 1, NONE)  # suf[x]: the best of key1[x:]
    for x in range(d):
        pre[x + 1] = min(pre[x], key1[x])
        suf[d - 1 - x] = min(suf[d - x], key1[d - 1 - x])
    queue = np.empty(d, dtype=np.int64)  # starts s0..u, their key2 increasing
    q_lo, q_hi, s0, held = 0, 0, 0, 0.0
    for u in range(d):
        while s0 < d and e1[s0] < u:
            s0 += 1
        while q_hi > q_lo and key2[queue[q_hi - 1]] >= key2[u]:
            q_hi -= 1
        queue[q_hi] = u
        q_hi += 1
        while q_lo < q_hi and queue[q_lo] < s0:
            q_lo += 1
        holding = key2[queue[q_lo]] if q_lo < q_hi else NONE
        if holding < min(pre[s0], suf[u + 1]):
            held += c[u]
    return held


@njit(cache=True, nogil=True)
def _honest_runs(c, offsets, target, total, lo_out, hi_out, odds_out):  # type: ignore[no-untyped-def]
    k_all = c.shape[1]
    days = np.empty(k_all, dtype=np.int64)
    for i in range(c.shape[0]):
        row = c[i]
        d = 0
        for j in range(k_all):
            if row[j] > 0:
                days[d] = j
                d += 1
        n = total[i]
        if d == 0 or n < 1:
            continue
        cc = np.empty(d)
        off = np.empty(d, dtype=np.int64)
        for t in range(d):
            cc[t] = row[days[t]]
            off[t] = offsets[days[t]]
        a, b = _best_run(cc, off, math.ceil(target * (n + 1) - 1e-9) + SPARE)
        held = _left_out_held(cc, off, math.ceil(target * n - 1e-9) + SPARE)
        lo_out[i], hi_out[i], odds_out[i] = days[a], days[b], held / n


@njit(cache=True, nogil=True)
def _shortest_runs(w, offsets, target, lo_out, hi_out, mass_out):  # type: ignore[no-untyped-def]
    eps = 1e-12
    for i in range(w.shape[0]):
        row = w[i]
        k = row.shape[0]
        total = 0.0
        first, last = -1, -1
        for j in range(k):
            if row[j] > 0:
                total += row[j]
                if first < 0:
                    first = j
                last = j
        if first < 0:
            continue
        if total < target - eps:
            lo_out[i], hi_out[i], mass_out[i] = first, last, total
            continue
        best_w, best_m, best_lo, best_hi = 1 << 62, -1.0, first, last
        j, inside = first, 0.0  # the run [a, j) holds `inside`
        for a in range(first, last + 1):
            while inside < target - eps and j <= last:
                inside += row[j]
                j += 1
            if inside < target - eps:
                break
            width = offsets[j - 1] - offsets[a]
            if width < best_w or (width == best_w and inside > best_m + eps):
                best_w, best_m, best_lo, best_hi = width, inside, a, j - 1
            inside -= row[a]
        lo_out[i], hi_out[i], mass_out[i] = best_lo, best_hi, min(best_m, 1.0)


def coverage(realized: I64, earliest: I64, latest: I64) -> float:
    """Share of deliveries inside [earliest, latest]."""
    return float(np.mean((realized >= earliest) & (realized <= latest)))


def on_time(realized: I64, likely: I64) -> float:
    """Share delivered on or before the likely date."""
    return float(np.mean(realized <= likely))


def mean_abs_error(realized: I64, likely: I64) -> float:
    return float(np.mean(np.abs(realized - likely)))


def p95_lateness(realized: I64, likely: I64) -> float:
    """P95 of days late after the likely date (0 when early or on time)."""
    return float(np.percentile(np.maximum(realized - likely, 0), 95))


def crps(forecast: Forecast, realized: I64) -> F64:
    """CRPS per order, in days (lower is better; 0: all mass on the day that came).

    Deliveries fall on whole days, so F is a step function and the integral of
    (F(x) - 1{y <= x})^2 is a sum over days: per stretch of days between two forecast
    days, F is constant and the indicator is 1 on the days from y on. Exact, and
    checked against scoringrules' estimator (`crps_reference`) in the tests.
    """
    w = forecast.weights / forecast.weights.sum(axis=1, keepdims=True)
    cum = np.cumsum(w, axis=1)[:, :-1]  # F on each stretch [offsets[j], offsets[j+1])
    a, b = forecast.offsets[:-1], forecast.offsets[1:]
    y = (realized - forecast.base)[:, None]
    from_y = np.clip(b[None, :] - np.maximum(a[None, :], y), 0, (b - a)[None, :])
    inside = from_y * (1 - cum) ** 2 + ((b - a)[None, :] - from_y) * cum**2
    first, last = forecast.offsets[0], forecast.offsets[-1]
    head = np.maximum(first - y[:, 0], 0)  # days from y before the first forecast day
    tail = np.maximum(y[:, 0] - last, 0)  # days after the last one before y
    out: F64 = inside.sum(axis=1) + head + tail
    return out


def crps_reference(forecast: Forecast, realized: I64) -> F64:
    """The same with scoringrules (weighted ensemble, quantile decomposition): slower."""
    import scoringrules as sr

    days = (forecast.base[:, None] + forecast.offsets[None, :]).astype(np.float64)
    w = forecast.weights / forecast.weights.sum(axis=1, keepdims=True)
    out: F64 = np.asarray(
        sr.crps_ensemble(realized.astype(np.float64), days, ens_w=w, estimator="qd")
    )
    return out


def randomized_pit(forecast: Forecast, realized: I64, rng: np.random.Generator) -> F64:
    """F(y - 1) + U (F(y) - F(y - 1)) per order: uniform when calibrated."""
    before, upto = forecast.cdf_before(realized)
    pit: F64 = before + rng.random(len(realized)) * (upto - before)
    return pit


def pit_histogram(pit: F64, bins: int = 10) -> list[float]:
    """Share of PIT values in each of `bins` equal bins of [0, 1] (flat when calibrated)."""
    counts, _ = np.histogram(pit, bins=bins, range=(0.0, 1.0))
    return [float(c) / max(len(pit), 1) for c in counts]


def weighted_interval_score(realized: I64, window: I64) -> F64:
    """WIS of (P10, P50, P90) per order, in days (Bracher et al. 2021): the median's
    absolute error and the 80 % interval score, with the canonical weights 1/2 and
    alpha/2, over K + 1/2 = 1.5. It approximates the CRPS from a few quantiles.

    Written out, and checked against scoringrules' numba kernel in the tests: its numpy
    backend (0.10) adds the median itself where the median's error belongs."""
    y = realized.astype(np.float64)
    lo, mid, hi = (window[:, i].astype(np.float64) for i in range(3))
    alpha = 1 - NOMINAL
    interval = (hi - lo) + (2 / alpha) * (np.maximum(lo - y, 0) + np.maximum(y - hi, 0))
    out: F64 = (0.5 * np.abs(y - mid) + alpha / 2 * interval) / 1.5
    return out


def interval_score(realized: I64, lo: I64, hi: I64, alpha: float) -> F64:
    """The interval score of [lo, hi] as a central (1 - alpha) interval, in days (Gneiting
    and Raftery 2007): its width, plus 2 / alpha times the days a delivery fell outside.
    Lower is better; a window made wide to be honest pays for its width."""
    y = realized.astype(np.float64)
    a, b = lo.astype(np.float64), hi.astype(np.float64)
    out: F64 = (b - a) + (2 / alpha) * (np.maximum(a - y, 0) + np.maximum(y - b, 0))
    return out


def pit_bins(realized: I64, window: I64) -> list[float]:
    """Share of deliveries in each of PIT_BINS of the window told."""
    if len(realized) == 0:
        return [0.0] * len(PIT_BINS)
    e, m, la = window[:, 0], window[:, 1], window[:, 2]
    b = np.where(realized < e, 0, np.where(realized <= m, 1, np.where(realized <= la, 2, 3)))
    return [float(x) for x in np.bincount(b, minlength=4) / len(realized)]


def rounded(score: Callable[..., Any], *arrays: npt.NDArray[Any], digits: int = 4) -> float | None:
    """A score of these arrays, rounded; None when there is nothing to score."""
    return round(float(score(*arrays)), digits) if len(arrays[0]) else None


def weeks_bucket(weeks: I64) -> I64:
    """The WEEK_BUCKETS index of each number of whole weeks ahead."""
    out: I64 = np.clip(np.searchsorted(WEEK_BUCKETS, weeks, side="right") - 1, 0, None)
    return out


def weeks_label(i: int) -> str:
    """The name of WEEK_BUCKETS[i]: '0-3', ..., '52+'."""
    lo = WEEK_BUCKETS[i]
    return f"{lo}+" if i + 1 == len(WEEK_BUCKETS) else f"{lo}-{WEEK_BUCKETS[i + 1] - 1}"


@dataclass(frozen=True, slots=True)
class Scores:
    """Scores of one set of promises against what came."""

    orders: int
    coverage: float  # inside [P10, P90]
    early: float  # before P10
    late: float  # after P90
    on_time: float  # on or before P50
    mean_abs_error_days: float
    p95_lateness_days: float
    crps_days: float
    pit_histogram: list[float]

    def to_json(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "coverage_p10_p90": round(self.coverage, 4),
            "on_time": round(self.on_time, 4),
            "mean_abs_error_days": round(self.mean_abs_error_days, 2),
            "p95_lateness_days": round(self.p95_lateness_days, 1),
            "crps_days": round(self.crps_days, 3),
            "pit_histogram": [round(x, 4) for x in self.pit_histogram],
        }

    def verdict(self, nominal: float = NOMINAL) -> str:
        """One line a planner reads: are the windows honest?"""
        return verdict(self.coverage, self.early, self.late, nominal)


def verdict(covered: float, early: float, late: float, nominal: float = NOMINAL) -> str:
    """What is wrong with windows of these odds, or that nothing is, in one line: the
    share inside them, and on which side the misses fall when they lean to one."""
    share = f"{covered:.0%} of deliveries inside {nominal:.0%} windows"
    side = (
        f" ({late:.0%} after the window, {early:.0%} before it)" if max(early, late) > 0.15 else ""
    )
    if covered < nominal - 0.05:
        return f"windows too narrow: {share}{side}"
    if covered > nominal + 0.10:
        return f"windows too wide: {share}"
    return f"windows honest: {share}{side}"


def score(forecast: Forecast, realized: I64, seed: int = 0) -> Scores:
    """Every score of these forecasts (one per order) against the realized days."""
    if len(realized) == 0:
        nan = float("nan")
        return Scores(0, nan, nan, nan, nan, nan, nan, nan, [])
    q = forecast.quantiles(WINDOW)
    earliest, likely, latest = q[:, 0], q[:, 1], q[:, 2]
    pit = randomized_pit(forecast, realized, np.random.default_rng(seed))
    return Scores(
        orders=len(realized),
        coverage=coverage(realized, earliest, latest),
        early=float(np.mean(realized < earliest)),
        late=float(np.mean(realized > latest)),
        on_time=on_time(realized, likely),
        mean_abs_error_days=mean_abs_error(realized, likely),
        p95_lateness_days=p95_lateness(realized, likely),
        crps_days=float(np.mean(crps(forecast, realized))),
        pit_histogram=pit_histogram(pit),
    )
