"""Both back-ends run the same store tests; PostgreSQL gets one database per test process,
emptied for each test, and a new one for tests of a first start."""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from promiseline.core.futures.promises import Promises
from promiseline.core.model.lifecycle import EventKind, Status
from promiseline.core.model.records import NewOrder, Transition
from promiseline.core.model.window import MONTE_CARLO, PLAN, Window, WindowChange
from promiseline.store import SqlStore, open_store
from promiseline.store.postgres import temporary_database

NOW = dt.datetime(2026, 1, 1, 10, 0, 0, 123456)
RESERVED = frozenset({Status.RESERVED})
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


@pytest.fixture(scope="session")
def pg_session_database() -> Iterator[str]:
    """One migrated PostgreSQL database for this test process (each xdist worker has its
    own), emptied before every test that uses it: a database created and migrated per
    test cost about a second each."""
    for url in pg_database():
        open_store(url).close()
        yield url


def emptied(url: str) -> str:
    """The database as a fresh one migrated: no connection left from an earlier test, no
    row but the schema version, counters (event ids, ...) from 1 again. DELETE, not
    TRUNCATE: on a few rows it takes a fraction of the time (10-25 ms against 100)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'schema_version'"
        ).fetchall()
        sequences = conn.execute(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
        ).fetchall()
        with conn.transaction():
            for (table,) in tables:
                conn.execute(f'DELETE FROM "{table}"')
            for (sequence,) in sequences:
                conn.execute(f'ALTER SEQUENCE "{sequence}" RESTART')
    return url


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database for the back-end tests/conftest.py chose (SQLite, or both for tests marked
    `both_stores`): empty for `fresh_database` tests, migrated and empty for the rest."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'orders.db'}"
    elif request.node.get_closest_marker("fresh_database"):
        yield from pg_database()
    else:
        yield emptied(request.getfixturevalue("pg_session_database"))


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


def new(
    i: int, key: str | None = None, body: str = "h", status: Status = Status.RESERVED
) -> NewOrder:
    return NewOrder(
        order_id=f"o{i:04d}",
        idempotency_key=key or f"k{i}",
        body_hash=body,
        model="A",
        variant="S",
        options='{"roof":"pan"}',
        market="CN",
        priority=0,
        status=status,
        created_at=NOW + dt.timedelta(seconds=i),
        locked_at=NOW if status == Status.LOCKED else None,
        actor="customer",
        window=Window(dt.date(2026, 2, 1), dt.date(2026, 2, 3), dt.date(2026, 2, 9), i),
    )


def write_history(store: SqlStore) -> None:
    """Four orders told and delivered (tests/core/futures/test_history.py scores the same story
    by hand): A told a plan window at creation, moved once by an eta_changed; B told at
    lock (its reserved quote is no promise); C told quietly (as after an import); D
    delivered, never told a window."""

    def day(m: int, d: int) -> dt.datetime:
        return dt.datetime(2026, m, d, 10, 0)

    def w(e: tuple[int, int], m: tuple[int, int], la: tuple[int, int], src: str) -> Window:
        e_, m_, la_ = (dt.date(2026, *x) for x in (e, m, la))
        return Window(e_, e_, la_, 1, m_, src)

    plan_a = w((2, 3), (2, 3), (2, 9), PLAN)
    mc_a, mc_b = w((2, 5), (2, 10), (2, 20), MONTE_CARLO), w((2, 1), (2, 4), (2, 8), MONTE_CARLO)
    mc_c = w((3, 1), (3, 5), (3, 9), MONTE_CARLO)
    orders = [new(1, status=Status.LOCKED), new(2), new(3, status=Status.LOCKED)]
    orders += [new(4, status=Status.LOCKED)]
    told = {"o0001": plan_a, "o0002": mc_c, "o0003": None, "o0004": None}
    store.write([replace(o, created_at=day(1, 1), window=told[o.order_id]) for o in orders])
    store.write(
        [
            Transition(
                "o0002",
                EventKind.LOCKED,
                RESERVED,
                "c",
                day(1, 2),
                status=Status.LOCKED,
                window=mc_b,
                data={"window": mc_b.to_json()},
            )
        ]
    )
    quiet = Promises.of(
        ["o0003"], [None], [mc_c.earliest], [mc_c.latest], [1], [mc_c.likely], [MONTE_CARLO]
    )
    store.record_promises(quiet, [], day(1, 1))
    store.record_promises(
        Promises.of([], [], [], [], []), [WindowChange("o0001", plan_a, mc_a)], day(1, 20)
    )
    came = {"o0002": day(2, 4), "o0001": day(2, 12), "o0003": day(3, 10), "o0004": day(3, 10)}
    store.write(
        [
            Transition(
                o,
                EventKind.DELIVERED,
                frozenset({Status.LOCKED}),
                "plant",
                t,
                status=Status.DELIVERED,
            )
            for o, t in came.items()
        ]
    )
