"""Waits per group of planned orders: the one rule for median, P90 and longest wait that
the summary, the export outlook and the overview all show."""

from __future__ import annotations

from typing import Any

import polars as pl


def wait_table(planned: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Per group: its orders, and the median, P90 and longest of their waits (days)."""
    wait = pl.col("wait_days")
    return (
        planned.group_by(by, maintain_order=False)
        .agg(
            pl.len().alias("orders"),
            wait.median().alias("median_wait_days"),
            wait.quantile(0.9, "linear").alias("p90_wait_days"),
            wait.max().alias("max_wait_days"),
        )
        .sort(by)
    )


def wait_stats(planned: pl.DataFrame, by: list[str]) -> list[dict[str, Any]]:
    """`wait_table` as JSON rows (none for no planned order)."""
    return [] if planned.height == 0 else wait_table(planned, by).to_dicts()
