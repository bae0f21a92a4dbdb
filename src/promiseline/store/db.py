"""Store plumbing shared by every table: connections, transactions, value conversions,
migrations, and one rule for failures: any database error leaves as a StorageError
naming the database, and the connection that saw it is dropped so the next call
reconnects (a restarted server, a freed disk).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from promiseline.errors import StoppedError, StorageError
from promiseline.store.schema import MIGRATIONS, statements

T = TypeVar("T")
Rows = list[Any] | Iterable[list[Any]]  # every row at once, or slices as they are read


def redact(url: str) -> str:
    """The URL without its password (user:password@ or ?password=), to name the database
    in messages."""
    url = re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)
    return re.sub(r"([?&](?:password|passwd|pwd|sslpassword)=)[^&]*", r"\1***", url, flags=re.I)


class Db(ABC):
    """A database reached by URL; one connection per thread."""

    dialect: str
    lock_rows = ""  # appended to a SELECT whose rows the transaction then changes
    skip_locked = ""  # the same, skipping rows another transaction holds

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = redact(url)
        self._local = threading.local()
        self._opened: list[_Held] = []
        self._opened_lock = threading.Lock()
        self._closed = False

    # --- back-end specifics ---

    @abstractmethod
    def _connect(self) -> Any: ...

    @abstractmethod
    @contextmanager
    def _begin(self, conn: Any, *, read_only: bool) -> Iterator[Any]:
        """A transaction on `conn`, as a cursor."""

    def q(self, sql: str) -> str:
        """SQL with this back-end's placeholders (written with '?')."""
        return sql

    def ts(self, value: dt.datetime | None) -> Any:
        return value

    def from_ts(self, value: Any) -> dt.datetime | None:
        return value  # type: ignore[no-any-return]

    def date(self, value: dt.date | None) -> Any:
        return value

    def from_date(self, value: Any) -> dt.date | None:
        return value  # type: ignore[no-any-return]

    def when(self, value: Any) -> dt.datetime:
        """A NOT NULL timestamp column."""
        out = self.from_ts(value)
        assert out is not None
        return out

    # --- connections and failures ---

    @contextmanager
    def _using(self) -> Iterator[Any]:
        """This thread's connection, held while in use: `close` from another thread waits
        for it instead of pulling it away mid-statement."""
        with self._failures():
            held = getattr(self._local, "held", None)
            if held is None:
                held = _Held()
                with self._opened_lock:
                    self._opened.append(held)
                self._local.held = held
            with held.lock:
                if self._closed:
                    raise StorageError(f"database {self.name}: the store was closed")
                if held.conn is None:
                    held.conn = self._connect()
                yield held.conn

    @contextmanager
    def _failures(self) -> Iterator[None]:
        """Database errors become StorageError; the connection that saw one is dropped."""
        try:
            yield
        except StorageError:
            raise
        except Exception as e:
            if not self._is_db_error(e):
                raise
            self._drop_connection()
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise StorageError(f"database {self.name}: {first}") from e

    @abstractmethod
    def _is_db_error(self, e: Exception) -> bool: ...

    def _drop_connection(self) -> None:
        held = getattr(self._local, "held", None)
        if held is not None:
            held.close()

    def close(self) -> None:
        """Close every connection this store opened, in any thread (each once it is no
        longer in use). A closed store opens no new connection: work still running in a
        thread at shutdown ends with a StorageError instead of leaking one."""
        with self._opened_lock:
            self._closed = True
            opened, self._opened = self._opened, []
        for held in opened:
            held.close()

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Any]:
        """One transaction, as a cursor; all or nothing."""
        with self._using() as conn, self._begin(conn, read_only=read_only) as cur:
            yield cur

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._using() as conn:
            cur = conn.cursor()
            cur.execute(self.q(sql), params)
            return cur.fetchone()

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._using() as conn:
            cur = conn.cursor()
            cur.execute(self.q(sql), params)
            return fetch_all(cur)

    def _read(
        self,
        sql: str,
        params: Sequence[Any],
        table: Callable[[Rows], T],
        stop: threading.Event | None = None,
    ) -> T:
        """A query's rows made into `table` as they are read (`fetch_slices`); with
        `stop`, StoppedError at the next slice once it is set (its reader left)."""
        with self._using() as conn:
            cur = conn.cursor()
            cur.execute(self.q(sql), params)
            return table(fetch_slices(cur, stop))

    # --- schema ---

    def version(self) -> int:
        """The schema version (0: an empty database)."""
        try:
            row = self._one("SELECT version FROM schema_version")
        except StorageError:  # no table yet
            return 0
        return int(row[0]) if row else 0

    def migrate(self) -> int:
        """Apply the migrations that are missing, each in one transaction; the version now.

        Several processes may start at once: each transaction holds a lock (an advisory
        lock on PostgreSQL, the database on SQLite), so each migration runs once.
        """
        with self.transaction() as cur:
            self._lock_schema(cur)
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        for v in range(1, len(MIGRATIONS) + 1):
            with self.transaction() as cur:
                self._lock_schema(cur)
                cur.execute("SELECT version FROM schema_version")
                row = cur.fetchone()
                if row is not None and int(row[0]) >= v:
                    continue
                for stmt in statements(self.dialect, v):
                    cur.execute(stmt)
                cur.execute("DELETE FROM schema_version")
                cur.execute(self.q("INSERT INTO schema_version (version) VALUES (?)"), (v,))
        return len(MIGRATIONS)

    def _lock_schema(self, cur: Any) -> None:  # noqa: B027 - a hook, empty by default
        """Serialize migrations between processes (SQLite: BEGIN IMMEDIATE already does)."""


class _Held:
    """One thread's connection and the lock held while it is in use."""

    def __init__(self) -> None:
        self.conn: Any = None
        self.lock = threading.Lock()

    def close(self) -> None:
        with self.lock:
            conn, self.conn = self.conn, None
        if conn is not None:
            with suppress(Exception):
                conn.close()


FETCH_SLICE = 2_000  # rows a driver call returns at once


def fetch_slices(cur: Any, stop: threading.Event | None = None) -> Iterator[list[Any]]:
    """A query's rows a slice at a time: a driver's fetchall holds the interpreter lock
    throughout; between slices other threads (the event loop) run. Made into a table a
    slice at a time, no more than a slice of rows lives at once: half a million live
    rows made every garbage collection pass walk them all (stalls of 100 ms). `stop`
    set: StoppedError before the next slice."""
    while part := cur.fetchmany(FETCH_SLICE):
        if stop is not None and stop.is_set():
            raise StoppedError("the read was stopped: its reader left")
        yield part


def fetch_all(cur: Any) -> list[Any]:
    """Every row of a query, read a slice at a time (`fetch_slices`)."""
    rows: list[Any] = []
    for part in fetch_slices(cur):
        rows += part
    return rows
