"""The pages' Jinja2 environment, without FastAPI: the dashboard renders through it, and so
does `promiseline report`, which must not load the web service to write one file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

HERE = Path(__file__).parent
env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,  # a name a template lacks is an error, not a blank
)
env.filters["thousands"] = lambda n: "" if n is None else f"{n:,}"
env.filters["cell"] = lambda v: (
    ""
    if v is None
    else f"{v:,.1f}"
    if isinstance(v, float)
    else f"{v:,}"
    if isinstance(v, int)
    else v
)
DEFAULTS: dict[str, Any] = {"role": None, "nav": None, "inline": None, "lang": "en"}
