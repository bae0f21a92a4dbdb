"""Live Monte Carlo windows: after a re-plan settles, the process holding the planner
lease simulates the stored book in a separate process (at low CPU priority, so order
intake keeps its core), then stores each order's window, with an eta_changed event only
where the window really moved (core/futures/promises.changes), and the spread that gives new
orders a Monte Carlo window at intake."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Protocol

import polars as pl

from promiseline.core.futures.history import History, score_history
from promiseline.core.futures.promises import (
    Promises,
    QueueSpread,
    recalibrated,
    simulated_windows,
)
from promiseline.core.futures.recalibrate import Margins
from promiseline.core.futures.simulate import simulate
from promiseline.core.model.records import Versions
from promiseline.distributed import process_runner
from promiseline.io.scenario_file import from_stored
from promiseline.service.background import cancel, side_process
from promiseline.service.settings import Settings
from promiseline.service.snapshot import Snapshot, plan_snapshot, store_windows
from promiseline.store import SqlStore, open_store

log = logging.getLogger("promiseline.service")
RETRY_S = 30.0


@dataclass(frozen=True, slots=True)
class Forecast:
    """What one Monte Carlo run of the stored book gives."""

    versions: Versions
    windows: bytes  # Promises.frame as Arrow IPC (a cheap pickle)
    spread: str  # QueueSpread JSON, with the margins told windows were recalibrated by
    bands: str  # the backlog's P10/P50/P90 per day (JSON columns), for the dashboard
    seconds: float
    futures: int


def run_forecast(
    db: str, futures: int, seed: int, moment: dt.datetime | None, processes: int = 1
) -> Forecast:
    """In the forecast process: read one snapshot of the store, plan it as of the live
    plan's moment and simulate it (its futures in `processes` processes: this one and
    helpers it keeps); the windows are told recalibrated by the outcomes of those told
    before (`History.margins`: how the model's windows fared, per weeks ahead), and the
    margins go with the spread, for the windows of orders taken next."""
    t0 = time.perf_counter()
    store = open_store(db, migrate=False)
    try:
        stored = store.scenario()
        if stored is None:
            raise RuntimeError(f"{store.name}: no scenario stored yet")
        scenario = from_stored(stored, store.name)
        snap = plan_snapshot(store, scenario, stored.version, moment)
        history = _history(store, snap.scenario.now, moment)
    finally:
        store.close()
    sim = simulate(
        snap.scenario,
        snap.plan,
        futures=futures,
        seed=seed,
        runner=process_runner(processes),
        chunks=processes,
    )
    margins = history.margins(sim=sim)
    windows = recalibrated(simulated_windows(sim), margins, snap.scenario.now)
    spread = QueueSpread.of(sim)
    bands = sim.bands().select("date", "backlog_p10", "backlog_p50", "backlog_p90")
    return Forecast(
        snap.versions,
        windows.frame.write_ipc(None).getvalue(),
        json.dumps(spread.to_json() | {"margins": margins.to_json()}),
        bands.write_json(),
        time.perf_counter() - t0,
        futures,
    )


_learned: dict[tuple[str, dt.date], History] = {}  # the forecast process's, of one day


def _history(store: SqlStore, day: dt.date, moment: dt.datetime | None) -> History:
    """The promise history windows told on `day` are recalibrated by, read once a day:
    it counts only outcomes known before the day (a window closed by then, a delivery
    before it), and reading every order's promise events is seconds on a big book (4.4 s
    on the demo's 533k). The margins are learned from it on each run: the windows closed
    and still undelivered count by that run's forecast of them."""
    key = (store.name, day)
    if key not in _learned:
        events, told, newest = store.promise_history()
        _learned.clear()
        _learned[key] = score_history(events, told, moment or newest, store.name)
    return _learned[key]


def store_forecast(
    db: str,
    windows: bytes,
    spread: str,
    bands: str,
    at: dt.datetime,
    webhooks: tuple[str, ...],
) -> int:
    """In the forecast process too: store the windows against those told, and the
    spread. Half a million windows are a few seconds of Python; here they take none of
    the service's interpreter, which answers orders meanwhile. Returns how many moved."""
    store = open_store(db, migrate=False)
    try:
        moved = store_windows(store, Promises(pl.read_ipc(windows)), at, webhooks)
        store.put_spread(spread, bands)
    finally:
        store.close()
    return moved


def _as_datetime(moment: dt.datetime | dt.date | None) -> dt.datetime | None:
    if moment is None or isinstance(moment, dt.datetime):
        return moment
    return dt.datetime.combine(moment, dt.time())


class Live(Protocol):
    """What the forecaster reads and sets on the live plan (service/live.LivePlan): its
    plan's versions, the settings, the one-writer lock on windows, the clock, and the
    count of moved windows and the spread it adds to."""

    @property
    def now(self) -> Snapshot: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def recording(self) -> threading.Lock: ...
    def plant_clock(self) -> dt.datetime: ...

    eta_changes: int
    spread: QueueSpread | None
    margins: Margins | None


class Forecaster:
    """Runs one Monte Carlo at a time, again when the book moved meanwhile."""

    def __init__(self, live: Live, futures: int, seed: int = 0, processes: int = 1) -> None:
        self.live = live
        self.futures = futures
        self.seed = seed
        self.processes = processes
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
        """Stop now: a simulation under way is killed, not waited for (the next leader
        simulates the book again)."""
        await cancel([self._task])
        if self._pool is not None:
            for proc in list(getattr(self._pool, "_processes", {}).values()):
                proc.terminate()
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
            self._pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=side_process,
                initargs=(os.getpid(),),
            )
        loop = asyncio.get_running_loop()
        db = self.live.settings.db
        moment = _as_datetime(self.live.now.scenario.as_of)
        f: Forecast = await loop.run_in_executor(
            self._pool, run_forecast, db, self.futures, self.seed, moment, self.processes
        )
        await asyncio.to_thread(self._store, f)
        self.runs += 1
        self.last_seconds = f.seconds
        self.last_versions = f.versions
        return f

    def _store(self, f: Forecast) -> None:
        """Have the forecast process store what it found, as the one writer of windows."""
        assert self._pool is not None
        live = self.live
        with live.recording:
            job = self._pool.submit(
                store_forecast,
                live.settings.db,
                f.windows,
                f.spread,
                f.bands,
                live.plant_clock(),
                live.settings.webhooks,
            )
            live.eta_changes += job.result()
        stored = json.loads(f.spread)
        live.spread = QueueSpread.from_json(stored)
        live.margins = Margins.from_json(stored["margins"])
