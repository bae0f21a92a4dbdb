"""Live Monte Carlo windows: simulated in another process after a re-plan, stored with
their source and odds, given at once to new orders, and told only when they move."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
from dataclasses import replace
from pathlib import Path

import polars as pl
import psutil
import pytest
from fastapi.testclient import TestClient

from promiseline.core.futures.history import History
from promiseline.core.futures.promises import Promises, QueueSpread, new_order_window
from promiseline.core.futures.recalibrate import Margins
from promiseline.core.futures.simulate import Simulation
from promiseline.core.model.lifecycle import EventKind, Status
from promiseline.core.model.records import Transition
from promiseline.core.model.window import MONTE_CARLO, Window
from promiseline.server import create_app
from promiseline.service.forecast import run_forecast
from promiseline.store import open_store
from tests.conftest import DATA
from tests.service.conftest import ADMIN, Clock, desk_maker, order, settings, wait_for
from tests.service.server import free_port, start
from tests.store.conftest import new

NOISE = """
uncertainty:
  uptime: {mean: 0.85, sd: 0.15}
  cancellation: {base_weekly: 0.01}
"""


@pytest.fixture
def noisy(tmp_path: Path) -> str:
    path = tmp_path / "noisy.yaml"
    path.write_text((DATA / "tiny.yaml").read_text() + NOISE)
    return str(path)


@pytest.mark.both_stores
def test_windows_come_from_the_monte_carlo(db_url: str, noisy: str, clock: Clock) -> None:
    s = settings(db_url, scenario=noisy, futures=40)
    with TestClient(create_app(desk_maker(s, clock))) as client:
        first = [order(client, f"mc-{i}", lock=True)["order_id"] for i in range(12)]
        stand_in = client.get(f"/v1/orders/{first[0]}", headers=ADMIN).json()["window"]
        assert stand_in["source"] in ("plan", "monte-carlo")

        def simulated() -> bool:
            sm = client.get("/v1/plan", headers=ADMIN).json()
            mc = sm["monte_carlo"]["as_of"]
            return mc is not None and mc["book"] == sm["as_of"]["book"]  # covers every order

        wait_for(simulated, 90)
        sm = client.get("/v1/plan", headers=ADMIN).json()["monte_carlo"]
        assert sm["futures"] == 40
        assert sm["failures"] == 0
        for oid in first:
            w = client.get(f"/v1/orders/{oid}", headers=ADMIN).json()["window"]
            assert w["source"] == "monte-carlo", w
            assert 0.8 <= w["probability"] <= 1.0  # at least the aim, on whole days
            assert w["confidence"] == w["probability"]
            assert w["earliest"] <= w["likely"] <= w["latest"]
        # an order taken now gets its window at once: the stored spread of the orders
        # around its place in the queue applied to its planned date (lead 7 days), saying
        # it is borrowed, or the plan's stand-in where theirs collapse to one day
        new = order(client, "mc-new", lock=True)["window"]
        store = open_store(db_url)
        spread = QueueSpread.from_json(json.loads(store.spread() or "null"))
        store.close()
        build = dt.date.fromisoformat(new["build_date"])
        expected = new_order_window(
            spread,
            "A",
            "S",
            "CN",
            build,
            build + dt.timedelta(days=7),
            clock().date(),
            new["queue_position"],
        )
        assert expected is not None
        assert new == expected.to_json()
        assert (new["source"] == "monte-carlo-nearby") == (new["probability"] is not None)
    # a restart with futures=0 promises the plan's stand-in again, whatever was stored
    with TestClient(create_app(desk_maker(s.replace(futures=0), clock))) as client:
        assert order(client, "mc-after", lock=True)["window"]["source"] == "plan"


def test_no_futures_keeps_plan_windows(client: TestClient) -> None:
    """futures=0 (the test default): windows stay the plan's stand-in, stated as such."""
    w = order(client, "plain-1", lock=True)["window"]
    assert w["source"] == "plan"
    assert w["confidence"] is None
    assert w["probability"] is None
    assert w["likely"] == w["earliest"]


def test_a_killed_service_leaves_no_forecast_process(tmp_path: Path) -> None:
    """kill -9 of the service: its forecast process (and the tracker beside it) goes too,
    instead of idling on forever with a few hundred MB."""
    port = free_port()
    proc = start(f"sqlite:///{tmp_path / 'o.db'}", port, tmp_path / "serve.log", "--futures", "20")
    server = psutil.Process(proc.pid)

    def spawned() -> list[psutil.Process]:
        return [
            p for p in server.children(recursive=True) if "multiprocessing" in " ".join(p.cmdline())
        ]

    try:
        wait_for(lambda: any("spawn_main" in " ".join(p.cmdline()) for p in spawned()), 60)
        kids = spawned()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    def gone() -> bool:
        return not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in kids)

    wait_for(gone, 15)


def test_windows_are_recalibrated_by_the_outcomes_told_before(
    tmp_path: Path, noisy: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """100 orders told a Monte Carlo window on 1-1 (likely 1-5, latest 1-7: a scale of 5
    days) came 0-2 days after its latest day: the margins of 0-3 weeks ahead say 2/5 of
    the scale later (the 91st of 100 late scores). Windows told now, to the book and to
    an order taken now, are the model's widened by that, the model's beside them. The
    run learns them with its own simulation of the book (a closed window still
    undelivered counts by its forecast: tests/core/futures/test_recalibrate.py)."""
    db = f"sqlite:///{tmp_path / 'told.db'}"
    store = open_store(db)
    jan = [dt.date(2025, 1, d) for d in (3, 5, 7)]
    model = Window(jan[0], jan[0], jan[2], 1, jan[1], MONTE_CARLO, 0.8)
    told = dt.datetime(2025, 1, 1, 9)
    store.write(
        [
            replace(new(i, status=Status.LOCKED), created_at=told, locked_at=told, window=model)
            for i in range(100)
        ]
    )
    store.write(
        [
            Transition(
                f"o{i:04d}",
                EventKind.DELIVERED,
                frozenset({Status.LOCKED}),
                "plant",
                dt.datetime.combine(jan[2] + dt.timedelta(days=i % 3), dt.time(12)),
                status=Status.DELIVERED,
            )
            for i in range(100)
        ]
    )
    store.close()
    s = settings(db, scenario=noisy, futures=40)
    with TestClient(create_app(desk_maker(s, clock))) as client:
        booked = [order(client, f"rc-{i}", lock=True)["order_id"] for i in range(6)]

        def simulated() -> bool:
            sm = client.get("/v1/plan", headers=ADMIN).json()
            mc = sm["monte_carlo"]["as_of"]
            return mc is not None and mc["book"] == sm["as_of"]["book"]

        wait_for(simulated, 90)
        store = open_store(db)
        stored = json.loads(store.spread() or "null")
        margins = Margins.from_json(stored["margins"])
        assert margins.ready[0]
        assert margins.hi[0] == pytest.approx(2 / 5)
        windows = {oid: store.get(oid) for oid in booked}
        store.close()
        for oid, r in windows.items():
            assert r is not None
            w = r.window
            assert w.source == MONTE_CARLO, oid
            assert w.probability == pytest.approx(margins.odds[0])  # the odds they held
        # the run itself: every booked order's window is the model's moved by the margins
        seen: list[Simulation | None] = []
        learn = History.margins

        def spy(h: History, sim: Simulation | None = None) -> Margins:
            seen.append(sim)
            return learn(h, sim=sim)

        monkeypatch.setattr(History, "margins", spy)
        ran = run_forecast(db, 40, 0, clock.now)
        assert seen[-1] is not None
        assert set(booked) <= set(seen[-1].base.table["order_id"])
        told = dict(Promises(pl.read_ipc(ran.windows)).items())
        for oid in booked:
            t = told[oid]
            assert t.model is not None, oid
            a = (t.model.likely - clock.now.date()).days + 1
            earliest = t.model.earliest + dt.timedelta(days=round(-margins.lo[0] * a))
            assert t.earliest == earliest
            assert t.latest == max(t.model.latest + dt.timedelta(days=round(2 / 5 * a)), earliest)
        new_one = order(client, "rc-new", lock=True)["window"]
        assert new_one is not None
        assert isinstance(new_one, dict)
        assert new_one["source"] == "monte-carlo-nearby"  # borrowed from the spread
        m = {k: dt.date.fromisoformat(v) for k, v in new_one["model"].items()}
        a = (m["likely"] - clock().date()).days + 1
        # the latest day moves later by 2/5 of the scale; the earliest stays (every
        # delivery came at least 4 days after it, but margins only widen)
        earliest = m["earliest"]
        assert margins.lo[0] == 0.0
        latest = max(m["latest"] + dt.timedelta(days=round(2 / 5 * a)), earliest)
        assert new_one["earliest"] == earliest.isoformat()
        assert new_one["latest"] == latest.isoformat()
