"""Long work a planner starts from a page (a what-if, a capacity sizing): each in a
process of its own beside the service, so that it can be held to a time and a memory
limit and stopped (cancelled, or over a limit) without touching the service. At most
`jobs` run at once in a worker, `jobs_per_caller` for one planner (service/pools.py).
A job shows the step it is on; a finished one keeps only its answer's tables, and the
last few are kept, bounded in count and in bytes. A job lives in the worker that
started it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import multiprocessing
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import polars as pl
import psutil

from promiseline.errors import PromiselineError, StoppedError
from promiseline.service.background import side_process
from promiseline.service.pools import ENV, Slots, WorkLimits

Say = Callable[[str], None]
Work = Callable[[Say], "Answer"]  # picklable: a partial of a top-level function
POLL_S = 0.2  # how often a job's process is asked for news and measured


@dataclass(frozen=True, slots=True)
class Answer:
    """What a finished job keeps: its tables, the day its plans are made as of, and what
    its page says beside them."""

    tables: dict[str, pl.DataFrame]
    as_of: dt.date | None
    note: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def nbytes(self) -> int:
        return sum(int(t.estimated_size()) for t in self.tables.values())


@dataclass
class Job:
    job_id: str
    title: str
    kind: str
    caller: str = ""
    step: str = "waiting to start"
    started: float = field(default_factory=time.time)
    finished: float | None = None
    result: Answer | None = None
    error: str | None = None
    peak_mb: float = 0.0
    cancelled: bool = False

    @property
    def running(self) -> bool:
        return self.finished is None

    def seconds(self) -> float:
        return (self.finished or time.time()) - self.started


class Jobs:
    """The jobs of one worker process."""

    def __init__(self, limits: WorkLimits | None = None) -> None:
        self.limits = limits or WorkLimits()
        self.slots = Slots(
            self.limits.jobs,
            self.limits.jobs_per_caller,
            ("what-if or sizing", "what-ifs or sizings"),
        )
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def check_free(self, caller: str) -> None:
        """TooManyRequestsError (429) unless `caller` may start a job now: checked before
        a request's work is even read (a patch is parsed only when it can run)."""
        self.slots.take(caller)
        self.slots.give_back(caller)

    def running_job(self) -> Job | None:
        """A job running now, if any (the page links to it when the slots are full)."""
        return next((j for j in reversed(self._jobs.values()) if j.running), None)

    def start(self, kind: str, title: str, work: Work, caller: str = "") -> Job:
        """Start `work(say)` in a process of its own (TooManyRequestsError while the
        worker's or the caller's jobs are all running)."""
        self.slots.take(caller)
        job = Job(secrets.token_urlsafe(9), title, kind, caller)
        self._jobs[job.job_id] = job

        async def run() -> None:
            try:
                job.result = await asyncio.to_thread(_supervise, job, work, self.limits)
                job.step = "done"
            except StoppedError as e:
                job.error, job.step = str(e), "stopped"
            except PromiselineError as e:
                job.error, job.step = str(e), "failed"
            except Exception as e:  # shown on the page; the service goes on
                job.error, job.step = f"{type(e).__name__}: {e}", "failed"
            finally:
                job.finished = time.time()
                self.slots.give_back(caller)
                self._trim()

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def cancel(self, job_id: str) -> Job | None:
        """Ask a running job to stop (its process is ended within POLL_S)."""
        job = self._jobs.get(job_id)
        if job is not None and job.running:
            job.cancelled = True
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        return list(reversed(self._jobs.values()))

    def _trim(self) -> None:
        """Forget the oldest finished jobs beyond the count and bytes kept."""
        cap = self.limits.jobs_kept_mb * 2**20
        while True:
            done = [j for j in self._jobs.values() if not j.running]
            kept = sum(j.result.nbytes for j in done if j.result is not None)
            if not done or (len(done) <= self.limits.jobs_kept and kept <= cap):
                return
            del self._jobs[done[0].job_id]

    async def stop(self) -> None:
        for job in self._jobs.values():
            job.cancelled = True
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await t


def _supervise(job: Job, work: Work, limits: WorkLimits) -> Answer:
    """Run `work` in a spawned process, relay its steps, and end it when it is cancelled
    or goes over its time or memory limit (its whole tree's resident memory)."""
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child, args=(work, theirs, os.getpid()), daemon=True, name=f"job-{job.kind}"
    )
    proc.start()
    theirs.close()
    deadline = time.monotonic() + limits.job_seconds
    cap_mb = limits.job_memory_mb
    try:
        while True:
            if ours.poll(POLL_S):
                try:
                    kind, value = ours.recv()
                except EOFError:
                    proc.join(5)
                    raise PromiselineError(
                        f"the job's process ended without an answer (exit code {proc.exitcode})"
                    ) from None
                if kind == "step":
                    job.step = value
                    continue
                if kind == "done":
                    answer: Answer = value
                    return answer
                raise PromiselineError(value)
            if job.cancelled:
                raise StoppedError(f"cancelled after {job.seconds():,.0f} s")
            if time.monotonic() > deadline:
                raise StoppedError(
                    f"stopped after {limits.job_seconds:,} s, the time limit of a job "
                    f"({ENV['job_seconds']})"
                )
            mb = _resident_mb(proc.pid)
            job.peak_mb = max(job.peak_mb, mb)
            if mb > cap_mb:
                raise StoppedError(
                    f"stopped at {mb:,.0f} MB, over the memory limit of a job of {cap_mb:,} "
                    f"MB ({ENV['job_memory_mb']}): try a smaller scenario or patch"
                )
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        ours.close()


def _resident_mb(pid: int | None) -> float:
    """Resident memory of a process and its children, in MB (0 once it is gone)."""
    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
        return sum(q.memory_info().rss for q in procs) / 2**20
    except psutil.Error:
        return 0.0


def _child(work: Work, conn: Connection, parent: int) -> None:
    """A job's process: run the work, send its steps and then its answer (or error). It
    yields the CPU to the service and ends with it, as the forecast process does (a
    sizing took a core of two: in benchmarks/crowd_bench.py a customer's order and read
    went from p99 477 ms to 290 ms, intake from 415 to 460 orders/s, once jobs ran at
    nice 10; a service killed outright left its job running)."""
    side_process(parent)

    def say(step: str) -> None:
        conn.send(("step", step))

    message: tuple[str, Any]
    try:
        message = ("done", work(say))
    except PromiselineError as e:
        message = ("failed", str(e))
    except Exception as e:  # the parent shows it on the job's page
        message = ("failed", f"{type(e).__name__}: {e}")
    conn.send(message)
    conn.close()
