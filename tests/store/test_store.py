"""The store contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import threading

import polars as pl
import pytest

from promiseline.core.orders import validate_orders
from promiseline.core.scenario import Scenario
from promiseline.store import SqlStore, open_store
from promiseline.store.records import NewOrder, Transition, Window

NOW = dt.datetime(2026, 1, 1, 10, 0, 0, 123456)


def new(i: int, key: str | None = None, body: str = "h", status: str = "reserved") -> NewOrder:
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
        locked_at=NOW if status == "locked" else None,
        actor="customer",
        window=Window(dt.date(2026, 2, 1), dt.date(2026, 2, 3), dt.date(2026, 2, 9), i),
    )


def test_migrate_is_idempotent(store: SqlStore, db_url: str) -> None:
    """Migrating twice leaves the version; a second service start changes nothing."""
    assert store.version() == 1
    again = open_store(db_url)
    assert again.version() == 1
    again.close()


def test_create_replay_and_conflict(store: SqlStore) -> None:
    """Same key and body: the same order; same key, other body: a conflict; both in a batch."""
    out = store.write([new(1), new(2), new(3, key="k1"), new(4, key="k1", body="other")])
    assert [(c.order_id, c.outcome) for c in out] == [  # type: ignore[union-attr]
        ("o0001", "created"),
        ("o0002", "created"),
        ("o0001", "replayed"),
        ("o0001", "conflict"),
    ]
    out = store.write([new(5, key="k2"), new(6, key="k2", body="x")])
    assert [c.outcome for c in out] == ["replayed", "conflict"]  # type: ignore[union-attr]
    assert store.count() == 2


def test_records_round_trip(store: SqlStore) -> None:
    """What was written reads back the same, window and timestamps included."""
    store.write([new(1, status="locked")])
    r = store.get("o0001")
    assert r is not None
    assert (r.status, r.created_at, r.locked_at) == ("locked", NOW + dt.timedelta(seconds=1), NOW)
    assert r.window == Window(dt.date(2026, 2, 1), dt.date(2026, 2, 3), dt.date(2026, 2, 9), 1)
    (ev,) = store.events("o0001")
    assert (ev.kind, ev.actor, ev.data["options"]) == ("created", "customer", {"roof": "pan"})
    assert store.get("nope") is None


def test_transitions_guard_the_status(store: SqlStore) -> None:
    """A transition applies only from its allowed statuses, and appends an event."""
    store.write([new(1)])
    lock = Transition(
        "o0001",
        "locked",
        ("reserved",),
        {"status": "locked", "locked_at": NOW},
        "customer",
        {"why": "test"},
        NOW,
    )
    out = store.write([lock, lock, Transition("zz", "locked", ("reserved",), {}, "c")])
    assert [(t.outcome, t.status) for t in out] == [  # type: ignore[union-attr]
        ("done", None),
        ("not_allowed", "locked"),
        ("not_found", None),
    ]
    kinds = [(e.kind, e.actor, e.data) for e in store.events("o0001")]
    assert kinds[1] == ("locked", "customer", {"why": "test"})
    assert len(kinds) == 2
    first = store.events("o0001")[0].event_id
    assert [e.kind for e in store.events("o0001", after=first)] == ["locked"]


def test_list_filters_and_pages(store: SqlStore) -> None:
    """Listing filters by status and pages by order id with a total count."""
    store.write([new(i, status="locked" if i % 2 else "reserved") for i in range(1, 8)])
    page, total = store.list_orders(status="locked", limit=2)
    assert total == 4
    assert [r.order_id for r in page] == ["o0001", "o0003"]
    page, _ = store.list_orders(status="locked", limit=2, after="o0003")
    assert [r.order_id for r in page] == ["o0005", "o0007"]
    assert store.list_orders(market="DE")[1] == 0


def test_book_is_the_plannable_orders(store: SqlStore, tiny: Scenario) -> None:
    """book() gives the order-book table of reserved, locked and scheduled orders."""
    store.write([new(1), new(2, status="locked")])
    store.write([Transition("o0001", "cancelled", ("reserved",), {"status": "cancelled"}, "c")])
    book = store.book()
    assert book["order_id"].to_list() == ["o0002"]
    assert book["locked_at"][0] == NOW
    valid = validate_orders(book, tiny)
    assert not valid.rejected


def test_import_export_all_or_nothing(
    store: SqlStore, tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """An order book imports whole; a clash imports nothing."""
    book = validate_orders(tiny_orders, tiny).table
    assert store.import_orders(book, NOW) == book.height
    out = store.export_orders().sort("order_id")
    assert out["order_id"].to_list() == sorted(book["order_id"].to_list())
    assert (
        validate_orders(out, tiny)
        .table.drop("row")
        .sort("order_id")
        .equals(book.drop("row").sort("order_id"))
    )
    with pytest.raises(Exception):  # noqa: B017, PT011 - back-ends raise their own IntegrityError
        store.import_orders(book.head(3), NOW)
    assert store.count() == book.height


def test_api_keys(store: SqlStore) -> None:
    """Keys are found by hash until revoked."""
    store.add_key("key1", "hash1", "planner", NOW)
    found = store.find_key("hash1")
    assert found is not None
    assert found.role == "planner"
    assert store.revoke_key("key1", NOW)
    assert not store.revoke_key("key1", NOW)
    assert store.find_key("hash1") is None
    assert [k.key_id for k in store.api_keys()] == ["key1"]


def test_settings_and_leases(store: SqlStore) -> None:
    """A setting kept if present; a lease held until it expires."""
    assert store.set_setting("secret", "a", only_if_missing=True) == "a"
    assert store.set_setting("secret", "b", only_if_missing=True) == "a"
    assert store.try_lease("planner", "p1", NOW, 10)
    assert not store.try_lease("planner", "p2", NOW + dt.timedelta(seconds=5), 10)
    assert store.try_lease("planner", "p1", NOW + dt.timedelta(seconds=5), 10)
    assert store.try_lease("planner", "p2", NOW + dt.timedelta(seconds=16), 10)


def test_record_windows(store: SqlStore) -> None:
    """New windows are stored with one eta_changed event each."""
    store.write([new(1, status="locked")])
    w = Window(dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 8), 9)
    store.record_windows([("o0001", w, {"from": "x", "to": "y"})], NOW)
    r = store.get("o0001")
    assert r is not None
    assert r.window == w
    assert store.events("o0001")[-1].kind == "eta_changed"


def test_concurrent_writers_lose_nothing(db_url: str) -> None:
    """Two writers committing batches at once: every order there exactly once."""

    def work(offset: int) -> None:
        s = open_store(db_url, migrate=False)
        for b in range(10):
            s.write([new(offset + b * 20 + i) for i in range(20)])
        s.close()

    open_store(db_url).close()
    threads = [threading.Thread(target=work, args=(o,)) for o in (0, 1000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = open_store(db_url, migrate=False)
    ids = s.order_ids()
    assert len(ids) == len(set(ids)) == 400
    s.close()
