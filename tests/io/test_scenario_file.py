"""Scenario files: every bad input is reported with file, key path, expected and found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from promiseline.errors import ScenarioError
from promiseline.io.scenario_file import line_of, load_scenario
from tests.conftest import DATA


def _write(tmp_path: Path, data: Any) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return p


def _tiny() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DATA / "tiny.yaml").read_text())
    return data


def _problems(tmp_path: Path, data: Any) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(_write(tmp_path, data))
    assert str(info.value).startswith(str(tmp_path / "s.yaml"))
    return info.value.details()


def test_tiny_loads(tiny: Any) -> None:
    """The named test scenario is valid."""
    assert tiny.name == "tiny"
    assert [ln.name for _, ln in tiny.lines] == ["l1"]


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    """A missing file is one clear error naming it."""
    with pytest.raises(ScenarioError, match="cannot read file"):
        load_scenario(tmp_path / "nope.yaml")


def test_bad_yaml_gives_line_and_column(tmp_path: Path) -> None:
    """Broken YAML says where it broke."""
    text = _problems(tmp_path, "name: x\nplants: [\n  - a: 1\n")
    assert "not valid YAML" in text
    assert "line " in text


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    """A list at the top level is rejected as such."""
    assert "expected a mapping" in _problems(tmp_path, "- 1\n- 2\n")


def test_negative_jph_names_the_key_path(tmp_path: Path) -> None:
    """The contract's own example: lines[..].jph must be > 0, got -5."""
    data = _tiny()
    data["plants"][0]["lines"][0]["jph"] = -5
    assert "plants[0].lines[0].jph: must be > 0, got -5" in _problems(tmp_path, data)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.pop("start"), "start: required key is missing"),
        (lambda d: d.update(horizon_days=0), "horizon_days: must be >= 1, got 0"),
        (lambda d: d.update(colour="red"), "colour: unknown key"),
        (  # promiseline's own section: documented in the README, not in SCENARIO.md
            lambda d: d.update(uncertainty={"uptim": {"mean": 0.9}}),
            "uncertainty.uptim: unknown key (see README.md, 'Monte Carlo delivery windows')",
        ),
        (  # an uncertainty key without its section (a new user's reality patch)
            lambda d: d.update(uptime={"mean": 0.9, "sd": 0.05}),
            "uptime: unknown key at the top level (did you mean uncertainty.uptime?)",
        ),
        (  # a misspelt key: one problem, not "missing" and "unknown"
            lambda d: d["plants"][0]["lines"][0].update(
                shfits=d["plants"][0]["lines"][0].pop("shifts")
            ),
            "plants[0].lines[0].shfits: unknown key; did you mean 'shifts'?",
        ),
        (
            lambda d: d["calendar"].update(working_days=["mon", "funday"]),
            "calendar.working_days[1]: input should be 'mon'",
        ),
        (
            lambda d: d["calendar"]["shutdowns"][0].update(to="2024-01-01"),
            "calendar.shutdowns[0]: 'to' (2024-01-01) is before 'from'",
        ),
        (lambda d: d["parts"][0].update(stock=-1), "parts[0].stock: must be >= 0, got -1"),
        (
            lambda d: d["mix_limits"][0].update(max_share=1.5),
            "mix_limits[0].max_share: must be <= 1, got 1.5",
        ),
        (
            lambda d: d["plants"][0]["lines"][0]["ramp_up"].update(shape="zigzag"),
            "plants[0].lines[0].ramp_up.shape: input should be 'linear' or 's'",
        ),
        (
            lambda d: d["plants"][0]["lines"][0].update(start="soon"),
            "plants[0].lines[0].start: input should be a valid date",
        ),
        (
            lambda d: d["markets"][0].update(lead_days=-2),
            "markets[0].lead_days: must be >= 0, got -2",
        ),
    ],
)
def test_bad_values_are_named(tmp_path: Path, change: Any, expected: str) -> None:
    """Each bad value is reported at its key path with what was found."""
    data = _tiny()
    change(data)
    said = _problems(tmp_path, data)
    assert expected in said
    assert "shifts: required key is missing" not in said  # the typo said once


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["plants"][0]["lines"][0].update(models=["Z"]),
            "plants[0].lines[0].models: unknown model 'Z', expected one of ['A']",
        ),
        (
            lambda d: d["products"][0]["variants"][0].update(parts={"unobtainium": 1}),
            "products[0].variants[0].parts: unknown part 'unobtainium'",
        ),
        (
            lambda d: d["mix_limits"][0].update(line="nowhere"),
            "mix_limits[0].line: unknown line 'nowhere'",
        ),
        (
            lambda d: d["mix_limits"][0]["match"].update(variant="Q"),
            "mix_limits[0].match.variant: unknown variant 'Q'",
        ),
        (
            lambda d: d["markets"].append({"name": "CN", "lead_days": 1}),
            "markets[].name: duplicate name 'CN'",
        ),
        (lambda d: d.update(frozen_days=100), "frozen_days: must be <= horizon_days (60)"),
    ],
)
def test_bad_references_are_named(tmp_path: Path, change: Any, expected: str) -> None:
    """References between sections are checked and reported with their key path."""
    data = _tiny()
    change(data)
    assert expected in _problems(tmp_path, data)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Two bad values give two problems, not one at a time."""
    data = _tiny()
    data["plants"][0]["lines"][0]["jph"] = 0
    data["markets"][0]["lead_days"] = -1
    with pytest.raises(ScenarioError) as info:
        load_scenario(_write(tmp_path, data))
    assert len(info.value.problems) == 2
    assert "and 1 more problem" in str(info.value)


def test_aliases_are_fine_but_their_expansion_is_bounded() -> None:
    """Anchors and aliases work; a 'billion laughs' document is refused before anything
    walks the expanded tree, with the size it would have had."""
    from promiseline.io.scenario_file import MAX_YAML_NODES, parse_yaml

    assert parse_yaml("a: &x [1, 2]\nb: *x\n", "t") == {"a": [1, 2], "b": [1, 2]}
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    with pytest.raises(ScenarioError, match="expands to 1,234,567,909 nodes") as e:
        parse_yaml(bomb, "bomb.yaml")  # counted on the node graph: 1 + 9 keys + 11 + 111 + ...
    assert f"at most {MAX_YAML_NODES:,}" in str(e.value)


def test_line_of_a_problem_finds_the_key_it_names() -> None:
    """The scenario page puts each problem beside the line it names."""
    text = (DATA / "tiny.yaml").read_text()
    lines = text.splitlines()
    jph = line_of(text, "plants[0].lines[0].jph: must be > 0, got -5")
    assert jph is not None
    assert lines[jph - 1].strip().startswith("jph:")
    line = line_of(text, "plants[0].lines[0]: x")
    assert line is not None
    assert "name:" in lines[line - 1]  # the item's first line
    assert line_of(text, "line 4, column 2: not valid YAML") == 4
    nearest = line_of(text, "plants[9].jph: no such plant")  # as deep as the text goes
    assert nearest is not None
    assert lines[nearest - 1].startswith("plants:")
    assert line_of(text, "no place named") is None
    assert line_of("a: [", "a: x") is None  # not YAML: no line from a path


def test_a_market_named_no_unquoted_gets_a_hint(tmp_path: Path) -> None:
    """YAML 1.1 reads a bare NO (Norway) as false: the error says to quote it."""
    text = (
        (DATA / "tiny.yaml")
        .read_text()
        .replace("markets:\n", "markets:\n  - {name: NO, lead_days: 9}\n", 1)
    )
    problems = _problems(tmp_path, text)
    assert "markets[0].name: a yes/no value is not allowed here" in problems
    assert "put text in quotes" in problems
