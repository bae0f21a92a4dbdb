"""Long work a planner starts from a page (a what-if, a capacity sizing): run in a thread
beside the service, one at a time per worker, with the step it is on, kept for a while
so the page can show it. A job lives in the worker that started it."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from promiseline.errors import PromiselineError, TooManyRequestsError

Say = Callable[[str], None]
KEEP = 20  # finished jobs kept for their pages


@dataclass
class Job:
    job_id: str
    title: str
    kind: str
    step: str = "waiting to start"
    started: float = field(default_factory=time.time)
    finished: float | None = None
    result: Any = None
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.finished is None

    def seconds(self) -> float:
        return (self.finished or time.time()) - self.started


class Jobs:
    """At most `limit` jobs at once; the last few kept."""

    def __init__(self, limit: int = 1) -> None:
        self.limit = limit
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, kind: str, title: str, work: Callable[[Say], Any]) -> Job:
        """Start `work(say)` in a thread (TooManyRequestsError while `limit` run)."""
        if sum(j.running for j in self._jobs.values()) >= self.limit:
            raise TooManyRequestsError(
                "another what-if or sizing is running in this worker; wait for it to finish"
            )
        job = Job(secrets.token_urlsafe(9), title, kind)
        self._jobs[job.job_id] = job
        while len(self._jobs) > KEEP:
            oldest = next(iter(self._jobs.values()))
            if oldest.running:
                break
            self._jobs.popitem(last=False)

        def say(step: str) -> None:
            job.step = step

        async def run() -> None:
            try:
                job.result = await asyncio.to_thread(work, say)
                job.step = "done"
            except PromiselineError as e:
                job.error, job.step = str(e), "failed"
            except Exception as e:  # shown on the page; the service goes on
                job.error, job.step = f"{type(e).__name__}: {e}", "failed"
            finally:
                job.finished = time.time()

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
