"""The plant simulator (`serve --simulate-plant`): as the plant's days pass, the service
reports them as the plan said, through the progress path a plant takes (events by
`plant-simulator`), once each, by one worker; a restart reports the days it missed."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import pytest
from fastapi.testclient import TestClient

from promiseline import api
from promiseline.core.model.lifecycle import EventKind
from promiseline.core.model.orders import validate_orders
from promiseline.core.model.scenario import Scenario
from promiseline.errors import PromiselineError
from promiseline.server import create_app
from promiseline.service.desk import OrderDesk
from promiseline.service.plant import ACTOR, CATCH_UP_DAYS, LEASE, PlantSimulator
from promiseline.service.settings import Settings
from promiseline.store import SqlStore, open_store
from tests.conftest import DATA
from tests.service.conftest import ADMIN, Clock, desk_maker, settings, wait_for

T = TypeVar("T")
HISTORY = ("built", "shipped", "delivered")


def imported(db_url: str, tiny: Scenario, tiny_orders: pl.DataFrame) -> None:
    store = open_store(db_url)
    try:
        store.import_orders(validate_orders(tiny_orders, tiny), dt.datetime(2025, 1, 1))
    finally:
        store.close()


def planned_as_of(tiny: Scenario, tiny_orders: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """What the plan as of `day` said of every order (what the plant is to make true)."""
    return api.plan(tiny.replace(as_of=day), validate_orders(tiny_orders, tiny)).table


def test_the_days_gone_are_reported_as_the_plan_said(
    db_url: str, tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """Started on 10 January and left running to the 20th (uptime 1: tiny has no
    uncertainty): every car the plan of the 10th built before the 20th is built on its
    line and day, those due are delivered, each by an event of the plant simulator at
    its day's close, and after the re-plan no order is overdue (o05's day had passed)."""
    imported(db_url, tiny, tiny_orders)
    before = planned_as_of(tiny, tiny_orders, dt.date(2025, 1, 10))
    assert before.filter(pl.col("order_id") == "o05")["overdue"].item()
    clock = Clock()
    app = create_app(desk_maker(settings(db_url, simulate_plant=True), clock))
    with TestClient(app) as c:
        desk: Any = c.app.app.state.desk  # type: ignore[attr-defined]  # the Guard wraps it
        wait_for(lambda: desk.plant.through == dt.date(2025, 1, 9))  # starts from today
        assert desk.plant.days == 0
        clock.now = dt.datetime(2025, 1, 20, 0, 0, 5)  # Monday, just past midnight
        wait_for(lambda: desk.plant.through == dt.date(2025, 1, 19), seconds=30)
        plant = c.get("/v1/plan", headers=ADMIN).json()["plant_simulator"]
        assert plant["through"] == "2025-01-19"
        assert plant["days"] == 10
        assert plant["refused"] == plant["failures"] == 0
        due = before.filter(
            pl.col("status") == "planned", pl.col("build_date") < dt.date(2025, 1, 20)
        )
        assert due.height >= 10
        for row in due.iter_rows(named=True):
            got = c.get(f"/v1/orders/{row['order_id']}", headers=ADMIN).json()
            delivered = row["delivery_date"] <= dt.date(2025, 1, 19)
            assert got["status"] == ("delivered" if delivered else "built"), (row, got)
            rec = desk.store.get(row["order_id"])
            assert (rec.line, rec.build_date) == (row["line"], row["build_date"])
            said = {e["kind"]: e for e in got["events"] if e["actor"] == ACTOR}
            assert said["built"]["at"] == f"{row['build_date']}T23:59:00"
            assert said["built"]["data"] == {
                "status": "built",
                "line": row["line"],
                "build_date": str(row["build_date"]),
            }
            assert ("delivered" in said) == delivered
            if delivered:
                assert said["delivered"]["at"] == f"{row['delivery_date']}T23:59:00"
        later = before.filter(pl.col("build_date") >= dt.date(2025, 1, 20))["order_id"]
        for oid in later:  # nothing the plan builds from today on is built
            assert c.get(f"/v1/orders/{oid}", headers=ADMIN).json()["status"] not in HISTORY
        c.post("/v1/plan", headers=ADMIN)
        now = desk.live.now.plan
        assert now.scenario.now == dt.date(2025, 1, 20)
        assert not now.table["overdue"].any()
        assert set(now.table.filter(pl.col("status").is_in(HISTORY))["order_id"]) >= set(
            due["order_id"]
        )


def test_without_the_flag_the_plant_says_nothing(
    db_url: str, tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    imported(db_url, tiny, tiny_orders)
    clock = Clock()
    with TestClient(create_app(desk_maker(settings(db_url), clock))) as c:
        assert c.app.app.state.desk.plant is None  # type: ignore[attr-defined]
        clock.now = dt.datetime(2025, 1, 14, 0, 0, 5)
        c.post("/v1/plan", headers=ADMIN)
        assert "plant_simulator" not in c.get("/v1/plan", headers=ADMIN).json()
        built = c.get("/v1/orders", params={"status": "built"}, headers=ADMIN).json()
        assert built["data"] == []


# --- the simulator driven by hand: leases, restarts, a day again ---


def on_desks(
    db_url: str,
    n: int,
    clock: Clock,
    work: Callable[[list[OrderDesk], list[PlantSimulator]], Awaitable[T]],
    **changes: object,
) -> T:
    """n desks on one database (as n workers), each with a simulator not yet started."""

    async def go() -> T:
        desks = [
            OrderDesk(open_store(db_url), settings(db_url, **changes), clock=clock)
            for _ in range(n)
        ]
        for d in desks:
            d.committer.start()
        try:
            return await work(desks, [PlantSimulator(d.live, d.progress, d.store) for d in desks])
        finally:
            for d in desks:
                d.committer.stop()
                d.store.close()

    return asyncio.run(go())


def plant_events(store: SqlStore, ids: list[str]) -> list[tuple[str, EventKind, str | None]]:
    return [
        (oid, e.kind, e.data.get("build_date"))
        for oid in ids
        for e in store.events(oid)
        if e.actor == ACTOR
    ]


@pytest.mark.both_stores
def test_one_worker_reports_each_day_once(
    db_url: str, tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """Two workers: while another holds the plant lease neither reports; then both try at
    once and the days are reported once, each car built once."""
    imported(db_url, tiny, tiny_orders)
    clock = Clock()
    ids = tiny_orders["order_id"].to_list()

    async def work(desks: list[OrderDesk], sims: list[PlantSimulator]) -> None:
        store = desks[0].store
        store.put_plant_through(dt.date(2025, 1, 9))
        clock.now = dt.datetime(2025, 1, 14, 0, 0, 5)
        assert store.try_lease(LEASE, "someone-else", clock(), 15)
        assert await sims[0].catch_up() == await sims[1].catch_up() == 0
        assert store.plant_through() == dt.date(2025, 1, 9)
        clock.now += dt.timedelta(minutes=1)  # that lease ran out
        done = await asyncio.gather(sims[0].catch_up(), sims[1].catch_up())
        assert sorted(done) == [0, 4]
        assert store.plant_through() == dt.date(2025, 1, 13)
        said = plant_events(store, ids)
        built = [oid for oid, kind, _ in said if kind == EventKind.BUILT]
        assert len(built) == len(set(built)) > 0
        assert {day for _, kind, day in said if kind == EventKind.BUILT} == {
            "2025-01-10",
            "2025-01-13",  # the 11th and 12th are a weekend
        }
        assert await sims[0].catch_up() == await sims[1].catch_up() == 0

    on_desks(db_url, 2, clock, work)


def test_a_day_reported_again_builds_nothing_twice(
    db_url: str, tiny_orders: pl.DataFrame, tmp_path: Path
) -> None:
    """With luck (uptime 0.6 ± 0.2) some cars slip; reporting the same day again draws
    the same luck and counts what was built first: nothing new is said."""
    yaml = (DATA / "tiny.yaml").read_text() + "uncertainty: {uptime: {mean: 0.6, sd: 0.2}}\n"
    (tmp_path / "luck.yaml").write_text(yaml)
    tiny = api.load_scenario(tmp_path / "luck.yaml")
    imported(db_url, tiny, tiny_orders)
    clock = Clock()
    ids = tiny_orders["order_id"].to_list()

    async def work(desks: list[OrderDesk], sims: list[PlantSimulator]) -> None:
        sim, store = sims[0], desks[0].store
        store.put_plant_through(dt.date(2025, 1, 9))
        clock.now = dt.datetime(2025, 1, 18, 0, 0, 5)
        assert await sim.catch_up() == 8
        assert sim.counts["built"] > 0
        assert sim.counts["slipped"] > 0
        first = plant_events(store, ids)
        await desks[0].live.replan()  # the live plan is of today: each day planned afresh
        for day in range(10, 18):
            assert (await sim.simulate(dt.date(2025, 1, day))).reports == []
        assert plant_events(store, ids) == first
        assert sim.refused == 0

    on_desks(db_url, 1, clock, work, scenario=str(tmp_path / "luck.yaml"))


def test_a_restart_reports_the_days_it_missed_up_to_a_limit(
    db_url: str, tiny: Scenario, tiny_orders: pl.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    """Last reported on 1 January, started again on the 31st: the last CATCH_UP_DAYS
    days are reported, the older ones are named as skipped."""
    imported(db_url, tiny, tiny_orders)
    clock = Clock()
    ids = tiny_orders["order_id"].to_list()
    first = dt.date(2025, 1, 31) - dt.timedelta(days=CATCH_UP_DAYS)

    async def work(desks: list[OrderDesk], sims: list[PlantSimulator]) -> None:
        store = desks[0].store
        store.put_plant_through(dt.date(2025, 1, 1))
        clock.now = dt.datetime(2025, 1, 31, 8)
        with caplog.at_level(logging.WARNING, logger="promiseline.service"):
            assert await sims[0].catch_up() == CATCH_UP_DAYS
        assert f"(2025-01-02 to {first - dt.timedelta(days=1)})" in caplog.text
        assert store.plant_through() == dt.date(2025, 1, 30)
        days = {day for _, kind, day in plant_events(store, ids) if kind == EventKind.BUILT}
        assert days
        assert min(days) >= first.isoformat()

    on_desks(db_url, 1, clock, work)


@pytest.mark.both_stores
def test_the_first_start_reports_from_today(
    db_url: str, tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """A database the simulator never ran on is taken as true up to today: no day
    before it is reported (the demo's import rolls its book to today)."""
    imported(db_url, tiny, tiny_orders)

    async def work(desks: list[OrderDesk], sims: list[PlantSimulator]) -> None:
        assert desks[0].store.plant_through() is None
        assert await sims[0].catch_up() == 0
        assert desks[0].store.plant_through() == dt.date(2025, 1, 9)
        assert plant_events(desks[0].store, tiny_orders["order_id"].to_list()) == []

    on_desks(db_url, 1, Clock(), work)


def test_the_setting_needs_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed as_of never lets the day turn: refused with the flag; the flag goes to
    the worker processes through the environment."""
    with pytest.raises(PromiselineError, match="--simulate-plant needs the clock"):
        Settings(simulate_plant=True, as_of=dt.datetime(2025, 1, 10))
    s = Settings(simulate_plant=True)
    for name, value in s.to_env().items():
        monkeypatch.setenv(name, value)
    assert s.to_env()["PROMISELINE_SIMULATE_PLANT"] == "1"
    assert Settings.from_env() == s
