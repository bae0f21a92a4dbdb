"""Issue 19, finding 6: one bad progress call blocked every scenario change. Progress is
checked against the scenario and the order's own history; a correction puts an order
back to locked; an order a scenario already did not fit blocks no PUT of it."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from promiseline.core.model.lifecycle import EventKind, Status
from promiseline.core.model.records import Transition
from promiseline.store import open_store
from tests.service.conftest import Clock, order


def _stored(db_url: str, oid: object) -> tuple[str, str | None, dt.date | None, str | None]:
    """The order as the store holds it: status, line, build date, sailing."""
    store = open_store(db_url)
    try:
        rec = store.get(str(oid))
    finally:
        store.close()
    assert rec is not None
    return rec.status.value, rec.line, rec.build_date, rec.sailing_id


def _report(client: TestClient, h: dict[str, str], oid: object, **body: object) -> object:
    return client.post(f"/v1/orders/{oid}/progress", headers=h, json=body)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"status": "built", "line": "l9", "build_date": "2025-01-13"}, "line: 'l9' does not"),
        (
            {"status": "built", "line": "l1", "build_date": "2025-01-13", "at": "1970-01-01T00:00"},
            "at: 1970-01-01 00:00 is before the scenario's start (2025-01-01)",
        ),
        (
            {"status": "built", "line": "l1", "build_date": "2025-01-13", "at": "2199-12-31T00:00"},
            "at: 2199-12-31 00:00:00 is in the future",
        ),
        ({"status": "built", "line": "l1", "build_date": "2199-12-31"}, "outside the horizon"),
        ({"status": "built", "line": "l1", "build_date": "1970-01-01"}, "outside the horizon"),
        (
            {"status": "built", "line": "l1", "build_date": "2025-01-09"},
            "build_date: 2025-01-09 is before the order locked (2025-01-10)",
        ),
        (
            {"status": "built", "line": "l1", "build_date": "2025-01-13", "at": "2025-01-12T10:00"},
            "at: 2025-01-12 10:00 is before the car was built (2025-01-13)",
        ),
    ],
)
def test_progress_that_cannot_be_true_is_refused_whole(
    client: TestClient,
    planner_key: str,
    clock: Clock,
    db_url: str,
    body: dict[str, str],
    says: str,
) -> None:
    """The finding's reports (a line that does not build the model, 1970, 2199, before
    the order locked, shipped before built): a 422 naming the field, nothing stored."""
    h = {"X-API-Key": planner_key}
    oid = order(client, "k", lock=True)["order_id"]
    clock.now = dt.datetime(2025, 1, 14, 12)
    r = _report(client, h, oid, **body)
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    assert says in r.json()["detail"]  # type: ignore[attr-defined]
    assert _stored(db_url, oid) == ("locked", None, None, None)
    events = client.get(f"/v1/orders/{oid}", headers=h).json()["events"]
    assert [e["kind"] for e in events if e["kind"] != "eta_changed"] == ["created"]


def test_steps_in_order(client: TestClient, planner_key: str, clock: Clock) -> None:
    """Delivered before it was shipped is refused; in order is taken."""
    h = {"X-API-Key": planner_key}
    oid = order(client, "k", lock=True)["order_id"]
    clock.now = dt.datetime(2025, 1, 20, 12)
    built = {"line": "l1", "build_date": "2025-01-13"}
    ok = _report(client, h, oid, status="shipped", at="2025-01-16T10:00", **built)
    assert ok.status_code == 200, ok.text  # type: ignore[attr-defined]
    early = _report(client, h, oid, status="delivered", at="2025-01-15T10:00")
    assert early.status_code == 422  # type: ignore[attr-defined]
    assert "before the order's last step (shipped at 2025-01-16 10:00)" in early.text  # type: ignore[attr-defined]
    later = _report(client, h, oid, status="delivered", at="2025-01-17T10:00")
    assert later.status_code == 200, later.text  # type: ignore[attr-defined]


@pytest.mark.both_stores
def test_correction_puts_an_order_back_to_locked(
    client: TestClient, planner_key: str, clock: Clock, db_url: str
) -> None:
    """A delivered order (nothing goes back by progress: 409) is put back to locked by
    a correction with its own event, then reported again, correctly."""
    h = {"X-API-Key": planner_key}
    oid = order(client, "k", lock=True)["order_id"]
    clock.now = dt.datetime(2025, 1, 20, 12)
    r = _report(client, h, oid, status="delivered", line="l1", build_date="2025-01-13")
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    again = _report(client, h, oid, status="scheduled", line="l1", build_date="2025-01-27")
    assert again.status_code == 409  # type: ignore[attr-defined]
    blank = client.post(f"/v1/orders/{oid}/correction", headers=h, json={"reason": " "})
    assert blank.status_code == 422
    fix = client.post(
        f"/v1/orders/{oid}/correction", headers=h, json={"reason": "reported the wrong order"}
    )
    assert fix.status_code == 200, fix.text
    got = fix.json()
    assert got["status"] == "locked"
    assert _stored(db_url, oid) == ("locked", None, None, None)
    last = got["events"][-1]
    assert last["kind"] == "corrected"
    assert last["data"]["from"] == {"status": "delivered", "line": "l1", "build_date": "2025-01-13"}
    assert last["data"]["reason"] == "reported the wrong order"
    twice = client.post(f"/v1/orders/{oid}/correction", headers=h, json={"reason": "again"})
    assert twice.status_code == 409  # a locked order has no progress to take back
    r = _report(client, h, oid, status="scheduled", line="l1", build_date="2025-01-27")
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    events = client.get(f"/v1/orders/{oid}", headers=h).json()["events"]
    kinds = [e["kind"] for e in events if e["kind"] != "eta_changed"]  # a re-plan's
    assert kinds == ["created", "delivered", "corrected", "scheduled"]
    customer = client.post(f"/v1/orders/{oid}/correction", json={"reason": "x"})
    assert customer.status_code == 401


@pytest.mark.both_stores
def test_bad_progress_stored_by_an_old_version_blocks_no_scenario(
    client: TestClient, planner_key: str, db_url: str
) -> None:
    """The finding's sequence: a built order on a line that does not build its model,
    written straight to the store as an old version did. PUT of the same scenario text
    succeeds; GET /v1/plan/unfit shows the order and why; a correction and a report
    again fix it; a scenario that would newly misfit a stored order is a 422 that names
    it, counts them and says how to fix them."""
    h = {"X-API-Key": planner_key}
    hy = h | {"Content-Type": "application/yaml"}
    oid = str(order(client, "k", lock=True)["order_id"])
    store = open_store(db_url)
    try:
        store.write(
            [
                Transition(
                    oid,
                    EventKind.BUILT,
                    frozenset({Status.LOCKED}),
                    "old-version",
                    dt.datetime(2025, 1, 10, 11),
                    status=Status.BUILT,
                    line="nope",
                    build_date=dt.date(1970, 1, 1),
                )
            ]
        )
    finally:
        store.close()
    assert client.post("/v1/plan", headers=h).status_code == 200
    text = client.get("/v1/scenario", headers=h).text
    same = client.put("/v1/scenario", content=text, headers=hy)
    assert same.status_code == 200, same.text
    unfit = client.get("/v1/plan/unfit", headers=h).json()
    assert unfit["count"] == 1
    assert unfit["orders"][0]["order_id"] == oid
    assert "line 'nope' does not build model 'A'" in unfit["orders"][0]["reason"]
    fix = client.post(f"/v1/orders/{oid}/correction", headers=h, json={"reason": "bad line"})
    assert fix.status_code == 200, fix.text
    r = _report(client, h, oid, status="scheduled", line="l1", build_date="2025-01-13")
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    assert client.post("/v1/plan", headers=h).json()["orders"]["rejected"] == 0
    assert client.get("/v1/plan/unfit", headers=h).json()["count"] == 0
    # a scenario without model A's line would leave this order (and the next) out
    other = str(order(client, "k2", lock=True)["order_id"])
    gone = text.replace("models: [A]", "models: [B]").replace("- model: A", "- model: B")
    r = client.put("/v1/scenario", content=gone, headers=hy)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith("scenario: 2 stored orders would not fit it: order ")
    assert oid in detail
    assert other in detail
    assert "POST /v1/orders/{order_id}/correction" in detail
    assert client.get("/v1/scenario", headers=h).text == text  # nothing applied
