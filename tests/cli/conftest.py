"""Running the CLI in-process, and the inputs its tests share."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from promiseline import cli
from promiseline.cli import shared
from tests.conftest import DATA

TINY = str(DATA / "tiny.yaml")
ORDERS = str(DATA / "tiny_orders.csv")
PATCH = str(DATA / "more-hours.yaml")


def quote_args(model: str = "A", variant: str = "S", *extra: str) -> tuple[str, ...]:
    return ("quote", TINY, ORDERS, "--model", model, "--variant", variant, "--market", "CN", *extra)


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    """`promiseline ARGS` in this process: (exit code, stdout, stderr), 200 columns wide."""
    monkeypatch.setattr(sys, "argv", ["promiseline", *args])
    monkeypatch.setattr(shared.out, "width", 200)
    code = 0
    try:
        cli.main()
    except SystemExit as e:
        code = int(e.code or 0)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def with_bad_row(tmp_path: Path) -> str:
    """The tiny order book with one bad row on CSV line 4."""
    src = tmp_path / "o.csv"
    lines = Path(ORDERS).read_text().splitlines()
    lines.insert(3, "bad1,Z,S,,CN,2025-01-01T00:00:00,0,locked,,")
    src.write_text("\n".join(lines) + "\n")
    return str(src)


def sizing_scenario(tmp_path: Path) -> str:
    """The tiny scenario with uncertainty and a lever, for simulate and size."""
    import yaml

    sc = yaml.safe_load(Path(TINY).read_text())
    sc["uncertainty"] = {"uptime": {"mean": 0.9, "sd": 0.05}}
    sc["levers"] = [
        {"name": "hours", "kind": "shift", "line": "l1", "amount": 2, "cost": 5, "max_units": 2}
    ]
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(sc))
    return str(scenario)
