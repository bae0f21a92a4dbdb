"""Store records (records.py): an order record and an event survive their JSON form."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from promiseline.core.model.lifecycle import EventKind, Status
from promiseline.core.model.orders import canonical_options
from promiseline.core.model.records import Event, OrderRecord
from tests.conftest import examples

names = st.text(min_size=1, max_size=12)
moments = st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2199, 12, 31))
options = st.dictionaries(names, st.text(max_size=8), max_size=4).map(canonical_options)
payloads = st.dictionaries(
    names,
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**53), 2**53),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=10),
        st.lists(st.integers(0, 9), max_size=3),
    ),
    max_size=4,
)
records = st.builds(
    OrderRecord,
    order_id=names,
    model=names,
    variant=names,
    options=options,
    market=names,
    priority=st.integers(-(2**31), 2**31),
    status=st.sampled_from(Status),
    created_at=moments,
    locked_at=st.none() | moments,
)
events = st.builds(
    Event,
    event_id=st.integers(1, 2**62),
    order_id=names,
    kind=st.sampled_from(EventKind),
    at=moments,
    actor=names,
    data=payloads,
)


def through_json(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(obj))
    return out


def record_from_json(j: dict[str, Any]) -> OrderRecord:
    return OrderRecord(
        order_id=j["order_id"],
        model=j["model"],
        variant=j["variant"],
        options=canonical_options(j["options"]),  # type: ignore[arg-type]
        market=j["market"],
        priority=j["priority"],
        status=Status(j["status"]),
        created_at=dt.datetime.fromisoformat(j["created_at"]),
        locked_at=dt.datetime.fromisoformat(j["locked_at"]) if j["locked_at"] else None,
    )


@settings(max_examples=examples(100), deadline=None)
@given(record=records)
def test_order_record_round_trips_through_json(record: OrderRecord) -> None:
    """An order record's JSON (options as an object, status as text, ISO times) reads back
    as the same record."""
    j = through_json(record.to_json())
    assert j["options"] == record.options_dict()
    assert record_from_json(j) == record


@settings(max_examples=examples(100), deadline=None)
@given(event=events)
def test_event_round_trips_through_json(event: Event) -> None:
    """An event's JSON (kind as text, ISO time, its payload) reads back as the same event of
    its order."""
    j = through_json(event.to_json())
    back = Event(
        event_id=j["event_id"],
        order_id=event.order_id,  # the order is the one asked about: not repeated
        kind=EventKind(j["kind"]),
        at=dt.datetime.fromisoformat(j["at"]),
        actor=j["actor"],
        data=j["data"],
    )
    assert back == event


def test_order_record_json_by_hand() -> None:
    """A reserved order: options parsed, status and times as text, no lock time."""
    r = OrderRecord(
        "o1", "A", "S", '{"roof":"pan"}', "CN", 0, Status.RESERVED, dt.datetime(2025, 1, 2, 3), None
    )
    assert r.to_json() == {
        "order_id": "o1",
        "model": "A",
        "variant": "S",
        "options": {"roof": "pan"},
        "market": "CN",
        "priority": 0,
        "status": "reserved",
        "created_at": "2025-01-02T03:00:00",
        "locked_at": None,
    }
