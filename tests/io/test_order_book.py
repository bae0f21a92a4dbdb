"""Order books: bad rows are reported with row number and reason and skipped, whole."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from promiseline.core.model.scenario import Scenario
from promiseline.errors import OrderBookError
from promiseline.io.order_book import read_orders, write_orders

HEADER = "order_id,model,variant,options,market,locked_at,priority,status,line,build_date\n"
GOOD = "g1,A,S,,CN,2025-01-02T10:00:00,0,locked,,\n"
BAD_ROWS = [
    ("b1,Z,S,,CN,2025-01-02T10:00:00,0,locked,,", "unknown model 'Z', expected one of ['A']"),
    ("b2,A,XL,,CN,2025-01-02T10:00:00,0,locked,,", "unknown variant 'XL' for model 'A'"),
    ("b3,A,S,,CN,,0,locked,,", "missing locked_at"),
    ("b4,A,S,,CN,yesterday,0,locked,,", "unparsable locked_at 'yesterday'"),
    ("g1,A,S,,CN,2025-01-03T10:00:00,0,locked,,", "duplicate order_id (first on row 2)"),
    ("b5,A,S,,MARS,2025-01-02T10:00:00,0,locked,,", "unknown market 'MARS'"),
    ("b6,A,S,,CN,2025-01-02T10:00:00,high,locked,,", "priority must be an integer, got 'high'"),
    ("b7,A,S,,CN,2025-01-02T10:00:00,0,lost,,", "unknown status 'lost'"),
    ('b8,A,S,"{""roof"": [1]}",CN,2025-01-02T10:00:00,0,locked,,', "options must be a flat JSON"),
    ("b9,A,S,,CN,2025-01-02T10:00:00,0,scheduled,l9,2025-01-02", "line 'l9' does not build"),
    ("b10,A,S,,CN,2025-01-02T10:00:00,0,scheduled,l1,someday", "unparsable build_date 'someday'"),
    ("b11,A,S,,CN,2025-01-02T10:00:00,0,scheduled,l1,", "needs both line and build_date"),
    (",A,S,,CN,2025-01-02T10:00:00,0,locked,,", "missing order_id"),
]


def test_each_bad_row_is_reported_with_its_line(tmp_path: Path, tiny: Scenario) -> None:
    """Every bad row is named by CSV line number with its reason; the good row loads."""
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + GOOD + "\n".join(r for r, _ in BAD_ROWS) + "\n")
    book = read_orders(path, tiny)
    assert book.table["order_id"].to_list() == ["g1"]
    assert len(book.rejected) == len(BAD_ROWS)
    for line, (rej, (_, reason)) in enumerate(zip(book.rejected, BAD_ROWS, strict=True), 3):
        assert rej.row == line
        assert reason in rej.reason, (rej, reason)
    assert book.summary().endswith("1 orders loaded, 13 rejected")


def test_a_row_with_two_faults_lists_both(tmp_path: Path, tiny: Scenario) -> None:
    """All reasons of a row are given, not just the first."""
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "x,Z,S,,MARS,nope,0,locked,,\n")
    (rej,) = read_orders(path, tiny).rejected
    assert "unknown model 'Z'" in rej.reason
    assert "unknown market 'MARS'" in rej.reason
    assert "unparsable locked_at 'nope'" in rej.reason


def test_kept_rows_are_whole(tmp_path: Path, tiny: Scenario) -> None:
    """A kept row has every field parsed; defaults fill optional columns."""
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,model,variant,market,locked_at,options\n"
        'k1,A,M,DE,2025-01-05 08:30+08:00,"{""roof"": ""pan"", ""seats"": 7}"\n'
    )
    row = read_orders(path, tiny).table.row(0, named=True)
    assert row["locked_at"] == dt.datetime(2025, 1, 5, 8, 30)
    assert row["priority"] == 0
    assert row["status"] == "locked"
    assert row["options"] == '{"roof":"pan","seats":"7"}'


def test_parquet_round_trip(tmp_path: Path, tiny: Scenario, tiny_orders: pl.DataFrame) -> None:
    """Orders written to Parquet (typed columns) read back identically."""
    first = read_orders(_csv(tmp_path, tiny_orders), tiny)
    path = write_orders(first, tmp_path / "orders.parquet")
    again = read_orders(path, tiny)
    assert not again.rejected
    assert again.table.drop("row").equals(first.table.drop("row"))


def test_parquet_rows_are_numbered_from_one(tmp_path: Path, tiny: Scenario) -> None:
    """Parquet has no lines: a bad row is named by its 1-based row."""
    path = tmp_path / "o.parquet"
    pl.DataFrame(
        {
            "order_id": ["a", "b"],
            "model": ["A", "Q"],
            "variant": ["S", "S"],
            "market": ["CN", "CN"],
            "locked_at": [dt.datetime(2025, 1, 2)] * 2,
        }
    ).write_parquet(path)
    (rej,) = read_orders(path, tiny).rejected
    assert (rej.row, rej.order_id) == (2, "b")


def test_missing_columns_are_named(tmp_path: Path, tiny: Scenario) -> None:
    """A file without a required column is refused, naming what is missing and found."""
    path = tmp_path / "o.csv"
    path.write_text("order_id,model\nx,A\n")
    with pytest.raises(OrderBookError, match=r"missing column\(s\) \['variant', 'market'"):
        read_orders(path, tiny)


@pytest.mark.parametrize(
    ("name", "message"), [("o.xlsx", "unknown order-book format"), ("none.csv", "no such")]
)
def test_unreadable_files(tmp_path: Path, tiny: Scenario, name: str, message: str) -> None:
    """Unknown formats and missing files are one clear error."""
    if name.endswith("xlsx"):
        (tmp_path / name).write_text("x")
    with pytest.raises(OrderBookError, match=message):
        read_orders(tmp_path / name, tiny)


def test_corrupt_parquet_is_an_error(tmp_path: Path, tiny: Scenario) -> None:
    """A file that starts like Parquet but is not is reported, not a traceback."""
    path = tmp_path / "o.parquet"
    path.write_bytes(b"PAR1 but not parquet at all")
    with pytest.raises(OrderBookError, match="cannot read parquet"):
        read_orders(path, tiny)


def _csv(tmp_path: Path, df: pl.DataFrame) -> Path:
    path = tmp_path / "in.csv"
    df.write_csv(path)
    return path


def test_ragged_rows_are_rejected_by_their_line(tmp_path: Path, tiny: Scenario) -> None:
    """A row with more or fewer fields than the header is a bad row named by its CSV line,
    not a failed file or a silently truncated or padded row."""
    path = tmp_path / "orders.csv"
    long = "b1,A,S,,CN,2025-01-02T10:00:00,0,locked,,,x,y\n"
    short = "b2,A,S,,CN,2025-01-02T10:00:00\n"
    path.write_text(HEADER + GOOD + long + short + GOOD.replace("g1", "g2"))
    book = read_orders(path, tiny)
    assert book.table["order_id"].to_list() == ["g1", "g2"]
    assert book.table["row"].to_list() == [2, 5]
    assert [str(r) for r in book.rejected] == [
        "row 3: expected 10 fields (the header's), got 12",
        "row 4: expected 10 fields (the header's), got 6",
    ]


def test_line_numbers_survive_blank_lines_and_quoted_newlines(
    tmp_path: Path, tiny: Scenario
) -> None:
    """Rows are named by the line they start on: blank lines are skipped, and a quoted
    field spanning two lines does not shift the numbers of the rows after it."""
    path = tmp_path / "orders.csv"
    two_lines = 'g2,A,S,"{""roof"":\n""pan""}",CN,2025-01-02T10:00:00,0,locked,,\n'
    path.write_text(HEADER + "\n" + GOOD + two_lines + "\r\n" + "b1,Z,S,,CN,2025-01-02,0,,,\n\n")
    book = read_orders(path, tiny)
    assert book.table["row"].to_list() == [3, 4]
    assert book.table["options"][1] == '{"roof":"pan"}'
    (rej,) = book.rejected
    assert (rej.row, rej.order_id) == (7, "b1")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("folder.csv", None, "is a directory"),
        ("empty.csv", b"", "empty file, expected a header line"),
        ("blank.csv", b"\n\r\n", "empty file"),
        ("empty.parquet", b"", "empty file"),
        ("picture.parquet", b"\x89PNG\r\n\x1a\n" + bytes(200), "not a Parquet file"),
        ("latin1.csv", "order_id,modèle\n".encode("latin-1"), "not UTF-8 text (line 1"),
        ("rows.csv", (HEADER + "é,A\n").encode("latin-1"), "not UTF-8 text (line 2"),
        ("utf16.csv", (HEADER + GOOD).encode("utf-16"), "UTF-16 text, expected UTF-8"),
        ("utf16le.csv", (HEADER + GOOD).encode("utf-16-le"), "binary data (a NUL byte"),
    ],
)
def test_unreadable_files_name_the_file(
    tmp_path: Path, tiny: Scenario, name: str, content: bytes | None, message: str
) -> None:
    """A folder, an empty, binary or non-UTF-8 file is one error naming the file and what
    it looks like, never a traceback or a garbled header."""
    path = tmp_path / name
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(OrderBookError) as raised:
        read_orders(path, tiny)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
