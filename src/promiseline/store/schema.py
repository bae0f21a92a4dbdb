"""Versioned migrations, written once for both back-ends.

Types differ by back-end (`{ts}`, `{date}`, `{serial}`): SQLite keeps timestamps as
fixed-width ISO text, PostgreSQL as `timestamp`. The service applies what is missing
at start-up, inside one transaction per version.
"""

from __future__ import annotations

NO_PLACE = 2_147_483_647  # where an order without a queue position sorts: last
# an order's place in the listing: its queue position while it waits (a cancelled or
# built one keeps the position it was last told, which is no place now)
QUEUE_KEY = (
    "(CASE WHEN status IN ('locked', 'scheduled') "
    f"THEN COALESCE(queue_position, {NO_PLACE}) ELSE {NO_PLACE} END)"
)

MIGRATIONS: list[list[str]] = [
    # version 1: orders, their events, idempotency keys, API keys, settings, leases
    [
        """CREATE TABLE orders (
            order_id TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            variant TEXT NOT NULL,
            options TEXT NOT NULL,
            market TEXT NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL,
            created_at {ts} NOT NULL,
            locked_at {ts},
            line TEXT,
            build_date {date},
            promised_build {date},
            promised_earliest {date},
            promised_latest {date},
            queue_position INTEGER,
            updated_at {ts} NOT NULL
        )""",
        "CREATE INDEX orders_status ON orders (status, model)",
        """CREATE TABLE events (
            event_id {serial},
            order_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            at {ts} NOT NULL,
            actor TEXT NOT NULL,
            data TEXT NOT NULL
        )""",
        "CREATE INDEX events_order ON events (order_id, event_id)",
        """CREATE TABLE idempotency (
            key TEXT PRIMARY KEY,
            body_hash TEXT NOT NULL,
            order_id TEXT NOT NULL,
            created_at {ts} NOT NULL
        )""",
        """CREATE TABLE api_keys (
            key_id TEXT PRIMARY KEY,
            key_hash TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,
            created_at {ts} NOT NULL,
            revoked_at {ts}
        )""",
        "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until {ts} NOT NULL)",
    ],
    # version 2: change counters (each writer process bumps its own row, so writers never
    # wait on one another; a version is the sum), the webhook outbox, peppered key hashes
    [
        """CREATE TABLE changes (
            name TEXT NOT NULL,
            writer TEXT NOT NULL,
            value BIGINT NOT NULL,
            PRIMARY KEY (name, writer)
        )""",
        """CREATE TABLE outbox (
            delivery_id {serial},
            target TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at {ts} NOT NULL,
            next_at {ts} NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL DEFAULT 'pending',
            claimed_until {ts},
            last_error TEXT
        )""",
        "CREATE INDEX outbox_due ON outbox (state, next_at)",
        "ALTER TABLE api_keys ADD COLUMN scheme TEXT NOT NULL DEFAULT 'sha256'",
    ],
    # version 3: a window's likely date (P50) and where it came from (plan, monte-carlo)
    [
        "ALTER TABLE orders ADD COLUMN promised_likely {date}",
        "ALTER TABLE orders ADD COLUMN promised_source TEXT",
    ],
    # version 4: the pages: planners' sessions (ended on the server at sign-out); one-time
    # links to a customer's order page, used once; the
    # intake rate (orders taken lately) read off an index; orders of a status listed in id
    # order straight off the status index (no sort of half a million rows per page)
    [
        "CREATE INDEX orders_status_id ON orders (status, order_id)",
        """CREATE TABLE page_sessions (
            session_hash TEXT PRIMARY KEY,
            key_id TEXT NOT NULL,
            expires_at {ts} NOT NULL
        )""",
        """CREATE TABLE page_links (
            code_hash TEXT PRIMARY KEY,
            order_id TEXT NOT NULL,
            expires_at {ts} NOT NULL,
            used_at {ts}
        )""",
        "CREATE INDEX orders_created ON orders (created_at)",
    ],
    # version 5: planning as of now: the sailing a built (or frozen) export order is on
    ["ALTER TABLE orders ADD COLUMN sailing_id TEXT"],
    # version 6: the probability a window states (a Monte Carlo window told before held
    # P10 to P90 of its futures: 80 % or more, so 0.8 is what it may claim)
    [
        "ALTER TABLE orders ADD COLUMN promised_probability {real}",
        "UPDATE orders SET promised_probability = 0.8 WHERE promised_source = 'monte-carlo'",
    ],
    # version 7: the orders page lists the queue first, in queue order, off an index (an
    # order without a place last, as both back-ends sort it)
    [f"CREATE INDEX orders_queue ON orders ({QUEUE_KEY}, order_id)"],
]

TYPES = {
    "sqlite": {
        "ts": "TEXT",
        "date": "TEXT",
        "real": "REAL",
        "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
    },
    "postgresql": {
        "ts": "TIMESTAMP",
        "date": "DATE",
        "real": "DOUBLE PRECISION",
        "serial": "BIGSERIAL PRIMARY KEY",
    },
}


def statements(dialect: str, version: int) -> list[str]:
    """The DDL of one migration (1-based) for a back-end."""
    return [s.format(**TYPES[dialect]) for s in MIGRATIONS[version - 1]]
