"""Live Monte Carlo windows of the demo book while orders keep coming.

    python benchmarks/forecast_bench.py [--futures 200] [--rate 500] [--seconds 75]

Loads the demo book (524k orders) into SQLite and serves it twice under the same paced
load of new orders (`--rate` a second for `--seconds`, longer than a simulation): once
with the live Monte Carlo off (futures 0: re-plans only) and once on. Prints the
planner-lease holder's first simulation time (target: under 60 s for 200 futures, on 2
cores, in its own low-priority process) and the intake latency of both runs (target:
p99 under 100 ms while the simulation runs), then checks that every queued order got a
Monte Carlo window.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import shutil
import sys
import tempfile
import threading
from importlib import resources
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from intake_bench import promiseline, row, server
from plan_bench import cpu_model
from promiseline.api import load_orders
from promiseline.demo import demo_orders, demo_scenario
from promiseline.loadtest import SurgeResult, run_surge
from promiseline.store import open_store

ADMIN = "forecast-bench-admin-key-0123456789"
DELAY_MS = 50  # each connection waits this long between orders


def demo_store(path: Path) -> str:
    db = f"sqlite:///{path}"
    store = open_store(db)
    text = resources.files("promiseline.data").joinpath("beijing-ev.yaml").read_text("utf-8")
    store.put_scenario(text)
    store.import_orders(load_orders(demo_orders(), demo_scenario()), dt.datetime(2025, 6, 25))
    store.close()
    return db


def paced(url: str, rate: int, seconds: int) -> SurgeResult:
    conns = max(2, math.ceil(rate * (DELAY_MS + 5) / 1000))
    return run_surge(url, rate * seconds, conns, delay_ms=DELAY_MS)


def serve_under_load(db: str, futures: int, rate: int, seconds: int) -> tuple[SurgeResult, dict]:
    env = {"PROMISELINE_ADMIN_KEY": ADMIN, "PROMISELINE_FUTURES": str(futures)}
    with server(promiseline(db), env) as url:
        out: dict[str, SurgeResult] = {}
        load = threading.Thread(target=lambda: out.update(r=paced(url, rate, seconds)))
        load.start()
        load.join()
        mc = httpx.get(url + "/v1/plan", headers={"X-API-Key": ADMIN}, timeout=30).json()
    return out["r"], mc["monte_carlo"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--futures", type=int, default=200)
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--seconds", type=int, default=75)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="promiseline-forecast-"))
    base = demo_store(tmp / "base.db")
    shutil.copy(tmp / "base.db", tmp / "mc.db")
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores; demo book of 524,247 orders; "
        f"{args.rate} new orders/s for {args.seconds} s, paced"
    )
    print("| run | orders/s | p50 ms | p95 ms | p99 ms | errors | note |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    r, _ = serve_under_load(base, 0, args.rate, args.seconds)
    print(row("Monte Carlo off (re-plans only)", r), flush=True)
    r, mc = serve_under_load(f"sqlite:///{tmp / 'mc.db'}", args.futures, args.rate, args.seconds)
    note = (
        f"{mc['runs']} simulation(s) of the whole book, the last in {mc['seconds']:.1f} s"
        if mc["runs"]
        else "no simulation finished"
    )
    print(row(f"Monte Carlo on, {args.futures} futures", r, note), flush=True)
    store = open_store(f"sqlite:///{tmp / 'mc.db'}")
    p = store.promises().frame
    store.close()
    share = (p["source"] == "monte-carlo").mean()
    print(f"windows from the Monte Carlo: {share:.1%} of {p.height:,} queued orders")


if __name__ == "__main__":
    main()
