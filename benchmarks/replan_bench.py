"""A full re-plan of the live book, as each service worker does it when the stored
versions move: read the book with its version, validate, plan; then (the lease holder)
compare every window with the one promised and store what moved.

    python benchmarks/replan_bench.py [--skip-pg]

On the demo's 524,247 orders, imported first. The first comparison after an import
stores every order's first promise quietly; later ones find nothing moved.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promiseline.core.futures.promises import changes, plan_windows  # noqa: E402
from promiseline.core.model.orders import validate_orders  # noqa: E402
from promiseline.demo import demo_orders, demo_scenario  # noqa: E402
from promiseline.service.snapshot import plan_snapshot  # noqa: E402
from promiseline.store import SqlStore, open_store  # noqa: E402
from promiseline.store.postgres import temporary_database  # noqa: E402

PG_ADMIN = os.environ.get("PROMISELINE_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def timed(what: str, fn, *args):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn(*args)
    print(f"  {what}: {time.perf_counter() - t:.2f} s", flush=True)
    return out


def run(name: str, store: SqlStore) -> None:
    print(f"{name}:", flush=True)
    s = demo_scenario()
    book = validate_orders(demo_orders(), s)
    timed(f"import {len(book):,} orders", store.import_orders, book, dt.datetime(2025, 1, 1))
    timed("read the book and its version", store.snapshot)
    for round_ in ("first", "second"):
        snap = timed(f"{round_} re-plan: read, validate, plan", plan_snapshot, store, s, 1)
        promised = timed(f"{round_} re-plan: read promised windows", store.promises)
        first, moved = timed(
            f"{round_} re-plan: compare windows", changes, plan_windows(snap.plan), promised
        )
        timed(
            f"{round_} re-plan: store {len(first):,} first promises, {len(moved):,} moved",
            store.record_promises,
            first,
            moved,
            dt.datetime(2025, 1, 2),
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-pg", action="store_true")
    args = ap.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/replan.db")
        run("SQLite", store)
        store.close()
    if not args.skip_pg:
        with temporary_database(PG_ADMIN, "promiseline_bench") as url:
            store = open_store(url)
            run("PostgreSQL", store)
            store.close()


if __name__ == "__main__":
    main()
