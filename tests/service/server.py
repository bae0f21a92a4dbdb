"""A real service process (`promiseline serve`) for tests that need real sockets,
several workers or a kill -9."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import DATA
from tests.service.conftest import ADMIN_KEY

ENV = {"PROMISELINE_ADMIN_KEY": ADMIN_KEY, "PROMISELINE_PEPPER": "test-pepper"}


def free_port() -> int:
    """A free port below the kernel's ephemeral range, where no client connection of a test
    running beside (to PostgreSQL, a service, wrk's) can be given it while a service starts
    or restarts on it; drawn at random, so workers and other runs seldom ask for one twice."""
    try:
        first = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError):
        first = 32768  # Linux's default
    while True:
        port = random.randrange(max(1024, first - 12_000), first)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken: draw again
            return port


def start(db_url: str, port: int, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """`promiseline serve` on the tiny scenario; returns once /healthz answers."""
    cmd = [
        sys.executable,
        "-m",
        "promiseline.cli",
        "serve",
        "--scenario",
        str(DATA / "tiny.yaml"),
        "--db",
        db_url,
        "--port",
        str(port),
        "--debounce",
        "0.2",
        *args,
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=os.environ | ENV, start_new_session=True
        )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    stop(proc)
    raise AssertionError(f"service did not start: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def serving(db_url: str, log: Path, *args: str) -> Iterator[str]:
    port = free_port()
    proc = start(db_url, port, log, *args)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
