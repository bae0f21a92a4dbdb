"""The order book: validated orders as one typed table, and the rows that were rejected.

Validation is vectorized (polars), so a million rows check in well under a second; each
rejected row keeps its row number and every reason it failed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import polars as pl

from promiseline.core.model.lifecycle import Status
from promiseline.core.model.scenario import Scenario
from promiseline.errors import OrderError

STATUSES = tuple(s.value for s in Status)
REQUIRED = ("order_id", "model", "variant", "market", "locked_at")
BOOK_COLUMNS = (  # the order-book columns of SCENARIO.md, in their order
    "order_id",
    "model",
    "variant",
    "options",
    "market",
    "locked_at",
    "priority",
    "status",
    "line",
    "build_date",
    "sailing_id",
)
OPTIONAL = ("options", "priority", "status", "line", "build_date", "sailing_id")
HISTORY = ("built", "shipped", "delivered")  # statuses of orders the plant has built
ROW_ERROR = "row_error"
"""Optional column of a raw table: the reader's verdict on a row as a whole (a CSV line
with more or fewer fields than the header). Its fields cannot be trusted, so such a row
is rejected with this reason alone."""
_OFFSET = r"(Z|[+-]\d\d:?\d\d)$"
_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that was not loaded, and why."""

    row: int  # CSV line number (header is line 1) or 1-based Parquet row
    order_id: str | None
    reason: str

    def __str__(self) -> str:
        oid = f" order {self.order_id!r}" if self.order_id else ""
        return f"row {self.row}{oid}: {self.reason}"


@dataclass(frozen=True, slots=True)
class OrderBook:
    """Valid orders (the BOOK_COLUMNS, typed, plus `row`) and the rows that were rejected."""

    table: pl.DataFrame
    rejected: tuple[Rejection, ...] = ()
    source: str = "orders"

    def __len__(self) -> int:
        return self.table.height

    def summary(self) -> str:
        return f"{self.source}: {len(self):,} orders loaded, {len(self.rejected):,} rejected"

    def without(self, order_ids: Iterable[str], *, reason: str) -> OrderBook:
        """The book without these orders, each a rejected row for `reason` (rejected rows
        in row order): an import leaves out the orders a database holds already, and
        says so, rather than fail whole or write one twice."""
        drop = self.table["order_id"].is_in(list(order_ids))
        if not drop.any():
            return self
        rows = self.table.filter(drop).select("row", "order_id").iter_rows()
        rejected = (*self.rejected, *(Rejection(r, oid, reason) for r, oid in rows))
        return OrderBook(
            self.table.filter(~drop), tuple(sorted(rejected, key=lambda r: r.row)), self.source
        )


def parse_datetime(col: pl.Expr) -> pl.Expr:
    """ISO 8601 text to a datetime; a UTC offset is dropped (times are plant-local)."""
    text = col.str.strip_chars().str.replace(_OFFSET, "")
    return pl.coalesce([text.str.to_datetime(f, strict=False, time_unit="us") for f in _FORMATS])


def canonical_options(value: object) -> str | None:
    """The one text form of an order's options (sorted, compact JSON, values as text), or
    None when `value` is not a flat mapping. Configurations compare by this text."""
    if not isinstance(value, Mapping):
        return None
    if any(isinstance(v, (dict, list)) or v is None for v in value.values()):
        return None
    flat = {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}
    return json.dumps(flat, sort_keys=True, separators=(",", ":"))


def _options(raw: str | None) -> str | None:
    """Canonical JSON for an options cell, or None when it is not a flat JSON object."""
    if raw is None or raw.strip() == "":
        return "{}"
    try:
        return canonical_options(json.loads(raw))
    except json.JSONDecodeError:
        return None


def parse_options(pairs: Iterable[str], source: str = "option") -> dict[str, str]:
    """NAME=VALUE pairs to options: the one syntax of the CLI's --option and of HTTP's
    ?option= (a name once)."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise OrderError(f"{source}: expected NAME=VALUE such as paint=black, got {pair!r}")
        if name in out:
            raise OrderError(f"{source}: {name!r} given twice")
        out[name] = value.strip()
    return out


def options_dict(canonical: str) -> Mapping[str, str]:
    parsed: dict[str, str] = json.loads(canonical)
    return parsed


def unheard_options(options: Mapping[str, str], book_options: pl.Series, s: Scenario) -> list[str]:
    """What in `options` no order of the book has and no rule of the scenario names (a
    typo, likely: options are free text, so a quote cannot refuse them), in words."""
    known: dict[str, set[str]] = {}
    for text in book_options.unique().to_list():
        for k, v in options_dict(text or "{}").items():
            known.setdefault(k, set()).add(v)
    matches = [m.match for m in s.mix_limits]
    matches += [st.match for _, ln in s.lines for st in ln.stations]
    for m in matches:
        for k, v in m.options.items():
            known.setdefault(k, set()).add(v)
    out = []
    for k, v in options.items():
        if k not in known:
            out.append(
                f"no order and no rule has an option {k!r} (known: {', '.join(sorted(known))})"
            )
        elif v not in known[k]:
            seen = ", ".join(sorted(known[k])[:12])
            out.append(f"no order and no rule has {k}={v} (known values of {k}: {seen})")
    return out


def _as_text(df: pl.DataFrame, name: str) -> pl.Expr:
    if name not in df.columns:
        return pl.lit(None, dtype=pl.String)
    dtype = df.schema[name]
    if dtype == pl.String:
        return pl.col(name)
    if isinstance(dtype, pl.Datetime):
        return pl.col(name).dt.to_string("%Y-%m-%dT%H:%M:%S%.f")
    if isinstance(dtype, pl.Date):
        return pl.col(name).dt.to_string("%Y-%m-%d")
    return pl.col(name).cast(pl.String)


def validate_orders(raw: pl.DataFrame, scenario: Scenario, source: str = "orders") -> OrderBook:
    """Check every row against the scenario; keep the good ones whole, report the rest.

    `raw` holds the order-book columns (any types; text is parsed) and a `row` column
    with the number to report. Nothing is half-loaded: a row is either kept or rejected.
    """
    if "row" not in raw.columns:
        raw = raw.with_row_index("row", offset=1)
    set_aside: tuple[Rejection, ...] = ()  # rows the reader could not split into fields
    if ROW_ERROR in raw.columns:
        flagged = raw[ROW_ERROR].is_not_null()
        if flagged.any():
            set_aside = tuple(
                Rejection(int(r), None, why)
                for r, why in raw.filter(flagged).select("row", ROW_ERROR).iter_rows()
            )
            raw = raw.filter(~flagged)
        raw = raw.drop(ROW_ERROR)
    variants = {p.model: [v.name for v in p.variants] for p in scenario.products}
    lines = {ln.name: set(ln.models) for _, ln in scenario.lines}
    markets = [m.name for m in scenario.markets]

    text = {c: _blank_is_null(_as_text(raw, c)) for c in REQUIRED + OPTIONAL}
    distinct_options = raw.select(text["options"].unique()).to_series().to_list()
    canonical = {o: _options(o) for o in distinct_options}
    df = raw.select(
        pl.col("row").cast(pl.Int64),
        *(text[c].alias(c) for c in (*REQUIRED, "line", "sailing_id")),
        text["options"].alias("options_raw"),
        text["options"]
        .replace_strict(canonical, default=None, return_dtype=pl.String)
        .alias("options"),
        (
            pl.col("locked_at").cast(pl.Datetime("us"))
            if _is_temporal(raw, "locked_at")
            else parse_datetime(text["locked_at"])
        ).alias("locked_at_t"),
        pl.coalesce(text["priority"], pl.lit("0")).alias("priority_raw"),
        pl.coalesce(text["status"], pl.lit("locked")).str.to_lowercase().alias("status"),
        text["build_date"].alias("build_date_raw"),
    ).with_columns(
        pl.col("priority_raw").cast(pl.Int64, strict=False).alias("priority"),
        parse_datetime(pl.col("build_date_raw")).dt.date().alias("build_date"),
        (pl.col("order_id").is_duplicated() & ~pl.col("order_id").is_first_distinct()).alias("dup"),
        pl.col("row").first().over("order_id").alias("first_row"),
    )

    model_ok = pl.col("model").is_in(list(variants))
    variant_ok = pl.concat_str(pl.col("model"), pl.lit("\x00"), pl.col("variant")).is_in(
        [f"{m}\x00{v}" for m, vs in variants.items() for v in vs]
    )
    line_ok = pl.concat_str(pl.col("line"), pl.lit("\x00"), pl.col("model")).is_in(
        [f"{ln}\x00{m}" for ln, ms in lines.items() for m in ms]
    )
    sailing = pl.col("sailing_id").str.split_exact(":", 1)
    lane, sail_day = sailing.struct.field("field_0"), sailing.struct.field("field_1")
    lane_ok = pl.concat_str(lane, pl.lit("\x00"), pl.col("market")).is_in(
        [f"{ln.name}\x00{m.name}" for m in scenario.markets for ln in m.lanes]
    )
    checks: list[tuple[pl.Expr, pl.Expr]] = [
        (pl.col("order_id").is_null() | (pl.col("order_id") == ""), pl.lit("missing order_id")),
        (pl.col("dup"), pl.format("duplicate order_id (first on row {})", pl.col("first_row"))),
        (pl.col("model").is_null(), pl.lit("missing model")),
        (
            pl.col("model").is_not_null() & ~model_ok,
            pl.format(
                "unknown model '{}', expected one of {}",
                pl.col("model"),
                pl.lit(str(sorted(variants))),
            ),
        ),
        (
            model_ok & ~variant_ok,
            pl.format("unknown variant '{}' for model '{}'", pl.col("variant"), pl.col("model")),
        ),
        (
            ~pl.col("market").is_in(markets).fill_null(False),
            pl.format(
                "unknown market '{}', expected one of {}",
                pl.col("market").fill_null(""),
                pl.lit(str(markets)),
            ),
        ),
        (pl.col("locked_at").is_null(), pl.lit("missing locked_at")),
        (
            pl.col("locked_at").is_not_null() & pl.col("locked_at_t").is_null(),
            pl.format(
                "unparsable locked_at '{}', expected ISO 8601 such as 2025-06-26T10:00:00",
                pl.col("locked_at"),
            ),
        ),
        (
            pl.col("priority").is_null(),
            pl.format("priority must be an integer, got '{}'", pl.col("priority_raw")),
        ),
        (
            ~pl.col("status").is_in(STATUSES),
            pl.format(
                "unknown status '{}', expected one of {}",
                pl.col("status"),
                pl.lit(str(list(STATUSES))),
            ),
        ),
        (
            pl.col("options").is_null(),
            pl.format("options must be a flat JSON object, got '{}'", pl.col("options_raw")),
        ),
        (
            pl.col("line").is_not_null() & model_ok & ~line_ok,
            pl.format("line '{}' does not build model '{}'", pl.col("line"), pl.col("model")),
        ),
        (
            pl.col("build_date_raw").is_not_null() & pl.col("build_date").is_null(),
            pl.format(
                "unparsable build_date '{}', expected a date such as 2025-07-01",
                pl.col("build_date_raw"),
            ),
        ),
        (
            (pl.col("status") == "scheduled")
            & (pl.col("line").is_null() != pl.col("build_date_raw").is_null()),
            pl.lit("a scheduled order needs both line and build_date, or neither"),
        ),
        (
            pl.col("sailing_id").is_not_null()
            & ~(lane_ok & sail_day.str.to_date("%Y-%m-%d", strict=False).is_not_null()),
            pl.format(
                "sailing_id '{}' is not <lane>:<YYYY-MM-DD> with a lane of market '{}'",
                pl.col("sailing_id"),
                pl.col("market"),
            ),
        ),
        (
            pl.col("sailing_id").is_not_null() & ~pl.col("status").is_in(["scheduled", *HISTORY]),
            pl.format(
                "a {} order has no sailing yet: sailing_id is for scheduled, built, "
                "shipped or delivered orders",
                pl.col("status"),
            ),
        ),
    ]
    reason = pl.concat_str(
        [pl.when(bad.fill_null(True)).then(msg) for bad, msg in checks],
        separator="; ",
        ignore_nulls=True,
    )
    df = df.with_columns(reason.alias("reason"))
    bad = df.filter(pl.col("reason") != "")
    rejected = tuple(
        Rejection(r, oid, why)
        for r, oid, why in zip(bad["row"], bad["order_id"], bad["reason"], strict=True)
    )
    if set_aside:
        rejected = tuple(sorted(rejected + set_aside, key=lambda r: r.row))
    good = df.filter(pl.col("reason") == "").select(
        "row",
        *(pl.col(c) for c in ("order_id", "model", "variant", "options", "market")),
        pl.col("locked_at_t").alias("locked_at"),
        "priority",
        "status",
        "line",
        "build_date",
        "sailing_id",
    )
    return OrderBook(good, rejected, source)


def _blank_is_null(text: pl.Expr) -> pl.Expr:
    stripped = text.str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped)


def _is_temporal(df: pl.DataFrame, name: str) -> bool:
    return name in df.columns and isinstance(df.schema[name], (pl.Datetime, pl.Date))


def order_book(
    orders: pl.DataFrame | OrderBook, scenario: Scenario, source: str = "orders"
) -> OrderBook:
    """Accept an already validated book or a raw table."""
    if isinstance(orders, OrderBook):
        return orders
    return validate_orders(orders, scenario, source)
