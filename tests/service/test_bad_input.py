"""Bad input gets a clear 4xx, never a 5xx, and nothing is half-written."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import ADMIN_KEY

H = {"Idempotency-Key": "k1-0123456789abcdef", "Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b'{"model": "A", "variant"', 422, "JSON decode error"),
        (b'{"model": "Q", "variant": "S", "market": "CN"}', 422, "unknown model 'Q'"),
        (b'{"model": "A", "variant": "XL", "market": "CN"}', 422, "unknown variant 'XL'"),
        (b'{"model": "A", "variant": "S", "market": "MARS"}', 422, "unknown market 'MARS'"),
        (b'{"model": "A", "variant": "S"}', 422, "Field required"),
        (b'{"model": "A", "variant": "S", "market": "CN", "options": {"a": [1]}}', 422, "string"),
        (b'{"model": "A", "variant": "S", "market": "CN", "price": 1}', 422, "Extra inputs"),
        (b"[]", 422, "valid dictionary"),
    ],
)
def test_bad_order_bodies(client: TestClient, body: bytes, status: int, message: str) -> None:
    """Each malformed order is refused with a message saying why; none is stored."""
    r = client.post("/v1/orders", content=body, headers=H)
    assert r.status_code == status
    assert message in r.text
    listed = client.get("/v1/orders", headers={"X-API-Key": ADMIN_KEY}).json()
    assert listed["count"] == 0


def test_idempotency_key_must_be_long(client: TestClient) -> None:
    """A short Idempotency-Key (guessable: whoever knows it can replay the order and get
    its token) is refused."""
    for key in ("k1", "checkout-42"):
        r = client.post(
            "/v1/orders",
            json={"model": "A", "variant": "S", "market": "CN"},
            headers={"Idempotency-Key": key},
        )
        assert r.status_code == 422, key


def test_idempotency_key_is_required(client: TestClient) -> None:
    """No Idempotency-Key, no order."""
    r = client.post("/v1/orders", json={"model": "A", "variant": "S", "market": "CN"})
    assert r.status_code == 422
    assert "Idempotency-Key" in r.text


def test_oversized_body_is_413(client: TestClient) -> None:
    """A body over 1 MiB is refused before it is read."""
    r = client.post("/v1/orders", content=b"x" * 1_100_000, headers=H)
    assert r.status_code == 413


def test_bad_dates_and_unknown_orders(client: TestClient) -> None:
    """Unparsable dates are 422; unknown orders 404 (with a key) or 401 (without)."""
    admin = {"X-API-Key": ADMIN_KEY}
    r = client.post(
        "/v1/orders/nope/progress",
        headers=admin,
        json={"status": "scheduled", "line": "l1", "build_date": "someday"},
    )
    assert r.status_code == 422
    assert client.get("/v1/orders/nope", headers=admin).status_code == 404
    assert client.get("/v1/orders/nope/explain", headers=admin).status_code == 404
    assert client.get("/v1/orders/nope").status_code == 401


RAW = [
    b"GET /v1/orders/%FF%FE/eta HTTP/1.1\r\nHost: x\r\nX-Order-Token: t\r\n\r\n",
    b"GET /v1/quote?model=%FF%FE&variant=S&market=CN HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/quote?model=A&variant=S&market=CN&option=%00%FF HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/orders/x HTTP/1.1\r\nHost: x\r\nX-Order-Token: \xff\xfe\xfd\r\n\r\n",
    b"GET /v1/orders/x HTTP/1.1\r\nHost: x\r\nX-API-Key: \xff\xfe\xfd\r\n\r\n",
    b"GET /v1/orders/x/events HTTP/1.1\r\nHost: x\r\nX-API-Key: k\r\n"
    b"Last-Event-ID: 99999999999999999999999999999999\r\n\r\n",
    b"GET /v1/orders?limit=99999999999999999999999 HTTP/1.1\r\nHost: x\r\nX-API-Key: k\r\n\r\n",
    b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k-0123456789abcdef\r\n"
    b"Content-Type: application/json\r\nContent-Length: 6\r\n\r\n\xff\xfe{}\x00\x00",
    b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nIdempotency-Key: \xff\xfe\r\n"
    b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k-0123456789abcdef\r\n"
    b"Content-Type: application/json\r\nContent-Length: 999999999999999999999\r\n\r\n{}",
    b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k-0123456789abcdef\r\n"
    b"Content-Type: application/json\r\nContent-Length: 45\r\n\r\n"
    b'{"model": 1, "variant": [], "market": {"a": 1}}',
    b"POST /v1/orders/x/progress HTTP/1.1\r\nHost: x\r\nX-API-Key: k\r\n"
    b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n[]",
    b"PUT /v1/scenario HTTP/1.1\r\nHost: x\r\nX-API-Key: \xc3\x28\r\nContent-Length: 2\r\n\r\nab",
    b"GET /v1/orders/x/events HTTP/1.1\r\nHost: x\r\nX-API-Key: k\r\nLast-Event-ID: \xb2\r\n\r\n",
    b"GET /v1/quote?model=A&variant=S&market=CN HTTP/1.1\r\nHost: x\r\nX-Big: "
    + b"y" * 40_000
    + b"\r\n\r\n",
]


def test_malformed_requests_over_a_real_socket_are_4xx(tmp_path: object) -> None:
    """Bytes a client library would never send (invalid UTF-8 in path, query, headers
    and body, absurd numbers, wrong types) get a 4xx from the real server, never a 5xx."""
    import socket
    from pathlib import Path

    from tests.service.server import serving

    assert isinstance(tmp_path, Path)
    with serving(f"sqlite:///{tmp_path}/raw.db", tmp_path / "raw.log") as url:
        port = int(url.rsplit(":", 1)[1])
        for raw in RAW:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(raw.replace(b"X-API-Key: k", b"X-API-Key: " + ADMIN_KEY.encode()))
                head = s.recv(4096).split(b"\r\n", 1)[0]
            status = int(head.split()[1])
            assert 400 <= status < 500, (raw, head)
        log = (tmp_path / "raw.log").read_text()
        assert "Traceback" not in log, log
