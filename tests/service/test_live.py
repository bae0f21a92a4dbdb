"""The live plan: windows that move become eta_changed events; every desk on one
database re-plans when the stored versions move; scenario replacement is all or nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from promiseline.core.model.lifecycle import EventKind
from promiseline.core.model.orders import validate_orders
from promiseline.core.model.scenario import Scenario
from promiseline.server import create_app
from promiseline.service.desk import OrderDesk
from promiseline.store import open_store
from tests.service.conftest import ADMIN, Clock, desk_maker, order, settings, wait_for

YAML = {"Content-Type": "application/yaml"}


def test_moved_windows_are_events(client: TestClient) -> None:
    """Halving a line's rate moves locked orders later: the worker that takes the put
    writes eta_changed events saying from/to (it may hold the lease, and nothing else
    would re-plan)."""
    made = [order(client, f"k{i}", lock=True) for i in range(6)]
    client.post("/v1/plan", headers=ADMIN)
    text = client.get("/v1/scenario", headers=ADMIN).text
    r = client.put(
        "/v1/scenario", content=text.replace("jph: 1\n", "jph: 0.5\n"), headers=ADMIN | YAML
    )
    assert r.status_code == 200, r.text
    client.post("/v1/plan", headers=ADMIN)  # the lease holder records what moved
    last = made[-1]
    tok = {"X-Order-Token": str(last["token"])}
    events = client.get(f"/v1/orders/{last['order_id']}", headers=tok).json()["events"]
    moved = [e for e in events if e["kind"] == "eta_changed"]
    assert moved, events
    before, after = moved[-1]["data"]["from"], moved[-1]["data"]["to"]
    assert after["earliest"] > before["earliest"]
    view = client.get(f"/v1/orders/{last['order_id']}/eta", headers=tok).json()
    assert view["window"]["earliest"] == after["earliest"]


def test_imported_orders_get_a_first_promise_without_events(
    db_url: str, tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """After an import, the first re-plan stores each window quietly (not a change)."""
    store = open_store(db_url)
    store.import_orders(validate_orders(tiny_orders, tiny), dt.datetime(2025, 1, 1))
    desk = OrderDesk(store, settings(db_url), clock=Clock())
    asyncio.run(desk.live.replan())
    assert [e.kind for e in store.events("o00")] == [EventKind.CREATED]
    rec = store.get("o00")
    assert rec is not None
    assert rec.window.earliest is not None
    assert desk.live.eta_changes == 0
    store.close()


def test_booking_keeps_the_plan_as_planned(client: TestClient) -> None:
    """Locks booked between re-plans leave the plan's table and summary agreeing."""
    client.post("/v1/plan", headers=ADMIN)
    for i in range(4):
        order(client, f"k{i}", lock=True)
    sm = client.get("/v1/plan", headers=ADMIN).json()
    assert sm["orders"]["planned"] + sm["booked_since_plan"] >= 4
    lines_built = sum(ln["built"] for ln in sm["lines"])
    assert lines_built == sm["orders"]["planned"]


def _two_desks(db_url: str) -> tuple[Any, Any]:
    s = settings(db_url)
    return (
        TestClient(create_app(desk_maker(s, Clock()))),
        TestClient(create_app(desk_maker(s, Clock()))),
    )


@pytest.mark.both_stores
def test_every_desk_follows_the_stored_versions(
    db_url: str, tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """Two desks on one database: an import, a lock taken by one and a scenario put
    through the other all reach both within the debounce; both answer alike, saying
    which versions they answer from."""
    a, b = _two_desks(db_url)
    with a, b:
        store = open_store(db_url, migrate=False)
        store.import_orders(validate_orders(tiny_orders, tiny), dt.datetime(2025, 1, 1))
        version = store.versions().book
        store.close()
        q = {"model": "A", "variant": "S", "market": "CN"}

        def same(expect_book: int) -> bool:
            qa = a.get("/v1/quote", params=q, headers=ADMIN).json()
            qb = b.get("/v1/quote", params=q, headers=ADMIN).json()
            return qa["as_of"]["book"] == qb["as_of"]["book"] == expect_book and qa == qb

        wait_for(lambda: same(version))
        order(a, "lock-1", lock=True)
        wait_for(lambda: same(version + 1))
        text = b.get("/v1/scenario", headers=ADMIN).text
        r = b.put(
            "/v1/scenario", content=text.replace("jph: 1\n", "jph: 2\n"), headers=ADMIN | YAML
        )
        assert r.status_code == 200, r.text
        wait_for(lambda: a.get("/v1/plan", headers=ADMIN).json()["as_of"]["scenario"] == 2)
        assert "jph: 2\n" in a.get("/v1/scenario", headers=ADMIN).text
        assert same(version + 1)


def test_a_bad_scenario_changes_nothing(client: TestClient) -> None:
    """Invalid YAML, unknown keys, infinite or absurd numbers, alias bombs: each a 422
    naming the problem; the scenario in use and its version stay."""
    text = client.get("/v1/scenario", headers=ADMIN).text
    before = client.get("/v1/plan", headers=ADMIN).json()["as_of"]
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    cases = {
        "name: [unclosed": "not valid YAML",
        text.replace("jph: 1\n", "jph: .inf\n"): "jph",
        text.replace("jph: 1\n", "jph: .nan\n"): "jph",
        text.replace("jph: 1\n", "jph: 1e9\n"): "jph: must be <= 1000",
        text.replace("horizon_days: 60", "horizon_days: 100000"): "horizon_days",
        text.replace("start: 2025-01-01", "start: 9999-12-01"): "start: must be a date",
        text.replace("stock: 5", "stock: -1"): "stock: must be >= 0",
        text + "\nsurprise: 1\n": "surprise: unknown key",
        bomb: "expands to",
        "a: &a [*a]\n": "an alias inside its own anchor",
        "name: " + "[" * 500 + "]" * 500: "nested too deeply",
        "x: " + "{a: " * 60 + "1" + "}" * 60: "nested deeper than 50",
        "- just\n- a list\n": "expected a mapping",
        "": "expected a mapping",
    }
    for body, message in cases.items():
        r = client.put("/v1/scenario", content=body.encode(), headers=ADMIN | YAML)
        assert r.status_code == 422, (message, r.text)
        assert message in r.text, (message, r.text)
    r = client.put("/v1/scenario", content=b"\xff\xfe\x00", headers=ADMIN | YAML)
    assert (r.status_code, "not UTF-8" in r.text) == (422, True)
    assert client.get("/v1/scenario", headers=ADMIN).text == text
    assert client.get("/v1/plan", headers=ADMIN).json()["as_of"] == before


def test_a_scenario_that_drops_stored_orders_is_refused(client: TestClient) -> None:
    """Removing a variant that locked orders have is a 422 naming them, not a plan that
    silently leaves them out; the scenario stays."""
    for i in range(3):
        order(client, f"m{i}", variant="M", lock=True)
    text = client.get("/v1/scenario", headers=ADMIN).text
    without_m = text.replace("      - {name: M, parts: {pack: 1, lidar: 1}}\n", "").replace(
        "mix_limits:\n  - {name: m-max, line: l1, match: {variant: M}, max_share: 0.5}\n", ""
    )
    assert without_m != text
    r = client.put("/v1/scenario", content=without_m, headers=ADMIN | YAML)
    assert r.status_code == 422, r.text
    assert "3 stored orders would not fit it" in r.json()["detail"]
    assert "unknown variant 'M'" in r.json()["detail"]
    assert client.get("/v1/scenario", headers=ADMIN).text == text


def test_scenario_work_stays_off_the_event_loop(db_url: str) -> None:
    """While a scenario is parsed, validated and planned, health and intake answer."""
    from promiseline.service import live

    slow = threading.Event()
    real = live.plan_snapshot

    def plan_slowly(*args: Any) -> Any:
        slow.set()
        time.sleep(1.0)
        return real(*args)

    with TestClient(create_app(desk_maker(settings(db_url), Clock()))) as c:
        text = c.get("/v1/scenario", headers=ADMIN).text
        live.plan_snapshot = plan_slowly  # type: ignore[assignment]
        try:
            done: list[int] = []
            t = threading.Thread(
                target=lambda: done.append(
                    c.put("/v1/scenario", content=text + "\n", headers=ADMIN | YAML).status_code
                )
            )
            t.start()
            assert slow.wait(5)
            t0 = time.perf_counter()
            assert c.get("/healthz").status_code == 200
            order(c, "during")
            answered = time.perf_counter() - t0
            t.join()
        finally:
            live.plan_snapshot = real  # type: ignore[assignment]
        assert done == [200]
        assert answered < 0.5  # the planner's 1 s did not hold the loop


def test_restart_uses_what_was_stored(db_url: str, caplog: Any) -> None:
    """A scenario put through the API is the one a restarted service uses, with or
    without the --scenario file it was first started with (a warning says so)."""
    with TestClient(create_app(desk_maker(settings(db_url), Clock()))) as c:
        text = c.get("/v1/scenario", headers=ADMIN).text
        new = text.replace("jph: 1\n", "jph: 2\n")
        assert c.put("/v1/scenario", content=new, headers=ADMIN | YAML).status_code == 200
    with TestClient(create_app(desk_maker(settings(db_url, scenario=None), Clock()))) as c:
        assert c.get("/v1/scenario", headers=ADMIN).text == new
    with TestClient(create_app(desk_maker(settings(db_url), Clock()))) as c:
        assert c.get("/v1/scenario", headers=ADMIN).text == new
    assert "stays in use" in caplog.text
