"""PostgreSQL back-end (psycopg 3): for several service processes or hosts.

A batch of new orders takes four statements whatever its size (bulk `unnest` inserts),
so group commit costs one round trip per batch, not per order.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl
import psycopg

from promiseline.store.records import Created, NewOrder
from promiseline.store.sql import BOOK_COLUMNS, SqlStore


class PostgresStore(SqlStore):
    dialect = "postgresql"

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True)

    @contextmanager
    def _transaction(self, conn: psycopg.Connection[Any]) -> Iterator[psycopg.Cursor[Any]]:
        with conn.transaction(), conn.cursor() as cur:
            yield cur

    def q(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def _insert_new(self, cur: Any, batch: Sequence[NewOrder]) -> list[Created]:
        everything = batch
        first: dict[str, NewOrder] = {}
        for o in everything:  # a key twice in one batch: the first one counts
            first.setdefault(o.idempotency_key, o)
        batch = list(first.values())
        cur.execute(
            "INSERT INTO idempotency (key, body_hash, order_id, created_at) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamp[]) "
            "ON CONFLICT (key) DO NOTHING RETURNING key",
            (
                [o.idempotency_key for o in batch],
                [o.body_hash for o in batch],
                [o.order_id for o in batch],
                [o.created_at for o in batch],
            ),
        )
        inserted = {r[0] for r in cur.fetchall()}
        fresh = [o for o in batch if o.idempotency_key in inserted]
        known: dict[str, tuple[str, str]] = {}
        others = [o.idempotency_key for o in batch if o.idempotency_key not in inserted]
        if others:
            cur.execute(
                "SELECT key, body_hash, order_id FROM idempotency WHERE key = ANY(%s)", (others,)
            )
            known = {k: (h, oid) for k, h, oid in cur.fetchall()}
        if fresh:
            cols = list(zip(*(self._order_row(o) for o in fresh), strict=True))
            cur.execute(
                "INSERT INTO orders (order_id, model, variant, options, market, priority, "
                "status, created_at, locked_at, promised_build, promised_earliest, "
                "promised_latest, queue_position, updated_at) SELECT * FROM unnest("
                "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::int[], "
                "%s::text[], %s::timestamp[], %s::timestamp[], %s::date[], %s::date[], "
                "%s::date[], %s::int[], %s::timestamp[])",
                [list(c) for c in cols],
            )
            ev = list(zip(*(self._created_event(o) for o in fresh), strict=True))
            cur.execute(
                "INSERT INTO events (order_id, kind, at, actor, data) SELECT * FROM unnest("
                "%s::text[], %s::text[], %s::timestamp[], %s::text[], %s::text[])",
                [list(c) for c in ev],
            )
        out = []
        for o in everything:
            key = o.idempotency_key
            if key in inserted and first[key] is o:
                out.append(Created(o.order_id, "created"))
                continue
            winner = first[key]
            body_hash, order_id = (
                (winner.body_hash, winner.order_id) if key in inserted else known[key]
            )
            out.append(Created(order_id, "replayed" if body_hash == o.body_hash else "conflict"))
        return out

    def book(self) -> pl.DataFrame:
        """COPY to CSV and parse with polars: fast for hundreds of thousands of orders."""
        buf = io.BytesIO()
        with (
            self.conn().cursor() as cur,
            cur.copy(f"COPY ({self.BOOK_SQL}) TO STDOUT WITH (FORMAT csv)") as copy,
        ):
            for chunk in copy:
                buf.write(chunk)
        buf.seek(0)
        if buf.getbuffer().nbytes == 0:
            return self._frame(self.BOOK_SQL + " AND false")
        df = pl.read_csv(buf, has_header=False, new_columns=list(BOOK_COLUMNS), infer_schema=False)
        return df.with_columns(
            pl.col("locked_at").str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us"),
            pl.col("priority").cast(pl.Int64),
            pl.col("build_date").str.to_date("%Y-%m-%d"),
        )
