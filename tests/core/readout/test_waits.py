"""The one wait rule: median, linear P90 and longest wait per group."""

from __future__ import annotations

import polars as pl
import pytest

from promiseline.core.readout.waits import wait_stats, wait_table


def test_wait_stats_by_hand() -> None:
    """Median, linear P90 and max per group, groups sorted, nothing for no orders."""
    t = pl.DataFrame({"model": ["B", "A", "A", "A", "A"], "wait_days": [7, 10, 20, 30, 40]})
    assert wait_stats(t, ["model"]) == [
        {
            "model": "A",
            "orders": 4,
            "median_wait_days": 25.0,
            "p90_wait_days": pytest.approx(37.0),
            "max_wait_days": 40,
        },
        {
            "model": "B",
            "orders": 1,
            "median_wait_days": 7.0,
            "p90_wait_days": 7.0,
            "max_wait_days": 7,
        },
    ]
    assert wait_stats(t.clear(), ["model"]) == []


def test_the_table_and_the_json_rows_agree() -> None:
    t = pl.DataFrame({"market": ["x", "y", "x"], "wait_days": [3, 9, 5]})
    assert wait_table(t, ["market"]).to_dicts() == wait_stats(t, ["market"])
