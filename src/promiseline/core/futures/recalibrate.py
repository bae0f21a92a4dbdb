"""Windows recalibrated by outcomes: when the world is not the model, widen (or narrow)
the windows told by how the model's windows fared, per weeks ahead.

Split conformal calibration on the promises already resolved (Vovk et al.; adaptive in
that it uses the most recent outcomes of each bucket only, as Gibbs and Candes' adaptive
conformal inference tracks a drifting world): for a window told `weeks` ahead (planned),
the scores of past model windows told that far ahead are how many days a delivery fell
before their earliest day and after their latest day, as shares of how far ahead they
looked; the margins are the conformal quantiles of each at 1 - (1 - target) / 2, so at
most a tenth of deliveries fall early and a tenth late when the target is 80 %; the
likely day moves by the median of the same shares. Margins only widen: a side on which
the model's windows missed no more than the allowed tenth keeps its day, and a bucket
with neither is told as the model says, with its odds. A bucket with too few closed
windows (further ahead than any closed yet) borrows the longest one's margins in days
(`Margins`). A promise counts once its window has closed
(its latest day is past): delivered early, inside or late, or still undelivered, late by
at least the days since its latest (right-censored, never dropped: dropping it would
favour the early ones): spread over the days the simulation the windows are told from
gives for it from now on (`Pending`: the backtest's replay, the service's forecast run;
a cancelled order is not counted), or without one counted as the delivered ones that were
as late so far (`censoring_weights`, Kaplan-Meier's estimate: where the undelivered are
later than every delivered one, a line running slow, their weight has nowhere to go).
Only outcomes known at that moment are used.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from promiseline.core.arrays import F64, I64
from promiseline.core.futures.calibration import (
    WEEK_BUCKETS,
    Forecast,
    weeks_bucket,
    weeks_label,
)

MIN_OUTCOMES = 50  # closed windows a bucket needs before it is recalibrated
RECENT = 2000  # the most recent closed windows of a bucket that count
NOT_EARLY = -(10**6)
Pending = Callable[[I64], tuple[Forecast, npt.NDArray[np.bool_]]]
"""The current forecast of these orders' delivery days (days since the epoch the windows
are told in; an offset of `NEVER_DAY` or more: not delivered in the horizon), and which
have one (an order with none, e.g. cancelled, will never be delivered: its window is not
counted)."""
NEVER_DAY = 10**6


@dataclass(frozen=True, slots=True)
class Margins:
    """Per weeks-ahead bucket: how far to move a window's earliest day earlier (`lo`) and
    its latest day later (`hi`), as shares of the days from telling to its likely day
    (plus one): a world slower than the model is late in proportion to how far ahead a
    promise looks. Negative narrows. A bucket with fewer than MIN_OUTCOMES closed windows
    of its own borrows the margins of the longest bucket that has them, in days (`days`;
    `lent`: whose): the delay the world has shown so far, not a rate carried a year
    ahead (borrowed as shares, they made the demo's year-ahead windows worse; not
    borrowed, windows told 13-38 weeks ahead two months into a slowdown held 57-62 %
    stating 85-89 %). A borrowed window states the model's odds: no window that far
    ahead has closed to say better."""

    lo: F64
    hi: F64
    mid: F64  # the likely day moves later by this share (the median error)
    odds: F64  # the share of the closed windows the margins hold (whole days; censored: KM)
    outcomes: I64  # closed windows behind each bucket's own margins
    ready: npt.NDArray[np.bool_]  # margins apply (its own, or borrowed)
    target: float
    days: F64  # per bucket: the lent margins in days (lo, hi, mid), rows of a borrower
    lent: I64  # the bucket each borrowed from (-1: its own, or none)

    def to_json(self) -> dict[str, Any]:
        """Per bucket (WEEK_BUCKETS), JSON-safe: a bucket not ready has no margins."""

        def row(b: int) -> dict[str, Any]:
            out: dict[str, Any] = {"weeks": weeks_label(b), "outcomes": int(self.outcomes[b])}
            if self.lent[b] >= 0:
                lo, hi, mid = (float(x) for x in self.days[b])
                return out | {"from": weeks_label(int(self.lent[b])), "days": [lo, hi, mid]}
            if self.ready[b]:
                own = (self.lo[b], self.hi[b], self.mid[b], self.odds[b])
                out |= dict(zip(("lo", "hi", "mid", "odds"), (float(x) for x in own), strict=True))
            return out

        return {"target": self.target, "buckets": [row(b) for b in range(len(WEEK_BUCKETS))]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Margins:
        rows = d["buckets"]
        if len(rows) != len(WEEK_BUCKETS):
            raise ValueError(f"margins: {len(rows)} buckets, expected {len(WEEK_BUCKETS)}")

        def col(k: str) -> F64:
            return np.array([float(r.get(k, 0.0)) for r in rows])

        labels = [weeks_label(b) for b in range(len(WEEK_BUCKETS))]
        lent = np.array([labels.index(r["from"]) if "from" in r else -1 for r in rows])
        days = np.array([[float(x) for x in r.get("days", (0, 0, 0))] for r in rows])
        ready = np.array(["lo" in r for r in rows]) | (lent >= 0)
        n = np.array([int(r["outcomes"]) for r in rows], dtype=np.int64)
        return cls(
            col("lo"), col("hi"), col("mid"), col("odds"), n, ready, float(d["target"]), days, lent
        )

    def apply(self, told: I64 | int, q: I64, prob: F64) -> tuple[I64, F64]:
        """Windows (earliest, likely, latest days) told on `told`, recalibrated, and the
        odds they state: where their bucket has margins of its own, the share of closed
        windows they hold (the undelivered weighed by `censoring_weights`), else their own.
        The likely day stays inside the window."""
        ahead = _scale(q[:, 1] - told)
        b = weeks_bucket((q[:, 1] - told) // 7)
        on, own = self.ready[b], self.lent[b] < 0
        lo, hi, mid = (
            np.where(own, m[b] * ahead, self.days[b, i])
            for i, m in enumerate((self.lo, self.hi, self.mid))
        )
        e = q[:, 0] - np.rint(lo).astype(np.int64)
        la = np.maximum(q[:, 2] + np.rint(hi).astype(np.int64), e)
        likely = np.clip(q[:, 1] + np.rint(mid).astype(np.int64), e, la)
        out = np.where(on[:, None], np.stack([e, likely, la], axis=1), q).astype(np.int64)
        return out, np.where(on & own, self.odds[b], prob)


def censoring_weights(late: F64, came: npt.NDArray[np.bool_]) -> F64:
    """Inverse-probability-of-censoring weights (Kaplan-Meier's, written as weights): a
    window still undelivered past its latest is late by at least the days since, by how
    much more unknown (right-censored), so it weighs 0 and each delivered one 1 / G(its
    lateness-), G the Kaplan-Meier chance of staying uncensored that long (scipy's
    `ecdf`, censoring as the event): the undelivered are counted as the delivered that
    were as late as they are so far and came later. Counted as misses, the slowdown's
    windows still open stated 30-42 % and held 98 %."""
    w: F64 = came.astype(np.float64)
    if came.all() or not came.any():
        return w
    from scipy import stats

    g = stats.ecdf(stats.CensoredData(uncensored=late[~came], right=late[came])).sf
    t = late[came]
    w[came] = 1.0 / np.maximum(g.evaluate(np.nextafter(t, -np.inf)), 1e-12)
    return w


def weighted_quantile(scores: F64, weights: F64, level: float, n: int | None = None) -> float:
    """The conformal quantile of weighted scores of n windows (`censoring_weights`, or a
    window's forecast spread over several scores; all 1: the ceil((n + 1) level)-th
    smallest): the least score whose weight up to it reaches ceil((n + 1) level); where
    the weight falls short of it (the censored left some unplaced, or placed it past the
    horizon: an infinite score), the largest finite score, delivered or not."""
    n = len(scores) if n is None else n
    k = math.ceil((n + 1) * level)
    if k > n:
        return math.inf
    order = np.argsort(scores, kind="stable")
    cum = np.cumsum(weights[order])
    i = int(np.searchsorted(cum, k - 1e-9))
    if i < len(scores) and np.isfinite(scores[order[i]]):
        return float(scores[order[i]])
    finite = scores[np.isfinite(scores)]
    return float(finite.max()) if len(finite) else 0.0


def weighted_median(scores: F64, weights: F64) -> float:
    """The median of weighted scores (all weights 1: numpy's median); an infinite one (a
    future that does not deliver in the horizon) gives the largest finite score."""
    keep = weights > 0
    scores, weights = scores[keep], weights[keep]
    order = np.argsort(scores, kind="stable")
    s, cum = scores[order], np.cumsum(weights[order])
    half = cum[-1] / 2
    i = int(np.searchsorted(cum, half - 1e-9))
    m = (s[i] + s[i + 1]) / 2 if abs(cum[i] - half) < 1e-9 and i + 1 < len(s) else s[i]
    if np.isfinite(m):
        return float(m)
    finite = s[np.isfinite(s)]
    return float(finite.max()) if len(finite) else 0.0


@dataclass(slots=True)
class Outcomes:
    """Model windows told, in the order told, and their outcomes as they become known."""

    told: list[I64] = field(default_factory=list)  # day told
    likely: list[I64] = field(default_factory=list)
    earliest: list[I64] = field(default_factory=list)
    latest: list[I64] = field(default_factory=list)
    order: list[I64] = field(default_factory=list)  # whose (an index into `realized`)

    def add(self, day: I64 | int, q: I64, order: I64) -> None:
        told = np.broadcast_to(np.asarray(day, dtype=np.int64), (len(q),)).copy()
        self.told.append(told)
        self.likely.append(q[:, 1].copy())
        self.earliest.append(q[:, 0].copy())
        self.latest.append(q[:, 2].copy())
        self.order.append(np.asarray(order, dtype=np.int64).copy())

    def margins(
        self, now: int, realized: I64, target: float, pending: Pending | None = None
    ) -> Margins:
        """Margins from the windows closed by `now` (`realized`: each order's delivery
        day, -1 or a day after `now` when not delivered by then: known only as late).
        `pending`: the current forecast of the orders of closed windows not delivered
        yet; without it they are weighed by `censoring_weights`."""
        n_b = len(WEEK_BUCKETS)
        lo, hi, mid, odds = np.zeros(n_b), np.zeros(n_b), np.zeros(n_b), np.zeros(n_b)
        count = np.zeros(n_b, dtype=np.int64)
        ready = np.zeros(n_b, dtype=bool)
        days, lent = np.zeros((n_b, 3)), np.full(n_b, -1, dtype=np.int64)
        none = Margins(lo, hi, mid, odds, count, ready, target, days, lent)
        if not self.told:
            return none
        latest = np.concatenate(self.latest)
        closed = np.flatnonzero(latest < now)
        if not len(closed):
            return none
        told = np.concatenate(self.told)[closed]
        likely = np.concatenate(self.likely)[closed]
        e, la = np.concatenate(self.earliest)[closed], latest[closed]
        whose = np.concatenate(self.order)[closed]
        y = realized[whose]
        ahead = _scale(likely - told)
        bucket = weeks_bucket((likely - told) // 7)
        came = (y >= 0) & (y < now)
        early = np.where(came, e - y, NOT_EARLY) / ahead  # days before the earliest
        late = np.where(came, y - la, now - la) / ahead  # after the latest (censored: >=)
        off = np.where(came, y - likely, now - likely) / ahead  # after the likely day
        level = 1 - (1 - target) / 2
        recent = [np.flatnonzero(bucket == b)[-RECENT:] for b in range(n_b)]  # told last
        spread = None
        if pending is not None and not came.all():
            cens = np.concatenate(recent)
            cens = np.sort(cens[~came[cens]])  # only those that count are forecast
            spread = _Spread.of(pending, now, cens, whose, la, likely, ahead)

        def fit(idx: I64) -> tuple[float, float, float, float, _Scores] | None:
            # widen only: narrowing chased luck (a world's outcomes share it: 2,000 closed
            # windows may be one draw of a season), so windows the model already held
            # were told narrower and held 87 % while stating 93 % (tests/.../test_calibrated)
            if spread is None:  # the undelivered: by the delivered ones like them (KM)
                w, one = censoring_weights(late[idx], came[idx]), np.ones(len(idx))
                s = _Scores(early[idx], late[idx], off[idx], w, one, ahead[idx], len(idx))
            else:  # the undelivered: by their forecast now
                s = spread.scores(idx, came, early, late, off, ahead)
                if s.n < MIN_OUTCOMES:  # the rest cancelled: too few to learn from
                    return None
            lo_ = max(0.0, weighted_quantile(s.early, s.early_w, level, s.n))
            hi_ = max(0.0, weighted_quantile(s.late, s.w, level, s.n))
            if lo_ == 0 and hi_ == 0:
                return None  # the model's windows held: told as they are
            a = s.ahead  # what the margins would have held, in whole days as told
            held = (s.early * a <= np.rint(lo_ * a)) & (s.late * a <= np.rint(hi_ * a))
            odds = float((s.w * held).sum() / s.n)
            return lo_, hi_, weighted_median(s.off, s.early_w), odds, s

        lender, scores, lends = -1, None, None  # the longest bucket with outcomes enough
        for b, idx in enumerate(recent):
            count[b] = len(idx)
            if len(idx) < MIN_OUTCOMES:
                if scores is not None:  # it has margins: lent in days (learned once)
                    lends = scores.in_days(level) if lends is None else lends
                    days[b], lent[b], ready[b] = lends, lender, True
                continue
            lender, scores, lends = b, None, None
            fitted = fit(idx)
            if fitted is not None:
                lo[b], hi[b], mid[b], odds[b], scores = fitted
                ready[b] = True
        return Margins(lo, hi, mid, odds, count, ready, target, days, lent)


@dataclass(frozen=True, slots=True)
class _Scores:
    """A bucket's closed windows as weighted scores (shares of days ahead): one per
    delivered window, several per window spread by its forecast; `n` windows counted."""

    early: F64
    late: F64
    off: F64
    w: F64
    early_w: F64  # the weight each score counts with where lateness is known only from
    # below (not early; the median): a censored window's lower bound counts whole
    ahead: F64
    n: int

    def in_days(self, level: float) -> F64:
        """The margins in days, not shares (lo, hi, mid): what a bucket without closed
        windows of its own borrows."""
        a = self.ahead
        return np.array(
            [
                max(0.0, weighted_quantile(self.early * a, self.early_w, level, self.n)),
                max(0.0, weighted_quantile(self.late * a, self.w, level, self.n)),
                weighted_median(self.off * a, self.early_w),
            ]
        )


@dataclass(frozen=True, slots=True)
class _Spread:
    """The closed windows not delivered by now, each spread over the days its current
    forecast gives (those before now dropped: it did not come), as weighted scores."""

    window: I64  # the closed window (an index into them) of each score
    late: F64
    off: F64
    w: F64

    @classmethod
    def of(
        cls, pending: Pending, now: int, cens: I64, whose: I64, la: I64, likely: I64, ahead: F64
    ) -> _Spread:
        fc, has = pending(whose[cens])
        cens, fc = cens[has], fc.rows(np.flatnonzero(has))
        day = fc.base[:, None] + fc.offsets[None, :]
        w = np.where(day >= now, fc.weights, 0.0)
        none = w.sum(axis=1) <= 0  # all of it before now: it comes at once
        w[none] = 0.0
        w[none, np.argmax(day[none] >= now, axis=1)] = 1.0
        w /= w.sum(axis=1, keepdims=True)
        r, k = np.nonzero(w)
        never = fc.offsets[k] >= NEVER_DAY
        d = day[r, k]
        win = cens[r]
        late = np.where(never, np.inf, (d - la[win]) / ahead[win])
        off = np.where(never, np.inf, (d - likely[win]) / ahead[win])
        return cls(win, late, off, w[r, k])

    def scores(
        self, idx: I64, came: npt.NDArray[np.bool_], early: F64, late: F64, off: F64, ahead: F64
    ) -> _Scores:
        """The closed windows `idx` as scores: a delivered one's own, an undelivered
        one's spread (one with no forecast is not counted)."""
        d = idx[came[idx]]
        mine = np.zeros(len(came), dtype=bool)
        mine[idx] = True
        j = np.flatnonzero(mine[self.window])
        win = self.window[j]
        ones = np.ones(len(d))
        return _Scores(
            np.concatenate([early[d], NOT_EARLY / ahead[win]]),
            np.concatenate([late[d], self.late[j]]),
            np.concatenate([off[d], self.off[j]]),
            np.concatenate([ones, self.w[j]]),
            np.concatenate([ones, self.w[j]]),
            np.concatenate([ahead[d], ahead[win]]),
            len(d) + len(np.unique(win)),
        )


def _scale(days_ahead: I64) -> F64:
    """A window's scale: the days from telling to its likely day, plus one."""
    out: F64 = (np.maximum(days_ahead, 0) + 1).astype(np.float64)
    return out
