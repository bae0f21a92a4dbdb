"""Synthetic order books: a launch spike that decays, a variant mix, a market mix.

Seeded and vectorized: the same demands and seed give the same book, a million orders
in well under a second.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from promiseline.core.model.orders import canonical_options

_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 24 * _US_PER_HOUR


@dataclass(frozen=True, slots=True)
class Demand:
    """One stream of orders for one model.

    `spike_orders` lock within `spike_hours` of `opens_at`, front-loaded (intensity
    e^(-shape x t / spike_hours); shape 0 is uniform). After the spike, `tail_per_day`
    orders a day (Poisson) halve every `tail_half_life_days`, for `tail_days` days.
    """

    model: str
    opens_at: dt.datetime
    spike_orders: int
    variant_mix: Mapping[str, float]
    market_mix: Mapping[str, float]
    spike_hours: float = 18.0
    spike_shape: float = 4.0
    tail_per_day: float = 0.0
    tail_half_life_days: float = 60.0
    tail_days: int = 0
    option_mix: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    priority: int = 0
    status: str = "locked"
    id_prefix: str | None = None


def _pick(rng: np.random.Generator, mix: Mapping[str, float], n: int) -> pl.Series:
    names = list(mix)
    p = np.asarray([mix[k] for k in names], dtype=np.float64)
    if len(names) == 0 or p.sum() <= 0:
        raise ValueError(f"a mix needs at least one positive share, got {dict(mix)}")
    idx = rng.choice(len(names), size=n, p=p / p.sum())
    return pl.Series(names, dtype=pl.String).gather(idx)


def _options(rng: np.random.Generator, mix: Mapping[str, Mapping[str, float]], n: int) -> pl.Series:
    """Independent draws per option, as canonical JSON objects."""
    if not mix:
        return pl.Series([""] * n, dtype=pl.String)
    keys = sorted(mix)
    combos, shares = [], []
    for values in itertools.product(*(list(mix[k].items()) for k in keys)):
        combos.append(
            canonical_options({k: v for k, (v, _) in zip(keys, values, strict=True)}) or "{}"
        )
        shares.append(float(np.prod([s for _, s in values])))
    return _pick(rng, dict(zip(combos, shares, strict=True)), n)


def _lock_times(rng: np.random.Generator, d: Demand) -> np.ndarray:
    """Lock times in µs since the epoch, sorted."""
    u = rng.random(d.spike_orders)
    span = d.spike_hours * _US_PER_HOUR
    if d.spike_shape > 0:
        k = d.spike_shape
        spike = -np.log1p(-u * (1 - np.exp(-k))) / k * span
    else:
        spike = u * span
    start = np.datetime64(d.opens_at, "us").astype(np.int64)
    times = [start + spike.astype(np.int64)]
    if d.tail_days > 0 and d.tail_per_day > 0:
        day = np.arange(d.tail_days)
        rate = d.tail_per_day * 0.5 ** (day / d.tail_half_life_days)
        per_day = rng.poisson(rate)
        which = np.repeat(day, per_day)
        tail_start = start + int(span)
        times.append(tail_start + (which + rng.random(len(which))) * _US_PER_DAY)
    out = np.concatenate(times).astype(np.int64)
    out.sort()
    return out


def generate_orders(demands: Sequence[Demand], seed: int) -> pl.DataFrame:
    """An order book (contract columns) for these demand streams."""
    rng = np.random.default_rng(seed)
    frames = []
    for d in demands:
        t = _lock_times(rng, d)
        n = len(t)
        prefix = d.id_prefix or d.model
        frames.append(
            pl.DataFrame(
                {
                    "n": pl.Series(np.arange(1, n + 1, dtype=np.int64)),
                    "variant": _pick(rng, d.variant_mix, n),
                    "options": _options(rng, d.option_mix, n),
                    "market": _pick(rng, d.market_mix, n),
                    "locked_at": pl.Series(t).cast(pl.Datetime("us")),
                }
            ).select(
                (pl.lit(f"{prefix}-") + pl.col("n").cast(pl.String).str.zfill(7)).alias("order_id"),
                pl.lit(d.model).alias("model"),
                "variant",
                "options",
                "market",
                "locked_at",
                pl.lit(d.priority, dtype=pl.Int64).alias("priority"),
                pl.lit(d.status).alias("status"),
            )
        )
    if not frames:
        return pl.DataFrame(
            schema={
                "order_id": pl.String,
                "model": pl.String,
                "variant": pl.String,
                "options": pl.String,
                "market": pl.String,
                "locked_at": pl.Datetime("us"),
                "priority": pl.Int64,
                "status": pl.String,
            }
        )
    return pl.concat(frames).sort("locked_at", maintain_order=True)
