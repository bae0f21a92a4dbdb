"""Body limits hold for every request, declared or streamed, and bodies are read only
after the caller is known."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from promiseline.server import create_app
from promiseline.service.guard import MAX_BODY, MAX_SCENARIO_BODY
from tests.service.conftest import ADMIN, Clock, desk_maker, settings

H = {"Idempotency-Key": "k1-0123456789abcdef", "Content-Type": "application/json"}


class Recorder:
    """Wraps the app inside the guard and counts the body bytes it reads."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.read = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counted() -> Any:
            msg = await receive()
            self.read += len(msg.get("body", b""))
            return msg

        await self.app(scope, counted, send)


@pytest.fixture
def recorded(tmp_path: Any) -> Iterator[tuple[TestClient, Recorder]]:
    guard = create_app(desk_maker(settings(f"sqlite:///{tmp_path}/g.db"), Clock()))
    rec = Recorder(guard.app)
    guard.app = rec
    with TestClient(guard) as c:
        yield c, rec


def chunks(total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    """A body sent chunked (no Content-Length)."""
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size


def test_declared_length_over_the_limit_is_refused_unread(
    recorded: tuple[TestClient, Recorder],
) -> None:
    """A Content-Length over the limit is a 413 before one byte is read."""
    c, rec = recorded
    r = c.post("/v1/orders", content=b"x" * (MAX_BODY + 1), headers=H)
    assert r.status_code == 413
    assert rec.read == 0
    r = c.put("/v1/scenario", content=b"x" * (MAX_SCENARIO_BODY + 1), headers=ADMIN)
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/v1/orders", H),
        ("POST", "/v1/keys", ADMIN),
        ("PATCH", "/v1/orders/x", {"X-Order-Token": "t"}),
        ("POST", "/v1/orders/x/progress", ADMIN),
    ],
)
def test_streamed_body_is_cut_off_at_the_limit(
    recorded: tuple[TestClient, Recorder], method: str, path: str, headers: dict[str, str]
) -> None:
    """A chunked body that grows past the limit is a 413; no more than the limit (and one
    chunk) is read."""
    c, rec = recorded
    r = c.request(method, path, content=chunks(50 * MAX_BODY), headers=headers)
    assert r.status_code in (413, 401, 404), r.text  # 401/404: refused before reading
    assert rec.read <= MAX_BODY + 16 * 1024


def test_streamed_order_over_the_limit_is_413(recorded: tuple[TestClient, Recorder]) -> None:
    """The surge endpoint's own reader stops at the limit too."""
    c, rec = recorded
    r = c.post("/v1/orders", content=chunks(10 * MAX_BODY), headers=H)
    assert r.status_code == 413
    assert "request body over" in r.json()["detail"]
    assert rec.read == 0  # the short path read it, the app never did


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("PUT", "/v1/scenario", {"Content-Type": "application/yaml"}),
        ("POST", "/v1/keys", {"Content-Type": "application/json"}),
        ("POST", "/v1/orders/x/progress", {"Content-Type": "application/json"}),
        ("PATCH", "/v1/orders/x", {"Content-Type": "application/json"}),
        ("PUT", "/v1/scenario", {"X-API-Key": "wrong"}),
    ],
)
def test_no_body_is_read_before_the_caller_is_known(
    recorded: tuple[TestClient, Recorder], method: str, path: str, headers: dict[str, str]
) -> None:
    """Without a valid key or token the answer is 401 and the body is never read."""
    c, rec = recorded
    r = c.request(method, path, content=b"x" * (MAX_BODY - 1), headers=headers)
    assert r.status_code == 401, r.text
    assert rec.read == 0


def test_bad_content_length_is_400(recorded: tuple[TestClient, Recorder]) -> None:
    """A Content-Length that is not a number is refused."""
    c, _ = recorded
    r = c.post("/v1/orders", content=b"{}", headers=H | {"Content-Length": "12abc"})
    assert r.status_code == 400


def test_memory_stays_bounded_under_many_oversized_uploads(tmp_path: Any) -> None:
    """100 clients each streaming 8 MB at once (chunked, no length): every one is cut off,
    and the server's memory grows by far less than what was sent (800 MB)."""
    import socket
    import threading
    import time
    from pathlib import Path

    import psutil

    from tests.service.server import serving

    assert isinstance(tmp_path, Path)
    heads = [
        b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k-0123456789abcdef\r\n",
        b"PUT /v1/scenario HTTP/1.1\r\nHost: x\r\n",
        b"POST /v1/keys HTTP/1.1\r\nHost: x\r\nX-API-Key: " + ADMIN["X-API-Key"].encode() + b"\r\n",
    ]
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    statuses: list[int] = []

    def upload(port: int, head: bytes) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(
                head + b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
            )
            try:
                for _ in range(128):  # 8 MB
                    s.sendall(chunk)
                s.sendall(b"0\r\n\r\n")
            except OSError:
                pass  # the server stopped reading: that is the point
            statuses.append(int(s.recv(4096).split(b"\r\n", 1)[0].split()[1]))

    with serving(f"sqlite:///{tmp_path}/m.db", tmp_path / "m.log") as url:
        port = int(url.rsplit(":", 1)[1])
        server = next(
            p
            for p in psutil.process_iter(["cmdline"])
            if "serve" in (p.info["cmdline"] or []) and str(port) in (p.info["cmdline"] or [])
        )
        before = server.memory_info().rss
        peak = before
        threads = [threading.Thread(target=upload, args=(port, heads[i % 3])) for i in range(100)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            peak = max(peak, server.memory_info().rss)
            time.sleep(0.02)
    assert sorted(set(statuses)) == [401, 413]
    assert len(statuses) == 100
    assert peak - before < 100 * 2**20, f"grew {(peak - before) / 2**20:.0f} MB"


@pytest.mark.parametrize(
    "path", ["/v1/orders/PL%00", "/v1/orders?after=%00", "/orders?q=A%00", "/o/PL%00"]
)
def test_a_nul_in_a_path_or_query_is_400(recorded: tuple[TestClient, Recorder], path: str) -> None:
    """No id, key or filter holds a NUL, and PostgreSQL refuses one in text: refused at
    the door (it used to reach the database and answer 503 there)."""
    client, _ = recorded
    r = client.get(path, headers=ADMIN)
    assert r.status_code == 400
    assert "NUL" in r.json()["detail"]
