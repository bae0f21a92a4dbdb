"""The service lives in now: its plan is made as of the plant's clock (or a fixed as_of
setting), no open order is promised a day before it, and the day turning over at the
plant's midnight re-plans without any other change."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
from fastapi.testclient import TestClient

from promiseline.core.model.orders import validate_orders
from promiseline.core.model.scenario import Scenario, plant_time
from promiseline.server import create_app
from promiseline.service.desk import OrderDesk
from promiseline.store import open_store
from tests.conftest import DATA
from tests.service.conftest import ADMIN, Clock, desk_maker, order, settings


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


def _with_tz_and_lead_in(tmp_path: Path) -> str:
    path = tmp_path / "zoned.yaml"
    path.write_text((DATA / "tiny.yaml").read_text() + "timezone: Asia/Shanghai\nlead_in_days: 2\n")
    return str(path)


def test_an_order_is_locked_on_the_plants_day_not_the_machines(tmp_path: Path) -> None:
    """Found in review: at 20:45 UTC on Monday 13 January it is 04:45 on Tuesday in
    Beijing; an order taken then was stamped with the machine's Monday, so its lead-in
    ran from Monday and it was promised a build day a day sooner than the plant's
    lead-in allows (Wednesday, not Thursday)."""
    clock = Clock()
    clock.now = dt.datetime(2025, 1, 13, 20, 45, tzinfo=dt.UTC).astimezone().replace(tzinfo=None)
    s = settings(f"sqlite:///{tmp_path / 'tz.db'}", scenario=_with_tz_and_lead_in(tmp_path))
    with TestClient(create_app(desk_maker(s, clock))) as client:
        made = order(client, "tz-1", lock=True)
        got = client.get(f"/v1/orders/{made['order_id']}", headers=ADMIN).json()
    assert str(made["order_id"]).startswith("PL-250114-")
    assert got["locked_at"].startswith("2025-01-14T04:45")
    assert got["window"]["build_date"] == "2025-01-16"  # Tuesday + 2 days


def test_a_fixed_as_of_is_when_orders_are_taken(tmp_path: Path) -> None:
    """With `as_of` fixed (a demo of a past morning), an order taken now is locked at
    that moment (plus the seconds the service has run), not on the machine's date: its
    queue and lead-in count from the plan's day."""
    clock = Clock()  # the machine reads 2025-01-10
    at = dt.datetime(2025, 1, 14, 9)
    s = settings(
        f"sqlite:///{tmp_path / 'asof.db'}", scenario=_with_tz_and_lead_in(tmp_path), as_of=at
    )
    with TestClient(create_app(desk_maker(s, clock))) as client:
        made = order(client, "asof-1", lock=True)
        got = client.get(f"/v1/orders/{made['order_id']}", headers=ADMIN).json()
    locked = dt.datetime.fromisoformat(got["locked_at"])
    assert at <= locked < at + dt.timedelta(minutes=1)
    assert got["window"]["build_date"] == "2025-01-16"
