"""Output files: JSON written one way, a Monte Carlo run's files, backtest.json."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl

from promiseline import api
from promiseline.core.model.scenario import Scenario
from promiseline.io.outputs import write_backtest, write_json, write_simulation


def test_json_is_written_one_way(tmp_path: Path) -> None:
    """Indented by two, ASCII, a final newline; a date as its ISO text."""
    data = {"b": 1, "when": dt.date(2025, 1, 2), "naïve": [1.5]}
    path = write_json(tmp_path / "x.json", data)
    text = '{\n  "b": 1,\n  "when": "2025-01-02",\n  "na\\u00efve": [\n    1.5\n  ]\n}\n'
    assert path.read_bytes() == text.encode()


def test_backtest_scores_go_to_backtest_json(tmp_path: Path) -> None:
    """The scores, in a folder made for them."""
    paths = write_backtest({"verdict": "well calibrated", "orders_scored": 3}, tmp_path / "bt")
    assert paths == {"backtest": tmp_path / "bt" / "backtest.json"}
    assert json.loads(paths["backtest"].read_text()) == {
        "verdict": "well calibrated",
        "orders_scored": 3,
    }


def test_simulation_files_hold_the_run(
    tmp_path: Path, tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """Each order's window, the backlog's bands and the summary, in that order."""
    noisy = tiny.replace(uncertainty={"uptime": {"mean": 0.9, "sd": 0.05}})
    sim = api.simulate(noisy, tiny_orders, futures=2)
    paths = write_simulation(sim, tmp_path)
    assert list(paths) == ["windows", "bands", "simulation"]
    assert pl.read_parquet(paths["windows"]).equals(sim.orders())
    assert pl.read_parquet(paths["bands"]).equals(sim.bands())
    summary = json.loads(paths["simulation"].read_text())
    assert summary == json.loads(json.dumps(sim.summary(), default=str))
    assert summary["futures"] == 2
