"""PostgreSQL back-end (psycopg 3): for several service processes or hosts.

A batch of new orders takes four statements whatever its size (bulk `unnest` inserts),
so group commit costs one round trip per batch, not per order.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
import polars as pl
import psycopg

from promiseline.core.model.orders import BOOK_COLUMNS
from promiseline.core.model.records import Created, NewOrder
from promiseline.store.sql import SqlStore

BATCH_INSERT = """
WITH b AS (
    SELECT * FROM json_to_recordset(%s::json) AS u(
        key text, body_hash text, order_id text, model text, variant text, options text,
        market text, priority int, status text, created_at timestamp, locked_at timestamp,
        promised_build date, promised_earliest date, promised_latest date,
        queue_position int, actor text, event_data text, promised_likely date,
        promised_source text, promised_probability double precision)
), new AS (
    INSERT INTO idempotency (key, body_hash, order_id, created_at)
    SELECT key, body_hash, order_id, created_at FROM b
    ON CONFLICT (key) DO NOTHING RETURNING key, order_id
), o AS (
    INSERT INTO orders (order_id, model, variant, options, market, priority, status,
        created_at, locked_at, promised_build, promised_earliest, promised_latest,
        queue_position, updated_at, promised_likely, promised_source, promised_probability)
    SELECT b.order_id, b.model, b.variant, b.options, b.market, b.priority, b.status,
        b.created_at, b.locked_at, b.promised_build, b.promised_earliest, b.promised_latest,
        b.queue_position, b.created_at, b.promised_likely, b.promised_source,
        b.promised_probability
    FROM b JOIN new ON new.order_id = b.order_id
), e AS (
    INSERT INTO events (order_id, kind, at, actor, data)
    SELECT b.order_id, 'created', b.created_at, b.actor, b.event_data  -- EventKind.CREATED
    FROM b JOIN new ON new.order_id = b.order_id
)
SELECT key FROM new
"""


class PostgresStore(SqlStore):
    dialect = "postgresql"
    lock_rows = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True, connect_timeout=5)

    def _is_db_error(self, e: Exception) -> bool:
        return isinstance(e, psycopg.Error)

    @contextmanager
    def _begin(
        self, conn: psycopg.Connection[Any], *, read_only: bool
    ) -> Iterator[psycopg.Cursor[Any]]:
        if read_only:  # one snapshot for every statement (a book and its version)
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield cur
            return
        with conn.pipeline(), conn.transaction(), conn.cursor() as cur:
            yield cur  # pipelined: BEGIN travels with the first statement

    def _lock_schema(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(7436001)")  # any fixed number

    def q(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def _insert_new(self, cur: Any, batch: Sequence[NewOrder]) -> list[Created]:
        everything = batch
        first: dict[str, NewOrder] = {}
        for o in everything:  # a key twice in one batch: the first one counts
            first.setdefault(o.idempotency_key, o)
        batch = list(first.values())
        rows = [
            {
                "key": o.idempotency_key,
                "body_hash": o.body_hash,
                "order_id": o.order_id,
                "model": o.model,
                "variant": o.variant,
                "options": o.options,
                "market": o.market,
                "priority": o.priority,
                "status": o.status.value,
                "created_at": o.created_at,
                "locked_at": o.locked_at,
                "promised_build": w.build_date if w else None,
                "promised_earliest": w.earliest if w else None,
                "promised_latest": w.latest if w else None,
                "queue_position": w.queue_position if w else None,
                "promised_likely": w.likely if w else None,
                "promised_source": w.source if w else None,
                "promised_probability": w.probability if w else None,
                "actor": o.actor,
                "event_data": self._created_data(o),
            }
            for o in batch
            for w in (o.window,)
        ]
        # One statement, one JSON parameter (orjson, in C): keys, orders and events together.
        cur.execute(BATCH_INSERT, (orjson.dumps(rows).decode(),))
        inserted = {r[0] for r in cur.fetchall()}
        known: dict[str, tuple[str, str]] = {}
        others = [o.idempotency_key for o in batch if o.idempotency_key not in inserted]
        if others:
            cur.execute(
                "SELECT key, body_hash, order_id FROM idempotency WHERE key = ANY(%s)", (others,)
            )
            known = {k: (h, oid) for k, h, oid in cur.fetchall()}
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

    def _book_rows(self, cur: Any) -> pl.DataFrame:
        """COPY to CSV and parse with polars: fast for hundreds of thousands of orders."""
        buf = io.BytesIO()
        with cur.copy(f"COPY ({self.BOOK_SQL}) TO STDOUT WITH (FORMAT csv)") as copy:
            for chunk in copy:
                buf.write(chunk)
        buf.seek(0)
        if buf.getbuffer().nbytes == 0:
            return self._typed([])
        df = pl.read_csv(buf, has_header=False, new_columns=list(BOOK_COLUMNS), infer_schema=False)
        return df.with_columns(
            pl.col("locked_at").str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us"),
            pl.col("priority").cast(pl.Int64),
            pl.col("build_date").str.to_date("%Y-%m-%d"),
        )


@contextmanager
def temporary_database(admin_url: str, prefix: str = "promiseline_tmp") -> Iterator[str]:
    """A fresh, empty database for tests and benchmarks; dropped afterwards."""
    import uuid

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield admin_url.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
