"""The order book's own helpers."""

from __future__ import annotations

import polars as pl

from promiseline.core.model.orders import Rejection, validate_orders
from promiseline.core.model.scenario import Scenario


def test_without_turns_the_orders_left_out_into_rejected_rows(
    tiny: Scenario, tiny_orders: pl.DataFrame
) -> None:
    """`without` drops the named orders, each a rejected row for the reason given, in row
    order among the rows rejected already; names not in the book change nothing."""
    unknown = pl.col("order_id").is_in(["o00", "o04"])
    bad = tiny_orders.with_columns(model=pl.when(unknown).then(pl.lit("Z")).otherwise("model"))
    book = validate_orders(bad, tiny, "o.csv")
    assert [r.order_id for r in book.rejected] == ["o00", "o04"]
    row = dict(zip(tiny_orders["order_id"], range(1, tiny_orders.height + 1), strict=True))
    out = book.without(["o05", "o03", "nobody"], reason="already in the database")
    assert out.source == "o.csv"
    assert out.table.equals(book.table.filter(~pl.col("order_id").is_in(["o03", "o05"])))
    assert out.rejected == (
        book.rejected[0],
        Rejection(row["o03"], "o03", "already in the database"),
        book.rejected[1],
        Rejection(row["o05"], "o05", "already in the database"),
    )
    assert book.without({"nobody"}, reason="x") is book
    assert book.without([], reason="x") is book
