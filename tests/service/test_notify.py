"""Notifications: one feed fans events out to capped SSE streams; webhook deliveries
leave a durable outbox, signed, retried with back-off, and end as dead letters."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from promiseline.core.model.lifecycle import EventKind
from promiseline.core.model.records import Event
from promiseline.server import create_app
from promiseline.service.notify import EventFeed
from tests.service.conftest import ADMIN, Clock, desk_maker, order, settings, wait_for

BODY = {"model": "A", "variant": "S", "market": "CN"}
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
YAML = {"Content-Type": "application/yaml"}


def read_until(lines: Iterator[str], text: str) -> str:
    seen = ""
    for chunk in lines:
        seen += chunk
        if text in seen:
            return seen
    raise AssertionError(f"{text!r} never came: {seen!r}")


def test_streams_get_history_then_new_events(client: TestClient) -> None:
    """Every open stream of an order gets its history, then the new events as they come."""
    o = order(client, "k1")
    url = f"/v1/orders/{o['order_id']}/events?token={o['token']}"
    with ExitStack() as stack:
        streams = [stack.enter_context(client.stream("GET", url)) for _ in range(3)]
        texts = [s.iter_text() for s in streams]
        for t in texts:
            assert "event: created" in read_until(t, "event: created")
        tok = {"X-Order-Token": str(o["token"])}
        assert client.post(f"/v1/orders/{o['order_id']}/lock", headers=tok).status_code == 200
        for t in texts:
            assert "event: locked" in read_until(t, "event: locked")


def test_last_event_id_resumes_and_bad_ones_are_refused(client: TestClient) -> None:
    """Last-Event-ID skips what was seen; a huge or non-numeric one is a 422."""
    o = order(client, "k1", lock=True)
    url = f"/v1/orders/{o['order_id']}/events?token={o['token']}"
    first = o["events"] if o["events"] else []
    assert first == []  # a fresh order's answer carries no events yet
    with client.stream("GET", url) as s:
        text = read_until(s.iter_text(), "event: created")
    event_id = int(text.split("id: ")[1].split("\n")[0])
    for bad in (b"9" * 30, b"-1", b"abc", b"1e5", "²".encode("latin-1")):  # ²: isdigit()
        r = client.get(url, headers={"Last-Event-ID": bad})
        assert r.status_code == 422, bad
    tok = {"X-Order-Token": str(o["token"])}
    client.post(f"/v1/orders/{o['order_id']}/cancel", headers=tok)
    with client.stream("GET", url, headers={"Last-Event-ID": str(event_id)}) as s:
        text = read_until(s.iter_text(), "event: cancelled")
    assert "event: created" not in text


def test_streams_are_capped(tmp_path: Any) -> None:
    """Past the cap per order, or in total, a stream is a 429 with Retry-After."""
    s = settings(f"sqlite:///{tmp_path}/n.db", sse_per_order=2, sse_total=3)
    with TestClient(create_app(desk_maker(s, Clock()))) as c:
        a, b = order(c, "a"), order(c, "b")
        url = "/v1/orders/{}/events?token={}"
        with ExitStack() as stack:
            for _ in range(2):
                r = stack.enter_context(c.stream("GET", url.format(a["order_id"], a["token"])))
                assert r.status_code == 200
            third = c.get(url.format(a["order_id"], a["token"]))
            assert (third.status_code, third.headers.get("retry-after")) == (429, "5")
            stack.enter_context(c.stream("GET", url.format(b["order_id"], b["token"])))
            over = c.get(url.format(b["order_id"], b["token"]))
            assert over.status_code == 429
            assert "event streams are open" in over.json()["detail"]


def test_a_closed_stream_frees_its_place_at_once(tmp_path: Any) -> None:
    """A client that goes away frees its stream's place now, not at the next keep-alive
    (a real server: the test client does not disconnect concurrent streams)."""
    import socket

    import httpx

    from tests.service.server import serving

    with serving(f"sqlite:///{tmp_path}/s.db", tmp_path / "s.log") as url:
        port = int(url.rsplit(":", 1)[1])
        o = httpx.post(
            f"{url}/v1/orders", json=BODY, headers={"Idempotency-Key": "k-0123456789abcdef"}
        ).json()
        path = f"/v1/orders/{o['order_id']}/events?token={o['token']}"

        def streams() -> int:
            text = httpx.get(f"{url}/metrics", headers=ADMIN).text
            line = next(
                ln for ln in text.splitlines() if ln.startswith("promiseline_event_streams ")
            )
            return int(float(line.split()[1]))

        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        for s in socks:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        wait_for(lambda: streams() == 3)
        for s in socks:
            s.close()
        wait_for(lambda: streams() == 0, 2.0)


class CountingStore:
    """A store whose feed reads are counted."""

    def __init__(self, events: list[Event]) -> None:
        self.events_list = events
        self.reads = 0

    def last_event_id(self) -> int:
        return 0

    def events_after(
        self, event_id: int, orders: set[str], limit: int = 5000
    ) -> tuple[int, list[Event]]:
        self.reads += 1
        after = [e for e in self.events_list if e.event_id > event_id]
        last = after[-1].event_id if after else event_id
        return last, [e for e in after if e.order_id in orders]


def test_one_feed_read_serves_every_stream() -> None:
    """2,000 open streams cost one database read per poll; each stream gets only its
    own order's events."""
    at = dt.datetime(2025, 1, 1)
    events = [
        Event(i, f"o{i % 10}", EventKind.ETA_CHANGED, at, "planner", {}) for i in range(1, 41)
    ]
    store = CountingStore(events)

    async def go() -> tuple[int, list[int]]:
        feed = EventFeed(
            store,
            settings("sqlite://", sse_total=5000, sse_per_order=500, sse_per_client=5000),
            0.01,
        )  # type: ignore[arg-type]
        subs = [feed.subscribe(f"o{i % 10}", 0) for i in range(2000)]
        feed.start()
        await asyncio.sleep(0.2)
        await feed.stop()
        return store.reads, [s.queue.qsize() for s in subs]

    reads, sizes = asyncio.run(go())
    assert 5 <= reads <= 25  # one read per poll, whatever the number of streams
    assert sizes == [4] * 2000  # each of the 10 orders has 4 of the 40 events


class Receiver(BaseHTTPRequestHandler):
    """Answers 503 to the first `fail` deliveries, then 200; keeps what it got."""

    fail = 0
    got: list[tuple[dict[str, str], bytes]] = []  # noqa: RUF012

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Receiver.fail > 0:
            Receiver.fail -= 1
            self.send_response(503)
        else:
            Receiver.got.append((dict(self.headers), body))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    Receiver.got, Receiver.fail = [], 0
    srv = HTTPServer(("127.0.0.1", 0), Receiver)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_port}/hook"
    srv.shutdown()
    srv.server_close()


def _move_windows(c: TestClient, n: int = 3) -> None:
    for i in range(n):
        order(c, f"k{i}", lock=True)
    c.post("/v1/plan", headers=ADMIN)
    text = c.get("/v1/scenario", headers=ADMIN).text
    r = c.put("/v1/scenario", content=text.replace("jph: 1\n", "jph: 0.5\n"), headers=ADMIN | YAML)
    assert r.status_code == 200, r.text
    c.post("/v1/plan", headers=ADMIN)


def verify(headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks check a receiver does."""
    h = {k.lower(): v for k, v in headers.items()}
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.{body.decode()}".encode()
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return h["webhook-signature"] == f"v1,{want}"


@pytest.mark.both_stores
def test_webhooks_are_signed_and_retried(db_url: str, hook: str) -> None:
    """Moved windows reach the webhook, signed; failed deliveries are retried."""
    Receiver.fail = 2
    s = settings(db_url, webhooks=(hook,), webhook_secret=SECRET)
    with TestClient(create_app(desk_maker(s, Clock()))) as c:
        _move_windows(c)
        wait_for(lambda: len(Receiver.got) >= 1, 10)
        metrics = c.get("/metrics", headers=ADMIN).text
    headers, body = Receiver.got[0]
    assert verify(headers, body)
    data = json.loads(body)
    assert data["type"] == "eta_changed"
    assert data["to"]["earliest"] > data["from"]["earliest"]
    assert "promiseline_webhook_failures_total 2.0" in metrics


@pytest.mark.both_stores
def test_dead_letters_after_the_last_try(db_url: str, hook: str) -> None:
    """A target that keeps failing gets `webhook_attempts` tries, then a dead letter."""
    Receiver.fail = 10**6
    s = settings(db_url, webhooks=(hook,), webhook_secret=SECRET, webhook_attempts=2)
    with TestClient(create_app(desk_maker(s, Clock()))) as c:
        _move_windows(c, 2)

        def dead() -> bool:
            text = c.get("/metrics", headers=ADMIN).text
            return "promiseline_webhook_dead 0.0" not in text and "webhook_queue 0.0" in text

        wait_for(dead, 10)
    assert Receiver.got == []


@pytest.mark.both_stores
def test_outbox_survives_a_restart(db_url: str, hook: str) -> None:
    """Deliveries written while the target was down are sent by the next start."""
    down = "http://127.0.0.1:9/nobody"  # discard port: connection refused
    s = settings(db_url, webhooks=(down,), webhook_secret=SECRET, webhook_attempts=50)
    with TestClient(create_app(desk_maker(s, Clock()))) as c:
        _move_windows(c)
        pending = c.get("/metrics", headers=ADMIN).text
    assert "promiseline_webhook_queue 0.0" not in pending
    from promiseline.store import open_store

    store = open_store(db_url)
    with store.transaction() as cur:  # the operator points the hooks somewhere that works
        cur.execute(store.q("UPDATE outbox SET target = ?, next_at = created_at"), (hook,))
    store.close()
    with TestClient(create_app(desk_maker(s.replace(webhooks=(hook,)), Clock()))):
        wait_for(lambda: len(Receiver.got) >= 1, 10)
    assert all(verify(h, b) for h, b in Receiver.got)
