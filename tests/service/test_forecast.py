"""Live Monte Carlo windows: simulated in another process after a re-plan, stored with
their source and odds, given at once to new orders, and told only when they move."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from promiseline.service.app import create_app
from tests.conftest import DATA
from tests.service.conftest import ADMIN, Clock, desk_maker, order, settings, wait_for

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
            assert w["confidence"] == 0.8
            assert w["earliest"] <= w["likely"] <= w["latest"]
        # an order taken now gets a Monte Carlo window at once, from the orders around it
        new = order(client, "mc-new", lock=True)
        assert new["window"]["source"] == "monte-carlo"
        assert new["window"]["earliest"] <= new["window"]["likely"] <= new["window"]["latest"]
        assert new["window"]["earliest"] >= stand_in["earliest"][:4]  # a real date


def test_no_futures_keeps_plan_windows(client: TestClient) -> None:
    """futures=0 (the test default): windows stay the plan's stand-in, stated as such."""
    w = order(client, "plain-1", lock=True)["window"]
    assert w["source"] == "plan"
    assert w["confidence"] is None
    assert w["likely"] == w["earliest"]
