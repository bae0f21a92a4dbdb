"""Several worker processes serve one truth: an `import` into the running service, a
lock through one worker and a scenario put through another reach every worker within
the debounce, and every answer says which versions it was computed from."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import DATA
from tests.service.server import ENV, serving
from tests.store.conftest import pg_database

pytestmark = pytest.mark.slow
ADMIN = {"X-API-Key": ENV["PROMISELINE_ADMIN_KEY"]}
QUOTE = {"model": "A", "variant": "S", "market": "CN"}


@pytest.fixture
def pg_url() -> Any:
    yield from pg_database()


def answers(url: str, n: int = 30) -> list[dict[str, Any]]:
    """n quotes, each on a new connection (the kernel spreads them over the workers)."""
    out = []
    for _ in range(n):
        with httpx.Client() as c:
            out.append(c.get(f"{url}/v1/quote", params=QUOTE, headers=ADMIN).json())
    return out


def converge(url: str, book: int, scenario: int | None = None, seconds: float = 15) -> None:
    """Every worker answers alike, from this book version (and scenario version)."""
    end = time.monotonic() + seconds
    while True:
        got = answers(url)
        versions = {(a["as_of"]["book"], a["as_of"]["scenario"]) for a in got}
        windows = {str(a["window"]) for a in got}
        if (
            len(versions) == 1
            and next(iter(versions))[0] == book
            and (scenario is None or next(iter(versions))[1] == scenario)
            and len(windows) == 1
        ):
            return
        assert time.monotonic() < end, (versions, windows)
        time.sleep(0.2)


def test_two_workers_one_truth(pg_url: str, tmp_path: Path) -> None:
    """Import, lock and scenario change, each through a different door, reach both."""
    with serving(pg_url, tmp_path / "svc.log", "--workers", "2") as url:
        first = answers(url)
        assert {a["as_of"]["book"] for a in first} == {0}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "promiseline.cli",
                "import",
                str(DATA / "tiny_orders.csv"),
                "--db",
                pg_url,
                "--scenario",
                str(DATA / "tiny.yaml"),
                "--accept-rejected",
            ],
            check=True,
            capture_output=True,
            env=None,
        )
        converge(url, book=1)
        r = httpx.post(
            f"{url}/v1/orders",
            json=QUOTE | {"lock": True},
            headers={"Idempotency-Key": "w1-0123456789abcdef"},
        )
        assert r.status_code == 201, r.text
        converge(url, book=2)
        text = httpx.get(f"{url}/v1/scenario", headers=ADMIN).text
        put = httpx.put(
            f"{url}/v1/scenario",
            content=text.replace("jph: 1\n", "jph: 2\n"),
            headers=ADMIN | {"Content-Type": "application/yaml"},
        )
        assert put.status_code == 200, put.text
        converge(url, book=2, scenario=put.json()["as_of"]["scenario"])
        for _ in range(10):  # whichever worker answers, the new scenario
            assert "jph: 2\n" in httpx.get(f"{url}/v1/scenario", headers=ADMIN).text
