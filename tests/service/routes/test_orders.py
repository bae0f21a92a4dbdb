"""Customer endpoints: create, idempotency, lock, change, cancel, windows, events."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.service.conftest import ADMIN, Clock, order, wait_for


def test_create_gives_id_token_and_window(client: TestClient) -> None:
    """A new order is reserved with an indicative window and a queue position."""
    o = order(client, "k1")
    assert o["status"] == "reserved"
    assert o["window_is_indicative"] is True
    w = o["window"]
    assert isinstance(w, dict)
    assert w["earliest"] <= w["latest"]
    assert o["queue_position"] == 1
    assert isinstance(o["token"], str)


def test_same_key_same_body_is_the_same_order(client: TestClient) -> None:
    """A retried request creates nothing new; a reused key with another body is a 409."""
    a = client.post(
        "/v1/orders",
        json={"model": "A", "variant": "S", "market": "CN"},
        headers={"Idempotency-Key": "same-0123456789abcdef"},
    )
    b = client.post(
        "/v1/orders",
        json={"model": "A", "variant": "S", "market": "CN"},
        headers={"Idempotency-Key": "same-0123456789abcdef"},
    )
    assert (a.status_code, b.status_code) == (201, 200)
    assert a.json()["order_id"] == b.json()["order_id"]
    assert a.json()["token"] == b.json()["token"]
    c = client.post(
        "/v1/orders",
        json={"model": "A", "variant": "M", "market": "CN"},
        headers={"Idempotency-Key": "same-0123456789abcdef"},
    )
    assert c.status_code == 409
    assert "different order body" in c.json()["detail"]


def test_lock_takes_a_place_in_the_queue(client: TestClient) -> None:
    """Locked orders queue one after another; each later one builds no earlier."""
    dates = []
    for i in range(6):
        o = order(client, f"k{i}")
        r = client.post(f"/v1/orders/{o['order_id']}/lock", headers={"X-Order-Token": o["token"]})  # type: ignore[dict-item]
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "locked"
        assert body["window_is_indicative"] is False
        dates.append(body["window"]["build_date"])
    assert dates == sorted(dates)
    assert dates[0] < dates[-1]  # 3 cars a day: six orders need more than one day
    again = client.post(f"/v1/orders/{o['order_id']}/lock", headers={"X-Order-Token": o["token"]})  # type: ignore[dict-item]
    assert again.status_code == 200


def test_window_follows_a_replan_and_events_record_it(client: TestClient) -> None:
    """After a re-plan the order's window comes from the plan; events tell its story."""
    o = order(client, "k1", lock=True)
    tok = {"X-Order-Token": o["token"]}
    oid = o["order_id"]
    wait_for(lambda: client.get("/healthz", headers=ADMIN).json()["orders_in_plan"] == 1)
    r = client.get(f"/v1/orders/{oid}/eta", headers=tok)  # type: ignore[arg-type]
    assert r.status_code == 200
    kinds = [e["kind"] for e in r.json()["events"]]
    assert kinds[0] == "created"
    assert r.json()["window"]["build_date"] == o["window"]["build_date"]  # type: ignore[index]


def test_change_and_cancel(client: TestClient) -> None:
    """A reserved order may change; cancelling it refunds the deposit."""
    o = order(client, "k1")
    tok = {"X-Order-Token": o["token"]}
    oid = o["order_id"]
    r = client.patch(
        f"/v1/orders/{oid}", json={"variant": "M", "options": {"roof": "pan"}}, headers=tok
    )  # type: ignore[arg-type]
    assert r.status_code == 200
    assert (r.json()["variant"], r.json()["options"]) == ("M", {"roof": "pan"})
    r = client.post(f"/v1/orders/{oid}/cancel", headers=tok)  # type: ignore[arg-type]
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["refund"]) == ("cancelled", True)
    r = client.patch(f"/v1/orders/{oid}", json={"variant": "S"}, headers=tok)  # type: ignore[arg-type]
    assert r.status_code == 409
    kinds = [e["kind"] for e in client.get(f"/v1/orders/{oid}", headers=tok).json()["events"]]  # type: ignore[arg-type]
    assert kinds == ["created", "changed", "cancelled"]


def test_locked_order_changes_only_for_a_while(client: TestClient, clock: Clock) -> None:
    """Configuration changes close seven days after locking."""
    import datetime as dt

    o = order(client, "k1", lock=True)
    tok = {"X-Order-Token": o["token"]}
    assert (
        client.patch(f"/v1/orders/{o['order_id']}", json={"variant": "M"}, headers=tok).status_code
        == 200
    )  # type: ignore[arg-type]
    clock.now += dt.timedelta(days=8)
    r = client.patch(f"/v1/orders/{o['order_id']}", json={"variant": "S"}, headers=tok)  # type: ignore[arg-type]
    assert r.status_code == 409
    assert "more than 7 days" in r.json()["detail"]
    r = client.post(f"/v1/orders/{o['order_id']}/cancel", headers=tok)  # type: ignore[arg-type]
    assert r.json()["refund"] is False


def test_quote_endpoint(client: TestClient) -> None:
    """Anyone may ask for the window a new order would get now."""
    r = client.get(
        "/v1/quote", params={"model": "A", "variant": "M", "market": "DE", "option": "roof=pan"}
    )
    assert r.status_code == 200
    assert r.json()["window"]["earliest"] >= "2025-03-01"  # DE opens then
    assert r.json()["bound_by"] == "market:DE"
    assert r.json()["window"]["queue_position"] is None  # anonymous: no backlog size
    w = r.json()["window"]  # the same window an order is told: the plan's stand-in
    assert (w["source"], w["probability"], w["likely"]) == ("plan", None, w["earliest"])
    staff = client.get(
        "/v1/quote",
        params={"model": "A", "variant": "M", "market": "DE", "option": "roof=pan"},
        headers=ADMIN,
    )
    assert staff.json()["window"]["queue_position"] == 1
    bad = client.get(
        "/v1/quote", params={"model": "A", "variant": "M", "market": "DE", "option": "roof:pan"}
    )
    assert bad.status_code == 422
    assert "NAME=VALUE" in bad.json()["detail"]


def test_sse_streams_the_events(client: TestClient) -> None:
    """The events endpoint streams the order's events as Server-Sent Events."""
    o = order(client, "k1")
    url = f"/v1/orders/{o['order_id']}/events?token={o['token']}"
    with client.stream("GET", url) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = ""
        for chunk in r.iter_text():
            text += chunk
            if "event: created" in text:
                break
    assert "event: created" in text
