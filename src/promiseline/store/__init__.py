"""The order store: SQLite (embedded default) or PostgreSQL, behind one typed interface."""

from __future__ import annotations

from pathlib import Path

from promiseline.errors import PromiselineError, StorageError
from promiseline.store.db import redact
from promiseline.store.schema import MIGRATIONS
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
                f"database {url!r} is an in-memory database, which every connection would see "
                "empty; give a file, e.g. sqlite:///orders.db"
            )
    elif url.startswith(("postgresql:", "postgres:")):
        from promiseline.store.postgres import PostgresStore

        store = PostgresStore(url)
    else:
        raise PromiselineError(
            f"unknown database URL {redact(url)!r}, "
            "expected sqlite:///FILE or postgresql://USER@HOST:PORT/DB"
        )
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store


def open_existing(url: str) -> SqlStore:
    """A database a promiseline service keeps, opened to read it: never created or
    migrated here, so a mistyped path is an error rather than a new empty file."""
    store = open_store(url, migrate=False)
    try:
        path = getattr(store, "path", None)
        if path is not None and not Path(path).is_file():
            raise StorageError(
                f"no SQLite database file at {path!r} (the order service makes one: "
                "promiseline serve)"
            )
        version, current = store.version(), len(MIGRATIONS)
        if version == 0:
            raise StorageError(f"database {store.name} holds no promiseline data")
        if version < current:
            raise StorageError(
                f"database {store.name} has schema version {version}, this promiseline reads "
                f"{current}: start `promiseline serve --db URL` once and it migrates it"
            )
        if version > current:
            raise StorageError(
                f"database {store.name} has schema version {version}, newer than this "
                f"promiseline reads ({current}): upgrade promiseline"
            )
    except BaseException:
        store.close()
        raise
    return store


__all__ = ["SqlStore", "open_existing", "open_store"]
