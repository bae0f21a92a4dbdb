"""Export by sea through the service: orders to a market by sea are taken, quoted with
their sailing's delivery date, planned onto sailings, and the overview shows the lanes
and the port yard, with downloads that hold the same rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from promiseline.core.readout.explain import Explanation
from promiseline.server import create_app
from promiseline.web.i18n import why
from tests.conftest import DATA
from tests.service.conftest import ADMIN, Clock, desk_maker, order, settings
from tests.web.test_pages import csv_rows, sign_in

LANE = {
    "name": "tianjin-hamburg",
    "port": "tianjin",
    "inland_days": 1,
    "transit_days": 20,
    "last_mile_days": 2,
    "capacity": 2,
    "sailings": [{"every": 7, "from": "2025-01-06", "to": "2025-03-31"}],
}


@pytest.fixture
def sea_client(tmp_path: Path) -> Iterator[TestClient]:
    data = yaml.safe_load((DATA / "tiny.yaml").read_text())
    data["markets"].append({"name": "EX", "lanes": [LANE], "gates": []})
    path = tmp_path / "sea.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    s = settings(f"sqlite:///{tmp_path / 'orders.db'}", scenario=str(path))
    with TestClient(create_app(desk_maker(s, Clock()))) as c:
        yield c


def test_export_orders_sail_and_the_overview_shows_the_lanes(sea_client: TestClient) -> None:
    """Five locked orders to EX on sailings of two cars: each gets a window, the plan
    loads all five; the overview lists the lane and the port's peak, and the lanes
    download holds the page's rows."""
    c = sea_client
    made = [order(c, f"ex{i}", market="EX", lock=True) for i in range(5)]
    for o in made:
        w = o["window"]
        assert isinstance(w, dict)
        assert w["likely"] is not None
    r = c.post("/v1/keys", json={"role": "planner"}, headers=ADMIN)
    key = r.json()["key"]
    assert c.post("/v1/plan", headers={"X-API-Key": key}).status_code == 200
    sign_in(c, key)
    ov = c.get("/overview.json").json()
    (lane,) = ov["lanes"]
    assert lane["lane"] == "tianjin-hamburg"
    assert lane["loaded"] == 5
    assert lane["capacity"] == 2 * lane["sailings"]  # sailings up to the last loaded one
    assert lane["sailings"] >= 3  # five cars, two a sailing
    assert ov["yard"][0]["port"] == "tianjin"
    page = c.get("/").text
    assert "Export by sea" in page
    assert "tianjin-hamburg" in page
    rows = csv_rows(c.get("/download/lanes.csv"))
    assert [r["lane"] for r in rows] == ["tianjin-hamburg"]
    assert int(rows[0]["loaded"]) == 5


def explanation(bound: str, ahead: int | None = None) -> Explanation:
    """Order o1 of plant phase-2-majuqiao's line p2-final, number 12,345 in the queue
    (678 for its model), built 2026-03-02, delivered 2026-03-09, held by `bound` on
    2026-01-05 with `ahead` cars ahead."""
    return Explanation(
        order_id="o1",
        status="planned",
        queue_position=12_345,
        model_queue_position=678,
        plant="phase-2-majuqiao",
        line="p2-final",
        earliest_day=dt.date(2026, 1, 5),
        build_date=dt.date(2026, 3, 2),
        delivery_date=dt.date(2026, 3, 9),
        wait_days=63,
        bound_by=bound,
        blocked_day=dt.date(2026, 1, 5) if ahead is not None else None,
        ahead_same_constraint=ahead,
        detail="",
    )


def test_why_in_chinese_names_gates_and_sailings() -> None:
    """The customer page's Chinese 'why' has a sentence for a homologation gate and for a
    full sailing, not the 'nothing held it back' one."""
    assert "认证" in why(explanation("gate:DE"), "zh-CN")
    assert "船期" in why(explanation("sailing:tianjin-hamburg"), "zh-CN")
    assert "没有受到任何限制" in why(explanation(""), "zh-CN")


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize(
    "bound",
    [
        "",
        "line:p2-final",
        "part:pack-lfp-96a",
        "mix:yu7-max-share",
        "shutdown",
        "market:CN-east",
        "gate:DE",
        "sailing:tianjin-bremerhaven",
        "ahead:NO",
    ],
)
def test_why_speaks_to_a_customer(bound: str, lang: str) -> None:
    """A customer reads what held the car back in words a customer uses, in either
    language: no line, plant, part, limit, market or lane names (it said 'line
    p2-final, plant phase-2-majuqiao'); the days and the cars ahead are there."""
    text = why(explanation(bound, ahead=4_321), lang)
    for jargon in ("p2-final", "phase-2", "pack-", "yu7-max", "CN-east", "tianjin", "o1"):
        assert jargon not in text, text
    assert "12,345" in text
    if bound.split(":")[0] in ("line", "part", "mix"):
        assert "4,321" in text, text
