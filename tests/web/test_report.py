"""report.html (`promiseline report`, and beside the plan's charts) is written without
the web service: its writer loads neither FastAPI nor service/, the charts load no page,
and the service loads no page either (the server, above both, puts them together)."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from promiseline import api
from promiseline.web.report import report_html, write_plan_charts
from tests.conftest import DATA

LOADED = "import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"


@pytest.mark.parametrize(
    ("module", "unwanted"),
    [
        ("promiseline.web.report", ("fastapi", "starlette", "promiseline.service")),
        ("promiseline.charts", ("fastapi", "promiseline.web", "promiseline.service")),
        ("promiseline.service.app", ("promiseline.web", "promiseline.server")),
    ],
)
def test_importing_loads_nothing_from_above(module: str, unwanted: tuple[str, ...]) -> None:
    code = LOADED.format(module=module)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(out.stdout)
    assert module in loaded
    assert [m for m in loaded if m.startswith(unwanted)] == []


def test_the_plan_charts_and_the_report_come_from_one_overview(tmp_path: Path) -> None:
    """The PNGs and report.html, in the order the CLI lists them; the page is the one
    `promiseline report` writes for the same plan."""
    s = api.load_scenario(DATA / "tiny.yaml")
    plan = api.plan(s, api.load_orders(DATA / "tiny_orders.csv", s))
    paths = write_plan_charts(plan, tmp_path)
    assert list(paths) == ["backlog", "waits", "utilization", "binding", "html"]
    assert paths["html"].read_text(encoding="utf-8") == report_html(api.overview(plan))
    assert all(p.stat().st_size > 1000 for p in paths.values())


def test_the_report_says_and_marks_the_plans_day() -> None:
    """Every heading says the plan's day; the data the charts are drawn from holds it (the
    inlined app.js draws the line there); the utilization table marks its week."""
    s = api.load_scenario(DATA / "tiny.yaml").replace(as_of=dt.datetime(2025, 1, 8, 9))
    page = report_html(api.overview(api.plan(s, api.load_orders(DATA / "tiny_orders.csv", s))))
    heads = re.findall(r"<h2>(.*?)</h2>", page, re.S)
    assert len(heads) >= 7
    assert all("as of 2025-01-08" in h for h in heads), heads
    data = re.search(r'<script type="application/json" id="overview-data">(.*?)</script>', page)
    assert data is not None
    assert json.loads(data[1])["kpis"]["as_of"] == "2025-01-08"
    assert "function asOfLine" in page
    marked = re.findall(r'<th class="num asof-week"[^>]*>([^<]*)</th>', page)
    assert marked == ["25-01-06"]


def test_the_report_of_an_export_plan_has_no_dangling_download_labels() -> None:
    """report.html has no downloads (it is one file): no 'Port yards:' with nothing after
    it, and its lanes table and yard peaks are there."""
    from tests.core.planning.test_sea import orders
    from tests.core.readout.test_export_outlook import book, export_scenario

    s = export_scenario()
    plan = api.plan(s, orders(s, *book().iter_rows(named=True)).table)
    page = report_html(api.overview(plan))
    assert "Export by sea" in page
    assert "Port yards" not in page
    assert "Download" not in page
    assert re.search(r"Most cars waiting at a port:\s*tianjin \d", page)


def test_a_table_cell_reads_as_a_planner_reads_it() -> None:
    """Whole days without '.0', months as YYYY-MM, thousands; a date elsewhere whole."""
    import polars as pl

    from promiseline.web.templating import env

    frame = env.from_string('{% from "macros.html" import frame %}{{ frame(df) }}')
    df = pl.DataFrame(
        {
            "month": [dt.date(2025, 6, 1)],
            "build_date": [dt.date(2025, 6, 1)],
            "P90 wait": [130.0],
            "median": [12.5],
            "orders": [1234567],
        }
    )
    page = frame.render(df=df)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", page)
    assert cells == ["2025-06", "2025-06-01", "130", "12.5", "1,234,567"]
