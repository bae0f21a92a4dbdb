"""Export figures of a plan: lane use, port yards, deliveries by month, outlooks, the
written plan files, and Monte Carlo by sea, on one small hand-checked export plan.

The plan (see `book`): lane-a (2 cars, transit 25, weekly from day 4) and lane-b
(1 car, transit 30, weekly from day 5), both from port tianjin; three cars a day.

    o0 CN  built day 0, delivered day 2
    o1 EX  built day 1, port day 3, lane-a day 4, delivered day 32
    o2 EX  built day 1, port day 3, lane-a day 4 (now full), delivered day 32
    o3 EX  built day 1, port day 3, lane-b day 5 (arrives 35 < lane-a day 11: 36), day 38
    o4 EX  built day 2, port day 4, lane-a day 11 (sailing:lane-a), delivered day 39
    o5 CN  locked day 1 after the exports: built day 2, delivered day 4
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from promiseline.core.futures.simulate import simulate
from promiseline.core.model.scenario import Scenario
from promiseline.core.planning.plan import Plan
from promiseline.core.planning.planner import plan
from promiseline.core.readout.export_outlook import (
    deliveries_by_month,
    export_summary,
    home_only,
    outlooks,
)
from promiseline.io.outputs import write_plan
from tests.core.futures.test_simulate import DEGENERATE
from tests.core.planning.test_sea import day, lane, orders, raw, scenario


def export_scenario(**kw: object) -> Scenario:
    return scenario(
        lanes=[
            lane(
                port="tianjin",
                capacity=2,
                transit_days=25,
                sailings=[{"every": 7, "from": day(4), "to": day(200)}],
            ),
            lane(
                "lane-b",
                port="tianjin",
                capacity=1,
                transit_days=30,
                sailings=[{"every": 7, "from": day(5), "to": day(200)}],
            ),
        ],
        **kw,
    )


def book() -> pl.DataFrame:
    lock = f"{day(1)}T08:00:0"
    return raw(
        {"market": "CN"},
        {"locked_at": lock + "1"},
        {"locked_at": lock + "2"},
        {"locked_at": lock + "3"},
        {"locked_at": lock + "4"},
        {"market": "CN", "locked_at": f"{day(1)}T09:00:00"},
    )


@pytest.fixture
def export_plan() -> Plan:
    s = export_scenario()
    return plan(s, orders(s, *book().iter_rows(named=True)))


def test_the_plan_is_as_worked_out(export_plan: Plan) -> None:
    """The hand-worked plan of the module text (the figures below rest on it)."""
    t = export_plan.table
    assert t["build_date"].to_list() == [day(n) for n in (0, 1, 1, 1, 2, 2)]
    assert t["lane"].to_list() == [None, "lane-a", "lane-a", "lane-b", "lane-a", None]
    assert t["delivery_date"].to_list() == [day(n) for n in (2, 32, 32, 38, 39, 4)]
    assert t["bound_by"].to_list()[4] == "sailing:lane-a"


def test_lane_utilization_up_to_the_last_loaded_sailing(export_plan: Plan) -> None:
    """Lane use counts the sailings through the last loaded one: lane-a 3 of 4 seats on
    two sailings, lane-b 1 of 1."""
    lanes = {r["lane"]: r for r in export_summary(export_plan)["lanes"]}
    a, b = lanes["lane-a"], lanes["lane-b"]
    assert (a["sailings"], a["capacity"], a["loaded"], a["full"]) == (2, 4, 3, 1)
    assert a["utilization"] == pytest.approx(0.75)
    assert (a["first"], a["last"]) == (day(4).isoformat(), day(11).isoformat())
    assert (b["sailings"], b["capacity"], b["loaded"], b["full"]) == (1, 1, 1, 1)
    assert b["utilization"] == pytest.approx(1.0)


def test_lane_utilization_counts_empty_sailings_before_the_last_loaded() -> None:
    """An empty sailing before the last loaded one dilutes the lane's utilization."""
    s = export_scenario()
    late = f"{day(8)}T08:00:00"  # built day 8, port day 10: lane-a day 11
    p = plan(s, orders(s, {}, {"locked_at": late}))
    a = next(r for r in export_summary(p)["lanes"] if r["lane"] == "lane-a")
    assert (a["sailings"], a["capacity"], a["loaded"]) == (2, 4, 2)
    assert a["utilization"] == pytest.approx(0.5)


def test_yard_peak(export_plan: Plan) -> None:
    """The yard peak is the most cars waiting at a port on one day, the first such day."""
    peaks = export_summary(export_plan)["yard_peaks"]
    assert peaks == [{"port": "tianjin", "peak_cars": 3, "peak_date": day(3).isoformat()}]


def test_summary_waits_and_counts(export_plan: Plan) -> None:
    """The export summary names the home markets and gives waits at home and per market."""
    ex = export_summary(export_plan)
    assert ex["home"] == ["CN"]
    assert ex["no_sailing"] == 0
    assert ex["waits_home"] == [
        {"where": "home", "orders": 2, "median_wait_days": 2.5, "p90_wait_days": 2.9}
        | {"max_wait_days": 3}
    ]
    by_market = {r["market"]: r for r in ex["waits_by_market"]}
    assert by_market["EX"]["orders"] == 4
    assert by_market["EX"]["max_wait_days"] == 38  # o4: locked day 1, delivered day 39


def test_deliveries_by_month(export_plan: Plan) -> None:
    """Deliveries per market and month add up to every planned delivery, home and abroad."""
    months = deliveries_by_month(export_plan)
    assert months.rows() == [("CN", "2025-01", 2), ("EX", "2025-02", 4)]
    assert months["cars"].sum() == export_plan.planned.height
    assert export_summary(export_plan)["deliveries_by_month"] == [
        {"market": "CN", "month": "2025-01", "cars": 2},
        {"market": "EX", "month": "2025-02", "cars": 4},
    ]


def test_no_sailing_is_counted() -> None:
    """Orders left without a sailing are counted in the summary and the outlook."""
    s = scenario(lanes=[lane(sailings=[{"date": day(3)}])])
    p = plan(s, orders(s, {}, {}, {}))
    assert export_summary(p)["no_sailing"] == 2
    assert outlooks([("base", p)])["no_sailing"].to_list() == [2]


def test_outlooks_home_only_and_since(export_plan: Plan) -> None:
    """home_only drops the export orders; "since" is the first export lock date, taken from
    the first plan, and home waits since then show what export costs at home."""
    s = export_plan.scenario
    home_book = home_only(book(), export_plan)
    assert home_book["order_id"].to_list() == ["o0", "o5"]
    home = plan(s, home_book)
    out = outlooks([("base", export_plan), ("home only", home)])
    assert out["scenario"].to_list() == ["base", "home only"]
    assert out["since"].to_list() == [day(1), day(1)]
    base, alone = out.row(0, named=True), out.row(1, named=True)
    assert (base["export_orders"], alone["export_orders"]) == (4, 0)
    assert base["home_median_wait"] == 2.5
    assert base["home_since_median_wait"] == 3.0  # o5 waits a day for the exports' slots
    assert alone["home_since_median_wait"] == 2.0
    assert base["export_median_wait"] == pytest.approx(34.0)  # 31, 31, 37, 38
    assert base["last_export_delivery"] == day(39)
    assert alone["last_export_delivery"] is None
    assert (base["yard_peak"], alone["yard_peak"]) == (3, 0)


def test_outlooks_without_export_orders() -> None:
    """With no export order in the first plan "since" is empty and so are its waits."""
    s = export_scenario()
    p = plan(s, orders(s, {"market": "CN"}))
    row = outlooks([("base", p)]).row(0, named=True)
    assert row["since"] is None
    assert row["home_since_median_wait"] is None
    assert row["home_median_wait"] == 2.0


def test_write_plan_with_lanes(export_plan: Plan, tmp_path: Path) -> None:
    """With lanes, write_plan also writes the sailings and yard tables and an export
    summary."""
    paths = write_plan(export_plan, tmp_path)
    for name in ("sailings", "yard"):
        for ext in ("parquet", "csv"):
            assert paths[f"{name}_{ext}"] == tmp_path / f"{name}.{ext}"
            assert paths[f"{name}_{ext}"].is_file()
    assert pl.read_parquet(paths["sailings_parquet"]).equals(export_plan.sailings())
    csv = pl.read_csv(paths["sailings_csv"], try_parse_dates=True)
    assert csv.columns == export_plan.sailings().columns
    assert csv["loaded"].to_list() == export_plan.sailings()["loaded"].to_list()
    assert pl.read_parquet(paths["yard_parquet"]).equals(export_plan.yard())
    summary = json.loads(paths["summary"].read_text())
    assert summary["export"]["home"] == ["CN"]
    assert summary["export"]["yard_peaks"][0]["peak_cars"] == 3


def test_write_plan_without_lanes(tiny_plan: Plan, tmp_path: Path) -> None:
    """Without lanes there are no sailing or yard files and no export summary."""
    paths = write_plan(tiny_plan, tmp_path)
    assert set(paths) == {"parquet", "csv", "summary"}
    assert sorted(f.name for f in tmp_path.iterdir()) == [
        "plan.csv",
        "plan.parquet",
        "summary.json",
    ]
    assert "export" not in json.loads(paths["summary"].read_text())


def test_monte_carlo_without_noise_keeps_export_deliveries() -> None:
    """When nothing varies, every export order's P50 delivery is its planned delivery (gates
    and sailings included) and its build percentiles are empty."""
    s = export_scenario(gates=[{"model": "A", "variant": "M", "from": day(45)}]).replace(
        uncertainty=DEGENERATE.model_dump(by_alias=True)
    )
    rows = [
        *book().iter_rows(named=True),
        {"variant": "M", "locked_at": f"{day(2)}T08:00:00"},
        {"variant": "M", "market": "CN", "locked_at": f"{day(2)}T08:00:01"},
    ]
    for i, r in enumerate(rows):
        r["order_id"] = f"o{i}"
    b = orders(s, *rows)
    base = plan(s, b)
    sim = simulate(s, b, futures=3, seed=1).orders()
    both = base.table.join(sim, on="order_id")
    assert both.height == 8
    sea = both.filter(pl.col("market") == "EX")
    assert sea["delivery_p50"].to_list() == sea["delivery_date"].to_list()
    assert sea["delivery_p10"].to_list() == sea["delivery_date"].to_list()
    assert sea["delivery_p90"].to_list() == sea["delivery_date"].to_list()
    assert day(45) in sea["delivery_date"].to_list()  # the gated order
    assert sea["build_p50"].null_count() == sea.height
    road = both.filter(pl.col("market") == "CN")
    assert road["build_p50"].to_list() == road["build_date"].to_list()
    assert road["delivery_p50"].to_list() == road["delivery_date"].to_list()


def test_monte_carlo_without_noise_keeps_no_sailing_unbuilt() -> None:
    """An order planned without a sailing stays unplanned in every noiseless future."""
    s = scenario(lanes=[lane(sailings=[{"date": day(3)}])]).replace(
        uncertainty=DEGENERATE.model_dump(by_alias=True)
    )
    b = orders(s, {}, {})
    sim = simulate(s, b, futures=3, seed=1).orders()
    lost = sim.filter(pl.col("order_id") == "o1").row(0, named=True)
    assert lost["delivery_p50"] is None
    assert lost["p_unbuilt"] == 1.0
    kept = sim.filter(pl.col("order_id") == "o0").row(0, named=True)
    assert kept["delivery_p50"] == day(16)


def test_monte_carlo_constraints_count_gates_sailings_and_markets() -> None:
    """When nothing varies, each future holds back exactly the plan's orders for each
    constraint, `gate:`, `sailing:` and `market:` included."""
    s = export_scenario(gates=[{"model": "A", "variant": "M", "from": day(45)}]).replace(
        uncertainty=DEGENERATE.model_dump(by_alias=True)
    )
    rows = [*book().iter_rows(named=True), {"variant": "M", "locked_at": f"{day(2)}T08:00:00"}]
    for i, r in enumerate(rows):
        r["order_id"] = f"o{i}"
    b = orders(s, *rows)
    want = (
        plan(s, b)
        .planned.filter(pl.col("bound_by") != "")
        .group_by("bound_by")
        .len()
        .sort("bound_by")
    )
    got = simulate(s, b, futures=2, seed=1).constraints().filter(pl.col("orders_mean") > 0)
    assert dict(zip(got["constraint"], got["orders_mean"], strict=True)) == dict(
        zip(want["bound_by"], want["len"].cast(pl.Float64), strict=True)
    )
    assert any(k.startswith(("gate:", "sailing:")) for k in want["bound_by"])
