"""The store contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from promiseline.core.futures.history import score_history
from promiseline.core.futures.promises import Promises
from promiseline.core.model.lifecycle import EventKind, Status
from promiseline.core.model.orders import validate_orders
from promiseline.core.model.records import OrderFilter, Transition
from promiseline.core.model.scenario import Scenario
from promiseline.core.model.window import MONTE_CARLO, NEARBY, PLAN, Window, WindowChange
from promiseline.errors import ConflictError, StorageError
from promiseline.store import SqlStore, open_store
from promiseline.store.schema import MIGRATIONS
from tests.store.conftest import NOW, RESERVED, at_once, new, write_history

pytestmark = pytest.mark.both_stores


def cancel(order_id: str) -> Transition:
    return Transition(order_id, EventKind.CANCELLED, RESERVED, "c", NOW, status=Status.CANCELLED)


@pytest.mark.fresh_database
def test_migrate_is_idempotent(store: SqlStore, db_url: str) -> None:
    """Migrating twice leaves the version; a second service start changes nothing."""
    assert store.version() == len(MIGRATIONS)
    again = open_store(db_url)
    assert again.version() == len(MIGRATIONS)
    again.close()


@pytest.mark.fresh_database
def test_concurrent_first_starts_migrate_once(db_url: str) -> None:
    """Several processes opening a fresh database at once all end on the same schema."""
    assert at_once(lambda _: open_store(db_url).close()) == []
    s = open_store(db_url, migrate=False)
    assert s.version() == len(MIGRATIONS)
    s.close()


def test_fresh_sqlite_files_opened_by_many_at_once(tmp_path: Path) -> None:
    """Switching a fresh SQLite file to WAL needs it to itself, and SQLite does not wait
    for that: eight connections opening sixty fresh files at once all get in."""

    def journal_mode(url: str) -> str:
        store = open_store(url, migrate=False)
        try:
            with store.transaction(read_only=True) as cur:
                cur.execute("PRAGMA journal_mode")
                return str(cur.fetchone()[0])
        finally:
            store.close()

    for i in range(60):
        url = f"sqlite:///{tmp_path / f'fresh-{i}.db'}"
        assert at_once(lambda _, url=url: journal_mode(url), n=8) == []
        assert journal_mode(url) == "wal"


def test_create_replay_and_conflict(store: SqlStore) -> None:
    """Same key and body: the same order; same key, other body: a conflict; both in a batch."""
    out = store.write([new(1), new(2), new(3, key="k1"), new(4, key="k1", body="other")])
    assert [(c.order_id, c.outcome) for c in out] == [
        ("o0001", "created"),
        ("o0002", "created"),
        ("o0001", "replayed"),
        ("o0001", "conflict"),
    ]
    out = store.write([new(5, key="k2"), new(6, key="k2", body="x")])
    assert [c.outcome for c in out] == ["replayed", "conflict"]
    assert store.count() == 2


def test_records_round_trip(store: SqlStore) -> None:
    """What was written reads back the same, window and timestamps included."""
    store.write([new(1, status=Status.LOCKED)])
    r = store.get("o0001")
    assert r is not None
    assert (r.status, r.created_at, r.locked_at) == (
        Status.LOCKED,
        NOW + dt.timedelta(seconds=1),
        NOW,
    )
    assert r.window == Window(dt.date(2026, 2, 1), dt.date(2026, 2, 3), dt.date(2026, 2, 9), 1)
    (ev,) = store.events("o0001")
    assert (ev.kind, ev.actor, ev.data["options"]) == (
        EventKind.CREATED,
        "customer",
        {"roof": "pan"},
    )
    assert store.get("nope") is None


def test_transitions_guard_the_status(store: SqlStore) -> None:
    """A transition applies only from its allowed statuses, and appends an event."""
    store.write([new(1)])
    lock = Transition(
        "o0001",
        EventKind.LOCKED,
        RESERVED,
        "customer",
        NOW,
        status=Status.LOCKED,
        locked_at=NOW,
        data={"why": "test"},
    )
    missing = Transition("zz", EventKind.LOCKED, RESERVED, "c", NOW, status=Status.LOCKED)
    out = store.write([lock, lock, missing])
    assert [(t.outcome, t.status) for t in out] == [
        ("done", None),
        ("not_allowed", Status.LOCKED),
        ("not_found", None),
    ]
    kinds = [(e.kind, e.actor, e.data) for e in store.events("o0001")]
    assert kinds[1] == (EventKind.LOCKED, "customer", {"why": "test"})
    assert len(kinds) == 2
    first = store.events("o0001")[0].event_id
    assert [e.kind for e in store.events("o0001", after=first)] == [EventKind.LOCKED]
    rec = store.get("o0001")
    assert rec is not None
    assert (rec.status, rec.locked_at) == (Status.LOCKED, NOW)


def test_list_filters_and_pages(store: SqlStore) -> None:
    """Listing filters by status and pages by order id with a total count."""
    store.write([new(i, status=Status.LOCKED if i % 2 else Status.RESERVED) for i in range(1, 8)])
    locked = OrderFilter(status=Status.LOCKED)
    page = store.list_orders(locked, None, 2)
    assert page.count == 4
    assert [r.order_id for r in page.orders] == ["o0001", "o0003"]
    page = store.list_orders(locked, page.next_after, 2)
    assert [r.order_id for r in page.orders] == ["o0005", "o0007"]
    assert store.list_orders(OrderFilter(market="DE"), None, 10).count == 0


def test_a_download_read_stops_when_asked(store: SqlStore) -> None:
    """A download's read stops at its next slice once its client has left (issue 19)."""
    import threading

    from promiseline.errors import StoppedError

    store.write([new(i, status=Status.LOCKED) for i in range(1, 5)])
    stop = threading.Event()
    assert store.orders_table(OrderFilter(), stop).height == 4
    stop.set()
    with pytest.raises(StoppedError, match="its reader left"):
        store.orders_table(OrderFilter(), stop)


def test_a_download_reads_columns_empty_for_its_first_rows(store: SqlStore) -> None:
    """A column without a value in a slice's first hundred rows (delivered orders have no
    queue position) and with one later is read whole: PostgreSQL answered every full
    download of the rolled demo book with a 500 (crowd_bench --pg)."""
    first = [
        replace(new(i), window=replace(new(i).window, queue_position=None)) for i in range(300)
    ]
    store.write([*first, *(new(i) for i in range(300, 310))])
    table = store.orders_table(OrderFilter())
    assert table.height == 310
    assert table["queue_position"].null_count() == 300
    assert table["queue_position"].tail(10).to_list() == list(range(300, 310))


def test_snapshot_is_the_orders_in_planning(store: SqlStore, tiny: Scenario) -> None:
    """The snapshot holds reserved, locked and scheduled orders, and the book's version."""
    v0 = store.versions().book
    store.write([new(1), new(2, status=Status.LOCKED)])
    store.write([cancel("o0001")])
    versions, book = store.snapshot()
    assert versions.book == v0 + 1  # the lock; a reserved order comes and goes unseen
    assert book.table["order_id"].to_list() == ["o0002"]
    assert book.table["locked_at"][0] == NOW
    assert not validate_orders(book.table, tiny).rejected
    store.write([cancel("o0001")])  # not allowed any more: nothing changed
    assert store.versions().book == versions.book


def test_versions_add_up_over_writers(db_url: str) -> None:
    """Each process counts its own changes; every reader sees the sum."""
    a, b = open_store(db_url), open_store(db_url)
    a.write([new(1, status=Status.LOCKED)])
    b.write([new(2, status=Status.LOCKED)])
    b.write([new(3, status=Status.LOCKED), new(4)])
    b.write([new(5)])  # reserved only: the queue did not change
    assert a.versions().book == b.versions().book == 3
    a.put_scenario("name: x")
    stored = b.scenario()
    assert stored is not None
    assert (stored.text, stored.version) == ("name: x", 1)
    a.close()
    b.close()


def test_import_export_all_or_nothing(
    store: SqlStore, tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """An order book imports whole and moves the book's version; a clash imports nothing."""
    book = validate_orders(tiny_orders, tiny)
    assert store.import_orders(book, NOW) == book.table.height
    assert store.versions().book == 1
    out = store.export_orders().table.sort("order_id")
    assert out["order_id"].to_list() == sorted(book.table["order_id"].to_list())
    assert (
        validate_orders(out, tiny)
        .table.drop("row")
        .sort("order_id")
        .equals(book.table.drop("row").sort("order_id"))
    )
    with pytest.raises(StorageError, match="database"):
        store.import_orders(validate_orders(tiny_orders.head(3), tiny), NOW)
    assert store.count() == book.table.height
    assert store.versions().book == 1


@pytest.mark.both_stores
def test_built_per_day_counts_what_the_plant_built(
    store: SqlStore, tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """A daily output history from the store: orders built, shipped or delivered, per
    line and build day (what `fit --db` reads); nothing else counts."""
    assert store.built_per_day().height == 0
    done = {  # order: status, build day
        "o00": ("built", "2025-01-02"),
        "o01": ("built", "2025-01-02"),
        "o02": ("shipped", "2025-01-02"),
        "o03": ("delivered", "2025-01-03"),
        "o04": ("scheduled", "2025-01-03"),  # planned, not built
    }
    rows = tiny_orders.with_columns(
        pl.col("order_id")
        .replace_strict({k: v[0] for k, v in done.items()}, default=pl.col("status"))
        .alias("status"),
        pl.when(pl.col("order_id").is_in(list(done)))
        .then(pl.lit("l1"))
        .otherwise(pl.col("line"))
        .alias("line"),
        pl.col("order_id")
        .replace_strict({k: v[1] for k, v in done.items()}, default=pl.col("build_date"))
        .alias("build_date"),
    )
    store.import_orders(validate_orders(rows, tiny), NOW)
    got = store.built_per_day()
    assert got.schema == {"date": pl.Date, "line": pl.String, "built": pl.Int64}
    assert got.rows() == [(dt.date(2025, 1, 2), "l1", 3), (dt.date(2025, 1, 3), "l1", 1)]


def test_api_keys(store: SqlStore) -> None:
    """Keys are found by hash until revoked; the last admin key stays."""
    store.add_key("key1", "hash1", "planner", NOW)
    store.add_key("adm1", "hashA", "admin", NOW)
    found = store.find_key("hash1")
    assert found is not None
    assert found.role == "planner"
    assert store.revoke_key("key1", NOW) == "revoked"
    assert store.revoke_key("key1", NOW) == "missing"
    assert store.find_key("hash1") is None
    assert store.revoke_key("adm1", NOW) == "last_admin"
    store.add_key("adm2", "hashB", "admin", NOW)
    assert store.revoke_key("adm1", NOW) == "revoked"
    assert store.revoke_key("adm2", NOW) == "last_admin"
    assert [k.key_id for k in store.api_keys()] == ["adm1", "adm2", "key1"]  # by time, id


def test_bootstrap_key_survives_anything(store: SqlStore) -> None:
    """Registering the bootstrap key never fails: present, revoked, rotated."""
    assert store.ensure_key("boot", "h1", "admin", NOW) == "added"
    assert store.ensure_key("boot", "h1", "admin", NOW) == "present"
    store.add_key("other-admin", "h9", "admin", NOW)
    assert store.revoke_key("boot", NOW) == "revoked"
    assert store.ensure_key("boot", "h1", "admin", NOW) == "revoked"  # stays revoked
    assert store.find_key("h1") is None
    assert store.ensure_key("boot", "h2", "admin", NOW) == "replaced"  # rotated
    found = store.find_key("h2")
    assert found is not None
    assert found.key_id == "boot"
    assert store.find_key("h1") is None


def test_bootstrap_key_race(db_url: str) -> None:
    """Four processes registering the same bootstrap key at once: one key, no error."""
    open_store(db_url).close()

    def start(_: int) -> None:
        s = open_store(db_url, migrate=False)
        try:
            s.ensure_key("boot", "same", "admin", NOW)
        finally:
            s.close()

    assert at_once(start) == []
    s = open_store(db_url, migrate=False)
    assert [k.key_id for k in s.api_keys()] == ["boot"]
    s.close()


def test_rehash_legacy_keys(store: SqlStore) -> None:
    """Keys stored under the old scheme get their new hash once."""
    store.add_key("k", "old", "planner", NOW)
    with store.transaction() as cur:  # as a version-1 database left it
        cur.execute(store.q("UPDATE api_keys SET scheme = 'sha256'"))
    assert store.rehash_keys("sha256", lambda h: "new-" + h) == 1
    assert store.rehash_keys("sha256", lambda h: "again-" + h) == 0
    assert store.find_key("new-old") is not None


def test_secrets_scenario_and_leases(store: SqlStore) -> None:
    """A secret is made once; the scenario moves its version; a lease holds until it ends."""
    assert store.secret("s") == store.secret("s")
    assert len(store.secret("s")) == 64
    assert store.scenario() is None
    store.put_scenario("a: 1")
    store.put_scenario("a: 2")
    assert store.scenario() is not None
    assert store.versions().scenario == 2
    assert store.try_lease("planner", "p1", NOW, 10)
    assert not store.try_lease("planner", "p2", NOW + dt.timedelta(seconds=5), 10)
    assert store.try_lease("planner", "p1", NOW + dt.timedelta(seconds=5), 10)
    assert store.try_lease("planner", "p2", NOW + dt.timedelta(seconds=16), 10)
    store.ping(NOW)


def test_record_promises_events_and_outbox(store: SqlStore) -> None:
    """Moved windows: stored, one eta_changed event each, one delivery per webhook;
    first promises: stored quietly."""
    store.write([new(1, status=Status.LOCKED), new(2, status=Status.LOCKED)])
    old = store.promises()
    assert len(old) == 2
    w = Window(dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 8), 9)
    first = Promises.of(["o0002"], [w.build_date], [w.earliest], [w.latest], [3])
    moved = [WindowChange("o0001", old.items()[0][1], w)]
    store.record_promises(first, moved, NOW, webhooks=["http://a", "http://b"])
    r = store.get("o0001")
    assert r is not None
    assert r.window == w
    assert store.events("o0001")[-1].kind == EventKind.ETA_CHANGED
    assert [e.kind for e in store.events("o0002")] == [EventKind.CREATED]
    assert store.outbox_stats().pending == 2
    last, feed = store.events_after(0, {"o0001", "o0002"})
    assert [e.order_id for e in feed] == ["o0001", "o0002", "o0001"]
    assert store.last_event_id() == feed[-1].event_id == last
    last, feed = store.events_after(0, {"o0002"})  # only those asked for, all looked at
    assert ([e.order_id for e in feed], last) == (["o0002"], store.last_event_id())


def test_monte_carlo_windows_keep_their_likely_date_and_source(store: SqlStore) -> None:
    """A simulated window comes back as stored: P50 and source too, in the promises and
    in the order; a window from before the migration reads as the plan's stand-in."""
    store.write([new(1, status=Status.LOCKED), new(2, status=Status.LOCKED)])
    mc = Window(
        dt.date(2026, 3, 1),
        dt.date(2026, 3, 4),
        dt.date(2026, 3, 20),
        5,
        dt.date(2026, 3, 9),
        MONTE_CARLO,
    )
    first = Promises.of(
        ["o0001"], [mc.build_date], [mc.earliest], [mc.latest], [5], [mc.likely], [mc.source]
    )
    store.record_promises(first, [], NOW)
    promised = dict(store.promises().items())
    assert promised["o0001"] == mc
    assert promised["o0002"].source == PLAN
    assert promised["o0002"].likely == promised["o0002"].earliest
    r = store.get("o0001")
    assert r is not None
    assert r.window == mc


def test_outbox_claims_retries_and_dead_letters(store: SqlStore) -> None:
    """A claimed delivery is not claimed twice while held; failures retry, then die."""
    store.write([new(1, status=Status.LOCKED)])
    ((oid, w),) = store.promises().items()
    store.record_promises(Promises.of([], [], [], [], []), [WindowChange(oid, w, w)], NOW, ["t"])
    (d,) = store.claim(NOW, 30, 10)
    assert (d.target, d.attempts) == ("t", 1)
    assert store.claim(NOW, 30, 10) == []  # held
    store.failed(d.delivery_id, "503", NOW + dt.timedelta(seconds=1))
    assert store.claim(NOW, 30, 10) == []  # not due yet
    (d2,) = store.claim(NOW + dt.timedelta(seconds=2), 30, 10)
    assert d2.attempts == 2
    store.failed(d2.delivery_id, "503", None)
    stats = store.outbox_stats()
    assert (stats.pending, stats.dead, stats.failures) == (0, 1, 2)


def test_concurrent_writers_lose_nothing(db_url: str) -> None:
    """Two writers committing batches at once: every order there exactly once."""

    def work(i: int) -> None:
        s = open_store(db_url, migrate=False)
        for b in range(10):
            s.write([new(1000 * i + b * 20 + k, status=Status.LOCKED) for k in range(20)])
        s.close()

    open_store(db_url).close()
    assert at_once(work, 2) == []
    s = open_store(db_url, migrate=False)
    ids = s.order_ids()
    assert len(ids) == len(set(ids)) == 400
    assert s.versions().book == 20
    s.close()


def test_failures_are_storage_errors_naming_the_database(tmp_path: object) -> None:
    """An unreachable database is one StorageError that names it (password hidden)."""
    with pytest.raises(StorageError, match=r"postgresql://u:\*\*\*@127.0.0.1:1/x"):
        open_store("postgresql://u:secret@127.0.0.1:1/x")
    with pytest.raises(StorageError, match="nowhere"):
        open_store("sqlite:////nowhere/at/all.db")


def test_promise_history_scores_what_was_told(store: SqlStore) -> None:
    """The history the store keeps gives the scores computed by hand: a first window told
    at creation, one moved by an eta_changed, one told at lock (not the reserved quote),
    one told quietly (an import), and a delivered order never told a window."""

    write_history(store)
    j = score_history(*store.promise_history()).to_json()
    assert (j["orders_delivered"], j["orders_scored"]) == (4, 3)
    assert j["first_promise_sources"] == {MONTE_CARLO: 2, PLAN: 1}
    assert (j["coverage_p10_p90"], j["coverage_latest"]) == (round(1 / 3, 4), round(2 / 3, 4))
    assert j["mean_abs_error_days_first"] == round(14 / 3, 2)
    assert j["mean_abs_error_days_latest"] == round(7 / 3, 2)
    assert j["churn_per_order"] == round(1 / 3, 3)
    weeks = {r["weeks"]: r["promises"] for r in j["by_weeks_ahead"] if r["promises"]}
    assert weeks == {"0-3": 1, "4-7": 2, "8-12": 1}


def test_promise_history_counts_orders_not_delivered(store: SqlStore) -> None:
    """Beside the delivered story: o0005 locked on a borrowed window (odds 0.7) that
    closed 2-8, o0009 told a window closed 2-20, moved to one still open, then built:
    both late by now (3-10, the newest event); o0006 told a window still open; a
    cancelled and a reserved order are not read."""

    def day(m: int, d: int) -> dt.datetime:
        return dt.datetime(2026, m, d, 10, 0)

    def w(e: int, m: int, la: int, month: int, src: str, p: float | None = None) -> Window:
        dates = [dt.date(2026, month, x) for x in (e, m, la)]
        return Window(dates[0], dates[0], dates[2], 1, dates[1], src, p)

    write_history(store)
    near, open_ = w(1, 4, 8, 2, NEARBY, 0.7), w(20, 25, 31, 3, MONTE_CARLO, 0.9)
    h_first, h_now = w(10, 15, 20, 2, MONTE_CARLO), w(12, 16, 22, 3, MONTE_CARLO, 0.85)
    told = {
        "o0005": (day(1, 1), near, Status.LOCKED),
        "o0006": (day(2, 1), open_, Status.LOCKED),
        "o0007": (day(1, 1), near, Status.LOCKED),
        "o0008": (day(1, 1), near, Status.RESERVED),
        "o0009": (day(1, 5), h_first, Status.LOCKED),
    }
    store.write(
        [
            replace(new(int(o[1:]), status=s), created_at=t, window=win)
            for o, (t, win, s) in told.items()
        ]
    )
    store.record_promises(
        Promises.of([], [], [], [], []), [WindowChange("o0009", h_first, h_now)], day(2, 25)
    )
    locked = frozenset({Status.LOCKED})
    store.write(
        [
            Transition(
                "o0007", EventKind.CANCELLED, locked, "c", day(2, 1), status=Status.CANCELLED
            ),
            Transition("o0009", EventKind.BUILT, locked, "plant", day(3, 1), status=Status.BUILT),
        ]
    )
    events, windows, now = store.promise_history()
    assert now == day(3, 10)
    assert set(events["order_id"]) == {f"o000{i}" for i in (1, 2, 3, 4, 5, 6, 9)}
    got = {r[0]: r[1:] for r in windows.select("order_id", "status", "probability").rows()}
    assert got["o0005"] == ("locked", 0.7)
    assert got["o0009"] == ("built", 0.85)
    assert got["o0002"] == ("delivered", None)  # a Monte Carlo window stored before odds
    j = score_history(events, windows, now).to_json()
    assert (j["orders_delivered"], j["orders_scored"]) == (4, 5)
    assert (j["orders_censored"], j["orders_open"], j["as_of"]) == (2, 1, "2026-03-10")
    assert j["first_promise_sources"] == {MONTE_CARLO: 3, NEARBY: 1, PLAN: 1}
    assert j["coverage_p10_p90"] == 0.2
    assert j["stated_p10_p90"] == round((0.8 + 0.8 + 0.7 + 0.8) / 4, 4)
    assert j["mean_abs_error_days_first"] == round((9 + 0 + 5 + 34 + 23) / 5, 2)
    weeks = {r["weeks"]: (r["promises"], r["censored"]) for r in j["by_weeks_ahead"]}
    assert {k: v for k, v in weeks.items() if v[0]} == {  # by the likely day told
        "0-3": (1, 0),
        "4-7": (4, 2),
        "8-12": (1, 0),
    }
    told_in = [(r["promises"], r["censored"], r["open"]) for r in j["by_told_weeks"]]
    assert told_in == [(6, 2, 0), (0, 0, 2)]  # o0006's window and o0009's move: open


def test_windows_never_reach_orders_out_of_the_queue(store: SqlStore) -> None:
    """A plan read before an order was delivered (or cancelled) stores nothing for it
    after: its window stays as told, no eta_changed, no webhook delivery."""
    store.write([new(1, status=Status.LOCKED), new(2, status=Status.LOCKED), new(3)])
    told = dict(store.promises().items())
    done = frozenset({Status.LOCKED})
    store.write(
        [
            Transition("o0001", EventKind.DELIVERED, done, "p", NOW, status=Status.DELIVERED),
            cancel("o0003"),
        ]
    )
    w = Window(dt.date(2026, 5, 1), dt.date(2026, 5, 2), dt.date(2026, 5, 9), 1)
    moved = [WindowChange(o, told["o0002"], w) for o in ("o0001", "o0002", "o0003")]
    quiet = Promises.of(["o0001", "o0003"], [None] * 2, [w.earliest] * 2, [w.latest] * 2, [1, 1])
    store.record_promises(quiet, moved, NOW, webhooks=["http://a"])
    for oid in ("o0001", "o0003"):
        r = store.get(oid)
        assert r is not None
        assert r.window.earliest != w.earliest
        assert EventKind.ETA_CHANGED not in [e.kind for e in store.events(oid)]
    r2 = store.get("o0002")
    assert r2 is not None
    assert r2.window == w
    assert store.outbox_stats().pending == 1


def test_a_whole_batch_applies_all_or_nothing(store: SqlStore) -> None:
    """`whole`: one refused change (the order moved on meanwhile) and none is written."""
    store.write([new(1, status=Status.LOCKED), new(2, status=Status.LOCKED)])
    built = [
        Transition(
            f"o000{i}",
            EventKind.BUILT,
            frozenset({Status.LOCKED}),
            "plant",
            NOW,
            status=Status.BUILT,
            line="l1",
            build_date=NOW.date(),
            sailing_id=None,
        )
        for i in (1, 2)
    ]
    store.write([cancel("o0002")])  # not reserved: refused, o0002 stays locked
    store.write(built[1:])  # o0002 is built meanwhile
    with pytest.raises(ConflictError, match="nothing was written"):
        store.write(built, whole=True)
    rec = store.get("o0001")
    assert rec is not None
    assert rec.status == Status.LOCKED  # the first change was rolled back with the second
    store.write(built[:1], whole=True)
    rec = store.get("o0001")
    assert rec is not None
    assert (rec.status, rec.line, rec.build_date) == (Status.BUILT, "l1", NOW.date())


def test_history_is_in_the_snapshot_and_keeps_its_sailing(store: SqlStore) -> None:
    """A built order with its line and day (and sailing) is read for planning: it holds
    its slot; one the plant said nothing more of is not."""
    store.write([new(1, status=Status.LOCKED), new(2, status=Status.LOCKED)])
    store.write(
        [
            Transition(
                "o0001",
                EventKind.BUILT,
                frozenset({Status.LOCKED}),
                "plant",
                NOW,
                status=Status.BUILT,
                line="l1",
                build_date=NOW.date(),
                sailing_id="lane0:2025-02-01",
            ),
            Transition(
                "o0002",
                EventKind.DELIVERED,
                frozenset({Status.LOCKED}),
                "plant",
                NOW,
                status=Status.DELIVERED,
            ),
        ]
    )
    _, book = store.snapshot()
    got = book.table.select("order_id", "status", "line", "sailing_id").rows()
    assert got == [("o0001", "built", "l1", "lane0:2025-02-01")]


def test_integrity_counts_are_one_snapshot(
    store: SqlStore, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crash test reads these while the service still takes orders: read one by one,
    an order taken between two reads made them disagree (3,575 orders, 3,576 keys).
    Another writer takes an order after every read here: they still agree."""
    store.write([new(1)])
    other = open_store(db_url, migrate=False)
    taken = iter(range(2, 20))
    one = store._one

    def then_another_order(sql: str, params: Sequence[Any] = ()) -> Any:
        row = one(sql, params)
        other.write([new(next(taken))])
        return row

    monkeypatch.setattr(store, "_one", then_another_order)
    try:
        counts = store.integrity()
    finally:
        other.close()
    assert counts["orders"] == counts["idempotency_keys"] == counts["created_events"]
    assert counts["orphan_keys"] == 0
