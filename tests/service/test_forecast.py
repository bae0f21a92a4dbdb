"""Live Monte Carlo windows: simulated in another process after a re-plan, stored with
their source and odds, given at once to new orders, and told only when they move."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
from pathlib import Path

import psutil
import pytest
from fastapi.testclient import TestClient

from promiseline.core.futures.promises import QueueSpread, new_order_window
from promiseline.server import create_app
from promiseline.store import open_store
from tests.conftest import DATA
from tests.service.conftest import ADMIN, Clock, desk_maker, order, settings, wait_for
from tests.service.server import free_port, start

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
