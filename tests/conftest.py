"""Shared fixtures: a tiny named scenario that is easy to reason about."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from promiseline.core.model.scenario import Scenario
from promiseline.io.scenario_file import load_scenario

DATA = Path(__file__).parent / "data"


@pytest.fixture
def tiny() -> Scenario:
    """One line of 3 cars a day (ramping), two parts, one mix limit, a shutdown, two markets."""
    return load_scenario(DATA / "tiny.yaml")


@pytest.fixture
def tiny_orders() -> pl.DataFrame:
    return pl.read_csv(DATA / "tiny_orders.csv", infer_schema=False)
