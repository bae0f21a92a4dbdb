"""`promiseline backtest --db`: the scores of a deployment's own history, read from the store.

    python benchmarks/history_bench.py [--skip-pg]

A database as a year of service leaves it: the demo's 524,247 orders imported, each told
its plan window, a third of them moved once (an eta_changed each), then all delivered
(a `delivered` event each, a few days either side of the likely date). Timed: reading
the history and scoring it (`api.backtest_history`), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promiseline import api  # noqa: E402
from promiseline.core.futures.promises import Promises, changes, plan_windows  # noqa: E402
from promiseline.core.model.orders import validate_orders  # noqa: E402
from promiseline.core.model.window import Window, WindowChange  # noqa: E402
from promiseline.demo import demo_orders, demo_scenario  # noqa: E402
from promiseline.service.snapshot import plan_snapshot  # noqa: E402
from promiseline.store import SqlStore, open_store  # noqa: E402
from promiseline.store.postgres import temporary_database  # noqa: E402

PG_ADMIN = os.environ.get("PROMISELINE_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
TOLD = dt.datetime(2025, 1, 2, 9)


def a_year_of_service(store: SqlStore) -> int:
    """Import, tell, move a third, deliver all; the number of eta_changed events."""
    s = demo_scenario()
    store.import_orders(validate_orders(demo_orders(), s), dt.datetime(2025, 1, 1))
    windows = plan_windows(plan_snapshot(store, s, 1).plan)
    first, _ = changes(windows, store.promises())
    store.record_promises(first, [], TOLD)
    told = dict(first.items())
    moved = [
        WindowChange(
            oid,
            w,
            Window(
                w.build_date,
                w.earliest + dt.timedelta(days=10),
                w.latest + dt.timedelta(days=10),
                w.queue_position,
            ),
        )
        for oid, w in list(told.items())[::3]
        if w.earliest is not None and w.latest is not None
    ]
    none = Promises.of([], [], [], [], [])
    store.record_promises(none, moved, TOLD + dt.timedelta(days=30))
    rng = np.random.default_rng(0)
    last = told | {c.order_id: c.after for c in moved}
    deliveries = [
        (
            oid,
            "delivered",
            store.ts(dt.datetime.combine(w.earliest, dt.time(14)) + dt.timedelta(days=int(k))),
            "plant",
            json.dumps({"status": "delivered"}),
        )
        for (oid, w), k in zip(last.items(), rng.integers(-3, 8, len(last)), strict=True)
        if w.earliest is not None
    ]
    with store.transaction() as cur:
        cur.executemany(
            store.q("INSERT INTO events (order_id, kind, at, actor, data) VALUES (?,?,?,?,?)"),
            deliveries,
        )
        cur.execute(
            "UPDATE orders SET status = 'delivered' WHERE status IN ('locked', 'scheduled')"
        )
    return len(moved)


def run(name: str, store: SqlStore, url: str) -> None:
    t = time.perf_counter()
    moved = a_year_of_service(store)
    print(
        f"{name}: set up in {time.perf_counter() - t:.1f} s ({moved:,} windows moved)", flush=True
    )
    t = time.perf_counter()
    j = api.backtest_history(url).to_json()
    took = time.perf_counter() - t
    print(
        f"  backtest --db: {j['orders_scored']:,} delivered orders scored in {took:.2f} s; "
        f"first windows hold {j['coverage_p10_p90']:.0%}, churn {j['churn_per_order']}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-pg", action="store_true")
    args = ap.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/history.db"
        store = open_store(url)
        run("SQLite", store, url)
        store.close()
    if not args.skip_pg:
        with temporary_database(PG_ADMIN, "promiseline_bench") as url:
            store = open_store(url)
            run("PostgreSQL", store, url)
            store.close()


if __name__ == "__main__":
    main()
