"""The surge tool (loadtest.py) against a real service: every order acknowledged and
stored once; a paced load waits between orders."""

from __future__ import annotations

from pathlib import Path

from promiseline.loadtest import run_surge, verify
from tests.service.server import serving

TINY_ORDER = '{"model": "A", "variant": "S", "market": "CN", "lock": true}'


def test_a_paced_surge_waits_between_orders(tmp_path: Path) -> None:
    """2 connections waiting 150 ms between orders send 12 orders in no less than 5 waits
    (each connection sends 6); every one is stored exactly once."""
    db = f"sqlite:///{tmp_path / 'o.db'}"
    with serving(db, tmp_path / "serve.log", "--futures", "0") as url:
        r = run_surge(url, 12, 2, threads=2, delay_ms=150, bodies=[TINY_ORDER])
    assert r.acked == 12
    assert r.duration_s >= 5 * 0.15
    assert verify(db, r.acks).ok


def test_a_surge_split_over_threads_sends_the_orders_asked(tmp_path: Path) -> None:
    """10 orders over 3 threads: 4, 3 and 3 (it was 4 each: "12 acknowledged of 10")."""
    db = f"sqlite:///{tmp_path / 'o.db'}"
    with serving(db, tmp_path / "serve.log", "--futures", "0") as url:
        r = run_surge(url, 10, 3, threads=3, bodies=[TINY_ORDER])
    assert r.acked == 10
    assert r.lines()[0].startswith("10 orders acknowledged of 10 in ")
    assert verify(db, r.acks).ok
