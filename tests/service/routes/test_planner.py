"""Planner routes: a planner or admin key reads any order, lists, explains, re-plans,
records progress and replaces the scenario; nobody else does."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from promiseline import api
from tests.service.conftest import ADMIN, Clock, order


def test_no_key_no_planner_data(client: TestClient) -> None:
    """Listing, explaining, re-planning and the scenario need a planner key."""
    o = order(client, "k")
    for method, path in (
        ("GET", "/v1/orders"),
        ("GET", f"/v1/orders/{o['order_id']}/explain"),
        ("POST", f"/v1/orders/{o['order_id']}/progress"),
        ("POST", "/v1/plan"),
        ("GET", "/v1/plan"),
        ("GET", "/v1/capacity"),
        ("GET", "/v1/scenario"),
        ("PUT", "/v1/scenario"),
    ):
        assert client.request(method, path).status_code == 401, path
        bad = client.request(method, path, headers={"X-API-Key": "guess"})
        assert bad.status_code == 401, path
        token = {"X-Order-Token": str(o["token"])}
        assert client.request(method, path, headers=token).status_code == 401, path


def test_planner_sees_any_order_and_explains(client: TestClient, planner_key: str) -> None:
    """With a planner key: any order, the list with filters and paging, explain, re-plan."""
    h = {"X-API-Key": planner_key}
    ids = [order(client, f"k{i}", lock=True)["order_id"] for i in range(5)]
    assert client.get(f"/v1/orders/{ids[0]}", headers=h).status_code == 200
    plan = client.post("/v1/plan", headers=h).json()
    assert plan["orders"]["planned"] == 5
    assert plan["as_of"]["book"] >= 5
    page = client.get("/v1/orders", params={"status": "locked", "limit": 2}, headers=h).json()
    assert page["count"] == 5
    assert len(page["data"]) == 2
    nxt = client.get(
        "/v1/orders",
        params={"status": "locked", "limit": 2, "after": page["next_after"]},
        headers=h,
    ).json()
    assert nxt["data"][0]["order_id"] > page["data"][-1]["order_id"]
    assert client.get("/v1/orders", params={"status": "lost"}, headers=h).status_code == 422
    e = client.get(f"/v1/orders/{ids[-1]}/explain", headers=h).json()
    assert e["queue_position"] == 5
    assert "text" in e


def test_progress_lifecycle(client: TestClient, planner_key: str, clock: Clock) -> None:
    """Planner records scheduled, built, shipped, delivered; each is an event, each
    report again changes nothing, nothing is built in the future."""
    h = {"X-API-Key": planner_key}
    oid = order(client, "k", lock=True)["order_id"]
    r = client.post(
        f"/v1/orders/{oid}/progress",
        headers=h,
        json={"status": "scheduled", "line": "l1", "build_date": "2025-01-13"},
    )
    assert r.status_code == 200, r.text
    early = client.post(f"/v1/orders/{oid}/progress", headers=h, json={"status": "built"})
    assert early.status_code == 422  # the clock reads 2025-01-10: not built yet
    assert "build_date: 2025-01-13 is in the future" in early.text
    clock.now = dt.datetime(2025, 1, 14, 9)
    for status in ("built", "shipped", "delivered"):
        r = client.post(f"/v1/orders/{oid}/progress", headers=h, json={"status": status})
        assert r.status_code == 200, r.text
        again = client.post(f"/v1/orders/{oid}/progress", headers=h, json={"status": status})
        assert again.status_code == 200, again.text  # the same report twice: no change
    back = client.post(f"/v1/orders/{oid}/progress", headers=h, json={"status": "built"})
    assert back.status_code == 409
    kinds = [e["kind"] for e in client.get(f"/v1/orders/{oid}", headers=h).json()["events"]]
    assert kinds == ["created", "scheduled", "built", "shipped", "delivered"]
    wrong = client.post(f"/v1/orders/{oid}/progress", headers=h, json={"status": "reserved"})
    assert wrong.status_code == 422
    assert "must be one of" in wrong.text


def test_scenario_replace_validates_and_replans(client: TestClient, planner_key: str) -> None:
    """A bad scenario is a 422 naming the key; a good one is used at once."""
    h = {"X-API-Key": planner_key, "Content-Type": "application/yaml"}
    text = client.get("/v1/scenario", headers=h).text
    bad = client.put("/v1/scenario", content=text.replace("jph: 1\n", "jph: -5\n"), headers=h)
    assert bad.status_code == 422
    assert "jph: must be > 0, got -5" in bad.json()["detail"]
    good = client.put("/v1/scenario", content=text.replace("jph: 1\n", "jph: 2\n"), headers=h)
    assert good.status_code == 200, good.text
    assert good.json()["as_of"]["scenario"] == 2
    assert "jph: 2\n" in client.get("/v1/scenario", headers=h).text


def test_staff_reads_orders_customers_do_not_list(client: TestClient) -> None:
    """An admin key opens any order; the list is not open to an order's token."""
    o = order(client, "k")
    assert client.get(f"/v1/orders/{o['order_id']}", headers=ADMIN).status_code == 200
    token = {"X-Order-Token": str(o["token"])}
    assert client.get("/v1/orders", headers=token).status_code == 401


def test_history_scores_the_windows_the_service_told(
    client: TestClient, planner_key: str, clock: Clock, db_url: str
) -> None:
    """`backtest --db`: the first promise is the window a customer got at lock (later
    re-plans may move it: churn), the delivery the day the plant reported it; half
    delivered inside the first window, half the day after it."""
    h = {"X-API-Key": planner_key}
    told = [order(client, f"k{i}", lock=True) for i in range(6)]
    for i, o in enumerate(told):
        w = o["window"]
        assert isinstance(w, dict)
        day = dt.date.fromisoformat(w["earliest"] if i % 2 else w["latest"])
        clock.now = dt.datetime.combine(day + dt.timedelta(days=i % 2 == 0), dt.time(15))
        r = client.post(
            f"/v1/orders/{o['order_id']}/progress", headers=h, json={"status": "delivered"}
        )
        assert r.status_code == 200, r.text
    j = api.backtest_history(db_url).to_json()
    assert (j["orders_delivered"], j["orders_scored"]) == (6, 6)
    assert j["coverage_p10_p90"] == 0.5
    assert j["first_promise_sources"] == {"plan": 6}
    events = [client.get(f"/v1/orders/{o['order_id']}", headers=h).json()["events"] for o in told]
    moves = sum(e["kind"] == "eta_changed" for es in events for e in es)
    assert j["churn_per_order"] == round(moves / 6, 3)
