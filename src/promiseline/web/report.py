"""`promiseline report`: the overview as one self-contained HTML file, for sending by
mail: the dashboard's own template, with uPlot, the page's script and styles and the
data inlined (nothing loads from anywhere). It loads neither FastAPI nor the service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from promiseline.charts import plan_charts
from promiseline.core.readout.overview import Overview, overview
from promiseline.web.overview_view import heatmap
from promiseline.web.templating import DEFAULTS, HERE, env

if TYPE_CHECKING:
    from promiseline.core.futures.simulate import Simulation
    from promiseline.core.planning.plan import Plan

ASSETS = HERE / "static"


def report_html(ov: Overview) -> str:
    css = "\n".join((ASSETS / p).read_text() for p in ("vendor/uPlot.min.css", "app.css"))
    js = "\n".join((ASSETS / p).read_text() for p in ("vendor/uPlot.iife.min.js", "app.js"))
    # "</" cannot end the inlined script or data early
    data = json.dumps(ov.to_json()).replace("</", "<\\/")
    return env.get_template("overview.html").render(
        DEFAULTS
        | {
            "inline": {"css": css, "js": js.replace("</script", "<\\/script")},
            "csrf": "",
            "ov": ov,
            "heat": heatmap(ov),
            "data": data,
        }
    )


def write_report(ov: Overview, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(ov), encoding="utf-8")
    return path


def write_plan_charts(plan: Plan, out: Path, sim: Simulation | None = None) -> dict[str, Path]:
    """The overview's PNGs (charts.plan_charts) and the overview as report.html, from one
    overview (a third of a second on the demo's book): what `promiseline demo` and
    `simulate` write. Here, above both, because charts sit below the pages."""
    ov = overview(plan, sim.bands() if sim is not None else None)
    paths = plan_charts(plan, ov, out)
    paths["html"] = write_report(ov, out / "report.html")
    return paths
