"""The fitted entries put into a scenario's YAML text: what the section said of the same
lines and parts replaced, every other line of the file as it was, the result valid."""

from __future__ import annotations

import pytest
import yaml

from promiseline.core.futures.fit import FittedYaml
from promiseline.core.model.scenario import Scenario
from promiseline.demo import demo_yaml
from promiseline.io.scenario_edit import section_of, with_fitted
from promiseline.io.scenario_file import scenario_from_yaml
from tests.conftest import DATA

P1 = [
    "p1-final:                        # fitted",
    "  mean: 0.935                    # ± 0.016",
    "  sd: 0.053",
    "  level_share: 0.16",
    "  memory_days: 4.9",
]
SLOW_P1 = [
    "- line: p1-final                 # 2 spell(s)",
    "  per_year: 1.5                  # ± 1.1",
    "  depth: {mean: 0.2, sd: 0.05}",
    "  days: {mean: 20, sd: 5}",
]
FITTED = FittedYaml(line_uptime={"p1-final": P1}, slowdowns={"p1-final": SLOW_P1})


def outside(text: str) -> list[str]:
    """The file's lines outside its uncertainty section."""
    section = section_of(text).splitlines()
    lines = text.splitlines()
    at = lines.index(section[0])
    return lines[:at] + lines[at + len(section) :]


def test_the_demo_gets_the_fitted_entries_and_keeps_every_other_line() -> None:
    text = demo_yaml()
    new = with_fitted(text, FITTED)
    assert outside(new) == outside(text)
    section = section_of(text).splitlines()
    kept = [x for x in section if x.lstrip().startswith(("uptime", "p2-final", "ramp_slip"))]
    kept += [x for x in section if x.lstrip().startswith(("- {part", "inflow", "cancel"))]
    assert len(kept) == 7
    for line in kept:
        assert line in new.splitlines()  # comments and flow mappings as they were
    s = scenario_from_yaml(new, "new")
    u = s.uncertainty
    assert u is not None
    assert u.line_uptime["p1-final"].mean == 0.935
    assert u.line_uptime["p1-final"].memory_days == 4.9
    assert u.line_uptime["p2-final"].sd == 0.07  # the other line's, untouched
    assert [sd.line for sd in u.slowdowns] == ["p1-final"]
    assert u.cancellation is not None
    assert u.cancellation.refund_take_rate == 0.3
    assert "# ± 0.016" in section_of(new)
    # fitted again: the same text, not a second copy
    assert with_fitted(new, FITTED) == new


def test_entries_of_other_lines_and_of_every_line_stay(tiny_two_lines: str) -> None:
    text = tiny_two_lines + (
        "uncertainty:\n"
        "  line_uptime: {l1: {mean: 0.9, sd: 0.05}, l2: {mean: 0.8, sd: 0.1}}\n"
        "  slowdowns:\n"
        "    - {line: l1, per_year: 1, depth: {mean: 0.2}, days: {mean: 30}}   # old\n"
        "    - line: l2\n"
        "      per_year: 2\n"
        "      depth: {mean: 0.3}\n"
        "      days: {mean: 10}\n"
        "    - {per_year: 0.5, depth: {mean: 0.1}, days: {mean: 5}}   # every line\n"
    )
    fitted = FittedYaml(
        line_uptime={"l1": ["l1:  # fitted", "  mean: 0.95", "  sd: 0.02"]},
        slowdowns={"l1": ["# slowdowns of l1: none found"]},
    )
    new = with_fitted(text, fitted)
    u = scenario_from_yaml(new, "new").uncertainty
    assert u is not None
    assert u.line_uptime["l1"].mean == 0.95
    assert u.line_uptime["l2"].mean == 0.8
    assert [(x.line, x.per_year) for x in u.slowdowns] == [("l2", 2), (None, 0.5)]
    assert "# slowdowns of l1: none found" in new
    assert "# every line" in new


def test_no_section_or_a_flow_one(tiny_two_lines: str) -> None:
    fitted = FittedYaml(
        line_uptime={"l1": ["l1:", "  mean: 0.95", "  sd: 0.02"]},
        slowdowns={"l1": ["# slowdowns of l1: none found"]},
        outages={
            "pack": [
                "- part: pack",
                "  per_year: 1",
                "  depth: {mean: 0.4, sd: 0}",
                "  days: {mean: 20, sd: 0}",
            ]
        },
    )
    for base in (
        tiny_two_lines,
        tiny_two_lines + "uncertainty: {ramp_slip: {mean: 3, sd: 1}}   # flow\n",
        tiny_two_lines + "uncertainty:\n  slowdowns: []\n",
    ):
        new = with_fitted(base, fitted)
        s: Scenario = scenario_from_yaml(new, "new")
        u = s.uncertainty
        assert u is not None
        assert u.line_uptime["l1"].mean == 0.95
        assert u.slowdowns == ()
        assert [o.part for o in u.outages] == ["pack"]
        assert new.startswith(tiny_two_lines)
        if "flow" in base:
            assert u.ramp_slip is not None
            assert u.ramp_slip.mean == 3
        assert yaml.safe_load(new)["name"] == "tiny"


@pytest.fixture
def tiny_two_lines() -> str:
    """tests/data/tiny.yaml with a second line, as YAML text without an uncertainty section."""
    text = (DATA / "tiny.yaml").read_text(encoding="utf-8")
    return text.replace(
        "        ramp_up: {from: 2025-01-01, initial: 0.5, weeks: 2, shape: s}\n",
        "        ramp_up: {from: 2025-01-01, initial: 0.5, weeks: 2, shape: s}\n"
        "      - {name: l2, models: [A], jph: 1, shifts: [{from: 2025-01-01, hours: 3}]}\n",
    )
