"""The order store: one SQL implementation of one typed interface, two back-ends.

Methods take and return domain records (core/model/records.py, `Window`, `Promises`,
`OrderBook`); no column names or SQL leave the store. Every write is one transaction, so
a request either applies whole or not at all; any database failure is a StorageError.
Back-end differences (placeholders, types, bulk insert, row locks) live in sqlite.py
and postgres.py.
"""

from __future__ import annotations

from promiseline.store.keys import KeyTable
from promiseline.store.meta import Meta
from promiseline.store.orders import Item
from promiseline.store.outbox import Outbox


class SqlStore(Meta, KeyTable, Outbox):
    """Orders, events, idempotency keys, API keys, the scenario, leases and the outbox."""


__all__ = ["Item", "SqlStore"]
