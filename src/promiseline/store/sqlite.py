"""SQLite back-end: one file, WAL, synchronous=FULL so a commit survives any crash."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl

from promiseline.core.model.records import Created, NewOrder
from promiseline.store.db import Rows, fetch_slices
from promiseline.store.orders import INSERT_EVENT, INSERT_ORDER, in_slices
from promiseline.store.sql import SqlStore

_TS = "%Y-%m-%dT%H:%M:%S.%f"  # fixed width: text order is time order


def _write_ahead_log(conn: sqlite3.Connection, seconds: float = 30.0) -> None:
    """Put the file in WAL mode (it stays so). Switching needs the file to itself, and
    SQLite answers "database is locked" at once rather than waiting when other
    connections hold it, as when several workers open a fresh database together: so
    wait here, as the busy timeout does for every other statement."""
    end = time.monotonic() + seconds
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return  # already (or just now by another connection)
            if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal":
                return
        except sqlite3.OperationalError as e:  # SQLite may also just keep the old mode
            if "locked" not in str(e):
                raise
        if time.monotonic() > end:
            raise sqlite3.OperationalError("database is locked: could not switch it to WAL")
        time.sleep(0.01)


class SqliteStore(SqlStore):
    dialect = "sqlite"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = url.removeprefix("sqlite:///").removeprefix("sqlite://")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA busy_timeout=30000")
        _write_ahead_log(conn)
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _is_db_error(self, e: Exception) -> bool:
        return isinstance(e, sqlite3.Error)

    @contextmanager
    def _begin(self, conn: sqlite3.Connection, *, read_only: bool) -> Iterator[sqlite3.Cursor]:
        cur = conn.cursor()
        cur.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")  # IMMEDIATE: write lock now
        try:
            yield cur
        except BaseException:
            if conn.in_transaction:
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
        """Few statements per batch: each statement releases the GIL, so many small ones
        would queue behind the event loop. BEGIN IMMEDIATE holds the write lock, so no
        other process can add a key between the look-up and the insert."""
        keys = list({o.idempotency_key for o in batch})
        known: dict[str, tuple[str, str]] = {}
        for part in _chunks(keys, 900):
            cur.execute(
                f"SELECT key, body_hash, order_id FROM idempotency WHERE key IN "
                f"({','.join('?' * len(part))})",
                part,
            )
            known.update({k: (h, oid) for k, h, oid in cur.fetchall()})
        out: list[Created] = []
        fresh: list[NewOrder] = []
        for o in batch:
            key = o.idempotency_key
            if key not in known:
                known[key] = (o.body_hash, o.order_id)
                fresh.append(o)
                out.append(Created(o.order_id, "created"))
                continue
            body_hash, order_id = known[key]
            out.append(Created(order_id, "replayed" if body_hash == o.body_hash else "conflict"))
        rows = [(o.idempotency_key, o.body_hash, o.order_id, self.ts(o.created_at)) for o in fresh]
        _insert_many(cur, "INSERT INTO idempotency (key, body_hash, order_id, created_at)", rows)
        _insert_many(cur, INSERT_ORDER.split(" VALUES")[0], [self._order_row(o) for o in fresh])
        _insert_many(cur, INSERT_EVENT.split(" VALUES")[0], [self._created_event(o) for o in fresh])
        return out

    def _book_rows(self, cur: Any) -> pl.DataFrame:
        cur.execute(self.BOOK_SQL)
        return self._typed(fetch_slices(cur))

    def _frame(
        self, rows: Rows, names: Sequence[str], *, dates: Sequence[str] = ()
    ) -> pl.DataFrame:
        """SQLite keeps dates as ISO text: read as text, parsed in one go."""

        def table(part: list[Any]) -> pl.DataFrame:
            return pl.DataFrame(part, schema=list(names), orient="row", infer_schema_length=None)

        df = in_slices(rows, table)
        return df.with_columns(pl.col(d).cast(pl.String).str.to_date("%Y-%m-%d") for d in dates)

    def _stamps(self, col: pl.Expr) -> pl.Expr:
        return col.cast(pl.String).str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us")


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _insert_many(cur: Any, head: str, rows: list[tuple[Any, ...]]) -> None:
    """One multi-row INSERT per chunk (SQLite allows 32,766 variables a statement)."""
    if not rows:
        return
    width = len(rows[0])
    one = "(" + ",".join("?" * width) + ")"
    for part in _chunks(rows, max(1, 30_000 // width)):
        cur.execute(
            f"{head} VALUES {','.join([one] * len(part))}", [v for row in part for v in row]
        )
