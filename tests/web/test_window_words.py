"""The words a customer reads for a window: the odds it states (rounded down to tenths,
never more than it holds), a likely week that starts inside the window, a single day
said as one, and the plan's stand-in with no odds at all."""

from __future__ import annotations

import datetime as dt

import pytest

from promiseline.core.model.window import MONTE_CARLO, NEARBY, Window
from promiseline.web.i18n import window_words

D = dt.date


def mc(e: D, likely: D, la: D, p: float, source: str = MONTE_CARLO) -> Window:
    return Window(None, e, la, 1, likely, source, p)


@pytest.mark.parametrize(
    ("p", "tenths"), [(0.8, "8 in 10"), (0.899, "8 in 10"), (0.87, "8 in 10"), (0.93, "9 in 10")]
)
def test_the_odds_are_the_windows_own(p: float, tenths: str) -> None:
    w = mc(D(2026, 9, 1), D(2026, 9, 16), D(2026, 10, 5), p)
    assert window_words(w, "en") == (
        f"Most likely the week of 14 September 2026; {tenths} chances between "
        "1 September 2026 and 5 October 2026."
    )


def test_the_likely_week_never_starts_before_the_window() -> None:
    """Likely Wednesday 16 September, window from Tuesday 15: the week of the 15th (a
    Monday of the 14th would be a day the window rules out)."""
    w = mc(D(2026, 9, 15), D(2026, 9, 16), D(2026, 9, 30), 0.82)
    assert window_words(w, "en").startswith("Most likely the week of 15 September 2026;")


def test_a_short_window_names_the_day_and_one_day_is_one_day() -> None:
    short = mc(D(2026, 9, 15), D(2026, 9, 16), D(2026, 9, 18), 0.84)
    assert window_words(short, "en") == (
        "Most likely on 16 September 2026; 8 in 10 chances between 15 September 2026 and "
        "18 September 2026."
    )
    one = mc(D(2026, 12, 9), D(2026, 12, 9), D(2026, 12, 9), 0.93)
    assert window_words(one, "en") == "Most likely on 9 December 2026; 9 in 10 chances on that day."
    assert window_words(one, "zh-CN") == "最可能在2026年12月9日交付；有九成把握在这一天。"


def test_borrowed_odds_are_stated_and_the_plan_states_none() -> None:
    nearby = mc(D(2026, 9, 1), D(2026, 9, 16), D(2026, 10, 5), 0.81, NEARBY)
    assert "8 in 10 chances" in window_words(nearby, "en")
    assert "八成" in window_words(nearby, "zh-CN")
    plan = Window(None, D(2026, 9, 1), D(2026, 9, 9), 1)
    assert window_words(plan, "en") == "Expected between 1 September 2026 and 9 September 2026."
    assert "成" not in window_words(plan, "zh-CN")
