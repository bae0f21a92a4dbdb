"""A service on the tiny scenario, a test clock, and keys for each role."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from promiseline.server import create_app
from promiseline.service.desk import OrderDesk
from promiseline.service.settings import Settings
from promiseline.store import open_store
from tests.conftest import DATA
from tests.store.conftest import db_url, store  # noqa: F401 - fixtures, for both back-ends

ADMIN_KEY = "test-admin-key-0123456789abcdefghij"
ADMIN = {"X-API-Key": ADMIN_KEY}


class Clock:
    """Starts at 2025-01-10 10:00 and moves one second per reading."""

    def __init__(self) -> None:
        self.now = dt.datetime(2025, 1, 10, 10)
        self._tick = itertools.count()

    def __call__(self) -> dt.datetime:
        return self.now + dt.timedelta(seconds=next(self._tick))


def settings(db: str, **changes: object) -> Settings:
    """Test settings: the tiny scenario, short debounce and polls, a bootstrap admin key."""
    base = Settings(
        db=db,
        scenario=str(DATA / "tiny.yaml"),
        admin_key=ADMIN_KEY,
        pepper="test-pepper",
        debounce_s=0.05,
        poll_s=0.02,
        futures=0,  # Monte Carlo windows: their own tests switch them on
    )
    return base.replace(**changes)


def desk_maker(s: Settings, clock: Callable[[], dt.datetime]) -> Callable[[], OrderDesk]:
    return lambda: OrderDesk(open_store(s.db), s, clock=clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(db_url: str, clock: Clock) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(desk_maker(settings(db_url), clock))) as c:
        yield c


@pytest.fixture
def planner_key(client: TestClient) -> str:
    r = client.post("/v1/keys", json={"role": "planner"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    key: str = r.json()["key"]
    return key


def order(client: TestClient, key: str, **body: object) -> dict[str, object]:
    payload = {"model": "A", "variant": "S", "market": "CN"} | body
    r = client.post("/v1/orders", json=payload, headers={"Idempotency-Key": padded(key)})
    assert r.status_code in (200, 201), r.text
    data: dict[str, object] = r.json()
    return data


def padded(key: str) -> str:
    """A test's short key made as long as the service asks (16 characters or more)."""
    return f"{key}-0123456789abcdef"


def wait_for(check: Callable[[], bool], seconds: float = 5.0) -> None:
    """Poll until `check()` holds (background work: re-plans, deliveries)."""
    import time

    end = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.02)
