"""Export by sea (issue 10) under attack: hand-written and careless inputs through the CLI
(`validate`, `plan`, `compare`, `allocate`) and the Python API.

Plain tests pin what is handled well (one line naming the file and key, exit code 2).
`xfail(strict=True)` tests document holes found in a review: each fails today for the
reason given and starts passing (so turns red) once the hole is fixed.
"""

from __future__ import annotations

import copy
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

from promiseline import api
from promiseline.core.planning.sea import sea
from promiseline.errors import ScenarioError
from promiseline.io.scenario_file import scenario_from_dict
from tests.cli.conftest import run

# A small export scenario written by hand from the README's example: one line of 2 cars
# a working day, a road market and one market by sea, weekly sailings of 3 seats, a
# homologation gate and a hand-set quota of 5 departures a month.
BASE: dict[str, Any] = {
    "name": "my-export",
    "start": "2027-01-01",
    "horizon_days": 180,
    "calendar": {"working_days": ["mon", "tue", "wed", "thu", "fri"]},
    "products": [
        {
            "model": "YU7",
            "cost": 30000,
            "variants": [
                {"name": "Standard", "parts": {"pack": 1}},
                {"name": "Max", "parts": {"pack": 1}},
            ],
        }
    ],
    "plants": [
        {
            "name": "p",
            "lines": [
                {
                    "name": "l1",
                    "models": ["YU7"],
                    "jph": 1,
                    "shifts": [{"from": "2027-01-01", "hours": 2}],
                }
            ],
        }
    ],
    "parts": [{"name": "pack", "stock": 100, "supply": [{"from": "2027-01-01", "per_week": 50}]}],
    "markets": [
        {"name": "CN", "lead_days": 7},
        {
            "name": "DE",
            "opens": "2027-01-01",
            "lanes": [
                {
                    "name": "tianjin-bremerhaven",
                    "port": "tianjin",
                    "inland_days": 2,
                    "transit_days": 35,
                    "last_mile_days": 4,
                    "capacity": 3,
                    "sailings": [{"every": 7, "from": "2027-01-04", "to": "2028-06-30"}],
                }
            ],
            "gates": [{"model": "YU7", "from": "2027-03-01"}],
            "price": 62000,
            "logistics_cost": 2600,
            "tariff": 0.307,
            "quota": {"max_per_month": 5},
        },
    ],
}

HEADER = "order_id,model,variant,options,market,locked_at,priority,status"


def orders_csv(tmp_path: Path, markets: tuple[str, ...] = ("CN", "DE"), n: int = 20) -> str:
    """n orders, every 7 hours from 2027-01-01 08:00, alternating over `markets`."""
    rows = [HEADER]
    for i in range(n):
        hour = 8 + 7 * i
        stamp = f"2027-01-{1 + hour // 24:02d}T{hour % 24:02d}:00:00"
        variant = ("Standard", "Max")[(i // 2) % 2]
        rows.append(f"o{i:02d},YU7,{variant},,{markets[i % len(markets)]},{stamp},0,locked")
    path = tmp_path / f"orders_{'_'.join(markets)}_{n}.csv"
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def scenario_dict(**de: Any) -> dict[str, Any]:
    """BASE with keys of market DE replaced (None removes the key)."""
    d = copy.deepcopy(BASE)
    for k, v in de.items():
        if v is None:
            d["markets"][1].pop(k, None)
        else:
            d["markets"][1][k] = v
    return d


def lane(**changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = copy.deepcopy(BASE["markets"][1]["lanes"][0])
    out.update(changes)
    return out


def write(tmp_path: Path, data: dict[str, Any] | str, name: str = "s.yaml") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return str(path)


def base_yaml() -> str:
    return yaml.safe_dump(BASE, sort_keys=False, default_flow_style=None)


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def problem(line: str, path: str) -> str:
    """The error line without the file's path (tmp paths hold the test's name)."""
    assert path in line, line
    return line.replace(path, "<file>")


# --------------------------------------------------------------------------- handled well


def test_hand_written_scenario_plans_with_its_quota(tmp_path: Path) -> None:
    """The README's example, quota set by hand: no month departs more than 5 cars, no
    sailing carries more than its 3 seats, no delivery before the gate."""
    s = scenario_from_dict(BASE)
    p = api.plan(s, orders_csv(tmp_path))
    de = p.table.filter(p.table["market"] == "DE")
    assert (de["status"] == "planned").all()
    assert de["delivery_date"].min().isoformat() >= "2027-03-01"  # type: ignore[union-attr]
    per_month = de["departure_date"].dt.strftime("%Y-%m").value_counts()
    assert per_month["count"].max() == 5
    assert p.sailings()["loaded"].max() == 3


@pytest.mark.parametrize("what", ["both", "neither"])
def test_market_by_road_and_sea_or_neither_is_one_clear_error(
    what: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    d = scenario_dict(lead_days=40) if what == "both" else scenario_dict(lanes=None)
    code, _, err = run(capsys, monkeypatch, "validate", write(tmp_path, d))
    assert code == 2
    line = one_error_line(err)
    assert "s.yaml: markets[1]:" in line
    assert "'lead_days'" in line
    assert "'lanes'" in line


@pytest.mark.parametrize("every", [0, -7, 10**12])
def test_bad_every_is_one_clear_error(
    every: int, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    d = scenario_dict(
        lanes=[lane(sailings=[{"every": every, "from": "2027-01-04", "to": "2027-06-30"}])]
    )
    code, _, err = run(capsys, monkeypatch, "validate", write(tmp_path, d))
    assert code == 2
    assert "markets[1].lanes[0].sailings[0].every: must be" in one_error_line(err)


def test_daily_sailing_over_centuries_costs_only_the_horizon() -> None:
    """`every: 1` from 1970-01-01 to 2199-12-31: only the horizon's days are enumerated
    (measured by CLI: plan 4.0 s / 284 MB RSS, as much as a weekly sailing)."""
    d = scenario_dict(
        lanes=[lane(sailings=[{"every": 1, "from": "1970-01-01", "to": "2199-12-31"}])]
    )
    d["horizon_days"] = 3660
    s = scenario_from_dict(d)
    t0 = time.perf_counter()
    arrays = sea(s)
    assert time.perf_counter() - t0 < 1.0
    assert len(arrays.sail_day) == 3660


def test_sailing_and_lane_counts_are_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    many = [{"every": 7, "from": "2027-01-04", "to": "2027-06-30"}] * 1001
    code, _, err = run(
        capsys, monkeypatch, "validate", write(tmp_path, scenario_dict(lanes=[lane(sailings=many)]))
    )
    assert code == 2
    assert "markets[1].lanes[0].sailings: tuple should have at most 1000 items" in one_error_line(
        err
    )
    lanes = [lane(name=f"lane{i}") for i in range(51)]
    code, _, err = run(capsys, monkeypatch, "validate", write(tmp_path, scenario_dict(lanes=lanes)))
    assert code == 2
    assert "markets[1].lanes: tuple should have at most 50 items" in one_error_line(err)


def test_duplicate_lane_across_markets_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    d = scenario_dict()
    d["markets"].append({"name": "FR", "lanes": [lane()]})
    code, _, err = run(capsys, monkeypatch, "validate", write(tmp_path, d))
    assert code == 2
    assert "duplicate lane 'tianjin-bremerhaven' (lane names are global)" in one_error_line(err)


@pytest.mark.parametrize(
    ("gates", "says"),
    [
        (
            [{"model": "ZZ9", "from": "2027-03-01"}],
            "markets[1].gates[0].model: unknown model 'ZZ9'",
        ),
        (
            [{"model": "YU7", "variant": "Ultra", "from": "2027-03-01"}],
            "markets[1].gates[0].variant: unknown variant 'Ultra'",
        ),
    ],
)
def test_gate_for_unknown_model_is_refused(
    gates: list[dict[str, str]],
    says: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, err = run(capsys, monkeypatch, "validate", write(tmp_path, scenario_dict(gates=gates)))
    assert code == 2
    assert says in one_error_line(err)


@pytest.mark.parametrize("month", ["2027-13", "27-01", "2027-3"])
def test_bad_quota_month_is_refused(
    month: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    d = scenario_dict(quota={"months": {month: 5}})
    code, _, err = run(capsys, monkeypatch, "validate", write(tmp_path, d))
    assert code == 2
    assert f"markets[1].quota.months.{month}: month '{month}' must be written YYYY-MM" in (
        one_error_line(err)
    )


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("tariff", -0.1, "markets[1].tariff: must be >= 0, got -0.1"),
        ("price", "62k", "markets[1].price: input should be a valid number"),
    ],
)
def test_bad_money_is_refused(
    key: str,
    value: object,
    says: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, err = run(
        capsys, monkeypatch, "validate", write(tmp_path, scenario_dict(**{key: value}))
    )
    assert code == 2
    assert says in one_error_line(err)


def test_bare_no_market_name_gets_a_hint_to_quote_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = base_yaml().replace("- name: DE\n", "- name: NO\n")
    code, _, err = run(capsys, monkeypatch, "validate", write(tmp_path, text))
    assert code == 2
    line = one_error_line(err)
    assert "markets[1].name: a yes/no value is not allowed here" in line
    assert "put text in quotes" in line


def test_zero_capacity_lanes_leave_export_orders_unplanned_taking_nothing(tmp_path: Path) -> None:
    s = scenario_from_dict(scenario_dict(lanes=[lane(capacity=0)]))
    p = api.plan(s, orders_csv(tmp_path))
    de = p.table.filter(p.table["market"] == "DE")
    assert (de["status"] == "unplanned").all()
    assert de["reason"].str.starts_with("no sailing").all()
    assert de["build_date"].is_null().all()
    assert p.sailings()["loaded"].sum() == 0


def test_patches_that_break_lanes_name_the_patch() -> None:
    s = scenario_from_dict(BASE)
    with pytest.raises(ScenarioError, match=r"sailings: tuple should have at least 1 item"):
        api.patched(
            s,
            "p.yaml",
            {
                "markets": [
                    {"name": "DE", "lanes": [{"name": "tianjin-bremerhaven", "sailings": []}]}
                ]
            },
        )
    with pytest.raises(
        ScenarioError, match=r"my-export \+ p.yaml: markets\[1\]: market 'DE' needs"
    ):
        api.patched(
            s,
            "p.yaml",
            {
                "markets": [
                    {"name": "DE", "lanes": [{"name": "tianjin-bremerhaven", "remove": True}]}
                ]
            },
        )
    with pytest.raises(ScenarioError, match=r"markets\[1\].gates\[0\].model: unknown model 'ZZ'"):
        api.patched(
            s,
            "p.yaml",
            {"markets": [{"name": "DE", "gates": [{"model": "ZZ", "from": "2027-01-01"}]}]},
        )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ("--domestic-p90", "abc"),
            "--domestic-p90: expected e.g. '<=270d', '270d' or '270', got 'abc'",
        ),
        (
            ("--domestic-p90", "<=40d", "--months", "2027-06..2027-01"),
            "months: 2027-01 is before 2027-06",
        ),
        (
            ("--domestic-p90", "<=40d", "--months", "2030-01..2030-12"),
            "months: 2030-01..2030-12 is outside the horizon (2027-01..2027-06)",
        ),
        (("--domestic-p90", "<=40d", "--months", "2027-13..2028-01"), "--months: expected e.g."),
    ],
)
def test_allocate_bad_arguments_are_one_clear_error(
    args: tuple[str, ...],
    says: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, err = run(
        capsys, monkeypatch, "allocate", write(tmp_path, BASE), orders_csv(tmp_path), *args
    )
    assert code == 2
    assert says in one_error_line(err)


def test_allocate_without_export_market_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    d = copy.deepcopy(BASE)
    d["markets"] = d["markets"][:1]
    code, _, err = run(
        capsys,
        monkeypatch,
        "allocate",
        write(tmp_path, d),
        orders_csv(tmp_path, ("CN",)),
        "--domestic-p90",
        "<=40d",
    )
    assert code == 2
    assert "the scenario has no export market" in one_error_line(err)


# --------------------------------------------------------------------------- holes


def test_patch_with_empty_lanes_is_not_silently_ignored() -> None:
    s = scenario_from_dict(BASE)
    with pytest.raises(ScenarioError):
        api.patched(s, "p.yaml", {"markets": [{"name": "DE", "lanes": []}]})


def test_patch_with_unhashable_lane_name_is_a_scenario_error() -> None:
    s = scenario_from_dict(BASE)
    with pytest.raises(ScenarioError, match="lanes"):
        api.patched(
            s,
            "p.yaml",
            {"markets": [{"name": "DE", "lanes": [{"name": ["a", "b"], "transit_days": 3}]}]},
        )


def test_remove_of_unknown_lane_names_the_patch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    patch = tmp_path / "drop-lane.yaml"
    patch.write_text(
        "markets:\n  - name: DE\n    lanes:\n      - {name: no-such-lane, remove: true}\n"
    )
    code, _, err = run(
        capsys,
        monkeypatch,
        "compare",
        write(tmp_path, BASE),
        orders_csv(tmp_path),
        str(patch),
        "-o",
        str(tmp_path / "cmp"),
    )
    assert code == 2
    line = one_error_line(err)
    assert "nothing named 'no-such-lane' to remove" in line
    assert "drop-lane" in line


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("max_per_month: 5", "max_per_month: off"),
        ("every: 7", "every: on"),
        ("capacity: 3", "capacity: yes"),
        ("tariff: 0.307", "tariff: yes"),
    ],
)
def test_yaml_booleans_are_not_numbers(
    old: str,
    new: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = base_yaml()
    assert old in text
    code, _, err = run(capsys, monkeypatch, "validate", write(tmp_path, text.replace(old, new)))
    assert code == 2
    assert "markets[1]" in one_error_line(err)


def test_many_daily_sailing_entries_are_cheap() -> None:
    d = scenario_dict(
        lanes=[lane(sailings=[{"every": 1, "from": "1970-01-01", "to": "2199-12-31"}] * 400)]
    )
    d["horizon_days"] = 3660
    s = scenario_from_dict(d)
    t0 = time.perf_counter()
    arrays = sea(s)
    elapsed = time.perf_counter() - t0
    assert len(arrays.sail_day) == 3660
    assert elapsed < 0.5


def test_quota_blocked_order_says_quota(tmp_path: Path) -> None:
    s = scenario_from_dict(scenario_dict(quota={"max_per_month": 0}))
    p = api.plan(s, orders_csv(tmp_path))
    de = p.table.filter(p.table["market"] == "DE")
    assert (de["status"] == "unplanned").all()
    assert p.sailings()["loaded"].sum() == 0  # every sailing had room
    assert "quota" in de["reason"][0]
    assert "quota" in api.explain(p, de["order_id"][0]).detail


def test_quota_month_as_date_says_yyyy_mm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = base_yaml().replace("max_per_month: 5", "months: {2027-03-01: 5}")
    path = write(tmp_path, text)
    code, _, err = run(capsys, monkeypatch, "validate", path)
    assert code == 2
    line = problem(one_error_line(err), path)
    assert "YYYY-MM" in line
    assert "datetime.date" not in line


@pytest.mark.parametrize("name", ["tianjin:bremerhaven", "tianjin bremerhaven"])
def test_lane_name_with_colon_or_space_says_why(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, scenario_dict(lanes=[lane(name=name)]))
    code, _, err = run(capsys, monkeypatch, "validate", path)
    assert code == 2
    line = problem(one_error_line(err), path)
    assert "markets[1].lanes[0].name" in line
    assert "colon" in line
    assert "^[^" not in line


def test_market_with_both_says_not_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = yaml.safe_dump(scenario_dict(lead_days=40), sort_keys=False)
    path = write(tmp_path, text.replace("'2027-01-01'", "2027-01-01"))  # dates as users write
    code, _, err = run(capsys, monkeypatch, "validate", path)
    assert code == 2
    line = problem(one_error_line(err), path)
    assert "both" in line
    assert "datetime.date" not in line


def test_allocate_without_export_orders_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(
        capsys,
        monkeypatch,
        "allocate",
        write(tmp_path, BASE),
        orders_csv(tmp_path, ("CN",)),
        "--domestic-p90",
        "<=40d",
    )
    assert code == 0
    assert "no export orders" in out.replace("\n", " ")


def test_allocate_output_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "taken.txt"
    target.write_text("x")
    code, _, err = run(
        capsys,
        monkeypatch,
        "allocate",
        write(tmp_path, BASE),
        orders_csv(tmp_path),
        "--domestic-p90",
        "<=40d",
        "-o",
        str(target),
    )
    assert code == 2
    line = problem(one_error_line(err), str(target))
    assert "FileExistsError" not in line
    assert "output" in line


def _chart_warnings(p: Any, path: Path) -> list[str]:
    from promiseline.charts import export_chart

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        export_chart(p, path)
    return [str(w.message) for w in seen]


def test_export_chart_with_50_lanes_is_quiet(tmp_path: Path) -> None:
    lanes = [lane(name=f"lane{i}", transit_days=35 + i % 7) for i in range(50)]
    s = scenario_from_dict(scenario_dict(lanes=lanes))
    p = api.plan(s, orders_csv(tmp_path))
    assert _chart_warnings(p, tmp_path / "export.png") == []


def test_empty_book_on_export_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text(HEADER + "\n")
    s = scenario_from_dict(BASE)
    p = api.plan(s, str(empty))
    problems = _chart_warnings(p, tmp_path / "export.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, out, _ = run(
            capsys,
            monkeypatch,
            "plan",
            write(tmp_path, BASE),
            str(empty),
            "-o",
            str(tmp_path / "o"),
        )
    assert code == 0
    assert "None" not in out
    assert problems == []


def test_compare_prints_the_export_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`compare` with a market by sea prints each scenario's export line: a patch adding
    ten days at sea moves the export waits, not the ones at home."""
    patch = write(
        tmp_path,
        {
            "markets": [
                {
                    "name": "DE",
                    "lanes": [{"name": BASE["markets"][1]["lanes"][0]["name"], "transit_days": 45}],
                }
            ]
        },
        "slow.yaml",
    )
    code, out, _ = run(
        capsys,
        monkeypatch,
        "compare",
        write(tmp_path, base_yaml()),
        orders_csv(tmp_path),
        patch,
        "-o",
        str(tmp_path / "cmp"),
    )
    assert code == 0
    assert "exp P50" in out
    cells = {
        c[1]: c[2:]
        for c in (
            [x.strip() for x in ln.split("│")] for ln in out.splitlines() if ln.count("│") > 9
        )
    }
    base, slow = cells["base"], cells["slow"]
    assert slow[:2] == base[:2]  # home P50 and P90
    assert float(base[5]) < float(slow[5]) <= float(base[5]) + 10  # exp P50: later, by <= 10


def test_validate_warns_of_lanes_that_can_carry_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Valid but useless export settings are warned of by `validate` (exit 0): a lane with
    no sailing in the horizon, one whose sailings have no seats, a market with no seat at
    all, a quota month outside the horizon; the demo scenario has none of these."""
    data = copy.deepcopy(BASE)
    ln = data["markets"][1]["lanes"][0]
    ln["sailings"] = [{"date": "2035-01-01"}]
    second = dict(
        ln,
        name="empty-seats",
        capacity=0,
        sailings=[{"every": 7, "from": "2027-01-04", "to": "2027-06-30"}],
    )
    data["markets"][1]["lanes"].append(second)
    data["markets"][1]["quota"] = {"months": {"2031-01": 5}}
    code, out, _ = run(capsys, monkeypatch, "validate", write(tmp_path, data))
    assert code == 0
    text = " ".join(out.split())
    assert "no sailing departs inside the horizon" in text
    assert "every sailing inside the horizon has capacity 0" in text
    assert "no seat on any sailing" in text
    assert "2031-01 is outside the horizon" in text
    code, out, _ = run(capsys, monkeypatch, "validate", "demo")
    assert code == 0
    assert "warning" not in out
