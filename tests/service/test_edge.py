"""Per-client limits at the edge (issue 19, finding 4): one anonymous client cannot take
every event stream, mint links without end, or flood orders and quotes past its rates;
expired one-time links are deleted."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from promiseline.errors import PromiselineError
from promiseline.server import create_app
from promiseline.service.settings import Settings
from tests.service.conftest import Clock, desk_maker, padded, settings
from tests.service.server import serving

BODY = {"model": "A", "variant": "S", "market": "CN"}


@contextmanager
def from_address(c: TestClient, host: str) -> Iterator[None]:
    """The test client's requests come from `host` for a while."""
    transport: Any = c._transport  # type: ignore[attr-defined]
    before = transport.client
    transport.client = (host, 40000)
    try:
        yield
    finally:
        transport.client = before


def new_order(c: TestClient, key: str) -> httpx.Response:
    return c.post("/v1/orders", json=BODY, headers={"Idempotency-Key": padded(key)})


def assert_limited(r: httpx.Response, words: str) -> None:
    """429, a Retry-After of whole seconds, and a JSON detail like every other error."""
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["retry-after"]) <= 3600
    assert r.headers["content-type"] == "application/json"
    assert words in r.json()["detail"]


def test_orders_and_quotes_are_limited_per_client_address(tmp_path: Path) -> None:
    """Past its rate, an address gets 429 with Retry-After; another address does not."""
    s = settings(f"sqlite:///{tmp_path}/r.db", limit_orders="10/minute", limit_quotes="5/minute")
    with TestClient(create_app(desk_maker(s, Clock()))) as c:
        for i in range(10):
            assert new_order(c, f"a{i}").status_code == 201
        assert_limited(new_order(c, "a10"), "too many new orders from this address")
        q = "/v1/quote?model=A&variant=S&market=CN"
        for _ in range(5):
            assert c.get(q).status_code == 200
        assert_limited(c.get(q), "too many quotes")
        with from_address(c, "192.0.2.7"):
            assert new_order(c, "b0").status_code == 201
            assert c.get(q).status_code == 200


def test_default_intake_is_generous_for_an_address_many_customers_share(
    client: TestClient,
) -> None:
    """50 anonymous orders at once from one address (a carrier NAT) are all taken."""
    assert {new_order(client, f"n{i}").status_code for i in range(50)} == {201}


def test_links_are_limited_per_order_and_per_address(tmp_path: Path) -> None:
    """One order token mints a few links a minute (9,574 in 20 s before); an address a few
    more across its orders."""
    s = settings(f"sqlite:///{tmp_path}/l.db", limit_links="8/minute")
    with TestClient(create_app(desk_maker(s, Clock()))) as c:
        a, b = new_order(c, "la").json(), new_order(c, "lb").json()

        def mint(o: dict[str, Any]) -> httpx.Response:
            headers = {"X-Order-Token": o["token"]}
            return c.post(f"/v1/orders/{o['order_id']}/page-link", headers=headers)

        assert [mint(a).status_code for _ in range(5)] == [200] * 5
        assert_limited(mint(a), "one-time page links for this order")
        # every attempt counts against the address: 6 so far, 2 left of its 8
        assert [mint(b).status_code for _ in range(2)] == [200] * 2
        assert_limited(mint(b), "one-time page links from this address")


def test_expired_links_are_deleted(tmp_path: Path) -> None:
    """Minting deletes the links expired by now, used or not."""
    clock = Clock()
    with TestClient(create_app(desk_maker(settings(f"sqlite:///{tmp_path}/x.db"), clock))) as c:
        o = new_order(c, "x").json()
        headers = {"X-Order-Token": o["token"]}
        url = f"/v1/orders/{o['order_id']}/page-link"
        assert c.post(url, headers=headers).status_code == 200
        assert c.post(url, headers=headers).status_code == 200
        desk: Any = c.app.app.state.desk  # type: ignore[attr-defined]  # the Guard wraps it

        def links() -> int:
            with desk.store.transaction() as cur:
                cur.execute("SELECT COUNT(*) FROM page_links")
                return int(cur.fetchone()[0])

        assert links() == 2
        clock.now += dt.timedelta(minutes=16)
        assert c.post(url, headers=headers).status_code == 200
        assert links() == 1  # the two expired are gone, the new one is kept


def _open_stream(port: int, o: dict[str, Any], source: str = "127.0.0.1") -> tuple[int, Any]:
    """(status, socket) of an event stream opened on a raw connection (left open)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    path = f"/v1/orders/{o['order_id']}/events?token={o['token']}"
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head = s.recv(4096)
    return int(head.split(b" ", 2)[1]), s


def test_one_anonymous_client_cannot_take_every_event_stream(tmp_path: Path) -> None:
    """Finding 4, bounded: 30 anonymous orders from one address, then streams for each:
    the address gets its 20 (3 per order at most), the rest 429, and a customer at another
    address still gets a stream. Before, every stream was granted up to the service's
    cap of 10,000."""
    with serving(f"sqlite:///{tmp_path}/s.db", tmp_path / "s.log") as url:
        port = int(url.rsplit(":", 1)[1])
        with httpx.Client(base_url=url) as c:
            orders = [
                c.post("/v1/orders", json=BODY, headers={"Idempotency-Key": padded(f"s{i}")}).json()
                for i in range(31)
            ]
        mine, customer = orders[:30], orders[30]
        socks = []
        try:
            first = [_open_stream(port, mine[0]) for _ in range(4)]
            socks += [s for _, s in first]
            assert [st for st, _ in first] == [200, 200, 200, 429]  # 3 per order
            opened = [_open_stream(port, o) for o in mine[1:]]
            socks += [s for _, s in opened]
            statuses = [st for st, _ in opened]
            assert statuses.count(200) == 17  # 20 per address in all
            assert statuses.count(429) == 12
            status, s = _open_stream(port, customer, source="127.0.0.2")
            socks.append(s)
            assert status == 200
        finally:
            for s in socks:
                s.close()


def _quote(url: str, forwarded: str) -> int:
    q = "/v1/quote?model=A&variant=S&market=CN"
    return httpx.get(url + q, headers={"X-Forwarded-For": forwarded}).status_code


def test_forwarded_address_counts_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    """X-Forwarded-For names the client only when the peer is a proxy named in
    --trust-proxy; from anyone else it is ignored (a client cannot pick its address)."""
    db = f"sqlite:///{tmp_path}/p.db"
    args = ("--limit-quotes", "3/minute")
    with serving(db, tmp_path / "p.log", *args, "--trust-proxy", "127.0.0.1") as url:
        assert [_quote(url, "198.51.100.1") for _ in range(4)] == [200, 200, 200, 429]
        assert _quote(url, "198.51.100.2") == 200
    with serving(db, tmp_path / "q.log", *args) as url:
        assert [_quote(url, f"198.51.100.{i}") for i in range(4)] == [200, 200, 200, 429]


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"limit_orders": "lots"}, "PROMISELINE_LIMIT_ORDERS / --limit-orders: expected rates"),
        ({"limit_links": "0/minute"}, "--limit-links: expected rates"),
        ({"sse_per_client": 0}, "--streams-per-client: a whole number from 1"),
        ({"trusted_proxies": ("proxy.example",)}, "--trust-proxy: expected an IP address"),
        ({"header_timeout_s": 0.0}, "header_timeout_s: must be > 0"),
    ],
)
def test_bad_limit_settings_name_the_setting(changes: dict[str, object], words: str) -> None:
    with pytest.raises(PromiselineError, match=words):
        Settings(**changes)  # type: ignore[arg-type]
