"""Both back-ends run the same store tests; PostgreSQL gets a database of its own."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from promiseline.store import SqlStore, open_store
from promiseline.store.postgres import temporary_database

PG_ADMIN = os.environ.get("PROMISELINE_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database URL; dropped afterwards. Fails loudly if there is none."""
    if os.environ.get("PROMISELINE_SKIP_PG") == "1":
        pytest.skip("PROMISELINE_SKIP_PG=1: PostgreSQL tests skipped on request")
    try:
        psycopg.connect(PG_ADMIN, autocommit=True).close()
    except psycopg.OperationalError as e:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN} ({e}); start it (.ci/run does) "
            "or set PROMISELINE_SKIP_PG=1 to skip these tests knowingly"
        )
    with temporary_database(PG_ADMIN, "promiseline_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'orders.db'}"
    else:
        yield from pg_database()


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = open_store(db_url)
    yield s
    s.close()


def at_once(work: Callable[[int], object], n: int = 4) -> list[BaseException]:
    """Run work(0) .. work(n-1) in n threads at once; the errors they raised."""
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            work(i)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
