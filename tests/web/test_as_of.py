"""The dashboard says what its plan is made as of: every heading of the overview, the week
column of the utilization table, the charts' data (kpis.as_of, where app.js draws the
line), the orders list, an order's page and a what-if's tables, all on the live plan's
day, which moves with the plant's clock."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient

from tests.conftest import DATA
from tests.service import conftest as service
from tests.service.conftest import ADMIN, Clock, order
from tests.store import conftest as store_fixtures
from tests.web.signin import signed_in
from tests.web.test_studies import finished

db_url = store_fixtures.db_url
clock = service.clock
client = service.client

DAY = "2025-01-10"  # the service tests' clock: Friday 2025-01-10 10:00


def headings(html: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", html, re.S)


def as_of_week(html: str) -> list[str]:
    """The heat table's marked column headings."""
    return re.findall(r'<th class="num asof-week"[^>]*>([^<]*)</th>', html)


def test_the_overview_says_and_marks_the_plans_day(client: TestClient, clock: Clock) -> None:
    for i in range(4):
        order(client, f"a{i}", lock=True)
    signed_in(client)
    html = client.get("/").text
    assert f"plan as of {DAY}" in html
    heads = headings(html)
    assert len(heads) >= 7  # three charts, the heat table, waits by model, variant, market
    assert all(f"as of {DAY}" in h for h in heads), heads
    assert as_of_week(html) == ["25-01-06"]  # the week of Monday 6 January
    marked = re.findall(r'<td class="cell asof-week[ "]', html)
    assert len(marked) == 1  # one line, l1
    assert client.get("/overview.json").json()["kpis"]["as_of"] == DAY  # where the line goes
    assert "asOfLine" in client.get("/static/app.js").text

    clock.now = dt.datetime(2025, 1, 21, 8)  # days later, re-planned: the page moves on
    assert client.post("/v1/plan", headers=ADMIN).status_code == 200
    signed_in(client)  # a session lasts a working day (on the same clock)
    assert client.get("/overview.json").json()["kpis"]["as_of"] == "2025-01-21"
    html = client.get("/").text
    assert all("as of 2025-01-21" in h for h in headings(html))
    assert as_of_week(html) == ["25-01-20"]


def test_orders_and_an_order_say_the_plans_day(client: TestClient) -> None:
    oid = str(order(client, "b", lock=True)["order_id"])
    assert client.post("/v1/plan", headers=ADMIN).status_code == 200
    signed_in(client)
    listed = client.get("/orders").text
    assert f"as of {DAY})" in listed
    partial = client.get("/orders", params={"status": "locked"}, headers={"HX-Request": "true"})
    assert f"as of {DAY})" in partial.text  # the table htmx swaps in says it too
    assert f"Plan as of {DAY}: builds" in client.get(f"/orders/{oid}").text


def test_a_what_ifs_tables_say_the_plans_day(client: TestClient) -> None:
    for i in range(3):
        order(client, f"c{i}", lock=True)
    csrf = signed_in(client)
    r = client.post(
        "/whatif",
        data={"csrf": csrf, "name": "more-hours", "text": (DATA / "more-hours.yaml").read_text()},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    html = finished(client, r.headers["location"])
    heads = headings(html)
    assert len(heads) == 2, html  # waits, deliveries by month
    assert all(f"as of {DAY}" in h for h in heads), heads
