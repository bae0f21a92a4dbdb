"""Did the promises told come true? The backtest's scores from a deployment's own history.

Read from the store's append-only events of delivered orders (`score_history`):

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
- churn: its `eta_changed` events before the delivery.

The store keeps three dates of a window (P10, P50, P90), not the whole distribution, so
the replay backtest's CRPS and 10-bin randomized PIT cannot be computed here. In their
place, over Monte Carlo windows only (a plan stand-in's dates are not quantiles): the
weighted interval score of the three quantiles (WIS, Bracher et al. 2021; it approximates
the CRPS from a few quantiles) and a 4-bin PIT (before P10, P10 to P50, after P50 to P90,
after P90; 10/40/40/10 % when calibrated, whole days leaning to the inner bins).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from promiseline.core.arrays import I64
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
    verdict,
    weeks_bucket,
    weeks_label,
    weighted_interval_score,
)
from promiseline.core.model.lifecycle import EventKind, Status
from promiseline.core.model.window import MONTE_CARLO, NOMINAL, PLAN

EVENT_COLUMNS = ("order_id", "kind", "at", "data")
WINDOW_COLUMNS = ("order_id", "earliest", "likely", "latest", "source")
_DATES = ("earliest", "likely", "latest")
_FIRST_LAST = tuple(f"{p}{k}" for p in ("first_", "last_") for k in _DATES)
_KINDS = (EventKind.CREATED, EventKind.LOCKED, EventKind.ETA_CHANGED, EventKind.DELIVERED)
HISTORY_KINDS = tuple(k.value for k in _KINDS)
"""The events `score_history` reads."""


_WINDOW = pl.Struct(dict.fromkeys((*_DATES, "source"), pl.String))


def _decoded(events: pl.DataFrame, **fields: pl.DataType | type[pl.DataType]) -> pl.DataFrame:
    """Events with these fields of their data as columns (each JSON parsed once)."""
    data = pl.col("data").str.json_decode(pl.Struct(fields))
    return events.with_columns(data.alias("data")).unnest("data")


def _window(name: str) -> list[pl.Expr]:
    """The window in struct column `name`, as (earliest, likely, latest, source); one
    told before windows had a likely date and a source is the plan's stand-in."""
    w = pl.col(name).struct
    earliest, likely, latest = (w.field(k).str.to_date() for k in _DATES)
    return [
        earliest.alias("earliest"),
        pl.coalesce(likely, earliest).alias("likely"),
        latest.alias("latest"),
        w.field("source").fill_null(PLAN).alias("source"),
    ]


def _first_of(told: pl.DataFrame) -> pl.DataFrame:
    return (
        told.filter(pl.col("earliest").is_not_null())
        .group_by("order_id")
        .agg(pl.all().sort_by("seq").first())
    )


@dataclass(frozen=True)
class History:
    """Promises told to delivered orders and what came, one row an order (`orders`) and one
    a promise told (`told`), with day numbers (days since 1970-01-01)."""

    database: str
    delivered: int  # orders delivered, promised or not
    orders: pl.DataFrame  # order_id, realized, first (3 dates), source, last (3 dates), churn
    told: pl.DataFrame  # order_id, realized, day told, 3 dates, source

    def _arrays(self, frame: pl.DataFrame, prefix: str = "") -> tuple[I64, I64]:
        y = frame["realized"].to_numpy().astype(np.int64)
        w = frame.select(f"{prefix}{k}" for k in _DATES).to_numpy().astype(np.int64)
        return y, w

    def to_json(self) -> dict[str, Any]:
        y, first = self._arrays(self.orders, "first_")
        _, last = self._arrays(self.orders, "last_")
        mc = (self.orders["source"] == MONTE_CARLO).to_numpy()
        sources = self.orders["source"].fill_null("none").value_counts(sort=True)
        return {
            "source": "database",
            "database": self.database,
            "orders_delivered": self.delivered,
            "orders_scored": len(y),
            "nominal_coverage": NOMINAL,
            "first_promise_sources": dict(sources.iter_rows()),
            "coverage_p10_p90": rounded(coverage, y, first[:, 0], first[:, 2]),
            "coverage_latest": rounded(coverage, y, last[:, 0], last[:, 2]),
            "on_time_first_promise": rounded(on_time, y, first[:, 1]),
            "on_time_latest_promise": rounded(on_time, y, last[:, 1]),
            "mean_abs_error_days_first": rounded(mean_abs_error, y, first[:, 1], digits=2),
            "mean_abs_error_days_latest": rounded(mean_abs_error, y, last[:, 1], digits=2),
            "p95_lateness_days": rounded(p95_lateness, y, first[:, 1], digits=1),
            "churn_per_order": rounded(np.mean, self.orders["churn"].to_numpy(), digits=3),
            "crps_days": None,  # the store keeps three quantiles, not the distribution
            "pit_histogram": None,
            "monte_carlo_first_promises": {
                "orders": int(mc.sum()),
                "coverage_p10_p90": rounded(coverage, y[mc], first[mc, 0], first[mc, 2]),
                "wis_days": rounded(np.mean, weighted_interval_score(y[mc], first[mc]), digits=2),
                "pit_bins": dict(
                    zip(PIT_BINS, (round(x, 4) for x in pit_bins(y[mc], first[mc])), strict=True)
                ),
                "pit_bins_calibrated": dict(zip(PIT_BINS, PIT_CALIBRATED, strict=True)),
            },
            "by_weeks_ahead": self.by_weeks_ahead(),
            "verdict": self.verdict(),
        }

    def by_weeks_ahead(self) -> list[dict[str, Any]]:
        """Every promise told, by whole weeks between telling and delivery."""
        y, w = self._arrays(self.told)
        weeks = (y - self.told["day"].to_numpy().astype(np.int64)) // 7
        bucket = weeks_bucket(weeks)
        mc = (self.told["source"] == MONTE_CARLO).to_numpy()
        rows = []
        for i in range(len(WEEK_BUCKETS)):
            b = bucket == i
            m = b & mc
            rows.append(
                {
                    "weeks": weeks_label(i),
                    "promises": int(b.sum()),
                    "coverage_p10_p90": rounded(coverage, y[b], w[b, 0], w[b, 2]),
                    "on_time": rounded(on_time, y[b], w[b, 1]),
                    "mean_abs_error_days": rounded(mean_abs_error, y[b], w[b, 1], digits=2),
                    "monte_carlo": int(m.sum()),
                    "wis_days": rounded(np.mean, weighted_interval_score(y[m], w[m]), digits=2),
                }
            )
        return rows

    def churn_counts(self) -> list[int]:
        """Orders by how many eta_changed messages they got (index: messages)."""
        counts: list[int] = np.bincount(self.orders["churn"].to_numpy()).tolist()
        return counts

    def verdict(self) -> str:
        """Judged on first Monte Carlo windows: a plan stand-in states no odds."""
        y, first = self._arrays(self.orders.filter(pl.col("source") == MONTE_CARLO), "first_")
        if len(y):
            return verdict(
                coverage(y, first[:, 0], first[:, 2]),
                float(np.mean(y < first[:, 0])),
                float(np.mean(y > first[:, 2])),
            )
        if self.orders.height:
            return (
                "nothing to judge yet: no delivered order was first told a Monte Carlo window "
                "(plan windows state no odds)"
            )
        return "nothing to judge yet: no order was both promised and delivered"


def score_history(events: pl.DataFrame, windows: pl.DataFrame, database: str = "") -> History:
    """History from delivered orders' events (EVENT_COLUMNS, oldest first: kinds in
    HISTORY_KINDS, `at` a datetime, `data` the event's JSON) and the windows they hold
    now (WINDOW_COLUMNS, dates)."""
    ev = events.select(EVENT_COLUMNS).with_columns(
        seq=pl.int_range(pl.len(), dtype=pl.Int64), day=pl.col("at").dt.date()
    )
    came = (
        ev.filter(pl.col("kind") == EventKind.DELIVERED.value)
        .group_by("order_id")
        .agg(realized=pl.col("day").sort_by("seq").first(), until=pl.col("seq").min())
    )
    ev = ev.join(came, on="order_id").filter(pl.col("seq") < pl.col("until"))
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
    now = windows.select(WINDOW_COLUMNS).with_columns(seq=pl.lit(0, dtype=pl.Int64))
    first = (
        pl.concat(
            [f.with_columns(rank=pl.lit(r)) for r, f in enumerate((at_lock, before_move, now))],
            how="diagonal_relaxed",
        )
        .filter(pl.col("earliest").is_not_null())
        .sort("rank")
        .group_by("order_id")
        .first()
        .drop("seq", "rank")
    )
    churn = eta.group_by("order_id").agg(churn=pl.len().cast(pl.Int64))
    last = windows.select("order_id", *(pl.col(k).alias(f"last_{k}") for k in _DATES))
    orders = (
        came.join(first, on="order_id")
        .join(made, on="order_id", how="left")
        .join(last, on="order_id", how="left")
        .join(churn, on="order_id", how="left")
        .with_columns(
            *(pl.col(k).alias(f"first_{k}") for k in _DATES),
            *(pl.coalesce(f"last_{k}", k).alias(f"last_{k}") for k in _DATES),
            pl.col("churn").fill_null(0),
            pl.col("made").fill_null(pl.col("realized")),
        )
        .sort("order_id")
    )
    told = pl.concat(
        [
            orders.select("order_id", "realized", pl.col("made").alias("day"), *_DATES, "source"),
            eta.select("order_id", "realized", "day", *_window("to")),
        ],
        how="vertical_relaxed",
    ).filter(pl.col("earliest").is_not_null())
    return History(
        database,
        came.height,
        orders.select("order_id", "realized", "source", "churn", *_FIRST_LAST).pipe(_as_days),
        told.select("order_id", "realized", "day", *_DATES, "source").pipe(_as_days),
    )


def _as_days(frame: pl.DataFrame) -> pl.DataFrame:
    """Every date column as a day number (days since 1970-01-01)."""
    return frame.with_columns(pl.col(pl.Date).cast(pl.Int64))
