"""The service lives in now: its plan is made as of the plant's clock (or a fixed as_of
setting), no open order is promised a day before it, and the day turning over at the
plant's midnight re-plans without any other change."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import polars as pl

from promiseline.core.model.orders import validate_orders
from promiseline.core.model.scenario import Scenario, plant_time
from promiseline.service.desk import OrderDesk
from promiseline.store import open_store
from tests.service.conftest import Clock, settings


@contextmanager
def desk_on(
    db_url: str, tiny: Scenario, tiny_orders: pl.DataFrame, clock: Clock, **changes: object
) -> Iterator[OrderDesk]:
    """A desk on the tiny book imported, closed after."""
    store = open_store(db_url)
    try:
        store.import_orders(validate_orders(tiny_orders, tiny), dt.datetime(2025, 1, 1))
        yield OrderDesk(store, settings(db_url, **changes), clock=clock)
    finally:
        store.close()


def test_no_open_order_is_promised_a_day_gone(
    db_url: str, tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """The test clock reads 2025-01-10: every open order builds on it or later, though the
    orders locked from the first of the month and the scenario starts then."""
    with desk_on(db_url, tiny, tiny_orders, Clock()) as desk:
        plan = desk.live.now.plan
    assert plan.scenario.now == dt.date(2025, 1, 10)
    builds = plan.planned["build_date"]
    assert builds.len() > 0
    assert builds.min() >= dt.date(2025, 1, 10)
    locked = plan.planned.filter(pl.col("locked_at") < dt.datetime(2025, 1, 10))
    assert locked.height > 0  # the book did lock before today: the rule moved them on


def test_a_fixed_as_of_setting_wins_over_the_clock(
    db_url: str, tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    with desk_on(db_url, tiny, tiny_orders, Clock(), as_of=dt.datetime(2025, 1, 20, 9)) as desk:
        plan = desk.live.now.plan
    assert plan.scenario.now == dt.date(2025, 1, 20)
    assert plan.planned["build_date"].min() >= dt.date(2025, 1, 20)


def test_the_plants_midnight_re_plans(
    db_url: str, tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """With no change to the book, the day turning over makes a new plan as of the new
    day: yesterday's free slots are no longer offered."""
    clock = Clock()

    async def run(desk: OrderDesk) -> dt.date:
        await desk.live.start()
        try:
            before = desk.live.replans
            assert not desk.live.day_turned()
            clock.now = dt.datetime(2025, 1, 13, 0, 0, 5)  # Monday, just past midnight
            for _ in range(200):
                await asyncio.sleep(0.02)
                if desk.live.replans > before:
                    break
            return desk.live.scenario.now
        finally:
            await desk.live.stop()

    with desk_on(db_url, tiny, tiny_orders, clock) as desk:
        assert asyncio.run(run(desk)) == dt.date(2025, 1, 13)
        assert desk.live.now.plan.planned["build_date"].min() >= dt.date(2025, 1, 13)


def test_plant_time_reads_the_clock_in_the_scenarios_zone() -> None:
    """A clock reading of the machine (UTC here) at 20:00 is 04:00 the next day in
    Beijing; with no zone the reading is taken as it is."""
    reading = dt.datetime(2025, 6, 26, 20, 0, tzinfo=dt.UTC).astimezone().replace(tzinfo=None)
    assert plant_time(reading, "Asia/Shanghai") == dt.datetime(2025, 6, 27, 4, 0)
    assert plant_time(reading, None) == reading
