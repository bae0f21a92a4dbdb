"""Who may see what: tokens open one order, planner keys planner data, admin keys keys."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.service.conftest import ADMIN_KEY, order


def test_token_opens_only_its_own_order(client: TestClient) -> None:
    """Order A's token does not open order B, nor change or cancel it."""
    a, b = order(client, "ka"), order(client, "kb")
    wrong = {"X-Order-Token": a["token"]}
    for method, path in (
        ("GET", ""),
        ("GET", "/eta"),
        ("POST", "/lock"),
        ("POST", "/cancel"),
        ("GET", "/events"),
    ):
        r = client.request(method, f"/v1/orders/{b['order_id']}{path}", headers=wrong)  # type: ignore[arg-type]
        assert r.status_code == 404, (method, path, r.text)
    r = client.patch(f"/v1/orders/{b['order_id']}", json={"variant": "M"}, headers=wrong)  # type: ignore[arg-type]
    assert r.status_code == 404
    assert client.get(f"/v1/orders/{b['order_id']}").status_code == 401


def test_no_key_no_planner_data(client: TestClient) -> None:
    """Listing, explaining, re-planning and the scenario need a planner key."""
    o = order(client, "k")
    for method, path in (
        ("GET", "/v1/orders"),
        ("GET", f"/v1/orders/{o['order_id']}/explain"),
        ("POST", "/v1/plan"),
        ("GET", "/v1/plan"),
        ("GET", "/v1/capacity"),
        ("GET", "/v1/scenario"),
    ):
        assert client.request(method, path).status_code == 401, path
        bad = client.request(method, path, headers={"X-API-Key": "guess"})
        assert bad.status_code == 401, path
        assert (
            client.request(
                method,
                path,
                headers={"X-Order-Token": o["token"]},  # type: ignore[dict-item]
            ).status_code
            == 401
        ), path


def test_planner_key_cannot_manage_keys(client: TestClient, planner_key: str) -> None:
    """A planner key reads planner data but gets 403 on key management."""
    h = {"X-API-Key": planner_key}
    assert client.get("/v1/orders", headers=h).status_code == 200
    assert client.post("/v1/keys", json={"role": "admin"}, headers=h).status_code == 403
    assert client.get("/v1/keys", headers=h).status_code == 403
    assert client.delete("/v1/keys/bootstrap-admin", headers=h).status_code == 403


def test_revoked_key_stops_working(client: TestClient) -> None:
    """A revoked key is refused at once; keys are listed without their secret."""
    admin = {"X-API-Key": ADMIN_KEY}
    made = client.post("/v1/keys", json={"role": "planner"}, headers=admin).json()
    h = {"X-API-Key": made["key"]}
    assert client.get("/v1/plan", headers=h).status_code == 200
    assert client.delete(f"/v1/keys/{made['key_id']}", headers=admin).status_code == 204
    assert client.get("/v1/plan", headers=h).status_code == 401
    listed = client.get("/v1/keys", headers=admin).json()
    assert all("key" not in k for k in listed)
    assert {k["key_id"] for k in listed} >= {made["key_id"], "bootstrap-admin"}


def test_planner_sees_any_order_and_explains(client: TestClient, planner_key: str) -> None:
    """With a planner key: any order, the list with filters and paging, explain, re-plan."""
    h = {"X-API-Key": planner_key}
    ids = [order(client, f"k{i}", lock=True)["order_id"] for i in range(5)]
    assert client.get(f"/v1/orders/{ids[0]}", headers=h).status_code == 200
    plan = client.post("/v1/plan", headers=h).json()
    assert plan["orders"]["planned"] == 5
    page = client.get("/v1/orders", params={"status": "locked", "limit": 2}, headers=h).json()
    assert page["count"] == 5
    assert len(page["data"]) == 2
    nxt = client.get(
        "/v1/orders",
        params={"status": "locked", "limit": 2, "after": page["next_after"]},
        headers=h,
    ).json()
    assert nxt["data"][0]["order_id"] > page["data"][-1]["order_id"]
    e = client.get(f"/v1/orders/{ids[-1]}/explain", headers=h).json()
    assert e["queue_position"] == 5
    assert "text" in e


def test_scenario_replace_validates_and_replans(client: TestClient, planner_key: str) -> None:
    """A bad scenario is a 422 naming the key; a good one is used at once."""
    h = {"X-API-Key": planner_key, "Content-Type": "application/yaml"}
    text = client.get("/v1/scenario", headers=h).text
    bad = client.put("/v1/scenario", content=text.replace("jph: 1.0", "jph: -5"), headers=h)
    assert bad.status_code == 422
    assert "jph: must be > 0, got -5" in bad.json()["detail"]
    good = client.put("/v1/scenario", content=text.replace("jph: 1.0", "jph: 2.0"), headers=h)
    assert good.status_code == 200, good.text
    assert "jph: 2.0" in client.get("/v1/scenario", headers=h).text


def test_progress_lifecycle(client: TestClient, planner_key: str) -> None:
    """Planner records scheduled, built, shipped, delivered; each is an event."""
    h = {"X-API-Key": planner_key}
    oid = order(client, "k", lock=True)["order_id"]
    r = client.post(
        f"/v1/orders/{oid}/progress",
        headers=h,
        json={"status": "scheduled", "line": "l1", "build_date": "2025-01-13"},
    )
    assert r.status_code == 200, r.text
    for status in ("built", "shipped", "delivered"):
        assert (
            client.post(
                f"/v1/orders/{oid}/progress", headers=h, json={"status": status}
            ).status_code
            == 200
        )
    back = client.post(f"/v1/orders/{oid}/progress", headers=h, json={"status": "built"})
    assert back.status_code == 409
    kinds = [e["kind"] for e in client.get(f"/v1/orders/{oid}", headers=h).json()["events"]]
    assert kinds == ["created", "scheduled", "built", "shipped", "delivered"]
