"""Where the service's work runs, by kind, so that no kind fills what another needs.

- `quick`: the request path's database and key work (reads of one order, sign-in, a page
  of orders), on its own bounded thread pool: long work never waits in front of it.
- `heavy`: downloads, on a pool of their own, at most `downloads` at once in a process
  and `downloads_per_caller` for one signed-in key (429 beyond, with Retry-After); a
  download whose client leaves stops reading at its next slice of rows.
- Jobs (what-ifs, sizing) run in processes of their own (service/jobs.py), limited in
  number, time and memory.
- The live plan, the plant and the forecast keep the default executor: background work
  that no caller waits on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from functools import partial
from typing import Any, TypeVar

from promiseline.errors import PromiselineError, TooManyRequestsError, counted

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WorkLimits:
    """How much of each kind of work a worker process takes on (environment names in
    `ENV`)."""

    request_threads: int = 8
    downloads: int = 2
    downloads_per_caller: int = 1
    jobs: int = 1
    jobs_per_caller: int = 1
    job_seconds: int = 1800
    job_memory_mb: int = 4096
    jobs_kept: int = 20
    jobs_kept_mb: int = 256

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or not 1 <= value <= 1_000_000:
                raise PromiselineError(
                    f"{ENV[f.name]}: a whole number from 1 to 1,000,000, got {value!r}"
                )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WorkLimits:
        values: dict[str, Any] = {}
        for name, var in ENV.items():
            text = env.get(var)
            if text:
                try:
                    values[name] = int(text)
                except ValueError:
                    raise PromiselineError(
                        f"{var}: expected a whole number, got {text!r}"
                    ) from None
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        return {var: str(getattr(self, name)) for name, var in ENV.items()}


ENV = {
    "request_threads": "PROMISELINE_REQUEST_THREADS",
    "downloads": "PROMISELINE_DOWNLOADS",
    "downloads_per_caller": "PROMISELINE_DOWNLOADS_PER_CALLER",
    "jobs": "PROMISELINE_JOBS",
    "jobs_per_caller": "PROMISELINE_JOBS_PER_CALLER",
    "job_seconds": "PROMISELINE_JOB_SECONDS",
    "job_memory_mb": "PROMISELINE_JOB_MEMORY_MB",
    "jobs_kept": "PROMISELINE_JOBS_KEPT",
    "jobs_kept_mb": "PROMISELINE_JOBS_KEPT_MB",
}


class Slots:
    """At most `total` holders at once, and `per_caller` for one caller; used on the event
    loop only. A slot is given back when the work it stands for has really ended (a
    thread that runs on after its request left still holds it)."""

    def __init__(self, total: int, per_caller: int, what: tuple[str, str]) -> None:
        self.total, self.per_caller, self.what = total, per_caller, what
        self._held: dict[str, int] = {}

    @property
    def used(self) -> int:
        return sum(self._held.values())

    def take(self, caller: str) -> None:
        """One slot for `caller` (TooManyRequestsError, a 429, when none is free)."""
        if self._held.get(caller, 0) >= self.per_caller:
            raise TooManyRequestsError(
                f"you already have {counted(self.per_caller, *self.what)} running; wait for "
                f"{'it' if self.per_caller == 1 else 'one'} to finish"
            )
        if self.used >= self.total:
            raise TooManyRequestsError(
                f"{counted(self.total, *self.what)} {'is' if self.total == 1 else 'are'} "
                "running in this worker, the most it "
                "takes at once; try again in a moment"
            )
        self._held[caller] = self._held.get(caller, 0) + 1

    def give_back(self, caller: str) -> None:
        left = self._held.get(caller, 0) - 1
        if left > 0:
            self._held[caller] = left
        else:
            self._held.pop(caller, None)


class Pools:
    """The request path's pool and the downloads' pool of one worker process."""

    def __init__(self, limits: WorkLimits) -> None:
        self.limits = limits
        self.quick = ThreadPoolExecutor(limits.request_threads, thread_name_prefix="request")
        self.heavy = ThreadPoolExecutor(limits.downloads, thread_name_prefix="download")
        self.downloads = Slots(
            limits.downloads, limits.downloads_per_caller, ("download", "downloads")
        )

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on the request path's pool."""
        return await asyncio.get_running_loop().run_in_executor(self.quick, partial(fn, *args))

    async def download(self, caller: str, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on the downloads' pool, holding one of the caller's download slots
        until the thread ends (429 when none is free)."""
        self.downloads.take(caller)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.heavy, partial(fn, *args))
        future.add_done_callback(lambda _: self.downloads.give_back(caller))
        return await asyncio.shield(future)

    def close(self) -> None:
        self.quick.shutdown(wait=False, cancel_futures=True)
        self.heavy.shutdown(wait=False, cancel_futures=True)
