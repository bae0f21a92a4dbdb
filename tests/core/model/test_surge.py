"""The synthetic surge generator: seeded, shaped as asked."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from promiseline.core.model.surge import Demand, generate_orders

OPEN = dt.datetime(2025, 6, 26, 22)


def demand(**kw: object) -> Demand:
    base: dict[str, object] = {
        "model": "YU7",
        "opens_at": OPEN,
        "spike_orders": 20_000,
        "variant_mix": {"Standard": 0.25, "Max": 0.75},
        "market_mix": {"CN": 1.0},
    }
    return Demand(**(base | kw))  # type: ignore[arg-type]


def test_same_seed_same_book() -> None:
    """A seed fixes the book; another seed changes it."""
    d = [demand(tail_per_day=100.0, tail_days=30)]
    assert generate_orders(d, 1).equals(generate_orders(d, 1))
    assert not generate_orders(d, 1).equals(generate_orders(d, 2))


def test_spike_is_front_loaded_and_within_its_hours() -> None:
    """Every spike order locks within spike_hours; the first hours take the most."""
    df = generate_orders([demand(spike_hours=18.0, spike_shape=4.0)], 3)
    t = (df["locked_at"] - OPEN).dt.total_seconds() / 3600
    assert df.height == 20_000
    assert t.min() >= 0
    assert t.max() < 18
    first, last = (t < 4.5).sum(), (t >= 13.5).sum()
    assert first > 4 * last


def test_tail_decays_with_its_half_life() -> None:
    """Tail orders per day halve every half-life (within sampling noise)."""
    df = generate_orders(
        [
            demand(
                spike_orders=0,
                spike_hours=0.0,
                tail_per_day=2000.0,
                tail_half_life_days=10.0,
                tail_days=20,
            )
        ],
        5,
    )
    day = ((df["locked_at"] - OPEN).dt.total_days()).to_numpy()
    first, later = (day == 0).sum(), (day == 10).sum()
    assert first == pytest.approx(2000, rel=0.1)
    assert later == pytest.approx(1000, rel=0.1)


def test_mixes_are_followed() -> None:
    """Variant and option shares match the mix within sampling noise."""
    df = generate_orders([demand(option_mix={"roof": {"pan": 0.3, "no": 0.7}})], 9)
    assert (df["variant"] == "Max").mean() == pytest.approx(0.75, abs=0.02)
    roof = df["options"].map_elements(lambda s: json.loads(s)["roof"], return_dtype=pl.String)
    assert (roof == "pan").mean() == pytest.approx(0.3, abs=0.02)
    assert df["order_id"].n_unique() == df.height


def test_empty_mix_is_an_error() -> None:
    """A mix without a positive share cannot be drawn from."""
    with pytest.raises(ValueError, match="positive share"):
        generate_orders([demand(variant_mix={})], 1)
