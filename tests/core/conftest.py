"""Fixtures of the core tests: the tiny scenario, planned."""

from __future__ import annotations

import polars as pl
import pytest

from promiseline.core.model.orders import validate_orders
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.plan import Plan
from promiseline.core.planning.planner import plan


@pytest.fixture
def tiny_plan(tiny: Scenario, tiny_orders: pl.DataFrame) -> Plan:
    """The tiny order book planned on the tiny scenario."""
    return plan(tiny, validate_orders(tiny_orders, tiny))
