"""Read a progress file (CSV or Parquet): what the plant reports of many orders at once,
`order_id, status, line, build_date, sailing_id, at`. Each row is parsed here and named by
its row number when it cannot be read; what it says is checked by core/model/progress.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from promiseline.core.model.lifecycle import PROGRESS, Status
from promiseline.core.model.orders import ROW_ERROR, parse_datetime
from promiseline.core.model.progress import PROGRESS_COLUMNS, Report
from promiseline.io.order_book import read_raw

Numbered = tuple[int, Report]  # a report and its row (CSV line, or 1-based Parquet row)


def read_progress(path: str | Path) -> tuple[list[Numbered], list[str]]:
    """The reports of the file, and a line for each row that cannot be read."""
    raw = read_raw(path, required=PROGRESS_COLUMNS[:2], optional=PROGRESS_COLUMNS[2:])
    text = {
        c: (raw[c].cast(pl.String).str.strip_chars() if c in raw.columns else None)
        for c in PROGRESS_COLUMNS
    }
    blank = pl.Series([None] * raw.height, dtype=pl.String)
    cols = {c: (v if v is not None else blank) for c, v in text.items()}
    frame = pl.DataFrame({"row": raw["row"], **cols}).with_columns(
        pl.col("build_date").str.to_date("%Y-%m-%d", strict=False).alias("build_day"),
        parse_datetime(pl.col("at")).alias("at_t"),
    )
    errors: list[str] = []
    if ROW_ERROR in raw.columns:  # a line that does not split into the header's fields
        bad = raw[ROW_ERROR].is_not_null()
        errors = [
            f"row {n}: {why}" for n, why in raw.filter(bad).select("row", ROW_ERROR).iter_rows()
        ]
        frame = frame.filter(~bad)
    known = {p.value for p in PROGRESS}
    reports: list[Numbered] = []
    for r in frame.iter_rows(named=True):
        why = _problems(r, known)
        if why:
            errors.append(f"row {r['row']} order {r['order_id']!r}: {'; '.join(why)}")
            continue
        reports.append(
            (
                r["row"],
                Report(
                    r["order_id"],
                    Status(r["status"].lower()),
                    r["line"] or None,
                    r["build_day"],
                    r["sailing_id"] or None,
                    r["at_t"],
                ),
            )
        )
    return reports, errors


def _problems(r: dict[str, object], known: set[str]) -> list[str]:
    out = []
    if not r["order_id"]:
        out.append("missing order_id")
    status = str(r["status"] or "").lower()
    if status not in known:
        out.append(f"status {r['status']!r}: expected one of {sorted(known)}")
    if r["build_date"] and r["build_day"] is None:
        out.append(f"unparsable build_date {r['build_date']!r}, expected e.g. 2025-07-01")
    if r["at"] and not isinstance(r["at_t"], dt.datetime):
        out.append(f"unparsable at {r['at']!r}, expected e.g. 2025-07-01T09:00")
    return out
