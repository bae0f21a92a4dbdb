"""Background tasks of the service: stopping them the one way."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Iterable


async def cancel(tasks: Iterable[asyncio.Task[None] | None]) -> None:
    """Cancel these tasks and wait until each has stopped."""
    running = [t for t in tasks if t is not None]
    for t in running:
        t.cancel()
    for t in running:
        with contextlib.suppress(asyncio.CancelledError):
            await t


def side_process(parent: int) -> None:
    """Set up a process working beside the service (the forecast, a job): it yields the
    CPU to the service (answers to customers may not wait), and it ends with the service.
    A service killed outright (kill -9) leaves it no message, so it watches for its
    parent to go (the parent's pid is passed in: asked for here, it may already be
    gone)."""
    with contextlib.suppress(OSError):
        os.nice(10)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
