"""Live Monte Carlo windows: after a re-plan settles, the process holding the planner
lease simulates the stored book in a separate process (at low CPU priority, so order
intake keeps its core), then stores each order's window, with an eta_changed event only
where the window really moved (core/window.changes), and the spread that gives new
orders a Monte Carlo window at intake."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from promiseline.core.records import Versions
from promiseline.core.simulate import simulate
from promiseline.core.window import Promises, Spread, changes, simulated_windows
from promiseline.io.scenario_file import scenario_from_yaml
from promiseline.store import open_store

log = logging.getLogger("promiseline.service")
RETRY_S = 30.0


@dataclass(frozen=True, slots=True)
class Forecast:
    """What one Monte Carlo run of the stored book gives."""

    versions: Versions
    windows: Any  # Promises.frame as Arrow IPC bytes (a cheap pickle)
    spread: str  # Spread JSON
    seconds: float
    futures: int


def run_forecast(db: str, futures: int, seed: int) -> Forecast:
    """In the forecast process: read one snapshot of the store, plan it and simulate it."""
    from promiseline.service.live import plan_snapshot

    with contextlib.suppress(OSError):
        os.nice(10)  # intake first: the windows may come a little later
    t0 = time.perf_counter()
    store = open_store(db, migrate=False)
    try:
        stored = store.scenario()
        if stored is None:
            raise RuntimeError(f"{store.name}: no scenario stored yet")
        scenario = scenario_from_yaml(stored.text, f"scenario stored in {store.name}")
        snap = plan_snapshot(store, scenario, stored.version)
    finally:
        store.close()
    sim = simulate(scenario, snap.plan, futures=futures, seed=seed)
    windows = simulated_windows(sim)
    spread = Spread.of(windows, snap.plan)
    return Forecast(
        snap.versions,
        windows.frame.write_ipc(None).getvalue(),
        json.dumps(spread.to_json()),
        time.perf_counter() - t0,
        futures,
    )


class Forecaster:
    """Runs one Monte Carlo at a time, again when the book moved meanwhile."""

    def __init__(self, live: Any, futures: int, seed: int = 0) -> None:
        self.live = live
        self.futures = futures
        self.seed = seed
        self.runs = 0
        self.failures = 0
        self.last_seconds: float | None = None
        self.last_versions: Versions | None = None
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._retry_at = 0.0

    def due(self) -> None:
        """A re-plan settled: simulate unless a run is under way (it re-checks at its end)
        or the last one failed less than RETRY_S ago."""
        idle = self._task is None or self._task.done()
        if self.futures and idle and time.monotonic() >= self._retry_at:
            self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def _loop(self) -> None:
        while self.live.now.versions != self.last_versions:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # keep the last windows; try again a little later
                self.failures += 1
                self.last_error = str(e)
                self._retry_at = time.monotonic() + RETRY_S
                if isinstance(e, BrokenProcessPool) and self._pool is not None:
                    self._pool.shutdown(wait=False)
                    self._pool = None  # a new process next time
                log.warning("Monte Carlo windows failed (retry in %.0f s): %s", RETRY_S, e)
                return

    async def run_once(self) -> Forecast:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        loop = asyncio.get_running_loop()
        db = self.live.settings.db
        f: Forecast = await loop.run_in_executor(
            self._pool, run_forecast, db, self.futures, self.seed
        )
        await asyncio.to_thread(self._store, f)
        self.runs += 1
        self.last_seconds = f.seconds
        self.last_versions = f.versions
        return f

    def _store(self, f: Forecast) -> None:
        import polars as pl

        windows = Promises(pl.read_ipc(f.windows))
        store = self.live.store
        quiet, moved = changes(windows, store.promises())
        store.record_promises(quiet, moved, self.live.clock(), self.live.settings.webhooks)
        store.put_spread(f.spread)
        self.live.use_spread(Spread.from_json(json.loads(f.spread)), f.versions)
        self.live.eta_changes += len(moved)
