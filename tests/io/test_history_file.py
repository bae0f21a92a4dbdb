"""Reading a record to fit from: a daily output history or part receipts, CSV or
Parquet; a file with a wrong row is refused whole, each wrong row named by its row and
column."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from promiseline.errors import OrderBookError, RecordError
from promiseline.io.history_file import read_output_history, read_receipts


def write(tmp_path: Path, text: str, name: str = "out.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_a_good_history_reads_as_dates_names_and_counts(tmp_path: Path) -> None:
    p = write(
        tmp_path, "date,line,built\n2025-01-03,l1,910\n 2025-01-02 ,l1, 899\n2025-01-02,l2,0\n"
    )
    df = read_output_history(p)
    assert df.schema == {"date": pl.Date, "line": pl.String, "built": pl.Int64}
    assert df.rows() == [
        (dt.date(2025, 1, 2), "l1", 899),
        (dt.date(2025, 1, 2), "l2", 0),
        (dt.date(2025, 1, 3), "l1", 910),
    ]
    parquet = tmp_path / "out.parquet"
    df.write_parquet(parquet)
    assert read_output_history(parquet).equals(df)


def test_every_wrong_row_is_named_with_its_column(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "date,line,built\n"
        "2025-01-02,l1,10\n"  # line 2
        "2025-01-0x,l1,3\n"  # line 3: no date
        "2025-01-03,,-1\n"  # line 4: no line, a negative count
        "2025-01-02,l1,11\n"  # line 5: the same line and day as line 2
        "2025-01-04,l1\n"  # line 6: a field short
        "2025-01-05,l1,12.5\n",  # line 7: not whole
    )
    with pytest.raises(RecordError) as e:
        read_output_history(p)
    assert str(e.value) == (
        f"{p}: rows 2, 5: line l1 on 2025-01-02 more than once (and 4 more); nothing was fitted"
    )
    assert e.value.problems == [
        "rows 2, 5: line l1 on 2025-01-02 more than once",
        "row 3: column date: '2025-01-0x' is not a date such as 2025-07-01",
        "row 4: column line: missing; column built: '-1' is not a whole number >= 0",
        "row 6: expected 3 fields (the header's), got 2",
        "row 7: column built: '12.5' is not a whole number >= 0",
    ]


def test_files_that_cannot_be_read_say_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(OrderBookError, match="no such output-history file"):
        read_output_history(tmp_path / "none.csv")
    with pytest.raises(OrderBookError, match=r"missing column\(s\) \['built'\]"):
        read_output_history(write(tmp_path, "date,line\n2025-01-02,l1\n"))
    with pytest.raises(OrderBookError, match=r"unknown output-history format '\.xlsx'"):
        read_output_history(write(tmp_path, "x", "out.xlsx"))
    with pytest.raises(OrderBookError, match="expected a header line such as date,line,built"):
        read_output_history(write(tmp_path, ""))
    with pytest.raises(OrderBookError, match="is a directory, expected an output-history file"):
        read_output_history(tmp_path)


def test_receipts_read_alike(tmp_path: Path) -> None:
    p = write(tmp_path, "date,part,received\n2025-01-02,pack,700\n2025-01-09,pack,x\n", "r.csv")
    with pytest.raises(RecordError, match="row 3: column received: 'x' is not a whole number"):
        read_receipts(p)
    good = write(tmp_path, "date,part,received\n2025-01-02,pack,700\n", "g.csv")
    assert read_receipts(good).rows() == [(dt.date(2025, 1, 2), "pack", 700)]
