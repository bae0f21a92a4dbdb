"""Export by sea (SCENARIO.md, "Export markets"): validation, sailings, the export rule,
the plan's sea columns and tables, live quotes and explanations, on hand-made scenarios."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promiseline.core.model.orders import OrderBook, validate_orders
from promiseline.core.model.scenario import Quota, Sailing, Scenario
from promiseline.core.planning.plan import Plan
from promiseline.core.planning.planner import plan
from promiseline.core.planning.quote import Booking, quote
from promiseline.core.planning.sea import sea
from promiseline.core.readout.explain import explain
from promiseline.errors import ScenarioError
from promiseline.io.scenario_file import scenario_from_dict
from tests.conftest import examples

START = dt.date(2025, 1, 6)  # a Monday; every day is a working day below
COLUMNS = ("order_id", "model", "variant", "options", "market", "locked_at", "priority")
COLUMNS += ("status", "line", "build_date")


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def lane(name: str = "lane-a", **changes: Any) -> dict[str, Any]:
    """Inland 2, transit 10, last mile 3, one car a sailing, weekly from day 3 (Thursday)."""
    out: dict[str, Any] = {
        "name": name,
        "inland_days": 2,
        "transit_days": 10,
        "last_mile_days": 3,
        "capacity": 1,
        "sailings": [{"every": 7, "from": day(3), "to": day(200)}],
    }
    return out | changes


def data(
    *,
    per_day: float = 3,
    lanes: list[dict[str, Any]] | None = None,
    frozen_days: int = 0,
    horizon: int = 60,
    **market: Any,
) -> dict[str, Any]:
    """One line building model A (variants S, M) `per_day` cars a day, every day; a home
    market CN by road and an export market EX by sea."""
    return {
        "name": "sea",
        "start": START,
        "horizon_days": horizon,
        "frozen_days": frozen_days,
        "calendar": {"working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
        "products": [{"model": "A", "variants": [{"name": "S"}, {"name": "M"}]}],
        "plants": [
            {
                "name": "p1",
                "lines": [
                    {
                        "name": "l1",
                        "models": ["A"],
                        "jph": 1,
                        "shifts": [{"from": START, "hours": per_day}],
                    }
                ],
            }
        ],
        "markets": [
            {"name": "CN", "lead_days": 2},
            {"name": "EX", "lanes": [lane()] if lanes is None else lanes} | market,
        ],
    }


def scenario(**kw: Any) -> Scenario:
    return Scenario.model_validate(data(**kw))


def raw(*rows: dict[str, Any]) -> pl.DataFrame:
    """Order-book rows o0, o1, ... locked a second apart at 08:00 on the start day,
    locked, market EX, model A variant S, unless a row says otherwise."""
    table: dict[str, list[str]] = {c: [] for c in COLUMNS}
    for i, r in enumerate(rows):
        full = {
            "order_id": f"o{i}",
            "model": "A",
            "variant": "S",
            "options": "",
            "market": "EX",
            "locked_at": f"{START}T08:00:{i:02d}",
            "priority": "0",
            "status": "locked",
            "line": "",
            "build_date": "",
        } | r
        for c in COLUMNS:
            table[c].append(str(full[c]))
    return pl.DataFrame(table)


def orders(s: Scenario, *rows: dict[str, Any]) -> OrderBook:
    """The rows of `raw`, validated (every one must be good)."""
    book = validate_orders(raw(*rows), s)
    assert not book.rejected
    return book


def run(s: Scenario, *rows: dict[str, Any]) -> Plan:
    return plan(s, orders(s, *rows))


def row(p: Plan, order_id: str) -> dict[str, Any]:
    return p.order(order_id)


def problems(d: dict[str, Any]) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(d)
    return info.value.problems


def _at(path: str, found: list[str]) -> str:
    hits = [p for p in found if p.startswith(path + ":")]
    assert hits, f"no problem at {path!r} in {found}"
    return hits[0]


# --- validation ---


def test_market_needs_lead_days_or_lanes_not_both() -> None:
    """A market with both lead_days and lanes, or neither, is one error naming the market."""
    both = data()
    both["markets"][1]["lead_days"] = 4
    assert "has both 'lead_days' (by road) and 'lanes'" in _at("markets[1]", problems(both))
    neither = data()
    del neither["markets"][1]["lanes"]
    assert "needs 'lead_days' (by road) or 'lanes'" in _at("markets[1]", problems(neither))


def test_gates_quota_and_build_ahead_belong_to_export_markets() -> None:
    """A road market with gates, a quota or build_ahead_days is rejected at its path,
    naming the keys given."""
    gated = data()
    gated["markets"][0]["gates"] = [{"model": "A", "from": day(5)}]
    assert "'gates' belong to an export market" in _at("markets[0]", problems(gated))
    capped = data()
    capped["markets"][0]["quota"] = {"max_per_month": 5}
    assert "'quota' belong to an export market" in _at("markets[0]", problems(capped))
    ahead = data()
    ahead["markets"][0]["build_ahead_days"] = 7
    ahead["markets"][0]["quota"] = {"max_per_month": 5}
    found = _at("markets[0]", problems(ahead))
    assert "'quota' and 'build_ahead_days' belong to an export market" in found


def test_gate_must_name_a_known_model_and_variant() -> None:
    """A gate naming an unknown model or variant is rejected with its key path."""
    d = data(gates=[{"model": "Z", "from": day(5)}, {"model": "A", "variant": "X", "from": day(5)}])
    found = problems(d)
    assert "unknown model 'Z'" in _at("markets[1].gates[0].model", found)
    assert "unknown variant 'X'" in _at("markets[1].gates[1].variant", found)


def test_lane_names_are_unique_across_markets() -> None:
    """Two markets with a lane of the same name are rejected (lane names are global)."""
    d = data()
    d["markets"].append({"name": "EX2", "lanes": [lane()]})
    assert "duplicate lane 'lane-a'" in _at("markets[].lanes[].name", problems(d))
    same = data(lanes=[lane(), lane()])
    assert "duplicate lane 'lane-a'" in _at("markets[].lanes[].name", problems(same))
    shared = scenario(lanes=[lane(port="tianjin"), lane("lane-b", port="tianjin")])
    assert sea(shared).lane_ports == ("tianjin", "tianjin")  # lanes may share a port


@pytest.mark.parametrize(
    ("sailing", "says"),
    [
        ({"date": day(3), "every": 7, "from": day(3), "to": day(30)}, "either 'date' or"),
        ({"date": day(3), "every": 7}, "either 'date' or"),
        ({"every": 7, "from": day(3)}, "needs 'every', 'from' and 'to'"),
        ({"every": 7, "from": day(10), "to": day(3)}, "is before 'from'"),
    ],
)
def test_bad_sailing_is_rejected(sailing: dict[str, Any], says: str) -> None:
    """A sailing with both date and every, every without to, or to before from is rejected."""
    d = data(lanes=[lane(sailings=[sailing])])
    assert says in _at("markets[1].lanes[0].sailings[0]", problems(d))


@pytest.mark.parametrize("month", ["2025-13", "2025-1-01", "Jan-2025", "2025"])
def test_quota_month_must_be_yyyy_mm(month: str) -> None:
    """A quota month key that is not YYYY-MM is rejected, naming the month."""
    found = problems(data(quota={"months": {month: 3}}))
    assert any(p.startswith("markets[1].quota.months") and "YYYY-MM" in p for p in found), found


def test_quota_cap_months_override_the_default() -> None:
    """Quota.cap takes the month's own figure over max_per_month, else the default."""
    q = Quota.model_validate({"max_per_month": 5, "months": {"2025-02": 1, "2025-03": 0}})
    assert (q.cap(2025, 1), q.cap(2025, 2), q.cap(2025, 3)) == (5, 1, 0)
    assert Quota.model_validate({"months": {"2025-02": 1}}).cap(2025, 1) is None


# --- the Sea arrays ---


def test_same_date_on_one_lane_is_one_sailing_with_the_larger_capacity() -> None:
    """Entries on one date of one lane merge into one sailing of the larger capacity; a
    one-off uses its own capacity, else the lane's."""
    s = scenario(
        lanes=[
            lane(
                capacity=2,
                sailings=[
                    {"every": 7, "from": day(3), "to": day(17)},  # 3, 10, 17 at 2
                    {"date": day(10), "capacity": 5},  # 10 at 5: larger
                    {"date": day(17), "capacity": 1},  # 17 at 1: smaller
                    {"date": day(3), "capacity": 0},
                    {"date": day(20)},  # the lane's 2
                    {"date": day(21), "capacity": 9},
                ],
            )
        ]
    )
    x = sea(s)
    assert x.sail_day.tolist() == [3, 10, 17, 20, 21]
    assert x.sail_cap.tolist() == [2, 5, 2, 2, 9]
    assert x.sail_ptr.tolist() == [0, 5]


def test_sailings_outside_the_horizon_are_dropped() -> None:
    """Sailings before the start or on/after start + horizon_days do not count."""
    s = scenario(
        horizon=30,
        lanes=[lane(sailings=[{"every": 1, "from": day(-3), "to": day(40)}])],
    )
    assert sea(s).sail_day.tolist() == list(range(30))
    ids = plan(s, orders(s)).sailings()["sailing_id"]
    assert (ids[0], ids[-1]) == (f"lane-a:{day(0)}", f"lane-a:{day(29)}")


def test_sail_month_counts_calendar_months_from_the_start() -> None:
    """sail_month is the calendar month of departure counted from the start's month."""
    d = data(
        horizon=400,
        lanes=[
            lane(
                sailings=[
                    {"date": dt.date(2025, 1, 31)},
                    {"date": dt.date(2025, 2, 1)},
                    {"date": dt.date(2025, 12, 31)},
                    {"date": dt.date(2026, 1, 1)},
                ]
            )
        ],
    )
    assert sea(Scenario.model_validate(d)).sail_month.tolist() == [0, 1, 11, 12]
    d["start"] = dt.date(2025, 1, 31)  # the month counts, not 30-day steps
    assert sea(Scenario.model_validate(d)).sail_month.tolist() == [0, 1, 11, 12]


def test_quota_per_month_in_sea_arrays() -> None:
    """The quota array holds each month's cap from the start's month on."""
    s = scenario(horizon=90, quota={"max_per_month": 4, "months": {"2025-02": 1}})
    assert sea(s).quota[1, :3].tolist() == [4, 1, 4]


# --- the export rule ---


def test_consecutive_sailings_and_delivery() -> None:
    """Three orders built on day 0 on a one-car lane take three consecutive sailings; the
    2nd and 3rd are bound by the sailing; delivery = departure + transit + last mile."""
    p = run(scenario(), {}, {}, {})
    t = p.table
    assert t["build_date"].to_list() == [day(0)] * 3
    assert t["port_date"].to_list() == [day(2)] * 3
    assert t["departure_date"].to_list() == [day(3), day(10), day(17)]
    assert t["arrival_date"].to_list() == [day(13), day(20), day(27)]
    assert t["delivery_date"].to_list() == [day(16), day(23), day(30)]
    assert t["bound_by"].to_list() == ["", "sailing:lane-a", "sailing:lane-a"]
    assert t["sailing_id"].to_list() == [f"lane-a:{day(n)}" for n in (3, 10, 17)]
    assert t["wait_days"].to_list() == [16, 23, 30]


def test_port_date_on_sailing_day_takes_that_sailing() -> None:
    """A sailing departing on the port date itself is the first candidate."""
    p = run(scenario(lanes=[lane(inland_days=3)]), {})
    assert row(p, "o0")["departure_date"] == day(3)
    p = run(scenario(lanes=[lane(inland_days=4)]), {})
    assert row(p, "o0")["departure_date"] == day(10)
    assert row(p, "o0")["bound_by"] == ""  # the first sailing from its port date


def test_gate_after_arrival_sets_delivery() -> None:
    """A gate later than arrival + last mile sets delivery and bound_by gate:<market>; one
    on that very day does not bind."""
    late = row(run(scenario(gates=[{"model": "A", "from": day(20)}]), {}), "o0")
    assert (late["delivery_date"], late["bound_by"]) == (day(20), "gate:EX")
    assert late["arrival_date"] == day(13)
    even = row(run(scenario(gates=[{"model": "A", "from": day(16)}]), {}), "o0")
    assert (even["delivery_date"], even["bound_by"]) == (day(16), "")


def test_gate_of_a_variant_holds_only_that_variant() -> None:
    """A gate naming a variant holds that variant only; the latest matching gate counts."""
    s = scenario(
        gates=[
            {"model": "A", "variant": "M", "from": day(25)},
            {"model": "A", "from": day(18)},
        ]
    )
    p = run(s, {"variant": "S"}, {"variant": "M", "locked_at": f"{day(7)}T08:00:00"})
    assert row(p, "o0")["delivery_date"] == day(18)
    assert row(p, "o1")["delivery_date"] == day(25)  # arrival 20 + 3 = 23 < 25


def test_market_opening_after_arrival_sets_delivery() -> None:
    """`opens` later than arrival + last mile gives market:<market>."""
    r = row(run(scenario(opens=day(25)), {}), "o0")
    assert (r["delivery_date"], r["bound_by"]) == (day(25), "market:EX")


def test_gate_equal_to_opens_is_the_gate() -> None:
    """When gate == opens > arrival + last mile, the gate is named."""
    r = row(run(scenario(opens=day(25), gates=[{"model": "A", "from": day(25)}]), {}), "o0")
    assert (r["delivery_date"], r["bound_by"]) == (day(25), "gate:EX")
    r = row(run(scenario(opens=day(25), gates=[{"model": "A", "from": day(22)}]), {}), "o0")
    assert (r["delivery_date"], r["bound_by"]) == (day(25), "market:EX")


def test_build_ahead_days_builds_no_sooner_than_needed() -> None:
    """With a gate on day 30, the fastest lane 15 days door to door and build_ahead_days
    N, an export order is built no sooner than day 15 - N: on that floor it is bound by
    `ahead:EX` (it still meets the gate); without the key it is built at once and waits
    for the gate; a home order is not held; one locked after the floor is not bound by it."""
    gate = [{"model": "A", "from": day(30)}]
    at_once = row(run(scenario(gates=gate), {}), "o0")
    assert (at_once["build_date"], at_once["bound_by"]) == (day(0), "gate:EX")
    for n, built in ((0, 15), (5, 10)):
        p = run(
            scenario(gates=gate, build_ahead_days=n),
            {},
            {"market": "CN"},
            {"locked_at": f"{day(20)}T08:00:00"},
        )
        held = row(p, "o0")
        assert (held["build_date"], held["delivery_date"]) == (day(built), day(30))
        assert held["bound_by"] == "ahead:EX"
        assert row(p, "o1")["build_date"] == day(0)
        late = row(p, "o2")
        assert (late["build_date"], late["bound_by"]) == (day(20), "")


def test_build_ahead_days_needs_a_date_to_hold_to() -> None:
    """Neither `opens` nor a gate: the key changes nothing; `opens` alone sets the need."""
    free = row(run(scenario(build_ahead_days=0), {}), "o0")
    assert free["build_date"] == day(0)
    opened = row(run(scenario(build_ahead_days=2, opens=day(40)), {}), "o0")
    assert opened["build_date"] == day(40 - 15 - 2)
    assert opened["bound_by"] == "ahead:EX"


def test_quote_holds_to_the_build_ahead_floor_as_planning_does() -> None:
    """A live quote of an export order meets the same floor and bound as a re-plan."""
    s = scenario(gates=[{"model": "A", "from": day(30)}], build_ahead_days=3)
    p = run(s, {})
    when = dt.datetime.combine(day(1), dt.time(9))
    q = quote(p, "A", "S", "EX", None, when)
    again = row(run(s, {}, {"locked_at": when.isoformat()}), "o1")
    assert (q.build_date, q.delivery_date, q.bound_by) == (
        again["build_date"],
        again["delivery_date"],
        again["bound_by"],
    )
    assert q.build_date == day(12)


def test_build_ahead_floor_after_the_horizon_says_so() -> None:
    """A floor past the horizon leaves the order unplanned and names the key."""
    r = row(run(scenario(gates=[{"model": "A", "from": day(200)}], build_ahead_days=0), {}), "o0")
    assert r["status"] == "unplanned"
    assert "build_ahead_days" in r["reason"]


def test_lane_arriving_first_wins() -> None:
    """Of each lane's candidate the one arriving first is taken, even if it departs later."""
    faster = scenario(lanes=[lane(), lane("lane-b", transit_days=5)])
    r = row(run(faster, {}), "o0")
    assert (r["lane"], r["arrival_date"], r["delivery_date"]) == ("lane-b", day(8), day(11))
    later = scenario(lanes=[lane(), lane("lane-b", inland_days=9, transit_days=1)])
    r = row(run(later, {}), "o0")  # departs day 10, arrives day 11 (lane-a: day 13)
    assert (r["lane"], r["departure_date"], r["arrival_date"]) == ("lane-b", day(10), day(11))


def test_arrival_tie_goes_to_the_first_lane() -> None:
    """Candidates arriving on the same day: the first lane in scenario order."""
    p = run(scenario(lanes=[lane(), lane("lane-b", last_mile_days=0)]), {})
    assert row(p, "o0")["lane"] == "lane-a"
    p = run(scenario(lanes=[lane("lane-b", last_mile_days=0), lane()]), {})
    assert row(p, "o0")["lane"] == "lane-b"


def test_full_first_lane_sends_the_next_order_to_the_other_lane() -> None:
    """With the faster lane's sailing full, the other lane's earlier arrival wins."""
    s = scenario(lanes=[lane("lane-b", transit_days=5), lane(transit_days=8)])
    p = run(s, {}, {}, {})
    assert p.table["lane"].to_list() == ["lane-b", "lane-a", "lane-b"]
    assert p.table["departure_date"].to_list() == [day(3), day(3), day(10)]
    assert p.table["bound_by"].to_list() == ["", "", "sailing:lane-b"]


def test_no_sailing_in_the_horizon_takes_no_slot() -> None:
    """An order without a sailing with room is unplanned (no sailing) and takes no line
    slot, so a later home order gets that slot."""
    s = scenario(per_day=1, lanes=[lane(sailings=[{"date": day(3)}])])
    p = run(s, {}, {}, {"market": "CN"})
    lost = row(p, "o1")
    assert lost["status"] == "unplanned"
    assert lost["reason"].startswith("no sailing")
    assert (lost["build_date"], lost["line"], lost["sailing_id"]) == (None, None, None)
    assert row(p, "o2")["build_date"] == day(1)  # o1 would have taken day 1
    assert p.state.free[0, :3].tolist() == [0, 0, 1]
    assert p.sailings()["loaded"].to_list() == [1]


def test_frozen_export_order_without_sailing_keeps_its_slot() -> None:
    """A frozen scheduled export order without a sailing keeps its line slot but is
    unplanned with reason no sailing."""
    s = scenario(per_day=1, frozen_days=3, lanes=[lane(capacity=0)])
    p = run(
        s,
        {"status": "scheduled", "line": "l1", "build_date": str(day(0))},
        {"market": "CN"},
    )
    frozen = row(p, "o0")
    assert frozen["status"] == "unplanned"
    assert frozen["reason"].startswith("no sailing")
    assert frozen["delivery_date"] is None
    assert p.state.free[0, 0] == 0  # the slot is kept
    assert row(p, "o1")["build_date"] == day(1)


def test_frozen_export_order_without_sailing_has_no_wait() -> None:
    """An unplanned frozen export order (no sailing) has no delivery, so no wait either."""
    s = scenario(per_day=1, frozen_days=3, lanes=[lane(capacity=0)])
    p = run(s, {"status": "scheduled", "line": "l1", "build_date": str(day(0))})
    assert row(p, "o0")["wait_days"] is None


def test_frozen_export_order_takes_a_sailing() -> None:
    """A frozen export order takes the first sailing with room from its own build day,
    ahead of every order planned by the rule."""
    s = scenario(per_day=3, frozen_days=3)
    p = run(
        s,
        {"locked_at": f"{START}T07:00:00"},
        {"status": "scheduled", "line": "l1", "build_date": str(day(1))},
    )
    assert row(p, "o1")["departure_date"] == day(3)  # port day 3: the day-3 sailing
    assert row(p, "o0")["departure_date"] == day(10)  # planned after the frozen one
    assert row(p, "o0")["bound_by"] == "sailing:lane-a"


def test_reserved_export_order_loads_no_sailing() -> None:
    """A reserved export order is quoted a sailing and a delivery but loads nothing."""
    s = scenario()
    without = run(s, {})
    p = run(s, {}, {"status": "reserved"})
    r = row(p, "o1")
    assert r["reason"] == "reserved: indicative quote, nothing booked"
    assert (r["departure_date"], r["delivery_date"]) == (day(10), day(23))
    assert p.sailings().equals(without.sailings())
    assert p.sailings()["loaded"].sum() == 1


def test_monthly_quota_sends_the_third_order_to_next_month() -> None:
    """With max_per_month 2 the third departure waits for the next month's first sailing."""
    p = run(scenario(lanes=[lane(capacity=10)], quota={"max_per_month": 2}), {}, {}, {})
    assert p.table["departure_date"].to_list() == [day(3), day(3), dt.date(2025, 2, 6)]
    assert p.table["bound_by"].to_list() == ["", "", "sailing:lane-a"]


def test_quota_counts_departures_of_the_market_on_every_lane() -> None:
    """The monthly quota caps the market's departures over all its lanes together."""
    s = scenario(
        lanes=[lane(capacity=10), lane("lane-b", capacity=10, transit_days=12)],
        quota={"max_per_month": 2},
    )
    p = run(s, {}, {}, {})
    assert p.table["lane"].to_list() == ["lane-a", "lane-a", "lane-a"]
    assert p.table["departure_date"].to_list() == [day(3), day(3), dt.date(2025, 2, 6)]


def test_lane_without_sailings_in_the_horizon() -> None:
    """A lane whose sailings all fall outside the horizon is never a candidate; a market
    with only such lanes leaves every order without a sailing."""
    gone = lane(sailings=[{"date": day(-1)}, {"date": day(60)}])
    p = run(scenario(lanes=[gone, lane("lane-b", transit_days=30)]), {})
    assert row(p, "o0")["lane"] == "lane-b"
    p = run(scenario(lanes=[gone]), {}, {"market": "CN"})
    assert row(p, "o0")["reason"].startswith("no sailing")
    assert row(p, "o1")["build_date"] == day(0)
    assert p.sailings().height == 0
    assert p.yard()["cars"].sum() == 0


def test_quota_month_override_and_zero() -> None:
    """A month's own quota (here 1, then 0) overrides max_per_month."""
    s = scenario(
        lanes=[lane(capacity=10)],
        quota={"max_per_month": 5, "months": {"2025-01": 1, "2025-02": 0}},
    )
    p = run(s, {}, {})
    assert p.table["departure_date"].to_list() == [day(3), dt.date(2025, 3, 6)]


# --- the plan's sea columns and tables ---


def test_sailings_table() -> None:
    """plan.sailings() has exactly its columns, ids `lane:YYYY-MM-DD`, loads as planned."""
    p = run(scenario(horizon=30), {}, {})
    sail = p.sailings()
    assert sail.columns == [
        "sailing_id",
        "lane",
        "departure_date",
        "arrival_date",
        "capacity",
        "loaded",
    ]
    assert sail["sailing_id"].to_list() == [f"lane-a:{day(n)}" for n in (3, 10, 17, 24)]
    assert sail["arrival_date"].to_list() == [day(n) for n in (13, 20, 27, 34)]
    assert sail["capacity"].to_list() == [1, 1, 1, 1]
    assert sail["loaded"].to_list() == [1, 1, 0, 0]


def test_yard_counts_from_port_date_to_the_day_before_departure() -> None:
    """plan.yard() counts a car from its port date through the day before it departs."""
    p = run(scenario(lanes=[lane(port="tianjin")]), {}, {}, {"market": "CN"})
    yard = p.yard()
    assert set(yard["port"]) == {"tianjin"}
    cars = dict(zip(yard["date"].to_list(), yard["cars"].to_list(), strict=True))
    expected = {day(n): 0 for n in range(60)}
    expected |= {day(2): 2} | {day(n): 1 for n in range(3, 10)}
    assert cars == expected


def test_plan_sea_columns_are_null_for_road_orders() -> None:
    """The plan has lane, port_date, sailing_id, departure_date, arrival_date; null by road."""
    p = run(scenario(), {}, {"market": "CN"})
    sea_cols = ["lane", "port_date", "sailing_id", "departure_date", "arrival_date"]
    assert p.table.columns[-6:-1] == sea_cols  # the last is overdue
    road = row(p, "o1")
    assert [road[c] for c in sea_cols] == [None] * 5
    assert road["delivery_date"] == day(2)
    assert all(row(p, "o0")[c] is not None for c in sea_cols)


# --- live quotes ---


def test_quote_at_the_back_equals_a_replan() -> None:
    """A quote and bookings at the back of the queue give export orders the delivery of
    planning the book with those orders appended."""
    s = scenario()
    first = [{}, {}, {"market": "CN"}]
    p = run(s, *first)
    when = dt.datetime.combine(day(1), dt.time(9))
    q = quote(p, "A", "S", "EX", None, when)
    new = {"locked_at": when.isoformat()}
    again = row(run(s, *first, new), "o3")
    assert (q.build_date, q.delivery_date, q.bound_by) == (
        again["build_date"],
        again["delivery_date"],
        again["bound_by"],
    )
    assert q.delivery_date == day(30)
    live = Booking(p)
    live.book("A", "S", "EX", None, when)
    later = dt.datetime.combine(day(1), dt.time(10))
    q2 = live.book("A", "S", "EX", None, later)
    both = row(run(s, *first, new, {"locked_at": later.isoformat()}), "o4")
    assert (q2.delivery_date, q2.bound_by) == (both["delivery_date"], both["bound_by"])
    assert q2.delivery_date == day(37)
    assert p.sailings()["loaded"].sum() == 2  # the plan itself is untouched


def test_quote_jumping_the_queue_rebuilds_sailing_loads() -> None:
    """A quote ahead of queued orders sees only the sailings of the orders ahead of it."""
    s = scenario(frozen_days=2)
    book = [
        {"status": "scheduled", "line": "l1", "build_date": str(day(0))},
        {"locked_at": f"{START}T07:00:00"},
        {},
        {},
    ]
    p = run(s, *book)
    assert row(p, "o3")["departure_date"] == day(24)
    when = dt.datetime.combine(START, dt.time(9))
    for prio, want in ((-1, day(10)), (0, day(31))):
        q = quote(p, "A", "M", "EX", None, when, priority=prio)
        new = {"variant": "M", "locked_at": when.isoformat(), "priority": str(prio)}
        again = row(run(s, *book, new), "o4")
        assert q.delivery_date == again["delivery_date"]
        assert q.delivery_date == want + dt.timedelta(days=13)
        assert q.bound_by == again["bound_by"] == "sailing:lane-a"
    mid = dt.datetime.combine(START, dt.time(8, 0, 1, 500_000))  # between o1 and o2
    q = quote(p, "A", "M", "EX", None, mid)
    again = row(run(s, *book, {"variant": "M", "locked_at": mid.isoformat()}), "o4")
    assert q.delivery_date == again["delivery_date"] == day(17 + 13)


@pytest.mark.parametrize(
    ("market", "bound"),
    [
        ({"gates": [{"model": "A", "variant": "M", "from": day(40)}]}, "gate:EX"),
        ({"opens": day(40)}, "market:EX"),
    ],
)
def test_quote_names_gate_and_opening(market: dict[str, Any], bound: str) -> None:
    """A quote's delivery and bound_by follow the gate or the opening, as planning does."""
    s = scenario(**market)
    p = run(s, {})
    when = dt.datetime.combine(day(1), dt.time(9))
    q = quote(p, "A", "M", "EX", None, when)
    again = row(run(s, {}, {"variant": "M", "locked_at": when.isoformat()}), "o1")
    assert (q.delivery_date, q.bound_by) == (again["delivery_date"], again["bound_by"])
    assert (q.delivery_date, q.bound_by) == (day(40), bound)


def test_quote_without_a_sailing() -> None:
    """A quote for an export market whose sailings are full has no date: no sailing."""
    s = scenario(lanes=[lane(sailings=[{"date": day(3)}])])
    p = run(s, {})
    q = quote(p, "A", "S", "EX", None, dt.datetime.combine(START, dt.time(9)))
    assert q.delivery_date is None
    assert q.build_date is None
    assert (q.reason or "").startswith("no sailing")


# --- explain ---


def test_explain_gate() -> None:
    """A gate-bound order names the model, market and gate date."""
    p = run(scenario(gates=[{"model": "A", "from": day(20)}]), {})
    e = explain(p, "o0")
    assert e.bound_by == "gate:EX"
    assert e.detail == (
        f"Homologation for A in EX opens on {day(20)}; nothing is delivered there before."
    )


def test_explain_build_ahead() -> None:
    """An order held to the build-ahead floor says why, with the dates."""
    p = run(scenario(gates=[{"model": "A", "from": day(30)}], build_ahead_days=0), {})
    e = explain(p, "o0")
    assert (e.bound_by, e.earliest_day) == ("ahead:EX", day(15))
    assert e.detail == (
        f"Export to EX is built no sooner than needed (build_ahead_days: 0): it can be "
        f"delivered from {day(30)} (its gate or the market's opening), the fastest lane takes "
        f"15 days, so it is built from {day(15)} on and leaves the line free for others before."
    )


def test_explain_full_sailing() -> None:
    """A sailing-bound order names the sailing it wanted, that it was full, and the one
    it got."""
    p = run(scenario(), {}, {}, {})
    e = explain(p, "o2")
    assert e.bound_by == "sailing:lane-a"
    assert f"wanted sailing lane-a:{day(3)}" in e.detail
    assert "full (1 of 1" in e.detail
    assert e.detail.endswith(f"it sails on lane-a:{day(17)}.")
    assert e.ahead_same_constraint == 1
    assert "quota" not in e.detail


def test_explain_quota() -> None:
    """A quota-bound order says its market reached its quota for the month."""
    p = run(scenario(lanes=[lane(capacity=10)], quota={"max_per_month": 2}), {}, {}, {})
    e = explain(p, "o2")
    assert f"wanted sailing lane-a:{day(3)}" in e.detail
    assert "market EX had reached its quota for 2025-01 (2 of 2 departures)" in e.detail
    assert e.detail.endswith("it sails on lane-a:2025-02-06.")
    assert "full" not in e.detail


def test_explain_reserved_full_sailing_counts_every_booked_order() -> None:
    """A reserved order's sailing was filled by the booked orders, all ahead of it."""
    p = run(scenario(), {"status": "reserved"}, {})
    e = explain(p, "o0")
    assert e.bound_by == "sailing:lane-a"
    assert "full (1 of 1" in e.detail


def test_explain_no_sailing() -> None:
    """An unplanned no-sailing order says no sailing had room and what it kept."""
    s = scenario(per_day=1, frozen_days=3, lanes=[lane(sailings=[{"date": day(3)}])])
    p = run(s, {}, {}, {"status": "scheduled", "line": "l1", "build_date": str(day(2))})
    lost = explain(p, "o1")
    assert lost.status == "unplanned"
    assert lost.detail.startswith(
        f"No sailing with room on its lanes (lane-a) departs before {day(60)}"
    )
    assert "takes no slot" in lost.detail
    frozen = explain(p, "o2")
    assert frozen.detail.startswith("No sailing with room")
    assert f"keeps its slot on line l1 on {day(2)}" in frozen.detail
    assert frozen.order_id in frozen.text()
    p = run(s, {}, {"status": "reserved"})
    held = explain(p, "o1")
    assert held.detail.startswith("No sailing with room on its lanes (lane-a)")
    assert held.detail.endswith("a reserved order books nothing.")


def test_explain_without_sea_is_unchanged(tiny_plan: Plan) -> None:
    """Road orders never get a sea sentence."""
    for order_id in tiny_plan.table["order_id"]:
        detail = explain(tiny_plan, order_id).detail
        assert "sailing" not in detail.lower()
        assert "Homologation" not in detail


def test_explain_every_export_row() -> None:
    """Every row of a busy export plan gets an explanation that agrees with its bound."""
    s = scenario(
        per_day=2,
        lanes=[lane(), lane("lane-b", transit_days=12, capacity=2)],
        gates=[{"model": "A", "variant": "M", "from": day(30)}],
        quota={"max_per_month": 6},
    )
    rows = [
        {"variant": "SM"[i % 2], "market": "EX" if i % 3 else "CN", "status": "locked"}
        for i in range(20)
    ]
    p = run(s, *rows)
    kinds = set()
    for r in p.table.iter_rows(named=True):
        e = explain(p, r["order_id"])
        kind = e.bound_by.partition(":")[0]
        kinds.add(kind if r["status"] == "planned" else "unplanned")
        assert e.detail
        if kind == "sailing":
            assert e.detail.endswith(f"it sails on {r['sailing_id']}.")
        if kind == "gate":
            assert e.detail.startswith("Homologation for A in EX")
    assert {"sailing", "gate"} <= kinds
    assert np.all(p.shipped.sailing[p.table["market"].to_numpy() == "CN"] == -1)


@settings(max_examples=examples(300), deadline=None)
@given(
    st.dates(dt.date(2020, 1, 1), dt.date(2030, 1, 1)),
    st.integers(0, 4000),
    st.integers(1, 40),
    st.dates(dt.date(2019, 1, 1), dt.date(2031, 1, 1)),
    st.integers(-5, 4000),
)
def test_sailing_dates_in_a_window_are_the_full_list_filtered(
    first: dt.date, span: int, every: int, lo: dt.date, width: int
) -> None:
    """A recurring sailing's dates between two days (what `sea` asks for, so a daily
    sailing over centuries costs only the horizon's days) are its full list, filtered."""
    s = Sailing.model_validate(
        {"every": every, "from": first, "to": first + dt.timedelta(days=span)}
    )
    hi = lo + dt.timedelta(days=width)
    assert s.dates(lo, hi) == [d for d in s.dates() if lo <= d <= hi]


def test_lost_slots_take_a_days_slots_and_its_mix_room() -> None:
    """`lost_slots` (plan --sequence's empty carriers) take slots from one line-day, never
    below none; the day's mix cap is a share of what is left; the reference agrees."""
    from tests.reference import reference_plan

    d = data(per_day=3)
    d["plants"][0]["lines"][0]["lost_slots"] = [
        {"date": day(0), "slots": 2},
        {"date": day(1), "slots": 5},
    ]
    d["mix_limits"] = [{"name": "m-share", "match": {"variant": "M"}, "max_share": 0.5}]
    s = Scenario.model_validate(d)
    rows = [{"market": "CN", "variant": "M" if i < 2 else "S"} for i in range(5)]
    p = run(s, *rows)
    built = [row(p, f"o{i}")["build_date"] for i in range(5)]
    # day 0 keeps 1 slot (its M cap: half of 1, none), day 1 none, day 2 three (1 for M)
    assert built == [day(2), day(3), day(0), day(2), day(2)]
    ref = reference_plan(s, orders(s, *rows).table)
    assert [ref[f"o{i}"].build for i in range(5)] == built
