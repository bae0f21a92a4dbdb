"""The order store: one SQL implementation, two back-ends (SQLite, PostgreSQL).

Every write goes through `write(batch)`: one transaction for a whole batch, which is
what makes group commit work (one fsync for many orders). Reads use a connection per
thread. Back-end differences (placeholders, types, bulk insert) live in the subclasses.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import polars as pl

from promiseline.core.orders import BOOK_COLUMNS
from promiseline.store.records import (
    ApiKey,
    Created,
    Event,
    NewOrder,
    OrderRecord,
    Transition,
    Transitioned,
    Window,
)
from promiseline.store.schema import MIGRATIONS, statements

PLANNED_STATUSES = ("reserved", "locked", "scheduled")
_ORDER_COLS = (
    "order_id, model, variant, options, market, priority, status, created_at, locked_at, "
    "line, build_date, promised_build, promised_earliest, promised_latest, queue_position, "
    "updated_at"
)
Item = NewOrder | Transition


class SqlStore(ABC):
    """Orders, events, idempotency keys, API keys, settings and leases in SQL."""

    dialect: str

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._opened: list[Any] = []
        self._opened_lock = threading.Lock()

    # --- back-end specifics ---

    @abstractmethod
    def _connect(self) -> Any: ...

    @abstractmethod
    @contextmanager
    def _transaction(self, conn: Any) -> Iterator[Any]: ...

    @abstractmethod
    def _insert_new(self, cur: Any, batch: Sequence[NewOrder]) -> list[Created]: ...

    @abstractmethod
    def book(self) -> pl.DataFrame:
        """Orders that take part in planning, in the order-book columns."""

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

    # --- plumbing ---

    def conn(self) -> Any:
        """This thread's connection."""
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._connect()
            self._local.conn = c
            with self._opened_lock:
                self._opened.append(c)
        return c

    def close(self) -> None:
        """Close every connection this store opened, in any thread."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for c in opened:
            with suppress(Exception):
                c.close()
        self._local = threading.local()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cur = self.conn().cursor()
        cur.execute(self.q(sql), params)
        return cur.fetchone()

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        cur = self.conn().cursor()
        cur.execute(self.q(sql), params)
        return list(cur.fetchall())

    # --- schema ---

    def version(self) -> int:
        try:
            row = self._one("SELECT version FROM schema_version")
        except Exception:  # no table yet
            self._rollback_quietly()
            return 0
        return int(row[0]) if row else 0

    def _rollback_quietly(self) -> None:
        with suppress(Exception):
            self.conn().rollback()

    def migrate(self) -> int:
        """Apply the migrations that are missing; return the version now."""
        conn = self.conn()
        with self._transaction(conn) as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        current = self.version()
        for v in range(current + 1, len(MIGRATIONS) + 1):
            with self._transaction(conn) as cur:
                for stmt in statements(self.dialect, v):
                    cur.execute(stmt)
                cur.execute("DELETE FROM schema_version")
                cur.execute(self.q("INSERT INTO schema_version (version) VALUES (?)"), (v,))
        return len(MIGRATIONS)

    # --- writes: one transaction per batch ---

    def write(self, batch: Sequence[Item]) -> list[Created | Transitioned]:
        """Apply a batch of creates and transitions in one transaction."""
        out: list[Created | Transitioned] = []
        with self._transaction(self.conn()) as cur:
            i = 0
            while i < len(batch):
                j = i
                while j < len(batch) and isinstance(batch[j], NewOrder):
                    j += 1
                if j > i:
                    out.extend(self._insert_new(cur, batch[i:j]))  # type: ignore[arg-type]
                    i = j
                else:
                    item = batch[i]
                    assert isinstance(item, Transition)
                    out.append(self._transition(cur, item))
                    i += 1
        return out

    def _order_row(self, o: NewOrder) -> tuple[Any, ...]:
        w = o.window or Window(None, None, None, None)
        return (
            o.order_id,
            o.model,
            o.variant,
            o.options,
            o.market,
            o.priority,
            o.status,
            self.ts(o.created_at),
            self.ts(o.locked_at),
            self.date(w.build_date),
            self.date(w.earliest),
            self.date(w.latest),
            w.queue_position,
            self.ts(o.created_at),
        )

    def _created_event(self, o: NewOrder) -> tuple[Any, ...]:
        data = {
            "model": o.model,
            "variant": o.variant,
            "options": json.loads(o.options),
            "market": o.market,
            "status": o.status,
        }
        if o.window:
            data["window"] = o.window.to_json()
        return (o.order_id, "created", self.ts(o.created_at), o.actor, json.dumps(data))

    INSERT_ORDER = (
        "INSERT INTO orders (order_id, model, variant, options, market, priority, status, "
        "created_at, locked_at, promised_build, promised_earliest, promised_latest, "
        "queue_position, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    )
    INSERT_EVENT = "INSERT INTO events (order_id, kind, at, actor, data) VALUES (?,?,?,?,?)"

    def _transition(self, cur: Any, t: Transition) -> Transitioned:
        at = t.at or dt.datetime.now()
        sets = ", ".join(f"{col} = ?" for col in t.changes)
        marks = ",".join("?" for _ in t.allowed_from)
        values = [self._db_value(v) for v in t.changes.values()]
        cur.execute(
            self.q(
                f"UPDATE orders SET {sets}{', ' if sets else ''}updated_at = ? "
                f"WHERE order_id = ? AND status IN ({marks}) RETURNING order_id"
            ),
            (*values, self.ts(at), t.order_id, *t.allowed_from),
        )
        if cur.fetchone() is None:
            cur.execute(self.q("SELECT status FROM orders WHERE order_id = ?"), (t.order_id,))
            row = cur.fetchone()
            if row is None:
                return Transitioned(t.order_id, "not_found", None)
            return Transitioned(t.order_id, "not_allowed", row[0])
        cur.execute(
            self.q(self.INSERT_EVENT),
            (t.order_id, t.kind, self.ts(at), t.actor, json.dumps(t.data, default=str)),
        )
        return Transitioned(t.order_id, "done", None)

    def _db_value(self, v: Any) -> Any:
        if isinstance(v, dt.datetime):
            return self.ts(v)
        if isinstance(v, dt.date):
            return self.date(v)
        return v

    def record_windows(
        self,
        changes: Sequence[tuple[str, Window, dict[str, Any]]],
        at: dt.datetime,
        *,
        events: bool = True,
    ) -> None:
        """Store new promised windows and (unless events=False: first promises, e.g. after
        an import) write their eta_changed events."""
        if not changes:
            return
        with self._transaction(self.conn()) as cur:
            cur.executemany(
                self.q(
                    "UPDATE orders SET promised_build = ?, promised_earliest = ?, "
                    "promised_latest = ?, queue_position = ?, updated_at = ? WHERE order_id = ?"
                ),
                [
                    (
                        self.date(w.build_date),
                        self.date(w.earliest),
                        self.date(w.latest),
                        w.queue_position,
                        self.ts(at),
                        oid,
                    )
                    for oid, w, _ in changes
                ],
            )
            cur.executemany(
                self.q(self.INSERT_EVENT),
                [
                    (oid, "eta_changed", self.ts(at), "planner", json.dumps(data))
                    for oid, _, data in (changes if events else [])
                ],
            )

    # --- reads ---

    def _record(self, r: Sequence[Any]) -> OrderRecord:
        return OrderRecord(
            order_id=r[0],
            model=r[1],
            variant=r[2],
            options=r[3],
            market=r[4],
            priority=int(r[5]),
            status=r[6],
            created_at=self.from_ts(r[7]),  # type: ignore[arg-type]
            locked_at=self.from_ts(r[8]),
            line=r[9],
            build_date=self.from_date(r[10]),
            window=Window(
                self.from_date(r[11]), self.from_date(r[12]), self.from_date(r[13]), r[14]
            ),
            updated_at=self.from_ts(r[15]),  # type: ignore[arg-type]
        )

    def get(self, order_id: str) -> OrderRecord | None:
        row = self._one(f"SELECT {_ORDER_COLS} FROM orders WHERE order_id = ?", (order_id,))
        return self._record(row) if row else None

    def events(self, order_id: str, after: int = 0) -> list[Event]:
        rows = self._all(
            "SELECT event_id, order_id, kind, at, actor, data FROM events "
            "WHERE order_id = ? AND event_id > ? ORDER BY event_id",
            (order_id, after),
        )
        return [
            Event(int(r[0]), r[1], r[2], self.from_ts(r[3]), r[4], json.loads(r[5]))  # type: ignore[arg-type]
            for r in rows
        ]

    def list_orders(
        self,
        *,
        status: str | None = None,
        model: str | None = None,
        variant: str | None = None,
        market: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> tuple[list[OrderRecord], int]:
        """A page of orders (by order_id, after the cursor) and how many match in all."""
        where, params = [], []
        for col, value in (
            ("status", status),
            ("model", model),
            ("variant", variant),
            ("market", market),
        ):
            if value is not None:
                where.append(f"{col} = ?")
                params.append(value)
        cond = " AND ".join(where) or "1=1"
        total = int(self._one(f"SELECT COUNT(*) FROM orders WHERE {cond}", params)[0])
        page_cond = cond + (" AND order_id > ?" if after else "")
        rows = self._all(
            f"SELECT {_ORDER_COLS} FROM orders WHERE {page_cond} ORDER BY order_id LIMIT ?",
            [*params, *([after] if after else []), limit],
        )
        return [self._record(r) for r in rows], total

    def promised(self) -> pl.DataFrame:
        """Promised windows of locked and scheduled orders (to find the ones that moved)."""
        rows = self._all(
            "SELECT order_id, promised_earliest, promised_latest FROM orders "
            "WHERE status IN ('locked', 'scheduled')"
        )
        return pl.DataFrame(
            {
                "order_id": pl.Series([r[0] for r in rows], dtype=pl.String),
                "earliest": pl.Series([self.from_date(r[1]) for r in rows], dtype=pl.Date),
                "latest": pl.Series([self.from_date(r[2]) for r in rows], dtype=pl.Date),
            }
        )

    def count(self, status: str | None = None) -> int:
        if status is None:
            return int(self._one("SELECT COUNT(*) FROM orders")[0])
        return int(self._one("SELECT COUNT(*) FROM orders WHERE status = ?", (status,))[0])

    def idempotency_map(self, keys: Sequence[str]) -> dict[str, str]:
        """The order each of these idempotency keys created."""
        out: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), 900):
            part = unique[i : i + 900]
            marks = ",".join("?" for _ in part)
            out.update(
                self._all(f"SELECT key, order_id FROM idempotency WHERE key IN ({marks})", part)
            )
        return out

    def integrity(self) -> dict[str, int]:
        """Counts that must agree after any crash: orders, keys, created events."""
        return {
            "orders": int(self._one("SELECT COUNT(*) FROM orders")[0]),
            "idempotency_keys": int(self._one("SELECT COUNT(*) FROM idempotency")[0]),
            "created_events": int(
                self._one("SELECT COUNT(*) FROM events WHERE kind = 'created'")[0]
            ),
            "orphan_keys": int(
                self._one(
                    "SELECT COUNT(*) FROM idempotency i LEFT JOIN orders o "
                    "ON o.order_id = i.order_id WHERE o.order_id IS NULL"
                )[0]
            ),
        }

    def order_ids(self) -> list[str]:
        return [r[0] for r in self._all("SELECT order_id FROM orders")]

    # --- API keys, settings, leases ---

    def add_key(self, key_id: str, key_hash: str, role: str, at: dt.datetime) -> None:
        with self._transaction(self.conn()) as cur:
            cur.execute(
                self.q(
                    "INSERT INTO api_keys (key_id, key_hash, role, created_at) VALUES (?,?,?,?)"
                ),
                (key_id, key_hash, role, self.ts(at)),
            )

    def find_key(self, key_hash: str) -> ApiKey | None:
        row = self._one(
            "SELECT key_id, role, created_at, revoked_at FROM api_keys "
            "WHERE key_hash = ? AND revoked_at IS NULL",
            (key_hash,),
        )
        if row is None:
            return None
        return ApiKey(row[0], row[1], self.from_ts(row[2]), None)  # type: ignore[arg-type]

    def revoke_key(self, key_id: str, at: dt.datetime) -> bool:
        with self._transaction(self.conn()) as cur:
            cur.execute(
                self.q(
                    "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? "
                    "AND revoked_at IS NULL RETURNING key_id"
                ),
                (self.ts(at), key_id),
            )
            return cur.fetchone() is not None

    def api_keys(self) -> list[ApiKey]:
        rows = self._all(
            "SELECT key_id, role, created_at, revoked_at FROM api_keys ORDER BY created_at"
        )
        return [
            ApiKey(r[0], r[1], self.from_ts(r[2]), self.from_ts(r[3]))  # type: ignore[arg-type]
            for r in rows
        ]

    def setting(self, name: str) -> str | None:
        row = self._one("SELECT value FROM settings WHERE name = ?", (name,))
        return str(row[0]) if row else None

    def set_setting(self, name: str, value: str, *, only_if_missing: bool = False) -> str:
        """Store a setting; with only_if_missing, keep an existing one. Returns the value."""
        action = "NOTHING" if only_if_missing else "UPDATE SET value = excluded.value"
        with self._transaction(self.conn()) as cur:
            cur.execute(
                self.q(
                    f"INSERT INTO settings (name, value) VALUES (?, ?) "
                    f"ON CONFLICT (name) DO {action}"
                ),
                (name, value),
            )
        stored = self.setting(name)
        assert stored is not None
        return stored

    def try_lease(self, name: str, holder: str, now: dt.datetime, seconds: float) -> bool:
        """Take or renew a lease (leader election between service processes)."""
        until = now + dt.timedelta(seconds=seconds)
        with self._transaction(self.conn()) as cur:
            cur.execute(
                self.q(
                    "INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                    "until = excluded.until WHERE leases.until < ? OR leases.holder = ? "
                    "RETURNING holder"
                ),
                (name, holder, self.ts(until), self.ts(now), holder),
            )
            return cur.fetchone() is not None

    # --- bulk import/export (order-book format) ---

    def import_orders(self, table: pl.DataFrame, at: dt.datetime, actor: str = "import") -> int:
        """Insert validated orders (OrderBook.table) in one transaction: all or none."""
        rows = []
        events = []
        for r in table.iter_rows(named=True):
            rows.append(
                (
                    r["order_id"],
                    r["model"],
                    r["variant"],
                    r["options"],
                    r["market"],
                    r["priority"],
                    r["status"],
                    self.ts(r["locked_at"]),
                    self.ts(r["locked_at"]),
                    r["line"],
                    self.date(r["build_date"]),
                    self.ts(at),
                )
            )
            events.append(
                (
                    r["order_id"],
                    "created",
                    self.ts(at),
                    actor,
                    json.dumps({"status": r["status"], "source": actor}),
                )
            )
        with self._transaction(self.conn()) as cur:
            cur.executemany(
                self.q(
                    "INSERT INTO orders (order_id, model, variant, options, market, priority, "
                    "status, created_at, locked_at, line, build_date, updated_at) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                ),
                rows,
            )
            cur.executemany(self.q(self.INSERT_EVENT), events)
        return len(rows)

    # the order-book columns; a reserved order's locked_at is when it was placed
    BOOK_SELECT = (
        "SELECT order_id, model, variant, options, market, "
        "COALESCE(locked_at, created_at), priority, status, line, build_date FROM orders"
    )
    BOOK_SQL = BOOK_SELECT + " WHERE status IN ('reserved', 'locked', 'scheduled')"

    def export_orders(self) -> pl.DataFrame:
        """Every order in the order-book columns (any status)."""
        return self._frame(self.BOOK_SELECT + " ORDER BY order_id")

    def _frame(self, sql: str) -> pl.DataFrame:
        return _typed(self._all(sql), self)


def _typed(rows: list[tuple[Any, ...]], store: SqlStore) -> pl.DataFrame:
    """Rows from the database as a typed order-book table."""
    cols = BOOK_COLUMNS
    by_col = list(zip(*rows, strict=True)) if rows else [() for _ in cols]
    data: dict[str, Any] = dict(zip(cols, by_col, strict=True))
    return pl.DataFrame(
        {
            "order_id": pl.Series(data["order_id"], dtype=pl.String),
            "model": pl.Series(data["model"], dtype=pl.String),
            "variant": pl.Series(data["variant"], dtype=pl.String),
            "options": pl.Series(data["options"], dtype=pl.String),
            "market": pl.Series(data["market"], dtype=pl.String),
            "locked_at": pl.Series(
                [store.from_ts(v) for v in data["locked_at"]], dtype=pl.Datetime("us")
            ),
            "priority": pl.Series(data["priority"], dtype=pl.Int64),
            "status": pl.Series(data["status"], dtype=pl.String),
            "line": pl.Series(data["line"], dtype=pl.String),
            "build_date": pl.Series(
                [store.from_date(v) for v in data["build_date"]], dtype=pl.Date
            ),
        }
    )
