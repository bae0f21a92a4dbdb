"""Orders downloads: read in one query, written off the event loop; an Excel file past
its row cap is refused with the way out, CSV has no cap."""

from __future__ import annotations

import polars as pl
import pytest
from fastapi.testclient import TestClient

from promiseline.store import SqlStore
from promiseline.web import pages
from tests.service.conftest import client, clock, db_url, order, store  # noqa: F401
from tests.web.signin import signed_in


def test_an_excel_download_past_its_cap_says_to_take_csv(
    client: TestClient,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = sorted(str(order(client, f"d{i}", lock=True)["order_id"]) for i in range(3))
    signed_in(client)
    monkeypatch.setattr(pages, "XLSX_MAX_ROWS", 2)
    big = client.get("/download/orders.xlsx")
    assert big.status_code == 413
    assert "up to 2 orders and this one has 3: download it as CSV" in big.text
    csv = pl.read_csv(client.get("/download/orders.csv").content)
    assert csv["order_id"].to_list() == made
    monkeypatch.setattr(pages, "XLSX_MAX_ROWS", 3)
    ok = client.get("/download/orders.xlsx")
    assert ok.status_code == 200
    assert ok.content[:2] == b"PK"


def test_a_refused_filter_shows_in_the_swapped_table(client: TestClient) -> None:  # noqa: F811
    """htmx swaps in only a 2xx answer: the partial says what is wrong with a 200 (the
    full page answers 422)."""
    signed_in(client)
    where = {"status": "lockd"}  # a typo: refused, not every order listed
    partial = client.get("/orders", params=where, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert 'class="error" role="alert"' in partial.text
    assert "status must be one of" in partial.text
    assert client.get("/orders", params=where).status_code == 422


def test_the_overview_takes_bands_stored_by_any_worker(
    client: TestClient,  # noqa: F811
    store: SqlStore,  # noqa: F811
) -> None:
    """The overview is made again when the stored Monte Carlo bands change (whichever
    worker's simulation stored them), and not otherwise."""
    order(client, "b1", lock=True)
    signed_in(client)
    first = client.get("/overview.json").json()["backlog"]
    assert "backlog_p10" not in first[0]
    days = [r["date"] for r in first]
    bands = pl.DataFrame(
        {"date": days, **{f"backlog_p{p}": [p] * len(days) for p in (10, 50, 90)}}
    ).with_columns(pl.col("date").str.to_date())
    store.put_spread("[]", bands.write_json())
    again = client.get("/overview.json").json()["backlog"]
    assert [r["backlog_p50"] for r in again[: len(days)]] == [50] * len(days)


def test_downloads_are_limited_per_caller_and_per_worker(client: TestClient) -> None:  # noqa: F811
    """Issue 19: eight concurrent downloads by one planner starved every request. One
    planner holds at most one download at a time, a worker two; the rest answer 429 with
    Retry-After, and the request path (an order read) goes on meanwhile."""
    made = order(client, "dl", lock=True)
    signed_in(client)
    desk = client.app.app.state.desk  # type: ignore[attr-defined]
    admin = next(k.key_id for k in desk.store.api_keys() if k.role == "admin")
    desk.pools.downloads.take(admin)  # a download of this planner still running
    mine = client.get("/download/orders.csv")
    assert mine.status_code == 429
    assert mine.headers["Retry-After"]
    assert "you already have 1 download running" in mine.text
    desk.pools.downloads.take("another planner")  # the worker's two are taken
    desk.pools.downloads.give_back(admin)
    desk.pools.downloads.take("a third planner")
    full = client.get("/download/orders.csv")
    assert full.status_code == 429
    assert "2 downloads are running in this worker" in full.text
    token = {"X-Order-Token": str(made["token"])}
    assert client.get(f"/v1/orders/{made['order_id']}", headers=token).status_code == 200
    desk.pools.downloads.give_back("another planner")
    desk.pools.downloads.give_back("a third planner")
    assert client.get("/download/orders.csv").status_code == 200
    assert desk.pools.downloads.used == 0  # given back once the thread ended


def test_a_download_whose_client_left_stops_reading() -> None:
    """The read stops at its next slice once the client has gone (three downloads ran on
    after their clients left), and the slot is held until the thread has ended."""
    import asyncio
    import threading

    from promiseline.web.pages import until_gone

    class Gone:
        async def is_disconnected(self) -> bool:
            return True

    stop = threading.Event()

    async def reading() -> str:
        while not stop.is_set():  # a read that only ends when told to
            await asyncio.sleep(0.01)
        return "stopped"

    async def go() -> object:
        return await until_gone(Gone(), stop, reading())  # type: ignore[arg-type]

    assert asyncio.run(go()) is None
    assert stop.is_set()
