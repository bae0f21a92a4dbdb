"""Storage failures: a full disk or a database that is gone gives a JSON 503 with
Retry-After, never an acknowledgement of what was not stored; /healthz says not ready
while it lasts and recovers after."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from promiseline.server import create_app
from promiseline.service.desk import OrderDesk
from promiseline.store.sqlite import SqliteStore
from tests.service.conftest import ADMIN, Clock, settings
from tests.store.conftest import PG_ADMIN, pg_database

BODY = {"model": "A", "variant": "S", "market": "CN"}


class FillableSqlite(SqliteStore):
    """SQLite whose file can be made full: max_page_count set to the pages it has, on
    every connection (a real SQLITE_FULL, "database or disk is full")."""

    full = False

    def _connect(self) -> sqlite3.Connection:
        conn = super()._connect()
        self._limit(conn)
        return conn

    def _limit(self, conn: sqlite3.Connection) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages if self.full else 2**30}")

    def fill(self, full: bool) -> None:
        self.full = full
        for held in self._opened:
            with held.lock:
                if held.conn is not None:
                    self._limit(held.conn)


def check_outage(c: TestClient, fail: Any, recover: Any) -> None:
    """During the outage: 503s with Retry-After, not ready; after: ready, and the same
    keys create their orders once."""
    for i in range(30):  # fill the free pages, then every write fails
        c.post("/v1/orders", json=BODY, headers={"Idempotency-Key": f"fill-{i}-0123456789abcdef"})
    fail()
    answers = [
        c.post(
            "/v1/orders",
            json=BODY | {"lock": i % 2 == 0},
            headers={"Idempotency-Key": f"o{i}-0123456789abcdef"},
        )
        for i in range(200)
    ]
    refused = [r for r in answers if r.status_code == 503]
    assert refused, [r.status_code for r in answers][:5]
    assert {r.status_code for r in answers} <= {503, 201}
    for r in refused:
        assert r.headers["retry-after"] == "5"
        assert "database" in r.json()["detail"]
    h = c.get("/healthz")
    assert (h.status_code, h.json()["ok"]) == (503, False)
    recover()
    assert c.get("/healthz").status_code == 200
    again = [
        c.post(
            "/v1/orders",
            json=BODY | {"lock": i % 2 == 0},
            headers={"Idempotency-Key": f"o{i}-0123456789abcdef"},
        )
        for i in range(200)
    ]
    assert all(r.status_code in (200, 201) for r in again)
    refused_keys = {f"o{i}" for i, r in enumerate(answers) if r.status_code == 503}
    created_now = {f"o{i}" for i, r in enumerate(again) if r.status_code == 201}
    assert refused_keys == created_now  # what was refused had not been stored
    listed = c.get("/v1/orders", params={"limit": 1}, headers=ADMIN).json()
    assert listed["count"] == 230


def test_disk_full(tmp_path: Any) -> None:
    """SQLite that cannot grow: intake is refused with 503 until it can again."""
    s = settings(f"sqlite:///{tmp_path}/full.db")
    store = FillableSqlite(s.db)
    store.migrate()
    with TestClient(create_app(lambda: OrderDesk(store, s, clock=Clock()))) as c:
        check_outage(c, lambda: store.fill(True), lambda: store.fill(False))


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_database()


def test_database_gone(pg_url: str) -> None:
    """PostgreSQL refusing connections and dropping the ones open: 503s, then recovery."""
    name = pg_url.rsplit("/", 1)[1]

    def outage(on: bool) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if on else "true"}')
            if on:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )

    s = settings(pg_url)
    from promiseline.store import open_store

    with TestClient(create_app(lambda: OrderDesk(open_store(pg_url), s, clock=Clock()))) as c:
        try:
            check_outage(c, lambda: outage(True), lambda: outage(False))
        finally:
            outage(False)
