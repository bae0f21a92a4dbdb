"""Read and write order books (CSV or Parquet) in the columns of SCENARIO.md."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from promiseline.core.orders import OPTIONAL, REQUIRED, OrderBook, validate_orders
from promiseline.core.scenario import Scenario
from promiseline.errors import OrderBookError


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".csv", ".txt"):
        return "csv"
    raise OrderBookError(f"{path}: unknown order-book format {suffix!r}, expected .csv or .parquet")


def read_raw(path: str | Path) -> pl.DataFrame:
    """The file's rows as they are, with `row`: the CSV line number or 1-based Parquet row."""
    p = Path(path)
    if not p.is_file():
        raise OrderBookError(f"{p}: no such order-book file")
    kind = _kind(p)
    try:
        if kind == "csv":
            df = pl.read_csv(p, infer_schema=False)
            df = df.with_row_index("row", offset=2)  # line 1 is the header
        else:
            df = pl.read_parquet(p).with_row_index("row", offset=1)
    except (pl.exceptions.PolarsError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise OrderBookError(f"{p}: cannot read {kind}: {first}") from None
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise OrderBookError(
            f"{p}: missing column(s) {missing}; found {df.columns[1:]}, "
            f"expected {list(REQUIRED)} and optionally {list(OPTIONAL)}"
        )
    return df


def read_orders(path: str | Path, scenario: Scenario) -> OrderBook:
    """Load an order book: valid rows are kept, bad rows reported with their row number."""
    return validate_orders(read_raw(path), scenario, source=str(path))


def write_orders(book: OrderBook | pl.DataFrame, path: str | Path) -> Path:
    """Write orders in the contract's columns; the format follows the file suffix."""
    table = book.table if isinstance(book, OrderBook) else book
    cols = [
        c
        for c in (*REQUIRED[:4], "options", "market", "locked_at", *OPTIONAL[1:])
        if c in table.columns
    ]
    cols = list(dict.fromkeys(cols))
    out = table.select(cols)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if _kind(p) == "parquet":
        out.write_parquet(p)
    else:
        out.write_csv(p, datetime_format="%Y-%m-%dT%H:%M:%S%.f")
    return p
