"""Read a record to fit uncertainty from (CSV or Parquet): a daily output history
(`date, line, built`: vehicles built per line and day) or part receipts (`date, part,
received`). Every row that cannot be read is named by its row (CSV line, or 1-based
Parquet row) and column; a file with any is refused whole, since a statistic of part of
a record passes for one of all of it."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from promiseline.core.futures.fit import BUILT_COLUMNS, RECEIPT_COLUMNS
from promiseline.core.model.orders import ROW_ERROR
from promiseline.errors import RecordError
from promiseline.io.order_book import read_raw

SHOWN = 20  # wrong rows named in the error's message


def read_output_history(path: str | Path) -> pl.DataFrame:
    """A daily output history: `date` (YYYY-MM-DD), `line`, `built` (a whole number >= 0),
    one row per line and day."""
    return _read(path, BUILT_COLUMNS, "output-history")


def read_receipts(path: str | Path) -> pl.DataFrame:
    """Part receipts: `date`, `part`, `received` (a whole number >= 0), at most one row per
    part and day (a day without a row received nothing)."""
    return _read(path, RECEIPT_COLUMNS, "receipts")


def _read(path: str | Path, columns: tuple[str, ...], what: str) -> pl.DataFrame:
    date, name, count = columns
    raw = read_raw(path, required=columns, optional=(), what=what)
    text = {c: raw[c].cast(pl.String).str.strip_chars() for c in columns}
    frame = pl.DataFrame({"row": raw["row"], **text}).with_columns(
        pl.col(date).str.to_date("%Y-%m-%d", strict=False).alias("_date"),
        pl.col(count).cast(pl.Int64, strict=False).alias("_count"),
    )
    errors: list[str] = []
    if ROW_ERROR in raw.columns:
        bad = raw[ROW_ERROR].is_not_null()
        errors += [
            f"row {n}: {why}" for n, why in raw.filter(bad).select("row", ROW_ERROR).iter_rows()
        ]
        frame = frame.filter(~bad)
    for r in frame.iter_rows(named=True):
        why = []
        if r["_date"] is None:
            why.append(f"column {date}: {r[date]!r} is not a date such as 2025-07-01")
        if not r[name]:
            why.append(f"column {name}: missing")
        if r["_count"] is None or r["_count"] < 0:
            why.append(f"column {count}: {r[count]!r} is not a whole number >= 0")
        if why:
            errors.append(f"row {r['row']}: {'; '.join(why)}")
    good = frame.filter(
        pl.col("_date").is_not_null() & (pl.col(name).str.len_chars() > 0) & (pl.col("_count") >= 0)
    )
    twice = good.filter(pl.struct("_date", name).is_duplicated()).sort("row")
    for (day, key), rows in twice.group_by(["_date", name], maintain_order=True):
        where = ", ".join(str(x) for x in rows["row"].to_list())
        errors.append(f"rows {where}: {name} {key} on {day} more than once")
    if errors:
        errors.sort(key=_row_number)
        shown = errors[:SHOWN] + (
            [f"... and {len(errors) - SHOWN:,} more"] if len(errors) > SHOWN else []
        )
        more = f" (and {len(errors) - 1:,} more)" if len(errors) > 1 else ""
        raise RecordError(f"{path}: {errors[0]}{more}; nothing was fitted", shown)
    return good.select(
        pl.col("_date").alias(date), pl.col(name), pl.col("_count").alias(count)
    ).sort(date, name)


def _row_number(problem: str) -> int:
    head = problem.split(":", 1)[0].removeprefix("rows ").removeprefix("row ")
    first = head.split(",")[0].strip()
    return int(first) if first.isdigit() else 0
