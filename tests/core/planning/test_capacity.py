"""Capacity follows the contract's arithmetic to the slot."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from promiseline.core.model.scenario import RampUp, Scenario
from promiseline.core.planning.capacity import capacity, ramp
from tests.conftest import examples

START = dt.date(2025, 1, 6)  # a Monday


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def scenario(line: dict[str, Any], **extra: Any) -> Scenario:
    base: dict[str, Any] = {
        "name": "cap",
        "start": START,
        "horizon_days": 28,
        "calendar": {"working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
        "products": [{"model": "A", "variants": [{"name": "S"}]}],
        "plants": [{"name": "p", "lines": [{"name": "l", "models": ["A"], **line}]}],
        "markets": [{"name": "CN", "lead_days": 0}],
    }
    return Scenario.model_validate(base | extra)


def test_fractions_are_not_lost() -> None:
    """2.5 cars a day give 2, 3, 2, 3, ...: whole slots from the running total."""
    cap = capacity(scenario({"jph": 1, "shifts": [{"from": START, "hours": 2.5}]}))
    assert cap.slots[0, :6].tolist() == [2, 3, 2, 3, 2, 3]
    assert cap.slots[0, :7].sum() == math.floor(2.5 * 7)


def test_shifts_change_over_time_and_weekends_stop() -> None:
    """Hours come from the last shift entry; non-working days have no slots."""
    s = scenario(
        {
            "jph": 2,
            "working_days": ["mon", "tue", "wed", "thu", "fri"],
            "shifts": [{"from": START, "hours": 8}, {"from": START + dt.timedelta(7), "hours": 4}],
        }
    )
    assert capacity(s).slots[0, :14].tolist() == [16] * 5 + [0, 0] + [8] * 5 + [0, 0]


def test_start_and_shutdowns() -> None:
    """No slots before the line starts nor on calendar or line shutdown days."""
    s = scenario(
        {
            "jph": 1,
            "start": START + dt.timedelta(2),
            "shifts": [{"from": START, "hours": 1}],
            "shutdowns": [
                {"name": "retool", "from": START + dt.timedelta(5), "to": START + dt.timedelta(5)}
            ],
        },
        calendar={
            "working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "shutdowns": [
                {"name": "cny", "from": START + dt.timedelta(3), "to": START + dt.timedelta(3)}
            ],
        },
    )
    cap = capacity(s)
    assert cap.slots[0, :7].tolist() == [0, 0, 1, 0, 1, 0, 1]
    assert cap.shutdown[0, :7].tolist() == [False, False, False, True, False, True, False]


def test_ramp_shapes() -> None:
    """Linear and smoothstep ramps: initial before `from`, 1 after `weeks`."""
    days = np.datetime64(START, "D") + np.arange(-2, 16)
    lin = ramp(days, RampUp.model_validate({"from": START, "initial": 0.5, "weeks": 2}))
    assert lin[0] == 0.5
    assert lin[2] == 0.5
    assert lin[2 + 7] == 0.75
    assert lin[2 + 14] == 1.0
    s = ramp(days, RampUp.model_validate({"from": START, "initial": 0.2, "weeks": 2, "shape": "s"}))
    assert s[2 + 7] == 0.2 + 0.8 * 0.5  # smoothstep is 1/2 at the middle
    assert s[2 + 3] < 0.2 + 0.8 * 3 / 14  # slower than linear at first


def test_parts_arrive_whole_and_carry_over() -> None:
    """10 a week arrive as the running total of 10/7 a day passes whole numbers."""
    s = scenario(
        {"jph": 1, "shifts": [{"from": START, "hours": 1}]},
        parts=[{"name": "pack", "stock": 3, "supply": [{"from": START, "per_week": 10}]}],
        products=[{"model": "A", "variants": [{"name": "S", "parts": {"pack": 1}}]}],
    )
    on_hand = capacity(s).on_hand[0]
    assert on_hand[:7].tolist() == [3 + math.floor(k * 10 / 7 + 1e-9) for k in range(1, 8)]
    assert on_hand[6] == 13


def test_mix_cap_is_a_floor_of_the_share() -> None:
    """A 40 % limit on 3 slots allows 1; on 5 slots, 2."""
    s = scenario(
        {
            "jph": 1,
            "shifts": [{"from": START, "hours": 3}, {"from": START + dt.timedelta(1), "hours": 5}],
        },
        mix_limits=[{"name": "max", "line": "l", "match": {"variant": "S"}, "max_share": 0.4}],
    )
    assert capacity(s).mix_cap[0, :2].tolist() == [1, 2]


def test_a_station_caps_a_day_by_its_spacing() -> None:
    """2 of every 3 cars on 7 slots: 2 + 2 + 1 = 5; 1 of 5 on 3 slots: 1; none on a day
    without slots. A station's cap is not its share's floor (7 x 2/3 = 4.67 -> 4)."""
    s = scenario(
        {
            "jph": 1,
            "shifts": [{"from": START, "hours": 7}, {"from": day(1), "hours": 3}],
            "working_days": ["mon", "tue", "thu"],
            "stations": [
                {"name": "roof", "match": {"variant": "S"}, "p": 2, "q": 3},
                {"name": "lidar", "match": {}, "p": 1, "q": 5},
            ],
        },
    )
    cap = capacity(s)
    assert [m.name for m in cap.mixes] == ["roof", "lidar"]
    assert cap.mix_cap[:, :3].tolist() == [[5, 2, 0], [2, 1, 0]]


@settings(max_examples=examples(200), deadline=None)
@given(n=st.integers(0, 11), q=st.integers(1, 6), data=st.data())
def test_a_station_cap_is_the_most_a_sequence_can_hold(n: int, q: int, data: Any) -> None:
    """The cap equals the most cars with the option among n consecutive cars with at most
    p in any q, found by trying every sequence."""
    import itertools

    from promiseline.core.model.scenario import Match
    from promiseline.core.planning.capacity import MixInstance

    p = data.draw(st.integers(0, q - 1))
    most = max(
        sum(seq)
        for seq in itertools.product((0, 1), repeat=n)
        if all(sum(seq[i : i + q]) <= p for i in range(max(1, n - q + 1)))
    )
    station = MixInstance("s", 0, Match(), p / q, (p, q))
    assert station.caps(np.array([n]))[0] == most


@settings(max_examples=examples(100), deadline=None)
@given(
    jph=st.floats(0.1, 80, allow_nan=False),
    hours=st.floats(0, 24, allow_nan=False),
    initial=st.floats(0, 1),
    weeks=st.floats(0, 8),
)
def test_no_slot_is_lost(jph: float, hours: float, initial: float, weeks: float) -> None:
    """Slots up to any day sum to the floor of the capacity up to that day."""
    s = scenario(
        {
            "jph": jph,
            "shifts": [{"from": START, "hours": hours}],
            "ramp_up": {"from": START, "initial": initial, "weeks": weeks},
        }
    )
    cap = capacity(s)
    assert (cap.slots >= 0).all()
    running = np.cumsum(cap.vehicles[0])
    assert (np.cumsum(cap.slots[0]) == np.floor(running + 1e-9)).all()


def test_a_ramp_of_almost_no_weeks_is_a_step() -> None:
    """A ramp-up lasting a denormal number of weeks from a full start is 1 every day (it
    once raised 'invalid value' computing 0 x inf on the way)."""
    import datetime as dt

    import numpy as np

    from promiseline.core.model.scenario import RampUp
    from promiseline.core.planning.capacity import ramp

    days = np.datetime64("2025-01-01") + np.arange(10)
    for initial in (1.0, 0.5):
        r = RampUp.model_validate(
            {"from": dt.date(2025, 1, 3), "initial": initial, "weeks": 2.2250738585e-313}
        )
        got = ramp(days, r)
        assert got[:3].tolist() == [initial] * 3  # before, and on, the day it starts
        assert got[3:].tolist() == [1.0] * 7
