"""Group commit: concurrent writes share transactions; one bad write fails alone; a
failing database fails every waiter and says so until a write succeeds."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from promiseline.errors import StorageError
from promiseline.service.committer import GroupCommitter


class FakeStore:
    """Records batches; fails items marked 'bad', or everything while `down`."""

    def __init__(self) -> None:
        self.batches: list[list[Any]] = []
        self.down = False

    def write(self, batch: Sequence[Any]) -> list[Any]:
        if self.down:
            raise StorageError("database test: disk is full")
        if any(x == "bad" for x in batch):
            raise ValueError("bad item")
        self.batches.append(list(batch))
        return [f"ok:{x}" for x in batch]


def run(store: FakeStore, items: list[Any]) -> tuple[GroupCommitter, list[Any]]:
    async def go() -> list[Any]:
        c = GroupCommitter(store.write, max_batch=50)  # type: ignore[arg-type]
        c.start()
        try:
            return await asyncio.gather(*(c.submit(x) for x in items), return_exceptions=True)
        finally:
            c.stop()
            committers.append(c)

    committers: list[GroupCommitter] = []
    out = asyncio.run(go())
    return committers[0], out


def test_concurrent_writes_share_batches() -> None:
    """200 writes at once: every one answered with its own result, in far fewer batches."""
    store = FakeStore()
    c, out = run(store, list(range(200)))
    assert out == [f"ok:{i}" for i in range(200)]
    assert c.batches == len(store.batches) < 50
    assert max(len(b) for b in store.batches) <= 50


def test_a_bad_write_fails_alone() -> None:
    """One item that cannot be written fails its own waiter; the rest commit."""
    store = FakeStore()
    _, out = run(store, [1, "bad", 3])
    assert out[0] == "ok:1"
    assert isinstance(out[1], ValueError)
    assert out[2] == "ok:3"


def test_a_failing_database_fails_everyone_until_it_is_back() -> None:
    """While the database fails nobody is acknowledged and `failing` says why."""
    store = FakeStore()
    store.down = True
    c, out = run(store, [1, 2])
    assert all(isinstance(x, StorageError) for x in out)
    assert c.failing is not None
    assert "disk is full" in c.failing

    async def again() -> Any:
        c.start()
        store.down = False
        try:
            return await c.submit(3)
        finally:
            c.stop()

    assert asyncio.run(again()) == "ok:3"
    assert c.failing is None


def test_stop_drains_what_was_queued() -> None:
    """Writes queued when the service stops are written and answered, not dropped."""
    store = FakeStore()

    async def go() -> list[Any]:
        c = GroupCommitter(store.write, max_batch=3)  # type: ignore[arg-type]
        c.start()
        tasks = [asyncio.create_task(c.submit(i)) for i in range(10)]
        await asyncio.sleep(0)  # each submit has queued its write
        c.stop()  # joins the writer, which finishes the queue first
        return await asyncio.gather(*tasks)

    assert asyncio.run(go()) == [f"ok:{i}" for i in range(10)]
    assert sum(len(b) for b in store.batches) == 10
