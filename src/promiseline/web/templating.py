"""The pages' Jinja2 environment, without FastAPI: the dashboard renders through it, and so
does `promiseline report`, which must not load the web service to write one file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from promiseline.errors import counted

HERE = Path(__file__).parent
env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,  # a name a template lacks is an error, not a blank
)
env.filters["thousands"] = lambda n: "" if n is None else f"{n:,}"


def cell(v: Any, column: str = "") -> Any:
    """A table cell as a page shows it: thousands, a whole number of days without '.0'
    (the what-if page said '130.0'), a month as YYYY-MM (it said '2025-06-01')."""
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() else f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, dt.date) and column == "month":
        return v.strftime("%Y-%m")
    return v


env.filters["cell"] = cell
env.filters["counted"] = counted  # {{ n|counted("window") }}: "1 window", "2 windows"
DEFAULTS: dict[str, Any] = {"role": None, "nav": None, "inline": None, "lang": "en"}
