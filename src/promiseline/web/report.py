"""`promiseline report`: the overview as one self-contained HTML file, for sending by
mail: the dashboard's own template, with uPlot, the page's script and styles and the
data inlined (nothing loads from anywhere)."""

from __future__ import annotations

import json
from pathlib import Path

from promiseline.core.readout.overview import Overview
from promiseline.web.pages import heatmap
from promiseline.web.render import DEFAULTS, HERE, templates

ASSETS = HERE / "static"


def report_html(ov: Overview) -> str:
    css = "\n".join((ASSETS / p).read_text() for p in ("vendor/uPlot.min.css", "app.css"))
    js = "\n".join((ASSETS / p).read_text() for p in ("vendor/uPlot.iife.min.js", "app.js"))
    # "</" cannot end the inlined script or data early
    data = json.dumps(ov.to_json()).replace("</", "<\\/")
    return templates.env.get_template("overview.html").render(
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
