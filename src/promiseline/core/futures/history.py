"""Did the promises told come true? The backtest's scores from a deployment's own history.

Read from the store's append-only events of orders delivered, and of orders still on
their way (locked, scheduled, built or shipped; not cancelled), as of the database's
now: its newest event, or a moment given (`score_history`):

- the realized delivery: the day of the order's `delivered` event;
- the first promise: the window of its `locked` event, or of its `created` event when it
  was created locked; an imported order was first told quietly (no event), so the `from`
  window of its first `eta_changed` stands for it, else the window it holds now (it never
  moved). It was made on the day of the lock (or of the import);
- every promise told: the first one and the `to` window of each `eta_changed` before the
  delivery, each by how many weeks before the delivery it was told;
- the latest promise: the window the order held when delivered (windows freeze once the
  car is built; quiet changes, e.g. a plan stand-in replaced by a close Monte Carlo
  window, are included, as the customer saw them);
- churn: its `eta_changed` events before the delivery;
- the odds a window stated: its `probability`; a window told before windows stated
  their odds holds the nominal 0.8 when it came from Monte Carlo futures (its own, or
  the orders' around it), none when it was the plan's stand-in.

Censoring. An order not delivered by now is a miss of every window it was told whose
latest day has passed (now is after it): late, by at least now minus that day. It is
counted, not dropped (dropping it would keep only the deliveries that came, and flatter
the windows), and scored as if delivered now, the earliest it can still come: its
lateness, error of the likely date, interval score and weeks ahead are then lower
bounds of what it will have been. A window told to an undelivered order whose latest
day has not passed is open: not scored yet (`orders_open` counts the orders whose first
window is open, or who hold none yet; `orders_censored` those scored as late).

The store keeps three dates of a window (P10, P50, P90), not the whole distribution, so
the replay backtest's CRPS and 10-bin randomized PIT cannot be computed here. In their
place, over windows that state odds only (a plan stand-in's dates are not quantiles):
the weighted interval score of the three quantiles (WIS, Bracher et al. 2021; it
approximates the CRPS from a few quantiles) and a 4-bin PIT (before P10, P10 to P50,
after P50 to P90, after P90; 10/40/40/10 % when calibrated, whole days leaning to the
inner bins). By weeks ahead and by the 4-week period told in, the replay backtest's
scores (`backtest.promise_sums`, `_row`) beside its naive baseline, here the likely date
widened by the central 80 % of its own errors (the store keeps no separate plan date; a
plan stand-in's likely date is the plan's).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from promiseline.core.arrays import F64, I64
from promiseline.core.futures.backtest import (
    ERR_SPAN,
    TOLD_WEEKS,
    _row,
    _stated,
    error_bin,
    naive_baseline,
    odds_verdict,
    promise_sums,
)
from promiseline.core.futures.calibration import (
    PIT_BINS,
    PIT_CALIBRATED,
    WEEK_BUCKETS,
    coverage,
    mean_abs_error,
    on_time,
    p95_lateness,
    pit_bins,
    rounded,
    weeks_bucket,
    weeks_label,
    weighted_interval_score,
)
from promiseline.core.futures.recalibrate import Margins, Outcomes
from promiseline.core.futures.simulate import Simulation, pending
from promiseline.core.model.lifecycle import EventKind, Status
from promiseline.core.model.window import NOMINAL, PLAN

EVENT_COLUMNS = ("order_id", "kind", "at", "data")
WINDOW_COLUMNS = ("order_id", "earliest", "likely", "latest", "source", "probability", "status")
"""The windows orders hold now, and their status (`probability` and `status` may be
missing: no odds stated, and undelivered unless a `delivered` event says otherwise)."""
_DATES = ("earliest", "likely", "latest")
_FIRST_LAST = tuple(f"{p}{k}" for p in ("first_", "last_") for k in _DATES)
_KINDS = (EventKind.CREATED, EventKind.LOCKED, EventKind.ETA_CHANGED, EventKind.DELIVERED)
HISTORY_KINDS = tuple(k.value for k in _KINDS)
"""The events `score_history` reads."""
WAITING = tuple(s.value for s in (Status.LOCKED, Status.SCHEDULED, Status.BUILT, Status.SHIPPED))
"""Statuses of orders promised and not delivered yet: scored once a window's last day
has passed (censored), open until then."""
HISTORY_STATUSES = (Status.DELIVERED.value, *WAITING)
"""The orders `score_history` reads."""
EPOCH = dt.date(1970, 1, 1)


_WINDOW = pl.Struct(
    dict.fromkeys((*_DATES, "source"), pl.String)
    | dict.fromkeys(("probability", "confidence"), pl.Float64)
    | {"model": pl.Struct(dict.fromkeys(_DATES, pl.String))}
)
_MODEL = tuple(f"model_{k}" for k in _DATES)


def _decoded(events: pl.DataFrame, **fields: pl.DataType | type[pl.DataType]) -> pl.DataFrame:
    """Events with these fields of their data as columns (each JSON parsed once)."""
    data = pl.col("data").str.json_decode(pl.Struct(fields))
    return events.with_columns(data.alias("data")).unnest("data")


def _odds(source: pl.Expr, probability: pl.Expr) -> pl.Expr:
    """The probability a window states: none for the plan's stand-in; the nominal odds
    for one from futures told before windows stated theirs."""
    return (
        pl.when(source == PLAN)
        .then(pl.lit(None, dtype=pl.Float64))
        .otherwise(probability.cast(pl.Float64).fill_null(NOMINAL))
    )


def _window(name: str) -> list[pl.Expr]:
    """The window in struct column `name`, as (earliest, likely, latest, source,
    probability); one told before windows had a likely date and a source is the plan's
    stand-in, one told before they stated odds states its `confidence` (the name before
    0.9), else the nominal odds (`_odds`)."""
    w = pl.col(name).struct
    earliest, likely, latest = (w.field(k).str.to_date() for k in _DATES)
    source = w.field("source").fill_null(PLAN)
    model = w.field("model").struct
    return [
        *(model.field(k).str.to_date().alias(m) for k, m in zip(_DATES, _MODEL, strict=True)),
        earliest.alias("earliest"),
        pl.coalesce(likely, earliest).alias("likely"),
        latest.alias("latest"),
        source.alias("source"),
        _odds(source, pl.coalesce(w.field("probability"), w.field("confidence"))).alias(
            "probability"
        ),
    ]


def _first_of(told: pl.DataFrame) -> pl.DataFrame:
    return (
        told.filter(pl.col("earliest").is_not_null())
        .group_by("order_id")
        .agg(pl.all().sort_by("seq").first())
    )


def _day(d: int | None) -> str | None:
    return (EPOCH + dt.timedelta(days=d)).isoformat() if d is not None else None


@dataclass(frozen=True)
class _Sums:
    """Promises told and scored, summed by bucket (backtest.ACC)."""

    weeks: F64  # [weeks-ahead bucket, ACC]
    errors: I64  # [weeks-ahead bucket, day]: delivery minus the likely date
    by_told: F64  # [4-week period told in, ACC]
    censored: I64  # per weeks-ahead bucket
    censored_told: I64  # per period
    open_told: I64  # per period: told, not scored yet
    odds: I64  # per weeks-ahead bucket: windows that state odds
    wis: F64  # per weeks-ahead bucket: their mean WIS (NaN: none)


@dataclass(frozen=True)
class History:
    """Promises told and what came, as of the database's now, one row an order scored
    (`orders`) and one a promise told (`told`), with day numbers (days since
    1970-01-01). `realized` is the delivery day, or for an order not delivered by now
    past its window (`censored`) now: a lower bound; a promise still open has none."""

    database: str
    delivered: int  # orders delivered, promised or not
    orders: pl.DataFrame  # order_id, realized, censored, first (3 dates), source,
    # probability, last (3 dates), churn: delivered or censored
    told: pl.DataFrame  # order_id, realized, censored, day told, 3 dates, source, probability
    now: int | None  # the day it is judged as of (None: nothing happened yet)
    open: int  # orders not delivered, not scored yet (first window open, or none told)

    def _arrays(self, frame: pl.DataFrame, prefix: str = "") -> tuple[I64, I64]:
        y = frame["realized"].to_numpy().astype(np.int64)
        w = frame.select(f"{prefix}{k}" for k in _DATES).to_numpy().astype(np.int64)
        return y, w

    @staticmethod
    def _odds(frame: pl.DataFrame) -> F64:
        """The probability each window stated; NaN: none (the plan's stand-in)."""
        out: F64 = frame["probability"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        return out

    def margins(self, target: float = NOMINAL, sim: Simulation | None = None) -> Margins:
        """Margins to recalibrate windows told now (recalibrate.py), learned from how the
        model's windows told so far fared (the model's own behind each recalibrated one;
        a plan stand-in is no model window): the live service's, by the backtest's rule.
        `sim`: the simulation of the book now, whose forecasts say how late the closed
        windows still undelivered will be (without: Kaplan-Meier's weights)."""
        told = self.told.filter(pl.col("source") != PLAN)
        came = ~told["censored"].to_numpy() & told["realized"].is_not_null().to_numpy()
        y = np.where(came, told["realized"].fill_null(-1).to_numpy(), -1).astype(np.int64)
        outcomes = Outcomes()
        if told.height and self.now is not None:
            q = told.select(_MODEL).to_numpy().astype(np.int64)
            outcomes.add(told["day"].to_numpy().astype(np.int64), q, np.arange(told.height))
        now = self.now if self.now is not None else 0
        known = None if sim is None else pending(sim, told["order_id"], EPOCH)
        return outcomes.margins(now, y, target, known)

    @property
    def last_delivery(self) -> int | None:
        """The day of the last delivery scored."""
        came = self.orders.filter(~pl.col("censored"))["realized"]
        return None if came.is_empty() else int(came.max())  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        o = self.orders
        y, first = self._arrays(o, "first_")
        _, last = self._arrays(o, "last_")
        censored = o["censored"].to_numpy()
        # the latest promise of an order not delivered is the window it holds: a miss
        # once its last day has passed too, else not scored yet
        closed = ~censored | (last[:, 2] < y)
        yl, last = y[closed], last[closed]
        prob = self._odds(o)
        odds = np.isfinite(prob)
        sources = o["source"].fill_null("none").value_counts(sort=True)
        return {
            "source": "database",
            "database": self.database,
            "as_of": _day(self.now),
            "last_delivery": _day(self.last_delivery),
            "orders_delivered": self.delivered,
            "orders_scored": len(y),
            "orders_censored": int(censored.sum()),
            "orders_open": self.open,
            "nominal_coverage": NOMINAL,
            "first_promise_sources": dict(sources.iter_rows()),
            "coverage_p10_p90": rounded(coverage, y, first[:, 0], first[:, 2]),
            "stated_p10_p90": _stated(prob),
            "coverage_latest": rounded(coverage, yl, last[:, 0], last[:, 2]),
            "on_time_first_promise": rounded(on_time, y, first[:, 1]),
            "on_time_latest_promise": rounded(on_time, yl, last[:, 1]),
            "mean_abs_error_days_first": rounded(mean_abs_error, y, first[:, 1], digits=2),
            "mean_abs_error_days_latest": rounded(mean_abs_error, yl, last[:, 1], digits=2),
            "p95_lateness_days": rounded(p95_lateness, y, first[:, 1], digits=1),
            "churn_per_order": rounded(np.mean, o["churn"].to_numpy(), digits=3),
            "crps_days": None,  # the store keeps three quantiles, not the distribution
            "pit_histogram": None,
            "monte_carlo_first_promises": {  # first windows that state odds
                "orders": int(odds.sum()),
                "coverage_p10_p90": rounded(coverage, y[odds], first[odds, 0], first[odds, 2]),
                "stated": _stated(prob[odds]),
                "wis_days": rounded(
                    np.mean, weighted_interval_score(y[odds], first[odds]), digits=2
                ),
                "pit_bins": dict(
                    zip(
                        PIT_BINS,
                        (round(x, 4) for x in pit_bins(y[odds], first[odds])),
                        strict=True,
                    )
                ),
                "pit_bins_calibrated": dict(zip(PIT_BINS, PIT_CALIBRATED, strict=True)),
            },
            "by_weeks_ahead": self.by_weeks_ahead(),
            "by_told_weeks": self.by_told_weeks(),
            "verdict": self.verdict(),
        }

    def _sums(self, told: pl.DataFrame) -> _Sums:
        """The promises `told` (rows of `self.told`) summed by bucket: those scored by
        weeks between telling and the likely day told (what came would pick the bucket by
        the outcome: a late miss of the last bucket moved on, and it looked too good),
        all by the 4-week period from the first promise told in the history."""
        scored = told.filter(pl.col("realized").is_not_null())
        y, w = self._arrays(scored)
        day = scored["day"].to_numpy().astype(np.int64)
        prob = self._odds(scored)
        cens = scored["censored"].to_numpy()
        bucket = weeks_bucket((w[:, 1] - day) // 7)  # by the promise, not by what came
        k = len(WEEK_BUCKETS)
        acc = promise_sums(y, w, prob)
        weeks = np.zeros((k, acc.shape[1]))
        np.add.at(weeks, bucket, acc)
        errors = np.zeros((k, 2 * ERR_SPAN + 1), dtype=np.int64)
        np.add.at(errors, (bucket, error_bin(y, w[:, 1])), 1)
        odds = np.isfinite(prob)
        wis = weighted_interval_score(y, w)
        wis_mean = np.full(k, np.nan)
        for i in range(k):
            m = (bucket == i) & odds
            if m.any():
                wis_mean[i] = wis[m].mean()
        days = self.told["day"].to_numpy().astype(np.int64)
        origin = int(days.min()) if len(days) else 0
        periods = (int(days.max()) - origin) // (7 * TOLD_WEEKS) + 1 if len(days) else 0
        period = (day - origin) // (7 * TOLD_WEEKS)
        by_told = np.zeros((periods, acc.shape[1]))
        np.add.at(by_told, period, acc)
        every = (told["day"].to_numpy().astype(np.int64) - origin) // (7 * TOLD_WEEKS)
        still = told["realized"].is_null().to_numpy()
        return _Sums(
            weeks,
            errors,
            by_told,
            np.bincount(bucket[cens], minlength=k),
            np.bincount(period[cens], minlength=len(by_told)),
            np.bincount(every[still], minlength=len(by_told)),
            np.bincount(bucket[odds], minlength=k),
            wis_mean,
        )

    @cached_property
    def _all(self) -> _Sums:
        return self._sums(self.told)

    def by_weeks_ahead(self) -> list[dict[str, Any]]:
        """Every promise told and scored, by whole weeks between telling and delivery:
        the replay backtest's objects (`backtest._row`), and how many were censored,
        how many stated odds and their WIS."""
        s = self._all
        return [
            _row(weeks_label(i), w, naive_baseline(s.errors[i]))
            | {
                "censored": int(s.censored[i]),
                "monte_carlo": int(s.odds[i]),
                "wis_days": None if np.isnan(s.wis[i]) else round(float(s.wis[i]), 2),
            }
            for i, w in enumerate(s.weeks)
        ]

    def by_told_weeks(self) -> list[dict[str, Any]]:
        """The same by the 4-week period they were told in, from the first promise told
        in the history (`told_from` its first day); `open`: promises of the period not
        scored yet (the latest periods are incomplete)."""
        s = self._all
        origin = int(self.told["day"].min() or 0)  # type: ignore[arg-type]
        step = TOLD_WEEKS
        return [
            _row(f"{i * step}-{i * step + step - 1}", w, None)
            | {
                "told_from": _day(origin + 7 * step * i),
                "censored": int(s.censored_told[i]),
                "open": int(s.open_told[i]),
            }
            for i, w in enumerate(s.by_told)
        ]

    def churn_counts(self) -> list[int]:
        """Orders by how many eta_changed messages they got (index: messages)."""
        counts: list[int] = np.bincount(self.orders["churn"].to_numpy()).tolist()
        return counts

    def verdict(self) -> str:
        """Judged on the first windows that state odds (a plan stand-in states none),
        against the odds they stated, and the weeks-ahead bucket of all promises stating
        odds furthest from its own."""
        o = self.orders
        odds = np.isfinite(self._odds(o))
        if odds.any():
            y, first = self._arrays(o, "first_")
            told = self.told.filter(pl.col("probability").is_not_null())
            s = self._sums(told)
            rows = [_row(weeks_label(i), w, None) for i, w in enumerate(s.weeks)]
            return odds_verdict(y[odds], first[odds], self._odds(o)[odds], rows)
        if o.height:
            return (
                "nothing to judge yet: no order scored was first told a window stating odds "
                "(plan windows state no odds)"
            )
        return (
            "nothing to judge yet: no order was both promised and delivered "
            "(or undelivered past its window)"
        )


def score_history(
    events: pl.DataFrame,
    windows: pl.DataFrame,
    now: dt.datetime | dt.date | None = None,
    database: str = "",
) -> History:
    """History from orders' events (EVENT_COLUMNS, oldest first: kinds in HISTORY_KINDS,
    `at` a datetime, `data` the event's JSON) and the windows they hold (WINDOW_COLUMNS,
    dates; orders delivered, or undelivered in a WAITING status), judged as of `now`
    (default: the newest event; events after it have not happened yet)."""
    ev = events.select(EVENT_COLUMNS).with_columns(
        seq=pl.int_range(pl.len(), dtype=pl.Int64), day=pl.col("at").dt.date()
    )
    if now is None:
        now = ev["at"].max()  # type: ignore[assignment]
    if isinstance(now, dt.datetime):
        known, today = pl.col("at") <= now, now.date()
    elif isinstance(now, dt.date):
        known, today = pl.col("day") <= now, now
    else:
        known, today = pl.lit(True), None
    today_n = None if today is None else (today - EPOCH).days
    later = ev.filter(~known)
    ev = ev.filter(known)
    held = windows.with_columns(
        pl.lit(None, dtype=pl.Float64).alias(c) if c == "probability" else pl.lit(None).alias(c)
        for c in ("probability", "status")
        if c not in windows.columns
    ).select(WINDOW_COLUMNS)
    delivered = pl.col("kind") == EventKind.DELIVERED.value
    came = (
        ev.filter(delivered)
        .group_by("order_id")
        .agg(realized=pl.col("day").sort_by("seq").first(), until=pl.col("seq").min())
    )
    # not delivered by now: waiting (or delivered only after now), and known by now
    status = pl.col("status").cast(pl.String)
    waiting = (
        pl.concat(
            [
                held.filter(status.is_null() | status.is_in(WAITING)).select("order_id"),
                later.filter(delivered).select("order_id"),
            ]
        )
        .unique()
        .join(ev.select("order_id").unique(), on="order_id", how="semi")
        .join(came, on="order_id", how="anti")
    )
    in_play = pl.concat(
        [came, waiting.with_columns(realized=pl.lit(None, pl.Date), until=pl.lit(None, pl.Int64))],
        how="vertical_relaxed",
    )
    ev = ev.join(in_play, on="order_id").filter(
        pl.col("until").is_null() | (pl.col("seq") < pl.col("until"))
    )
    kind = pl.col("kind")
    created = _decoded(ev.filter(kind == EventKind.CREATED.value), status=pl.String, window=_WINDOW)
    locked = _decoded(ev.filter(kind == EventKind.LOCKED.value), window=_WINDOW)
    eta = _decoded(
        ev.filter(kind == EventKind.ETA_CHANGED.value), **{"from": _WINDOW, "to": _WINDOW}
    )
    made = (  # when the first promise was made: the lock, else the creation (an import)
        pl.concat([locked.with_columns(rank=0), created.with_columns(rank=1)], how="diagonal")
        .sort("rank", "seq")
        .group_by("order_id")
        .agg(made=pl.col("day").first())
    )
    on_lock = pl.concat(
        [created.filter(pl.col("status") == Status.LOCKED.value).drop("status"), locked]
    )
    at_lock = _first_of(on_lock.select("order_id", "seq", *_window("window")))
    before_move = _first_of(eta.select("order_id", "seq", *_window("from")))
    holds = held.select(
        "order_id",
        *_DATES,
        pl.col("source").fill_null(PLAN),
        _odds(pl.col("source").fill_null(PLAN), pl.col("probability")).alias("probability"),
        seq=pl.lit(0, dtype=pl.Int64),
    )
    first = (
        pl.concat(
            [f.with_columns(rank=pl.lit(r)) for r, f in enumerate((at_lock, before_move, holds))],
            how="diagonal_relaxed",
        )
        .filter(pl.col("earliest").is_not_null())
        .sort("rank")
        .group_by("order_id")
        .first()
        .drop("seq", "rank")
    )
    churn = eta.group_by("order_id").agg(churn=pl.len().cast(pl.Int64))
    last = held.select("order_id", *(pl.col(k).alias(f"last_{k}") for k in _DATES))
    now_lit = pl.lit(today_n, dtype=pl.Int64)
    orders = (
        in_play.join(first, on="order_id")
        .join(made, on="order_id", how="left")
        .join(last, on="order_id", how="left")
        .join(churn, on="order_id", how="left")
        .with_columns(
            *(pl.col(k).alias(f"first_{k}") for k in _DATES),
            *(pl.coalesce(f"last_{k}", k).alias(f"last_{k}") for k in _DATES),
            pl.col("churn").fill_null(0),
            pl.col("made").fill_null(pl.coalesce("realized", pl.lit(today, dtype=pl.Date))),
        )
        .pipe(_as_days)
        .pipe(_outcome, now_lit, "first_latest")
        .sort("order_id")
    )
    told = (
        pl.concat(
            [
                orders.select(
                    "order_id",
                    pl.col("delivered_on").alias("realized"),
                    pl.col("made").alias("day"),
                    *_DATES,
                    "source",
                    "probability",
                    *_MODEL,
                ),
                eta.select("order_id", "realized", "day", *_window("to")).pipe(_as_days),
            ],
            how="diagonal_relaxed",
        )
        .filter(pl.col("earliest").is_not_null())
        .with_columns(pl.coalesce(m, k).alias(m) for k, m in zip(_DATES, _MODEL, strict=True))
        .pipe(_outcome, now_lit, "latest")
    )
    scored = orders.filter(pl.col("realized").is_not_null())
    return History(
        database,
        came.height,
        scored.select(
            "order_id", "realized", "censored", "source", "probability", "churn", *_FIRST_LAST
        ),
        told.select(
            "order_id", "realized", "censored", "day", *_DATES, "source", "probability", *_MODEL
        ).sort("day", "order_id"),
        today_n,
        waiting.height - int(orders["censored"].sum()),
    )


def _outcome(frame: pl.DataFrame, now: pl.Expr, latest: str) -> pl.DataFrame:
    """Rows with the day that came (`realized`: the delivery, else now when now is past
    the window's `latest` day: `censored`; else null, still open), and the delivery day
    alone as `delivered_on`."""
    censored = pl.col("realized").is_null() & (now > pl.col(latest)).fill_null(False)
    return frame.with_columns(
        delivered_on=pl.col("realized"),
        censored=censored,
        realized=pl.when(censored).then(now).otherwise(pl.col("realized")),
    )


def _as_days(frame: pl.DataFrame) -> pl.DataFrame:
    """Every date column as a day number (days since 1970-01-01)."""
    return frame.with_columns(pl.col(pl.Date).cast(pl.Int64))
