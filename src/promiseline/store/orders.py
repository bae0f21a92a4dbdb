"""Orders and their idempotency keys: intake writes, reads, bulk import and export
(promised windows and the events they read: store/promises.py).

Every write that changes the build queue (an order locked, scheduled, built or cancelled
out of it, an import) bumps the book's change counter in the same transaction, so a plan
read together with the counter knows exactly what it saw. Reserved orders come and go
without moving it: they hold no place in the queue and their windows are quoted live.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
import uuid
from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from promiseline.core.model.lifecycle import IN_PLANNING, QUEUED, EventKind, Status
from promiseline.core.model.orders import BOOK_COLUMNS, HISTORY, OrderBook
from promiseline.core.model.records import (
    CLEARABLE,
    Created,
    NewOrder,
    OrderFilter,
    OrderPage,
    OrderRecord,
    Probe,
    Transition,
    Transitioned,
    Versions,
)
from promiseline.core.model.window import PLAN, Window
from promiseline.errors import ConflictError, counted
from promiseline.store.db import Db, Rows
from promiseline.store.schema import NO_PLACE, QUEUE_KEY

ROWS_SLICE = 5_000  # rows turned into a table at once: about 15 ms holding the interpreter


def in_slices(rows: Rows, table: Callable[[list[Any]], pl.DataFrame]) -> pl.DataFrame:
    """Rows made into one table a slice at a time, emptying `rows` as it goes (or, read
    in slices, each made a table as it comes: db.fetch_slices). Making a table of
    Python rows, and freeing them, each hold the interpreter lock throughout: half a
    million rows at once froze the service's event loop (order intake) for over a
    second during a re-plan; between slices other threads run."""
    if not isinstance(rows, list):
        made = [table(part) for part in rows]
        return pl.concat(made, how="vertical_relaxed") if made else table([])
    if len(rows) <= ROWS_SLICE:
        return table(rows)
    parts = []
    while rows:  # from the end: each slice is cut off and freed in O(slice)
        parts.append(table(rows[-ROWS_SLICE:]))
        del rows[-ROWS_SLICE:]
    return pl.concat(parts[::-1], how="vertical_relaxed")


_ORDER_COLS = (
    "order_id, model, variant, options, market, priority, status, created_at, locked_at, "
    "line, build_date, promised_build, promised_earliest, promised_latest, queue_position, "
    "promised_likely, promised_source, sailing_id, promised_probability"
)
INSERT_ORDER = (
    "INSERT INTO orders (order_id, model, variant, options, market, priority, status, "
    "created_at, locked_at, promised_build, promised_earliest, promised_latest, "
    "queue_position, updated_at, promised_likely, promised_source, promised_probability) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
INSERT_EVENT = "INSERT INTO events (order_id, kind, at, actor, data) VALUES (?,?,?,?,?)"
_HISTORY = ", ".join(f"'{s}'" for s in HISTORY)
_IN_PLANNING = ", ".join(f"'{s.value}'" for s in sorted(IN_PLANNING))
QUEUED_SQL = ", ".join(f"'{s.value}'" for s in sorted(QUEUED))
Item = NewOrder | Transition | Probe
_TYPED = ("locked_at", "priority", "build_date")


class OrderTables(Db):
    """Orders, events and idempotency keys."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        # this process's row of the change counters (host and pid: unique and readable)
        self.writer = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    @abstractmethod
    def _insert_new(self, cur: Any, batch: Sequence[NewOrder]) -> list[Created]: ...

    @abstractmethod
    def _book_rows(self, cur: Any) -> pl.DataFrame:
        """Orders in planning (IN_PLANNING), in the order-book columns, read with `cur`."""

    # --- writes: one transaction per batch ---

    def write(self, batch: Sequence[Item], *, whole: bool = False) -> list[Created | Transitioned]:
        """Apply a batch of creates and transitions in one transaction; `whole`: all or
        none (ConflictError, nothing written, if any is refused: it changed meanwhile)."""
        out: list[Created | Transitioned] = []
        with self.transaction() as cur:
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
                    if isinstance(item, Probe):
                        self._probe(cur, item.at)
                        out.append(Transitioned("~probe", "done", None))
                    else:
                        assert isinstance(item, Transition)
                        out.append(self._transition(cur, item))
                    i += 1
            refused = [r for r in out if r.outcome not in ("created", "done")]
            if whole and refused:
                raise ConflictError(
                    f"{counted(len(refused), 'order')} changed meanwhile, e.g. "
                    f"{refused[0].order_id} ({refused[0].outcome}); nothing was written"
                )
            if any(_moves_queue(item, r) for item, r in zip(batch, out, strict=True)):
                self._bump(cur, "book")
        return out

    def records(self, order_ids: Sequence[str]) -> dict[str, OrderRecord]:
        """These orders as they stand, by id (those the database holds)."""
        out: dict[str, OrderRecord] = {}
        for i in range(0, len(order_ids), 900):
            part = order_ids[i : i + 900]
            marks = ",".join("?" for _ in part)
            rows = self._all(f"SELECT {_ORDER_COLS} FROM orders WHERE order_id IN ({marks})", part)
            out |= {r[0]: self._record(r) for r in rows}
        return out

    def _probe(self, cur: Any, at: dt.datetime) -> None:
        """Write an order and an event as intake would, then delete them."""
        probe = f"~probe-{self.writer}"
        cur.execute(
            self.q(
                "INSERT INTO orders (order_id, model, variant, options, market, status, "
                "created_at, updated_at) VALUES (?, '', '', ?, '', 'probe', ?, ?)"
            ),
            (probe, "x" * 512, self.ts(at), self.ts(at)),
        )
        cur.execute(self.q(INSERT_EVENT), (probe, "probe", self.ts(at), "", "x" * 512))
        cur.execute(self.q("DELETE FROM events WHERE order_id = ?"), (probe,))
        cur.execute(self.q("DELETE FROM orders WHERE order_id = ?"), (probe,))

    def _bump(self, cur: Any, name: str) -> None:
        """Count one change of `name` in this process's own row (no row shared by writers,
        so concurrent writers never wait on one another here)."""
        cur.execute(
            self.q(
                "INSERT INTO changes (name, writer, value) VALUES (?, ?, 1) "
                "ON CONFLICT (name, writer) DO UPDATE SET value = changes.value + 1"
            ),
            (name, self.writer),
        )

    def _order_row(self, o: NewOrder) -> tuple[Any, ...]:
        w = o.window or Window(None, None, None, None)
        return (
            o.order_id,
            o.model,
            o.variant,
            o.options,
            o.market,
            o.priority,
            o.status.value,
            self.ts(o.created_at),
            self.ts(o.locked_at),
            self.date(w.build_date),
            self.date(w.earliest),
            self.date(w.latest),
            w.queue_position,
            self.ts(o.created_at),
            self.date(w.likely),
            w.source if o.window else None,
            w.probability,
        )

    @staticmethod
    def _created_data(o: NewOrder) -> str:
        data: dict[str, Any] = {
            "model": o.model,
            "variant": o.variant,
            "options": json.loads(o.options),
            "market": o.market,
            "status": o.status.value,
        }
        if o.window:
            data["window"] = o.window.to_json()
        return json.dumps(data)

    def _created_event(self, o: NewOrder) -> tuple[Any, ...]:
        created = EventKind.CREATED.value
        return (o.order_id, created, self.ts(o.created_at), o.actor, self._created_data(o))

    def _transition(self, cur: Any, t: Transition) -> Transitioned:
        changes: dict[str, Any] = {
            "status": t.status.value if t.status else None,
            "locked_at": self.ts(t.locked_at),
            "variant": t.variant,
            "options": t.options,
            "line": t.line,
            "build_date": self.date(t.build_date),
            "sailing_id": t.sailing_id,
        }
        if t.window is not None:
            changes |= {
                "promised_build": self.date(t.window.build_date),
                "promised_earliest": self.date(t.window.earliest),
                "promised_latest": self.date(t.window.latest),
                "queue_position": t.window.queue_position,
                "promised_likely": self.date(t.window.likely),
                "promised_source": t.window.source,
                "promised_probability": t.window.probability,
            }
        cols = [c for c, v in changes.items() if v is not None]
        cleared = sorted(CLEARABLE & t.clear - set(cols))
        sets = "".join(f"{c} = ?, " for c in cols) + "".join(f"{c} = NULL, " for c in cleared)
        allowed = sorted(s.value for s in t.allowed_from)
        marks = ",".join("?" for _ in allowed)
        cur.execute(
            self.q(
                f"UPDATE orders SET {sets}updated_at = ? "
                f"WHERE order_id = ? AND status IN ({marks}) RETURNING order_id"
            ),
            (*(changes[c] for c in cols), self.ts(t.at), t.order_id, *allowed),
        )
        if cur.fetchone() is None:
            cur.execute(self.q("SELECT status FROM orders WHERE order_id = ?"), (t.order_id,))
            row = cur.fetchone()
            if row is None:
                return Transitioned(t.order_id, "not_found", None)
            return Transitioned(t.order_id, "not_allowed", Status(row[0]))
        cur.execute(
            self.q(INSERT_EVENT),
            (t.order_id, t.kind.value, self.ts(t.at), t.actor, json.dumps(t.data, default=str)),
        )
        return Transitioned(t.order_id, "done", None)

    def _frame(
        self, rows: Rows, names: Sequence[str], *, dates: Sequence[str] = ()
    ) -> pl.DataFrame:
        """Rows as a table (no Python work per row): dates come as dates. Each slice's
        types are read from all its rows: a column empty in its first hundred (the queue
        position of delivered orders) is not taken for a column of nulls."""
        kinds = list({n: (pl.Date if n in dates else None) for n in names}.items())
        return in_slices(
            rows,
            lambda part: pl.DataFrame(part, schema=kinds, orient="row", infer_schema_length=None),
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
            status=Status(r[6]),
            created_at=self.when(r[7]),
            locked_at=self.from_ts(r[8]),
            line=r[9],
            build_date=self.from_date(r[10]),
            window=Window(
                self.from_date(r[11]),
                self.from_date(r[12]),
                self.from_date(r[13]),
                r[14],
                self.from_date(r[15]),
                r[16] or PLAN,
                r[18],
            ),
            sailing_id=r[17],
        )

    def get(self, order_id: str) -> OrderRecord | None:
        row = self._one(f"SELECT {_ORDER_COLS} FROM orders WHERE order_id = ?", (order_id,))
        return self._record(row) if row else None

    @staticmethod
    def _where(where: OrderFilter) -> tuple[str, list[Any]]:
        conds, params = [], []
        for col, value in (
            ("status", where.status.value if where.status else None),
            ("model", where.model),
            ("variant", where.variant),
            ("market", where.market),
        ):
            if value is not None:
                conds.append(f"{col} = ?")
                params.append(value)
        return " AND ".join(conds) or "1=1", params

    def orders_table(self, where: OrderFilter, stop: threading.Event | None = None) -> pl.DataFrame:
        """Every order the filter finds with its promised window, as one table in id
        order (a download: read in one query, no object per order; StoppedError once
        `stop` is set, at the next slice)."""
        cond, params = self._where(where)
        names = (
            *("order_id", "model", "variant", "market", "status", "locked_at"),
            *("queue_position", "earliest", "likely", "latest", "window_source"),
            "window_probability",
        )
        frame = self._read(
            "SELECT order_id, model, variant, market, status, locked_at, queue_position, "
            "promised_earliest, COALESCE(promised_likely, promised_earliest), promised_latest, "
            f"promised_source, promised_probability FROM orders WHERE {cond} ORDER BY order_id",
            params,
            lambda rows: self._frame(rows, names, dates=("earliest", "likely", "latest")),
            stop,
        )
        return frame.with_columns(
            *(pl.col(c).cast(pl.String) for c in (*names[:5], "window_source")),
            self._stamps(pl.col("locked_at")),
            pl.col("queue_position").cast(pl.Int64),
            pl.col("window_probability").cast(pl.Float64),
        )

    def list_orders(
        self, where: OrderFilter, after: str | None, limit: int, by_queue: bool = False
    ) -> OrderPage:
        """A page of orders after the cursor, and how many match in all: by id, or
        `by_queue`, by the queue position last told to those waiting (the others last, by
        id), the cursor then `position|order_id`."""
        cond, params = self._where(where)
        total = int(self._one(f"SELECT COUNT(*) FROM orders WHERE {cond}", params)[0])
        if by_queue:
            key = QUEUE_KEY
            at: list[Any] = []
            if after:
                place, bar, oid = after.partition("|")
                # a cursor of another shape: among the orders without a place, after it
                # (as a cursor by id after every id lists nothing, not an error)
                spot = min(int(place), NO_PLACE) if bar and place.isdigit() else NO_PLACE
                cond += f" AND ({key} > ? OR ({key} = ? AND order_id > ?))"
                at = [spot, spot, oid if bar else after]
            sql = f"SELECT {_ORDER_COLS} FROM orders WHERE {cond} ORDER BY {key}, order_id LIMIT ?"
            rows = self._all(sql, [*params, *at, limit])
        else:
            page_cond = cond + (" AND order_id > ?" if after else "")
            rows = self._all(
                f"SELECT {_ORDER_COLS} FROM orders WHERE {page_cond} ORDER BY order_id LIMIT ?",
                [*params, *([after] if after else []), limit],
            )
        orders = [self._record(r) for r in rows]
        nxt = None
        if len(orders) == limit:
            last = orders[-1]
            told = last.window.queue_position if last.status in QUEUED else None
            nxt = last.order_id
            if by_queue:
                nxt = f"{NO_PLACE if told is None else told}|{last.order_id}"
        return OrderPage(orders, total, nxt)

    def versions(self) -> Versions:
        return self._versions(None)

    def _versions(self, cur: Any) -> Versions:
        sql = "SELECT name, SUM(value) FROM changes GROUP BY name"
        if cur is None:
            rows = self._all(sql)
        else:
            cur.execute(sql)
            rows = cur.fetchall()
        by = {name: int(v) for name, v in rows}
        return Versions(by.get("book", 0), by.get("scenario", 0))

    def snapshot(self) -> tuple[Versions, OrderBook]:
        """The orders in planning and the versions they are, read in one transaction."""
        with self.transaction(read_only=True) as cur:
            versions = self._versions(cur)
            table = self._book_rows(cur)
        return versions, OrderBook(table, (), f"database {self.name}")

    def count(self, status: Status | None = None) -> int:
        if status is None:
            return int(self._one("SELECT COUNT(*) FROM orders")[0])
        return int(self._one("SELECT COUNT(*) FROM orders WHERE status = ?", (status.value,))[0])

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
        """Counts that must agree after any crash: orders, keys, created events. One
        statement, so one snapshot: read one by one while the service takes orders, an
        order taken between two reads made them disagree (3,575 orders, 3,576 keys)."""
        row = self._one(
            "SELECT (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM idempotency), "
            "(SELECT COUNT(*) FROM events WHERE kind = 'created'), "
            "(SELECT COUNT(*) FROM idempotency i LEFT JOIN orders o "
            "ON o.order_id = i.order_id WHERE o.order_id IS NULL)"
        )
        names = ("orders", "idempotency_keys", "created_events", "orphan_keys")
        return {k: int(v) for k, v in zip(names, row, strict=True)}

    def known_orders(self, order_ids: Sequence[str]) -> set[str]:
        """Which of these order ids the database already holds."""
        out: set[str] = set()
        for i in range(0, len(order_ids), 900):
            part = order_ids[i : i + 900]
            marks = ",".join("?" for _ in part)
            out |= {
                r[0]
                for r in self._all(f"SELECT order_id FROM orders WHERE order_id IN ({marks})", part)
            }
        return out

    def order_ids(self) -> list[str]:
        return [r[0] for r in self._all("SELECT order_id FROM orders")]

    # --- bulk import/export (order-book format) ---

    def import_orders(self, book: OrderBook, at: dt.datetime, actor: str = "import") -> int:
        """Insert a validated book in one transaction (all or none); the service re-plans
        when it sees the book's version move."""
        rows, events = [], []
        for r in book.table.iter_rows(named=True):
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
                    r["sailing_id"],
                )
            )
            data = json.dumps({"status": r["status"], "source": actor})
            events.append((r["order_id"], EventKind.CREATED.value, self.ts(at), actor, data))
        with self.transaction() as cur:
            cur.executemany(
                self.q(
                    "INSERT INTO orders (order_id, model, variant, options, market, priority, "
                    "status, created_at, locked_at, line, build_date, updated_at, sailing_id) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
                ),
                rows,
            )
            cur.executemany(self.q(INSERT_EVENT), events)
            if rows:
                self._bump(cur, "book")
        return len(rows)

    # the order-book columns; a reserved order's locked_at is when it was placed
    BOOK_SELECT = (
        "SELECT order_id, model, variant, options, market, "
        "COALESCE(locked_at, created_at), priority, status, line, build_date, sailing_id "
        "FROM orders"
    )
    # what a plan reads: the orders in planning, and history (built where and when)
    BOOK_SQL = BOOK_SELECT + (
        f" WHERE status IN ({_IN_PLANNING}) OR (status IN ({_HISTORY}) "
        "AND line IS NOT NULL AND build_date IS NOT NULL)"
    )

    def built_per_day(self) -> pl.DataFrame:
        """Vehicles built per line and day (`date, line, built`, a daily output history):
        every order the plant reported built, on its line and build day, and those since
        shipped or delivered, imported ones included."""
        rows = self._all(
            "SELECT build_date, line, COUNT(*) FROM orders "
            f"WHERE status IN ({_HISTORY}) AND line IS NOT NULL AND build_date IS NOT NULL "
            "GROUP BY build_date, line ORDER BY build_date, line"
        )
        frame = self._frame(rows, ("date", "line", "built"), dates=("date",))
        return frame.cast({"line": pl.String, "built": pl.Int64})

    def export_orders(self) -> OrderBook:
        """Every order in the order-book columns (any status)."""
        table = self._read(self.BOOK_SELECT + " ORDER BY order_id", (), self._typed)
        return OrderBook(table, (), f"database {self.name}")

    def _typed(self, rows: Rows) -> pl.DataFrame:
        """Rows in the order-book columns as a typed table."""
        df = self._frame(rows, BOOK_COLUMNS, dates=("build_date",))
        return df.with_columns(
            *(pl.col(c).cast(pl.String) for c in BOOK_COLUMNS if c not in _TYPED),
            self._stamps(pl.col("locked_at")),
            pl.col("priority").cast(pl.Int64),
        )

    def _stamps(self, col: pl.Expr) -> pl.Expr:
        """A timestamp column as read from this database, as datetimes."""
        return col.cast(pl.Datetime("us"))


def _moves_queue(item: Item, result: Created | Transitioned) -> bool:
    """Does this write change the build queue (the orders that hold a place in it)?"""
    if result.outcome not in ("created", "done"):
        return False
    if isinstance(item, Probe):
        return False
    if isinstance(item, NewOrder):
        return item.status != Status.RESERVED
    return item.status == Status.LOCKED or not item.allowed_from <= {Status.RESERVED}
