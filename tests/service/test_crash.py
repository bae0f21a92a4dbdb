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

pytestmark = [pytest.mark.slow, pytest.mark.both_stores]
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
            run_surge(url, 30_000, 64, key_prefix="crash", timeout_s=6, bodies=BODIES)
        )
    )
    surge.start()
    time.sleep(1.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    surge.join()
    (res1,) = first
    assert 0 < res1.acked < 30_000, res1.lines()

    proc = start(db_url, port, log)  # restart on the same database
    try:
        v1 = verify(db_url, res1.acks)
        assert v1.ok, v1.line()
        res2 = run_surge(url, 30_000, 64, key_prefix="crash", bodies=BODIES)  # clients retry all
        assert res2.acked >= 30_000, res2.lines()
        v2 = verify(db_url, res1.acks + res2.acks)
        assert v2.ok, v2.line()
        store = open_store(db_url, migrate=False)
        counts = store.integrity()
        store.close()
        assert counts["orders"] == counts["idempotency_keys"] == counts["created_events"]
        assert counts["orphan_keys"] == 0
        assert counts["orders"] >= 30_000
    finally:
        stop(proc)
