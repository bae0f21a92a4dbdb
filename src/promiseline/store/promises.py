"""Promised windows and order events: the windows the planner stores (first ones quietly,
moved ones with an eta_changed event and webhook deliveries), the event feeds, and the
promise history the deployment backtest scores."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Container, Sequence
from typing import Any

import polars as pl

from promiseline.core.futures.history import (
    EVENT_COLUMNS,
    HISTORY_KINDS,
    HISTORY_STATUSES,
    WINDOW_COLUMNS,
)
from promiseline.core.futures.promises import Promises
from promiseline.core.model.lifecycle import EventKind
from promiseline.core.model.records import Event
from promiseline.core.model.window import PLAN, WindowChange
from promiseline.store.db import fetch_slices
from promiseline.store.orders import QUEUED_SQL, OrderTables

_EVENT_COLS = "event_id, order_id, kind, at, actor, data"


class PromiseTables(OrderTables):
    """The promise columns of the orders table, and the events table."""

    def promises(self) -> Promises:
        """The windows promised to locked and scheduled orders."""
        names = (
            "order_id",
            "build_date",
            "earliest",
            "latest",
            "queue_position",
            "likely",
            "source",
            "probability",
        )
        return Promises.columns(
            self._read(
                "SELECT order_id, promised_build, promised_earliest, promised_latest, "
                "queue_position, COALESCE(promised_likely, promised_earliest), "
                f"COALESCE(promised_source, '{PLAN}'), promised_probability "
                f"FROM orders WHERE status IN ({QUEUED_SQL})",
                (),
                lambda rows: self._frame(rows, names, dates=(*names[1:4], "likely")),
            )
        )

    def record_promises(
        self,
        first: Promises,
        moved: Sequence[WindowChange],
        at: dt.datetime,
        webhooks: Sequence[str] = (),
    ) -> None:
        """Store new windows in one transaction: first promises quietly (e.g. after an
        import), moved ones with an eta_changed event each and, for every webhook target,
        a delivery in the outbox.

        Only orders still in the queue take them: a plan read before an order was built,
        delivered or cancelled must not move its window, nor message its customer, after.
        The window updates come first: they lock the rows they change until the commit,
        so the events and deliveries that follow, written only for orders still queued,
        see the same orders."""
        if not len(first) and not moved:
            return
        updates = [(oid, w) for oid, w in first.items()] + [(c.order_id, c.after) for c in moved]
        queued = f"SELECT 1 FROM orders WHERE order_id = ? AND status IN ({QUEUED_SQL})"
        with self.transaction() as cur:
            cur.executemany(
                self.q(
                    "UPDATE orders SET promised_build = ?, promised_earliest = ?, "
                    "promised_latest = ?, queue_position = ?, updated_at = ?, "
                    "promised_likely = ?, promised_source = ?, promised_probability = ? "
                    f"WHERE order_id = ? AND status IN ({QUEUED_SQL})"
                ),
                [
                    (
                        self.date(w.build_date),
                        self.date(w.earliest),
                        self.date(w.latest),
                        w.queue_position,
                        self.ts(at),
                        self.date(w.likely),
                        w.source,
                        w.probability,
                        oid,
                    )
                    for oid, w in updates
                ],
            )
            kind = EventKind.ETA_CHANGED.value
            cur.executemany(
                self.q(
                    "INSERT INTO events (order_id, kind, at, actor, data) "
                    f"SELECT ?, ?, ?, ?, ? WHERE EXISTS ({queued})"
                ),
                [
                    (c.order_id, kind, self.ts(at), "planner", json.dumps(c.to_json()), c.order_id)
                    for c in moved
                ],
            )
            deliveries = [
                (
                    target,
                    json.dumps(
                        {"type": kind, "order_id": c.order_id, "at": at.isoformat()} | c.to_json()
                    ),
                    self.ts(at),
                    self.ts(at),
                    c.order_id,
                )
                for c in moved
                for target in webhooks
            ]
            cur.executemany(
                self.q(
                    "INSERT INTO outbox (target, body, created_at, next_at) "
                    f"SELECT ?, ?, ?, ? WHERE EXISTS ({queued})"
                ),
                deliveries,
            )

    def _event(self, r: Sequence[Any]) -> Event:
        return Event(int(r[0]), r[1], EventKind(r[2]), self.when(r[3]), r[4], json.loads(r[5]))

    def events(self, order_id: str, after: int = 0) -> list[Event]:
        """One order's events after `after`, oldest first."""
        rows = self._all(
            f"SELECT {_EVENT_COLS} FROM events WHERE order_id = ? AND event_id > ? "
            "ORDER BY event_id",
            (order_id, after),
        )
        return [self._event(r) for r in rows]

    def events_after(
        self, event_id: int, orders: Container[str], limit: int = 5000
    ) -> tuple[int, list[Event]]:
        """The events after `event_id` of these orders, oldest first, and the last event id
        looked at (the live event feed: in a surge most new events are of other orders,
        so only ids are read for those)."""
        heads = self._all(
            "SELECT event_id, order_id FROM events WHERE event_id > ? ORDER BY event_id LIMIT ?",
            (event_id, limit),
        )
        wanted = [i for i, oid in heads if oid in orders]
        last = int(heads[-1][0]) if heads else event_id
        if not wanted:
            return last, []
        marks = ",".join("?" for _ in wanted)
        rows = self._all(
            f"SELECT {_EVENT_COLS} FROM events WHERE event_id IN ({marks}) ORDER BY event_id",
            wanted,
        )
        return last, [self._event(r) for r in rows]

    def promise_history(self) -> tuple[pl.DataFrame, pl.DataFrame, dt.datetime | None]:
        """What `score_history` reads, in one snapshot: the promise events (history.
        EVENT_COLUMNS, oldest first) of orders delivered or still on their way (history.
        HISTORY_STATUSES: not reserved, not cancelled), the windows they hold and their
        status (history.WINDOW_COLUMNS), and the database's now: its newest event."""
        statuses = ",".join(f"'{s}'" for s in HISTORY_STATUSES)
        orders = f"SELECT order_id FROM orders WHERE status IN ({statuses})"
        kinds = ",".join(f"'{k}'" for k in HISTORY_KINDS)
        with self.transaction(read_only=True) as cur:
            cur.execute(
                f"SELECT order_id, kind, at, data FROM events WHERE kind IN ({kinds}) "
                f"AND order_id IN ({orders}) ORDER BY event_id"
            )
            events = self._frame(fetch_slices(cur), EVENT_COLUMNS)
            cur.execute(
                "SELECT order_id, promised_earliest, promised_likely, promised_latest, "
                f"COALESCE(promised_source, '{PLAN}'), promised_probability, status "
                f"FROM orders WHERE status IN ({statuses})"
            )
            windows = self._frame(fetch_slices(cur), WINDOW_COLUMNS, dates=WINDOW_COLUMNS[1:4])
            cur.execute("SELECT MAX(at) FROM events")
            newest = cur.fetchone()[0]
        text = dict.fromkeys(("order_id", "kind", "data"), pl.String)
        return (
            events.cast(text).with_columns(self._stamps(pl.col("at"))),  # type: ignore[arg-type]
            windows.cast(
                {
                    "order_id": pl.String,
                    "source": pl.String,
                    "probability": pl.Float64,
                    "status": pl.String,
                }
            ),
            self.from_ts(newest),
        )

    def last_event_id(self) -> int:
        return int(self._one("SELECT COALESCE(MAX(event_id), 0) FROM events")[0])
