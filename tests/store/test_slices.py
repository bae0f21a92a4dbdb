"""Rows read in slices (so a re-plan's read never holds the interpreter for long) make
the same table as read at once, even when a slice has a column of nothing but nulls."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promiseline.store import orders
from promiseline.store.db import fetch_all
from tests.conftest import examples

ROW = st.tuples(
    st.text(max_size=3), st.none() | st.integers(-5, 5), st.none() | st.text(max_size=2)
)


@settings(max_examples=examples(60), deadline=None)
@given(rows=st.lists(ROW, max_size=40), size=st.integers(1, 7))
def test_in_slices_is_the_table_at_once(rows: list[Any], size: int) -> None:
    def table(part: list[Any]) -> pl.DataFrame:
        return pl.DataFrame(part, schema=["a", "b", "c"], orient="row", infer_schema_length=None)

    at_once = table(list(rows)) if rows else table([])
    with pytest.MonkeyPatch.context() as m:
        m.setattr(orders, "ROWS_SLICE", size)
        sliced = orders.in_slices(list(rows), table)
    if rows:
        assert sliced.rows() == at_once.rows()
        assert sliced.cast(pl.String).equals(at_once.cast(pl.String))


class _Cursor:
    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def fetchmany(self, n: int) -> list[Any]:
        part, self.rows = self.rows[:n], self.rows[n:]
        return part


def test_fetch_all_reads_every_row_in_order() -> None:
    rows = [(i,) for i in range(4_321)]
    assert fetch_all(_Cursor(list(rows))) == rows
    assert fetch_all(_Cursor([])) == []
