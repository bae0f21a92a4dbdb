"""The Sequence page: a line-day's build order as a strip (cars by paint, a tick per
station a car needs, red where a window is over capacity), its counts, and clear answers
for a line or day there is nothing to show for."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from promiseline.server import create_app
from tests.conftest import DATA
from tests.service import conftest as service
from tests.service.conftest import ADMIN, Clock, desk_maker, order, settings
from tests.store import conftest as store_fixtures
from tests.web.test_pages import sign_in, to_login

db_url = store_fixtures.db_url  # the tiny scenario's service (no stations), on SQLite
clock = service.clock
client = service.client
planner_key = service.planner_key

# a car needing both 1-of-2 stations and one needing each: one window over capacity
CARS = (
    ("M", {"roof": "pan", "paint": "lava-orange"}),
    ("M", {"paint": "black"}),
    ("S", {"roof": "pan"}),
)


@pytest.fixture
def two_stations(tmp_path) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    s = settings(f"sqlite:///{tmp_path / 'seq.db'}", scenario=str(DATA / "two-stations.yaml"))
    with TestClient(create_app(desk_maker(s, Clock()))) as c:
        for i, (variant, options) in enumerate(CARS):
            order(c, f"car{i}", variant=variant, options=options, lock=True)
        key = c.post("/v1/keys", json={"role": "planner"}, headers=ADMIN).json()["key"]
        sign_in(c, key)
        deadline = time.monotonic() + 30  # the orders are planned in the background
        while "3 cars" not in c.get("/sequence").text:  # (5 s was short beside the suite)
            assert time.monotonic() < deadline, "the live plan never held the three cars"
            time.sleep(0.05)
        yield c


def shown(c: TestClient, query: str = "") -> tuple[int, str]:
    """The page's status and main part (the live plan holds all three cars)."""
    r = c.get(f"/sequence{query}")
    return r.status_code, r.text[r.text.index("<main>") :]


def test_a_day_is_drawn_car_by_car(two_stations: TestClient) -> None:
    code, main = shown(two_stations)
    assert code == 200
    assert "l1 on 2025-01-10: 3 cars on 3 carriers" in main
    assert "lidar (1 of 2): 0 windows over capacity" in main
    assert "roof (1 of 2): 1 window over capacity" in main
    assert "1 empty carrier needed beyond the day's slots" in main
    cars = re.findall(
        r'<rect x="(\d+)" y="0" width="7" height="18" fill="(#[0-9a-f]{6})"><title>([^<]*)', main
    )
    assert len(cars) == 3
    assert sorted(x for x, _, _ in cars) == ["0", "16", "8"]
    paints = {t.split(", ")[1].split(" (")[0] for _, _, t in cars if ", " in t}
    assert paints == {"lava-orange", "black"}
    colours = {c for _, c, _ in cars}
    assert "#f07a1a" in colours
    assert "#1f2328" in colours
    # one tick per station a car needs: 2 lidar, 2 roof; the roof ticks of the window over
    # capacity (both roof cars share it: 1 of 2 in 3 carriers) are red
    assert main.count('class="tick"') + main.count('class="tick over"') == 4
    assert main.count('class="tick over"') == 2


def test_nothing_to_show_is_said_plainly(
    two_stations: TestClient, client: TestClient, planner_key: str
) -> None:
    code, main = shown(two_stations, "?line=l9")
    assert code == 404
    assert "no line &#39;l9&#39; with stations in the scenario; one of l1" in main
    code, main = shown(two_stations, "?line=l1&day=2025-02-01")
    assert code == 404
    assert "the plan builds nothing on l1 on 2025-02-01" in main
    code, main = shown(two_stations, "?line=l1&day=2026-13-01")
    assert code == 422
    assert "the day must be a date as YYYY-MM-DD, got &#39;2026-13-01&#39;" in main
    attack = '"><img src=x onerror=alert(1)>'
    code, main = shown(two_stations, f"?line={attack}")
    assert code == 404, main
    assert "<img src=x" not in main, main[main.index("<img src=x") - 300 :]
    assert "&lt;img src=x onerror=alert(1)&gt;" in main  # shown, escaped
    sign_in(client, planner_key)  # the tiny scenario: no line has stations
    r = client.get("/sequence")
    assert r.status_code == 200
    assert "No line of the scenario has stations" in r.text


def test_the_page_needs_a_session(client: TestClient) -> None:
    assert to_login(client.get("/sequence", follow_redirects=False))
