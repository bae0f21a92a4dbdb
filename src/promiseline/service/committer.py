"""Group commit: concurrent writes share one transaction and one fsync.

Request handlers hand their write to `submit` and await it; a writer thread takes
everything queued so far (up to `max_batch`), writes it in one transaction and then
answers every waiter. A request is answered only after its commit: an acknowledged
order survives a crash, and throughput does not hinge on one fsync per order. When a
batch fails, each write is tried alone so one bad item fails alone; when the database
itself fails (disk full, gone), every waiter gets the StorageError and `failing` says
so until a write succeeds again.
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from promiseline.core.model.records import Created, Transitioned
from promiseline.errors import StorageError
from promiseline.store.sql import Item

Writer = Callable[[Sequence[Item]], list[Created | Transitioned]]
_STOP = object()


class GroupCommitter:
    """One writer thread per process; `submit` from the event loop."""

    def __init__(self, write: Writer, max_batch: int = 2000) -> None:
        self._write = write
        self._max = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.failing: str | None = None  # the last storage error, until a write succeeds

    def start(self) -> None:
        # The writer releases the GIL at every SQLite step and fsync; with the default
        # 5 ms switch interval each re-acquisition can wait behind the event loop.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.0002))
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout=30)
            self._thread = None

    async def submit(self, item: Item) -> Created | Transitioned:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Created | Transitioned] = loop.create_future()
        self._queue.put((item, fut, loop))
        return await fut

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[Any]) -> None:
        items = [b[0] for b in batch]
        try:
            results: list[Any] = self._write(items)
            self.failing = None
        except Exception:
            results = []
            for item in items:  # find the one that failed; the rest still commit
                try:
                    results.extend(self._write([item]))
                    self.failing = None
                except StorageError as e:
                    self.failing = str(e)
                    results.append(e)
                except Exception as e:
                    results.append(e)
        self.batches += 1
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any]]] = {}
        for (_, fut, loop), res in zip(batch, results, strict=True):
            by_loop.setdefault(loop, []).append((fut, res))
        for loop, pairs in by_loop.items():
            loop.call_soon_threadsafe(_resolve, pairs)


def _resolve(pairs: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for fut, res in pairs:
        if fut.done():
            continue
        if isinstance(res, Exception):
            fut.set_exception(res)
        else:
            fut.set_result(res)
