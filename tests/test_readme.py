"""The README's Python runs as written, in order, on a fresh machine: in an empty folder,
after what its comments say to do first (copy the demo scenario to scenario.yaml, write
the demo's orders to orders.csv, and third-shift.yaml as the README shows it). The book
is the demo's, thinned to every 25th order (and the order the snippet explains) so the
test stays quick; the code is the README's, unchanged."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


def first_file(name: str) -> str:
    """The README's YAML block that starts with `# name`."""
    return next(b for b in blocks("yaml") if b.startswith(f"# {name}"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from promiseline.demo import demo_orders

    here = tmp_path_factory.mktemp("readme")
    shutil.copy(ROOT / "src/promiseline/data/beijing-ev.yaml", here / "scenario.yaml")
    book = demo_orders()
    explained = re.search(r'explain\(plan, "([^"]+)"\)', README)
    assert explained is not None
    thin = book.filter((pl.int_range(pl.len()) % 25 == 0) | (pl.col("order_id") == explained[1]))
    thin.write_csv(here / "orders.csv")
    (here / "third-shift.yaml").write_text(first_file("third-shift.yaml"), encoding="utf-8")
    return here


def run(folder: Path, name: str, code: str) -> subprocess.CompletedProcess[str]:
    (folder / name).write_text(code, encoding="utf-8")
    return subprocess.run(
        [sys.executable, name], cwd=folder, capture_output=True, text=True, timeout=900
    )


def test_the_python_section_runs(folder: Path) -> None:
    code = blocks("python")[0]
    assert 'load_scenario("scenario.yaml")' in code
    done = run(folder, "first.py", code)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "It is number" in done.stdout  # e.text() printed
    assert (folder / "out" / "plan.parquet").is_file()


@pytest.mark.slow
def test_the_whole_script_runs(folder: Path) -> None:
    """Dask workers, a what-if, sizing and a backtest: minutes, so only in test-full."""
    code = blocks("python")[1]
    assert 'if __name__ == "__main__":' in code
    done = run(folder, "whole.py", code)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "windows" in done.stdout  # the backtest's verdict
