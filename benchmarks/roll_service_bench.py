"""Order intake while the live plan rolls: progress from the plant keeps moving orders to
history, and each batch of it re-plans the whole book as of now.

    python benchmarks/roll_service_bench.py [--to 2026-01-15] [--rate 500] [--seconds 60]

Imports the demo book as it stands on `--to` (`promiseline import demo --as-of`: history
built and delivered along the plan, the frozen days scheduled, the rest locked), serves
it as of 09:00 that day, and runs a paced load of new orders while a second client
reports `built` for the orders scheduled that day, a few a second (each report is a
change: the service re-plans the whole book, debounced). Prints intake latency with and
without the progress (target: p99 under 100 ms while it rolls), how many re-plans ran
under load, and checks every report was recorded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from forecast_bench import paced
from intake_bench import promiseline, row, server
from plan_bench import cpu_model
from promiseline.core.model.lifecycle import Status
from promiseline.core.model.records import OrderFilter
from promiseline.loadtest import SurgeResult
from promiseline.store import open_store

ADMIN = "roll-bench-admin-key-0123456789abcdef"


def rolled_store(path: Path, to: dt.date) -> str:
    db = f"sqlite:///{path}"
    cli = [sys.executable, "-m", "promiseline.cli"]
    subprocess.run([*cli, "import", "demo", "--db", db, "--as-of", str(to)], check=True)
    return db


def scheduled_on(db: str, day: dt.date) -> list[str]:
    """Orders the rolled book schedules on `day` (the plant reports them built)."""
    store = open_store(db)
    try:
        ids, after = [], None
        while True:
            page = store.list_orders(OrderFilter(Status.SCHEDULED, None, None, None), after, 5000)
            ids += [r.order_id for r in page.orders if r.build_date == day]
            if page.next_after is None:
                return ids
            after = page.next_after
    finally:
        store.close()


def metric(url: str, name: str) -> float:
    text = httpx.get(url + "/metrics", headers={"X-API-Key": ADMIN}, timeout=30).text
    heads = (f"promiseline_{name} ", f"promiseline_{name}_total ")  # counters end in _total
    line = next(x for x in text.splitlines() if x.startswith(heads))
    return float(line.split()[1])


def report_built(url: str, ids: list[str], per_s: float, stop: threading.Event) -> int:
    """Post `built` for each id, `per_s` a second, until done or stopped; how many."""
    h = {"X-API-Key": ADMIN}
    done = 0
    with httpx.Client(base_url=url, headers=h, timeout=30) as c:
        for oid in ids:
            if stop.is_set():
                break
            r = c.post(f"/v1/orders/{oid}/progress", json={"status": "built"})
            assert r.status_code == 200, r.text
            done += 1
            time.sleep(1 / per_s)
    return done


def run(db: str, at: dt.datetime, rate: int, seconds: int, ids: list[str], per_s: float) -> str:
    env = {"PROMISELINE_ADMIN_KEY": ADMIN, "PROMISELINE_FUTURES": "0"}
    with server([*promiseline(db), "--as-of", at.isoformat()], env) as url:
        before = metric(url, "replans")
        out: dict[str, SurgeResult | int] = {}
        stop = threading.Event()
        plant = threading.Thread(
            target=lambda: out.update(n=report_built(url, ids, per_s, stop)), daemon=True
        )
        if ids:
            plant.start()
        out["r"] = paced(url, rate, seconds)
        stop.set()
        if ids:
            plant.join()
        replans = metric(url, "replans") - before
        failures = metric(url, "replan_failures")
    r = out["r"]
    assert isinstance(r, SurgeResult)
    reported = out.get("n", 0)
    note = f"{replans:.0f} re-plans under load, {failures:.0f} failed; {reported} built reported"
    return row("with the plant reporting" if ids else "no progress", r, note)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--to", type=dt.date.fromisoformat, default=dt.date(2026, 1, 15))
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--per-s", type=float, default=4.0, help="built reports a second")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="promiseline-roll-"))
    db = rolled_store(tmp / "rolled.db", args.to)
    ids = scheduled_on(db, args.to)
    at = dt.datetime.combine(args.to, dt.time(9))
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores; demo book as of {at}; "
        f"{len(ids):,} orders scheduled that day; {args.rate} new orders/s for "
        f"{args.seconds} s, paced"
    )
    print("| run | orders/s | p50 ms | p95 ms | p99 ms | errors | note |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    shutil.copy(tmp / "rolled.db", tmp / "quiet.db")  # both runs start from the same book
    quiet = f"sqlite:///{tmp / 'quiet.db'}"
    print(run(quiet, at, args.rate, args.seconds, [], args.per_s), flush=True)
    print(run(db, at, args.rate, args.seconds, ids, args.per_s), flush=True)
    store = open_store(db)
    built = sum(1 for i in ids if (r := store.get(i)) is not None and r.status == Status.BUILT)
    store.close()
    print(f"orders of {args.to} recorded built: {built:,} of {len(ids):,}")


if __name__ == "__main__":
    main()
