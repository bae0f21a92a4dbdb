"""Live Monte Carlo windows of the demo book while orders keep coming.

    python benchmarks/forecast_bench.py [--futures 200] [--orders 20000]

Loads the demo book (524k orders) into SQLite, starts `promiseline serve`, and times the
planner-lease holder's first Monte Carlo (its own process, at low CPU priority) while a
surge of new orders runs through the same service on the same 2 cores. Prints the
simulation's wall time (target: under 60 s for 200 futures) and the intake's latency
during it (target: p99 under 100 ms), then checks that every order got a Monte Carlo
window.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import threading
import time
from importlib import resources
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from intake_bench import promiseline, row, server
from plan_bench import cpu_model
from promiseline.api import load_orders
from promiseline.demo import demo_orders, demo_scenario
from promiseline.loadtest import run_surge
from promiseline.store import open_store

ADMIN = "forecast-bench-admin-key-0123456789"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--futures", type=int, default=200)
    ap.add_argument("--orders", type=int, default=20_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="promiseline-forecast-"))
    db = f"sqlite:///{tmp / 'orders.db'}"
    store = open_store(db)
    text = resources.files("promiseline.data").joinpath("beijing-ev.yaml").read_text("utf-8")
    store.put_scenario(text)
    book = load_orders(demo_orders(), demo_scenario())
    store.import_orders(book, dt.datetime(2025, 6, 25))
    store.close()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; {len(book):,} orders stored")
    env = {"PROMISELINE_ADMIN_KEY": ADMIN, "PROMISELINE_FUTURES": str(args.futures)}
    headers = {"X-API-Key": ADMIN}
    with server(promiseline(db), env) as url:
        t0 = time.perf_counter()
        surge: dict[str, object] = {}
        thread = threading.Thread(
            target=lambda: surge.update(r=run_surge(url, args.orders, 64)), daemon=True
        )
        thread.start()
        while True:
            mc = httpx.get(url + "/v1/plan", headers=headers, timeout=30).json()["monte_carlo"]
            if mc["runs"] >= 1:
                break
            if mc["failures"]:
                raise SystemExit(f"Monte Carlo failed: {mc}")
            time.sleep(1)
        wall = time.perf_counter() - t0
        thread.join()
        r = surge["r"]
        print(
            f"first Monte Carlo: {args.futures} futures of {len(book):,} orders in "
            f"{mc['seconds']:.1f} s in its process ({wall:.1f} s after the service was up)"
        )
        print("| intake during it | orders/s | p50 ms | p95 ms | p99 ms | errors |")
        print(row("promiseline, SQLite, Monte Carlo running", r))  # type: ignore[arg-type]
    store = open_store(db)
    p = store.promises().frame
    mc_share = (p["source"] == "monte-carlo").mean()
    print(f"windows from the Monte Carlo: {mc_share:.1%} of {p.height:,} queued orders")


if __name__ == "__main__":
    main()
