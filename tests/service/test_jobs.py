"""Jobs run in processes of their own, held to a time and a memory limit, cancellable,
limited per worker and per caller, and kept as their tables only, bounded (issue 19:
one sizing on an oversized scenario reached 10 GB; nine what-ifs took a worker from 1.2
to 6.2 GB; the one job slot refused every other what-if with no way to stop the job)."""

from __future__ import annotations

import asyncio
import time
from functools import partial

import pytest
from fastapi.testclient import TestClient

from promiseline.errors import TooManyRequestsError
from promiseline.service.jobs import Job, Jobs
from promiseline.service.pools import WorkLimits
from tests.service.conftest import ADMIN, client, clock, db_url, store  # noqa: F401
from tests.service.job_work import failing, hog, niceness, sleeper, table


async def finished(job: Job, seconds: float = 60) -> Job:
    end = time.monotonic() + seconds
    while job.running:
        assert time.monotonic() < end, f"still running: {job.step}"
        await asyncio.sleep(0.05)
    return job


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_a_job_over_its_memory_limit_is_stopped_and_says_why() -> None:
    async def go() -> Job:
        jobs = Jobs(WorkLimits(job_memory_mb=400))
        return await finished(jobs.start("sizing", "hog", partial(hog, 3000)))

    job = run(go())
    assert isinstance(job, Job)
    assert job.step == "stopped"
    assert "over the memory limit of a job of 400 MB (PROMISELINE_JOB_MEMORY_MB)" in (
        job.error or ""
    )
    assert 400 < job.peak_mb < 1200  # stopped within a poll or two of crossing it, not at 3 GB
    assert job.seconds() < 30  # stopped, not waited out


def test_a_job_over_its_time_limit_or_cancelled_is_stopped() -> None:
    async def go() -> tuple[Job, Job]:
        late = Jobs(WorkLimits(job_seconds=3)).start("what-if", "late", partial(sleeper, 60))
        jobs = Jobs()
        gone = jobs.start("what-if", "gone", partial(sleeper, 60))
        end = time.monotonic() + 60
        while gone.step != "sleeping":  # its process has started (slow on a busy machine)
            assert gone.running, gone.error
            assert time.monotonic() < end, gone.step
            await asyncio.sleep(0.05)
        jobs.cancel(gone.job_id)
        return await finished(late), await finished(gone, 10)

    late, gone = run(go())  # type: ignore[misc]
    assert late.error == "stopped after 3 s, the time limit of a job (PROMISELINE_JOB_SECONDS)"
    assert late.seconds() < 10
    assert (gone.step, (gone.error or "").startswith("cancelled after")) == ("stopped", True)


def test_jobs_are_limited_per_worker_and_per_caller() -> None:
    async def go() -> list[str]:
        jobs = Jobs(WorkLimits(jobs=2, jobs_per_caller=1))
        first = jobs.start("what-if", "a", partial(sleeper, 60), "ann")
        refused = []
        for who in ("ann", "bob", "cat"):
            try:
                jobs.start("what-if", who, partial(sleeper, 60), who)
            except TooManyRequestsError as e:
                refused.append(f"{who}: {e}")
        jobs.cancel(first.job_id)
        await finished(first)
        jobs.check_free("ann")  # free again once it has ended
        await jobs.stop()
        return refused

    refused = run(go())
    assert refused == [
        "ann: you already have 1 what-if or sizing running; wait for it to finish",
        "cat: 2 what-ifs or sizings are running in this worker, the most it takes at once; "
        "try again in a moment",
    ]


def test_finished_jobs_keep_their_tables_only_bounded_in_count_and_bytes() -> None:
    async def go() -> tuple[Jobs, list[Job]]:
        jobs = Jobs(WorkLimits(jobs_kept=3, jobs_kept_mb=1))
        done = []
        for rows in (10, 20, 30, 40, 100_000, 10):  # 100,000 int64 rows: 0.8 MB
            done.append(await finished(jobs.start("what-if", str(rows), partial(table, rows))))
        done.append(await finished(jobs.start("what-if", "x", failing)))
        return jobs, done

    jobs, done = run(go())  # type: ignore[misc]
    assert done[0].result is not None
    assert done[0].result.tables["t"]["x"].to_list() == list(range(10))
    assert done[0].result.note == "made"
    assert done[-1].error == "ValueError: bad luck"
    kept = [j.title for j in jobs.all()]
    assert kept == ["x", "10", "100000"]  # the last three; together under 1 MB
    assert sum(j.result.nbytes for j in jobs.all() if j.result) <= 2**20
    many = Jobs(WorkLimits(jobs_kept=10, jobs_kept_mb=1))

    async def big() -> list[str]:
        for rows in (100_000, 100_000):
            await finished(many.start("what-if", str(rows), partial(table, rows)))
        return [j.title for j in many.all()]

    assert run(big()) == ["100000"]  # two would be 1.6 MB: the older is let go


@pytest.mark.parametrize("bad", ["0", "-1", "x", "2000000"])
def test_limits_out_of_range_are_refused_at_start(bad: str) -> None:
    from promiseline.errors import PromiselineError

    with pytest.raises(PromiselineError, match="PROMISELINE_JOB_MEMORY_MB"):
        WorkLimits.from_env({"PROMISELINE_JOB_MEMORY_MB": bad})


def test_a_job_yields_the_cpu_to_the_service() -> None:
    """A sizing took one core of two from intake and customers: jobs run at a lower CPU
    priority, as the forecast process does."""

    async def go() -> Job:
        return await finished(Jobs().start("sizing", "nice", niceness))

    job = run(go())
    assert isinstance(job, Job)
    assert job.result is not None
    assert int(job.result.note or "0") >= 10


def test_jobs_are_listed_and_cancelled_through_the_api(client: TestClient) -> None:  # noqa: F811
    """GET /v1/jobs lists this worker's jobs; DELETE stops a running one (planner role)."""
    desk = client.app.app.state.desk  # type: ignore[attr-defined]
    assert client.get("/v1/jobs", headers=ADMIN).json() == []
    assert client.get("/v1/jobs").status_code == 401
    assert client.delete("/v1/jobs/nope", headers=ADMIN).status_code == 404
    job = client.portal.call(  # type: ignore[union-attr]
        lambda: _start(desk.jobs)
    )
    end = time.monotonic() + 60
    while client.get("/v1/jobs", headers=ADMIN).json()[0]["step"] != "sleeping":
        assert time.monotonic() < end
        time.sleep(0.1)
    stopped = client.delete(f"/v1/jobs/{job.job_id}", headers=ADMIN).json()
    assert (stopped["job_id"], stopped["cancelled"]) == (job.job_id, True)
    while client.get("/v1/jobs", headers=ADMIN).json()[0]["running"]:
        assert time.monotonic() < end
        time.sleep(0.1)
    row = client.get("/v1/jobs", headers=ADMIN).json()[0]
    assert (row["step"], row["error"].startswith("cancelled after")) == ("stopped", True)


async def _start(jobs: Jobs) -> Job:
    return jobs.start("what-if", "slow", partial(sleeper, 60))


PARENT = """
import asyncio, sys, time
from functools import partial
sys.path.insert(0, {root!r})
from promiseline.service.jobs import Jobs
from tests.service.test_jobs import sleeper

async def main():
    job = Jobs().start("sizing", "orphan", partial(sleeper, 60))
    while job.step != "sleeping":
        await asyncio.sleep(0.05)
    print("running", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_a_service_killed_outright_leaves_no_job_running() -> None:
    """kill -9 of the service gives its job's process no message: it watches for its
    parent and ends with it (as the forecast process does)."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    import psutil

    root = str(Path(__file__).resolve().parents[2])
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT.format(root=root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "running"
        children = psutil.Process(parent.pid).children(recursive=True)
        assert children
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        _, alive = psutil.wait_procs(children, timeout=10)
        assert not alive
    finally:
        parent.kill()
        parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()
