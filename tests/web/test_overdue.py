"""Overdue orders on the dashboard: an order scheduled for a day that passed unbuilt is
counted on the overview, listed under "overdue only", and a planner re-schedules it
from its page (the plant's progress rule: a line of its model, a day from today)."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from tests.service import conftest as service
from tests.service.conftest import ADMIN, Clock, order, wait_for
from tests.store import conftest as store_fixtures
from tests.web.signin import signed_in

db_url = store_fixtures.db_url
clock = service.clock
client = service.client


def test_an_overdue_order_is_listed_and_rescheduled(client: TestClient, clock: Clock) -> None:
    oid = str(order(client, "late", lock=True)["order_id"])
    other = str(order(client, "on-time", lock=True)["order_id"])
    r = client.post(
        f"/v1/orders/{oid}/progress",
        headers=ADMIN,
        json={"status": "scheduled", "line": "l1", "build_date": "2025-01-13"},
    )
    assert r.status_code == 200, r.text
    clock.now = dt.datetime(2025, 1, 15, 9)  # the 13th passed and nothing says built
    assert client.post("/v1/plan", headers=ADMIN).status_code == 200
    csrf = signed_in(client)  # a planner's morning (sessions run on the same clock)

    def listed() -> str:
        return client.get("/orders", params={"overdue": "1"}).text

    wait_for(lambda: oid in listed())
    page = listed()
    assert other not in page  # only the overdue one
    assert "/orders?overdue=1" in client.get("/").text  # the overview's count links there

    mine = client.get(f"/orders/{oid}").text
    assert "overdue" in mine.lower()
    refused = client.post(
        f"/orders/{oid}/schedule",
        data={"line": "l1", "build_date": "2025-01-14", "csrf": csrf},
        follow_redirects=False,
    )
    assert refused.status_code == 422  # a day gone is refused, and the page says why
    assert "2025-01-14" in refused.text
    done = client.post(
        f"/orders/{oid}/schedule",
        data={"line": "l1", "build_date": "2025-01-16", "csrf": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    events = client.get(f"/v1/orders/{oid}", headers=ADMIN).json()["events"]
    assert [e["kind"] for e in events][-1] == "scheduled"
    assert client.post("/v1/plan", headers=ADMIN).status_code == 200
    wait_for(lambda: oid not in listed())


def test_rescheduling_needs_the_forms_csrf(client: TestClient) -> None:
    signed_in(client)
    oid = str(order(client, "k", lock=True)["order_id"])
    r = client.post(
        f"/orders/{oid}/schedule",
        data={"line": "l1", "build_date": "2025-01-16", "csrf": "forged"},
        follow_redirects=False,
    )
    assert r.status_code in (400, 403)
    kinds = [e["kind"] for e in client.get(f"/v1/orders/{oid}", headers=ADMIN).json()["events"]]
    assert "scheduled" not in kinds
