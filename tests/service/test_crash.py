"""kill -9 in the middle of a surge: every acknowledged order survives, retries duplicate
nothing. A real service process, a real load generator (wrk), both back-ends."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from promiseline.loadtest import SurgeResult, run_surge, verify
from promiseline.store import open_store
from tests.service.server import free_port, start, stop

# Slow, yet a guard of durability: `make test` runs it on both back-ends (their commits differ).
pytestmark = pytest.mark.both_stores
SURGE, THREADS = 30_000, 2  # far more than any machine takes before the kill
BODIES = [
    '{"model":"A","variant":"S","market":"CN"}',
    '{"model":"A","variant":"M","market":"DE","options":{"roof":"pan"}}',
]


def test_kill_9_mid_surge(db_url: str, tmp_path: Path) -> None:
    """Acknowledged orders survive kill -9; replaying every key creates no second order."""
    port, log = free_port(), tmp_path / "service.log"
    url = f"http://127.0.0.1:{port}"
    proc = start(db_url, port, log)
    first: list[SurgeResult] = []
    surge = threading.Thread(
        target=lambda: first.append(
            run_surge(
                url, SURGE, 64, threads=THREADS, key_prefix="crash", timeout_s=6, bodies=BODIES
            )
        )
    )
    surge.start()
    time.sleep(1.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    surge.join()
    (res1,) = first
    assert 0 < res1.acked < SURGE, res1.lines()

    proc = start(db_url, port, log)  # restart on the same database
    try:
        v1 = verify(db_url, res1.acks)
        assert v1.ok, v1.line()
        # Clients retry: each wrk thread numbers its keys (crash-<thread>-<n>-surge-key) and
        # has at most one request per connection in flight past its last acknowledged one,
        # so a thousand keys more per thread replay every key the service may have seen
        # (the rest of the 30,000 would only be new orders: 50 s of them on a 2-core host).
        sent = max(int(key.split("-")[2]) for key, _ in res1.acks)
        retry = THREADS * (sent + 1_000)
        res2 = run_surge(url, retry, 64, threads=THREADS, key_prefix="crash", bodies=BODIES)
        assert res2.acked >= retry, res2.lines()
        v2 = verify(db_url, res1.acks + res2.acks)
        assert v2.ok, v2.line()
        store = open_store(db_url, migrate=False)
        counts = store.integrity()
        store.close()
        assert counts["orders"] == counts["idempotency_keys"] == counts["created_events"]
        assert counts["orphan_keys"] == 0
        assert counts["orders"] >= retry
    finally:
        stop(proc)
