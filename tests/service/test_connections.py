"""Connection hygiene (issue 19, finding 7), on a real uvicorn server: slow headers and
bodies are cut off, and the connections one address holds are capped while others are
still served. Bounded: a handful of connections, a few seconds."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx

from tests.service.server import serving

ARGS = (
    "--header-timeout",
    "2",
    "--body-timeout",
    "2",
    "--connections-per-client",
    "5",
    "--max-connections",
    "16",
)


def _connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))


def _closed_after(s: socket.socket, drip: bytes | None, limit_s: float) -> tuple[float, bytes]:
    """Send `drip` every second until the server closes: (seconds held, what it said)."""
    t0 = time.monotonic()
    got = b""
    s.settimeout(1.0)
    while time.monotonic() - t0 < limit_s:
        try:
            if drip:
                s.sendall(drip)
            chunk = s.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    return time.monotonic() - t0, got


def test_slow_clients_are_cut_off_and_one_address_cannot_hold_every_connection(
    tmp_path: Path,
) -> None:
    with serving(f"sqlite:///{tmp_path}/c.db", tmp_path / "c.log", *ARGS) as url:
        port = int(url.rsplit(":", 1)[1])
        # slowloris: a header line every second is cut off at the header deadline (2 s)
        s = _connect(port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        held, said = _closed_after(s, b"X-Slow: 1\r\n", 8)
        s.close()
        assert held < 4, held
        assert said.startswith(b"HTTP/1.1 408"), said[:80]
        # a body that drips is cut off at the body deadline (2 s)
        s = _connect(port)
        s.sendall(
            b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Idempotency-Key: slow-body-0123456789\r\nContent-Length: 200\r\n\r\n{"
        )
        held, said = _closed_after(s, b" ", 8)
        s.close()
        assert held < 4, held
        assert said.startswith(b"HTTP/1.1 408"), said[:80]
        # one address holds 5 connections at once; the 6th is refused, others are served
        mine = [_connect(port) for _ in range(5)]
        extra = _connect(port)
        extra.settimeout(5)
        assert extra.recv(4096).startswith(b"HTTP/1.1 429")
        extra.close()
        local = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(transport=local, base_url=url) as c:
            assert c.get("/healthz").status_code == 200
        for m in mine:
            m.close()
        # 16 connections in all (uvicorn's limit_concurrency): more are answered 503 ...
        held_open = [_connect(port, f"127.0.0.{3 + i // 4}") for i in range(16)]
        time.sleep(0.2)
        local = httpx.HTTPTransport(local_address="127.0.0.9")
        with httpx.Client(transport=local, base_url=url) as c:
            assert c.get("/healthz").status_code == 503
            # ... until the header deadline closes the idle ones, and requests go through
            time.sleep(2.5)
            assert c.get("/healthz").status_code == 200
        for h in held_open:
            h.close()
