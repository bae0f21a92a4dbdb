"""A service on the tiny scenario, a test clock, and keys for each role."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from promiseline.core.scenario import Scenario
from promiseline.service.app import create_app
from promiseline.service.desk import DeskConfig, OrderDesk
from promiseline.store import open_store
from tests.store.conftest import db_url  # noqa: F401 - the fixture, for both back-ends

ADMIN_KEY = "test-admin-key"


class Clock:
    """Starts at 2025-01-10 10:00 and moves one second per reading."""

    def __init__(self) -> None:
        self.now = dt.datetime(2025, 1, 10, 10)
        self._tick = itertools.count()

    def __call__(self) -> dt.datetime:
        return self.now + dt.timedelta(seconds=next(self._tick))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(db_url: str, tiny: Scenario, clock: Clock) -> Iterator[TestClient]:  # noqa: F811
    def make() -> OrderDesk:
        desk = OrderDesk(open_store(db_url), tiny, clock=clock, config=DeskConfig(debounce_s=0.05))
        desk.ensure_key(ADMIN_KEY, "admin", "bootstrap-admin")
        return desk

    with TestClient(create_app(make)) as c:
        yield c


@pytest.fixture
def planner_key(client: TestClient) -> str:
    r = client.post("/v1/keys", json={"role": "planner"}, headers={"X-API-Key": ADMIN_KEY})
    assert r.status_code == 201
    key: str = r.json()["key"]
    return key


def order(client: TestClient, key: str, **body: object) -> dict[str, object]:
    payload = {"model": "A", "variant": "S", "market": "CN"} | body
    r = client.post("/v1/orders", json=payload, headers={"Idempotency-Key": key})
    assert r.status_code in (200, 201), r.text
    data: dict[str, object] = r.json()
    return data
