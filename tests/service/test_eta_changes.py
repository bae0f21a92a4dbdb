"""When capacity changes, moved windows become eta_changed events, sent to webhooks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from promiseline.core.scenario import Scenario
from promiseline.service.app import create_app
from promiseline.service.desk import DeskConfig, OrderDesk
from promiseline.store import open_store
from tests.service.conftest import ADMIN_KEY, Clock, order


class Receiver(BaseHTTPRequestHandler):
    """Fails the first two deliveries, then accepts."""

    calls: list[dict[str, Any]] = []  # noqa: RUF012
    attempts = 0

    def do_POST(self) -> None:
        Receiver.attempts += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if Receiver.attempts <= 2:
            self.send_response(503)
        else:
            Receiver.calls.append(body)
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    Receiver.calls, Receiver.attempts = [], 0
    srv = HTTPServer(("127.0.0.1", 0), Receiver)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_port}/hook"
    srv.shutdown()
    srv.server_close()


def test_moved_windows_are_events_and_webhooks(db_url: str, tiny: Scenario, hook: str) -> None:
    """Halving a line's rate moves locked orders later: eta_changed events and webhooks."""

    def make() -> OrderDesk:
        desk = OrderDesk(
            open_store(db_url),
            tiny,
            clock=Clock(),
            config=DeskConfig(debounce_s=0.05, webhook_url=hook),
        )
        desk.ensure_key(ADMIN_KEY, "admin", "bootstrap-admin")
        return desk

    admin = {"X-API-Key": ADMIN_KEY}
    with TestClient(create_app(make)) as client:
        made = [order(client, f"k{i}", lock=True) for i in range(6)]
        client.post("/v1/plan", headers=admin)
        text = client.get("/v1/scenario", headers=admin).text
        r = client.put(
            "/v1/scenario",
            content=text.replace("jph: 1.0", "jph: 0.5"),
            headers=admin | {"Content-Type": "application/yaml"},
        )
        assert r.status_code == 200, r.text
        last = made[-1]
        tok = {"X-Order-Token": last["token"]}
        events = client.get(f"/v1/orders/{last['order_id']}", headers=tok).json()["events"]  # type: ignore[arg-type]
        moved = [e for e in events if e["kind"] == "eta_changed"]
        assert moved, events
        before, after = moved[-1]["data"]["from"], moved[-1]["data"]["to"]
        assert after["earliest"] > before["earliest"]
        view = client.get(f"/v1/orders/{last['order_id']}/eta", headers=tok).json()  # type: ignore[arg-type]
        assert view["window"]["earliest"] == after["earliest"]
        for _ in range(100):  # webhooks go out in the background, retried
            if Receiver.calls:
                break
            time.sleep(0.05)
    assert Receiver.attempts >= 3
    assert Receiver.calls
    assert Receiver.calls[0]["kind"] == "eta_changed"


def test_window_slack_rule() -> None:
    """The window's width: 3 days, or 5 % of the wait when that is more."""
    import datetime as dt

    import polars as pl

    from promiseline.service.desk import slack_days, window_of

    waits = [0, 10, 60, 61, 200, 365]
    assert [slack_days(w) for w in waits] == [3, 3, 3, 4, 10, 19]
    w = window_of(dt.date(2025, 3, 1), dt.date(2025, 3, 5), dt.date(2025, 1, 1), 7)
    assert w is not None
    assert (w.earliest, w.latest, w.queue_position) == (
        dt.date(2025, 3, 5),
        dt.date(2025, 3, 5) + dt.timedelta(days=slack_days(63)),
        7,
    )
    frame = pl.DataFrame({"w": waits}).select(
        pl.max_horizontal(pl.lit(3), (0.05 * pl.col("w")).ceil()).cast(pl.Int64)
    )
    assert frame.to_series().to_list() == [slack_days(x) for x in waits]


def test_imported_orders_get_a_first_promise_without_events(
    db_url: str, tiny: Scenario, tiny_orders: Any
) -> None:
    """After an import, the first re-plan stores each window quietly (not a change)."""
    import asyncio
    import datetime as dt

    from promiseline.core.orders import validate_orders

    store = open_store(db_url)
    book = validate_orders(tiny_orders, tiny)
    store.import_orders(book.table, dt.datetime(2025, 1, 1))
    desk = OrderDesk(store, tiny, clock=Clock())
    asyncio.run(desk.replan())
    oid = "o00"
    assert [e.kind for e in store.events(oid)] == ["created"]
    rec = store.get(oid)
    assert rec is not None
    assert rec.window.earliest is not None
    assert desk.stats.eta_changes == 0
    store.close()
