"""Run Monte Carlo futures on a Dask cluster (adapter: the futures are the core's).

    from promiseline.distributed import dask_runner, local_client
    with local_client(workers=2) as client:
        sim = simulate(scenario, orders, futures=1000, seed=7, runner=dask_runner(client))

On a real cluster: start `dask scheduler` on one host and `dask worker tcp://HOST:8786
--nthreads 1` on each of the others (each with promiseline installed), then pass
`--dask tcp://HOST:8786` to `promiseline simulate`. Each future is seeded by (seed,
future number), so the answer does not depend on the cluster. Give the workers the
allocator settings of `WORKER_MALLOC` (a third faster), e.g. in each worker's
~/.config/dask/distributed.yaml:

    distributed: {nanny: {pre-spawn-environ: {MALLOC_MMAP_THRESHOLD_: 33554432,
                                              MALLOC_TRIM_THRESHOLD_: 268435456}}}
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from promiseline.core.futures.simulate import Partial, Prepared, Runner, run_futures

# Dask's nanny sets MALLOC_TRIM_THRESHOLD_ (to give memory back to the OS), which fixes
# glibc's mmap threshold at 128 KiB: then every array of a future (a few MB each, dozens
# per future) is a fresh mmap, page-faulted and unmapped again; a worker spent a third of
# its time in the kernel (140 ms a future instead of 90). Large thresholds keep them in
# the heap, reused from one future to the next.
WORKER_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}


def dask_runner(client: Any) -> Runner:
    """A runner that sends each chunk of futures to the cluster."""

    def run(prep: Prepared, chunks: list[list[int]]) -> list[Partial]:
        shared = client.scatter(prep, broadcast=True)
        tasks = client.map(run_futures, [shared] * len(chunks), chunks, pure=False)
        parts: list[Partial] = client.gather(tasks)
        return parts

    return run


@contextmanager
def local_client(workers: int = 2) -> Iterator[Any]:
    """A LocalCluster of `workers` single-threaded processes, and its client."""
    import dask
    from dask.distributed import Client, LocalCluster

    with (
        dask.config.set(
            {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_MALLOC.items()}
        ),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@contextmanager
def remote_client(address: str) -> Iterator[Any]:
    """A client of a running scheduler, e.g. tcp://10.0.0.5:8786."""
    from dask.distributed import Client

    with Client(address) as client:
        yield client


_helpers: dict[int, ProcessPoolExecutor] = {}  # kept from one run to the next (warm kernels)


def _end_with(parent: int) -> None:
    """In a helper: end when the process that started it is gone (killed outright, it
    sends no word, and a helper waiting on its queue would wait forever, holding its
    memory: found so, a dozen 400 MB helpers left behind by killed test workers)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def process_runner(processes: int) -> Runner:
    """A runner for one machine without a cluster: the first chunk of futures here, the
    others in `processes - 1` spawned helper processes, kept for the next run (the
    forecast process uses the machine's second core so; helpers inherit its niceness and
    end with it)."""

    def run(prep: Prepared, chunks: list[list[int]]) -> list[Partial]:
        if processes <= 1 or len(chunks) <= 1:
            return [run_futures(prep, [f for c in chunks for f in c])]
        pool = _helpers.get(processes)
        if pool is None:
            ctx = multiprocessing.get_context("spawn")
            pool = _helpers[processes] = ProcessPoolExecutor(
                processes - 1, mp_context=ctx, initializer=_end_with, initargs=(os.getpid(),)
            )
        try:
            away = [pool.submit(run_futures, prep, c) for c in chunks[1:]]
            here = run_futures(prep, chunks[0])
            return [here, *(a.result() for a in away)]
        except BaseException:
            _helpers.pop(processes, None)
            pool.shutdown(wait=False, cancel_futures=True)
            raise

    return run
