"""The order store: SQLite (embedded default) or PostgreSQL, behind one typed interface."""

from __future__ import annotations

from promiseline.errors import PromiselineError
from promiseline.store.db import redact
from promiseline.store.sql import SqlStore


def open_store(url: str, *, migrate: bool = True) -> SqlStore:
    """`sqlite:///path.db` or `postgresql://user@host:port/db`; migrated unless asked not to.

    A database that cannot be reached or migrated is a StorageError naming it.
    """
    store: SqlStore
    if url.startswith("sqlite:"):
        from promiseline.store.sqlite import SqliteStore

        store = SqliteStore(url)
        if store.path in ("", ":memory:") or "mode=memory" in store.path:
            raise PromiselineError(
                f"--db: {url!r} is an in-memory database, which every connection would see "
                "empty; give a file, e.g. sqlite:///orders.db"
            )
    elif url.startswith(("postgresql:", "postgres:")):
        from promiseline.store.postgres import PostgresStore

        store = PostgresStore(url)
    else:
        raise PromiselineError(
            f"--db: unknown database URL {redact(url)!r}, "
            "expected sqlite:///FILE or postgresql://USER@HOST:PORT/DB"
        )
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store


__all__ = ["SqlStore", "open_store"]
