"""Read and write order books (CSV or Parquet) in the columns of SCENARIO.md."""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
from numba import njit

from promiseline.core.model.orders import OPTIONAL, REQUIRED, ROW_ERROR, OrderBook, validate_orders
from promiseline.core.model.scenario import Scenario
from promiseline.errors import OrderBookError

_QUOTE, _COMMA, _LF, _CR = 34, 44, 10, 13
_FIELD_START, _UNQUOTED, _QUOTED, _AFTER_QUOTE = 0, 1, 2, 3
_UTF8_BOM = b"\xef\xbb\xbf"


def _kind(path: Path, what: str = "order-book") -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".csv", ".txt"):
        return "csv"
    raise OrderBookError(f"{path}: unknown {what} format {suffix!r}, expected .csv or .parquet")


def read_raw(
    path: str | Path,
    required: tuple[str, ...] = REQUIRED,
    optional: tuple[str, ...] = OPTIONAL,
    what: str = "order-book",
) -> pl.DataFrame:
    """The file's rows as they are, with `row`: the CSV line number or 1-based Parquet row
    (and, for CSV, `row_error`: a line whose field count is not the header's); the
    columns `required` must be there (an order book's, or another table's such as
    progress). `what` names the kind of file in the errors ("order-book", ...)."""
    p = Path(path)
    if p.is_dir():
        raise OrderBookError(f"{p}: is a directory, expected {_a(what)} file")
    if not p.is_file():
        raise OrderBookError(f"{p}: no such {what} file")
    kind = _kind(p, what)
    try:
        df = _read_csv(p, required) if kind == "csv" else _read_parquet(p, what)
    except pl.exceptions.PolarsError as e:
        raise OrderBookError(f"{p}: cannot read {kind}: {_first_paragraph(e)}") from None
    except OSError as e:
        raise OrderBookError(f"{p}: cannot read file: {e.strerror}") from None
    found = [c for c in df.columns if c not in ("row", ROW_ERROR)]
    missing = [c for c in required if c not in found]
    if missing:
        raise OrderBookError(
            f"{p}: missing column(s) {missing}; found {found}, "
            f"expected {list(required)} and optionally {list(optional)}"
        )
    return df


def _a(what: str) -> str:
    return ("an " if what[0] in "aeiou" else "a ") + what


def _read_parquet(p: Path, what: str = "order-book") -> pl.DataFrame:
    with p.open("rb") as f:
        head = f.read(4)
    if not head:
        raise OrderBookError(f"{p}: empty file, expected a Parquet {what.replace('-', ' ')}")
    if head != b"PAR1":
        raise OrderBookError(f"{p}: not a Parquet file (it does not start with PAR1)")
    return pl.read_parquet(p).with_row_index("row", offset=1)


def _read_csv(p: Path, required: tuple[str, ...] = REQUIRED) -> pl.DataFrame:
    """Every record polars reads, numbered by the line it starts on; blank lines are
    skipped and a record with more or fewer fields than the header gets a `row_error`
    (polars would fail the whole file on the first, and pad the second silently)."""
    data = p.read_bytes()
    _check_text(p, data)
    line, fields, blank = _records(data)
    content = np.flatnonzero(~blank)
    if len(content) == 0:
        raise OrderBookError(
            f"{p}: empty file, expected a header line such as {','.join(required)}"
        )
    header = int(content[0])
    try:
        df = pl.read_csv(data, infer_schema=False, truncate_ragged_lines=True)
    except pl.exceptions.ComputeError as e:
        if "invalid utf-8" not in str(e):
            raise
        raise OrderBookError(f"{p}: not UTF-8 text ({_bad_utf8(data)})") from None
    if df.height != len(line) - header - 1:  # the two readers must agree on every record
        raise OrderBookError(
            f"{p}: cannot match its {df.height:,} CSV records to lines "
            f"(found {len(line) - header - 1:,}): is a quote left open?"
        )
    rows = slice(header + 1, None)
    width = int(fields[header])
    got = pl.Series(fields[rows])
    df = df.select(
        pl.Series("row", line[rows], dtype=pl.Int64),
        pl.all(),
        pl.when(got != width)
        .then(pl.format(f"expected {width} fields (the header's), got {{}}", got))
        .alias(ROW_ERROR),
    )
    return df.filter(pl.Series(~blank[rows])) if blank[rows].any() else df


def _check_text(p: Path, data: bytes) -> None:
    """Refuse what is plainly not UTF-8 CSV, naming what it looks like."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise OrderBookError(f"{p}: UTF-16 text, expected UTF-8 CSV (save it as UTF-8)")
    try:  # polars checks the rows but not the header line
        codecs.getincrementaldecoder("utf-8")().decode(data[:65536], final=False)
    except UnicodeDecodeError as e:
        raise OrderBookError(f"{p}: not UTF-8 text ({_where(data, e.start)})") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise OrderBookError(
            f"{p}: binary data (a NUL byte on line {line}), expected UTF-8 CSV text"
        )


def _bad_utf8(data: bytes) -> str:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return _where(data, e.start)
    return "an invalid byte sequence"


def _where(data: bytes, byte: int) -> str:
    line = data.count(b"\n", 0, byte) + 1
    return f"line {line}, byte {byte}"


def _first_paragraph(e: Exception) -> str:
    """A polars error's first paragraph on one line (the rest are hints about dtypes)."""
    text = str(e).strip().split("\n\n")[0]
    return " ".join(text.split()) or type(e).__name__


def _records(
    data: bytes,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Per CSV record (header included): the line it starts on, its number of fields and
    whether it is a blank line."""
    n = data.count(b"\n") + 1
    line = np.empty(n, dtype=np.int64)
    fields = np.empty(n, dtype=np.int64)
    blank = np.empty(n, dtype=np.bool_)
    skip = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    count = _scan(np.frombuffer(data, dtype=np.uint8), skip, line, fields, blank)
    return line[:count], fields[:count], blank[:count]


@njit(cache=True, nogil=True)
def _scan(data, start, out_line, out_fields, out_blank):  # type: ignore[no-untyped-def]
    """Split CSV bytes into records the way polars does (a quote opens a field only at its
    start; "" inside is a quote; a newline inside quotes continues the record)."""
    state = _FIELD_START
    line = 1
    record_line = 1
    fields = 1
    count = 0
    n = data.shape[0]
    for i in range(start, n):
        c = data[i]
        if c > _COMMA:  # neither quote, comma nor newline: the bulk of the bytes
            if state != _QUOTED:
                state = _UNQUOTED
            continue
        if state == _QUOTED:
            if c == _QUOTE:
                state = _AFTER_QUOTE
            elif c == _LF:
                line += 1
            continue
        if c == _LF:
            width = i - start
            out_line[count] = record_line
            out_fields[count] = fields
            out_blank[count] = width == 0 or (width == 1 and data[start] == _CR)
            count += 1
            line += 1
            record_line = line
            fields = 1
            start = i + 1
            state = _FIELD_START
        elif c == _COMMA:
            fields += 1
            state = _FIELD_START
        elif c == _QUOTE and state == _FIELD_START:
            state = _QUOTED
        elif c == _QUOTE and state == _AFTER_QUOTE:
            state = _QUOTED  # "" inside a quoted field
        else:
            state = _UNQUOTED
    if start < n:  # a last line without a newline
        width = n - start
        out_line[count] = record_line
        out_fields[count] = fields
        out_blank[count] = width == 1 and data[start] == _CR
        count += 1
    return count


def read_orders(path: str | Path, scenario: Scenario) -> OrderBook:
    """Load an order book: valid rows are kept, bad rows reported with their row number."""
    return validate_orders(read_raw(path), scenario, source=str(path))


def write_orders(book: OrderBook | pl.DataFrame, path: str | Path) -> Path:
    """Write orders in the contract's columns (sailing_id only when some order has one);
    the format follows the file suffix."""
    table = book.table if isinstance(book, OrderBook) else book
    cols = [
        c
        for c in (*REQUIRED[:4], "options", "market", "locked_at", *OPTIONAL[1:])
        if c in table.columns and (c != "sailing_id" or table[c].null_count() < table.height)
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
