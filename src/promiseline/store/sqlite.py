"""SQLite back-end: one file, WAL, synchronous=FULL so a commit survives any crash."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl

from promiseline.store.records import Created, NewOrder
from promiseline.store.sql import SqlStore

_TS = "%Y-%m-%dT%H:%M:%S.%f"  # fixed width: text order is time order


class SqliteStore(SqlStore):
    dialect = "sqlite"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = url.removeprefix("sqlite:///").removeprefix("sqlite://")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Cursor]:
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")

    def ts(self, value: dt.datetime | None) -> str | None:
        return value.strftime(_TS) if value else None

    def from_ts(self, value: Any) -> dt.datetime | None:
        return dt.datetime.fromisoformat(value) if value else None

    def date(self, value: dt.date | None) -> str | None:
        return value.isoformat() if value else None

    def from_date(self, value: Any) -> dt.date | None:
        return dt.date.fromisoformat(value) if value else None

    def _insert_new(self, cur: Any, batch: Sequence[NewOrder]) -> list[Created]:
        out: list[Created] = []
        fresh: list[NewOrder] = []
        for o in batch:
            cur.execute(
                "INSERT INTO idempotency (key, body_hash, order_id, created_at) "
                "VALUES (?,?,?,?) ON CONFLICT (key) DO NOTHING RETURNING order_id",
                (o.idempotency_key, o.body_hash, o.order_id, self.ts(o.created_at)),
            )
            if cur.fetchone() is not None:
                fresh.append(o)
                out.append(Created(o.order_id, "created"))
                continue
            cur.execute(
                "SELECT body_hash, order_id FROM idempotency WHERE key = ?", (o.idempotency_key,)
            )
            body_hash, order_id = cur.fetchone()
            out.append(Created(order_id, "replayed" if body_hash == o.body_hash else "conflict"))
        cur.executemany(self.INSERT_ORDER, [self._order_row(o) for o in fresh])
        cur.executemany(self.INSERT_EVENT, [self._created_event(o) for o in fresh])
        return out

    def book(self) -> pl.DataFrame:
        return self._frame(self.BOOK_SQL)
