"""Downloads without formulas: planner-controlled text (names of what-ifs, lines, parts,
markets, options) reaches the cells and headers of every CSV and xlsx the pages give, and
a spreadsheet runs a cell that starts with = + - @ (or a tab or CR before one) as a
formula. Such a cell gets a leading apostrophe, as OWASP advises for CSV injection; an
xlsx gets the same (its cells are text already, but it is often saved on as CSV)."""

from __future__ import annotations

import polars as pl

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def defused(text: str) -> str:
    """`text` that no spreadsheet reads as a formula."""
    return "'" + text if text.startswith(TRIGGERS) else text


def defuse(table: pl.DataFrame) -> pl.DataFrame:
    """The table with every text cell and column name defused (numbers and dates stay:
    a negative number is a number, not a formula)."""
    texts = [
        name
        for name, kind in table.schema.items()
        if kind in (pl.String, pl.Categorical) or isinstance(kind, pl.Enum)
    ]
    pattern = "^[=+\\-@\t\r]"
    out = table.with_columns(
        pl.when(pl.col(n).cast(pl.String).str.contains(pattern))
        .then(pl.lit("'") + pl.col(n).cast(pl.String))
        .otherwise(pl.col(n).cast(pl.String))
        .alias(n)
        for n in texts
    )
    return out.rename({n: defused(n) for n in out.columns if defused(n) != n})
