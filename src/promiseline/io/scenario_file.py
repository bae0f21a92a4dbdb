"""Read a scenario YAML file; every problem is reported with its file and key path."""

from __future__ import annotations

import difflib
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from promiseline.core.model.records import StoredScenario
from promiseline.core.model.scenario import Scenario, Uncertainty
from promiseline.errors import ScenarioError

EMPTY = "empty: no YAML content, expected a mapping of scenario keys (docs/SCENARIO.md)"

_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


def key_path(loc: tuple[str | int, ...]) -> str:
    """('plants', 0, 'lines', 2, 'jph') -> 'plants[0].lines[2].jph'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else f"{part}")
    return out or "(top level)"


def _problem(err: Any) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
    where = key_path(loc)
    kind, ctx, got = err["type"], err.get("ctx", {}), err.get("input")
    if kind == "missing":
        return f"{where}: required key is missing"
    if kind == "extra_forbidden":
        if len(loc) == 1 and loc[0] in Uncertainty.model_fields:  # a section left out
            return f"{where}: unknown key at the top level (did you mean uncertainty.{where}?)"
        if loc and loc[0] == "uncertainty":  # promiseline's extension: the README has it
            return f"{where}: unknown key (see README.md, 'Monte Carlo delivery windows')"
        return f"{where}: unknown key (see docs/SCENARIO.md for the keys a scenario may have)"
    if kind in _BOUNDS:
        limit = next(iter(ctx.values()))
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)
        return f"{where}: must be {_BOUNDS[kind]} {limit}, got {_short(got)}"
    if kind == "string_pattern_mismatch":  # the one pattern: names
        return f"{where}: a name holds no spaces or colons, got {_short(got)}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if isinstance(got, dict):  # a whole section: its keys are shown by the path
        return f"{where}: {msg[0].lower() + msg[1:]}"
    return f"{where}: {msg[0].lower() + msg[1:]}, got {_short(got)}"


def _short(value: object, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _problems(errors: list[Any]) -> list[str]:
    """Drop pydantic's echo errors (a list 'too short' only because an item inside
    failed), and say a misspelt key once: an unknown key beside a missing one it is
    close to (`shfits` for `shifts`) is one problem, "did you mean", said first."""
    locs = [tuple(e["loc"]) for e in errors]
    missing = {loc for e, loc in zip(errors, locs, strict=True) if e["type"] == "missing"}
    meant: dict[tuple[Any, ...], str] = {}
    for e, loc in zip(errors, locs, strict=True):
        if e["type"] == "extra_forbidden" and isinstance(loc[-1], str):
            near = [m[-1] for m in missing if m[:-1] == loc[:-1] and isinstance(m[-1], str)]
            close = difflib.get_close_matches(loc[-1], near, n=1)
            if close:
                meant[loc] = close[0]
    taken = {(*loc[:-1], word) for loc, word in meant.items()}
    typos = [f"{key_path(loc)}: unknown key; did you mean {word!r}?" for loc, word in meant.items()]
    return typos + [
        _problem(e)
        for e, loc in zip(errors, locs, strict=True)
        if loc not in meant
        and loc not in taken
        and not (e["type"] == "too_short" and any(o[: len(loc)] == loc and o != loc for o in locs))
    ]


def scenario_from_dict(data: object, source: str = "scenario") -> Scenario:
    """Validate a parsed scenario; raise ScenarioError listing every problem."""
    if data is None:
        raise ScenarioError(source, [EMPTY])
    if not isinstance(data, dict):
        raise ScenarioError(source, [f"expected a mapping of keys at the top level, got {data!r}"])
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(source, _problems(e.errors())) from None
    except ScenarioError as e:
        raise ScenarioError(source, e.problems) from None


MAX_YAML_NODES = 200_000
"""Most nodes a scenario or patch may hold once aliases are expanded (the demo: ~1,500)."""


def parse_yaml(text: str, source: str) -> Any:
    """YAML text to plain data. Aliases are fine, but their expansion is bounded, so a
    'billion laughs' file is refused before anything walks the expanded tree."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise ScenarioError(source, ["YAML nested too deeply"]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = getattr(e, "problem", None) or str(e)
        raise ScenarioError(source, [f"{where}not valid YAML: {what}"]) from None
    if node is None:
        return None
    size = _expanded_size(node, source)
    if size > MAX_YAML_NODES:
        raise ScenarioError(
            source,
            [f"YAML expands to {size:,} nodes (aliases included), at most {MAX_YAML_NODES:,}"],
        )
    try:
        return yaml.SafeLoader(text).get_single_data()
    except yaml.YAMLError as e:  # e.g. a value of an unknown tag
        raise ScenarioError(source, [f"not valid YAML: {e}"]) from None


MAX_YAML_DEPTH = 50
"""Deepest nesting a scenario or patch may have (the demo's: 5)."""


def _expanded_size(root: yaml.Node, source: str) -> int:
    """Nodes in the tree with every alias expanded, counted without expanding (an alias
    is the same node object, so each node's size is computed once). An alias inside its
    own anchor would never end: refused, as is nesting past MAX_YAML_DEPTH."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()  # on the current path
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        kids: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            kids = [n for pair in node.value for n in pair]
        if done:
            open_.discard(id(node))
            sizes[id(node)] = min(1 + sum(sizes[id(k)] for k in kids), 2**62)
            continue
        if id(node) in sizes:
            continue
        if depth > MAX_YAML_DEPTH:
            raise ScenarioError(source, [f"YAML nested deeper than {MAX_YAML_DEPTH} levels"])
        open_.add(id(node))
        stack.append((node, depth, True))
        for k in kids:
            if id(k) in open_:
                line = k.start_mark.line + 1
                raise ScenarioError(source, [f"line {line}: an alias inside its own anchor"])
            if id(k) not in sizes:
                stack.append((k, depth + 1, False))
    return sizes[id(root)]


def line_of(text: str, problem: str) -> int | None:
    """The line (1-based) of the YAML `text` a problem names: 'line 4, column 2: ...'
    as said, or the key path it starts with ('plants[0].lines[2].jph: ...'), as deep as
    the text has it. None when it names no place (or the text is not YAML)."""
    head = problem.split(":", 1)[0]
    if head.startswith("line ") and head[5:].split(",")[0].isdigit():
        return int(head[5:].split(",")[0])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return None
    line = None
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", head):
        if isinstance(node, yaml.MappingNode) and not part.startswith("["):
            hit = next((kv for kv in node.value if kv[0].value == part), None)
            if hit is None:
                break
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and part.startswith("["):
            i = int(part[1:-1])
            if i >= len(node.value):
                break
            node = node.value[i]
            line = node.start_mark.line + 1
        else:
            break
    return line


def from_stored(stored: StoredScenario, store: str) -> Scenario:
    """The scenario a database holds (`store`: its name), checked like any other; its
    problems name the database."""
    return scenario_from_yaml(stored.text, f"scenario stored in {store}")


def scenario_from_yaml(text: str, source: str = "scenario") -> Scenario:
    """The one way from YAML text to a validated scenario (files, the service, patches)."""
    return scenario_from_dict(parse_yaml(text, source), source)


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario YAML file."""
    return scenario_from_yaml(read_text(path), str(path))


def read_text(path: str | Path) -> str:
    """A text file's contents, or a ScenarioError naming the file."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioError(
            str(p), [f"not UTF-8 text (byte {e.start}): is it a YAML file?"]
        ) from None
    except OSError as e:
        raise ScenarioError(str(p), [f"cannot read file: {e.strerror}"]) from None


def builtin_whatifs() -> dict[str, str]:
    """The ready-made what-ifs of the demo scenario, by name: their YAML text."""
    folder = resources.files("promiseline.data").joinpath("whatifs")
    return {
        f.name.removesuffix(".yaml"): f.read_text("utf-8")
        for f in sorted(folder.iterdir(), key=lambda f: f.name)
        if f.name.endswith(".yaml")
    }


def load_patch(path: str | Path) -> dict[str, Any]:
    """A what-if patch (YAML in the scenario's shape): a file, or the name of a built-in
    what-if (`red-sea-closed`, `second-weekly-sailing`, `homologation-slip`,
    `build-at-their-turn`); a name that is neither says which built-ins there are."""
    builtin = builtin_whatifs()
    if str(path) in builtin and not Path(path).exists():
        text, source = builtin[str(path)], f"{path} (built-in what-if)"
    elif not Path(path).exists() and "/" not in str(path) and not str(path).endswith(".yaml"):
        names = ", ".join(builtin)
        raise ScenarioError(
            str(path), [f"no such file, nor a built-in what-if (the demo's: {names})"]
        )
    else:
        text, source = read_text(path), str(path)
    data = parse_yaml(text, source)
    if data is None:
        raise ScenarioError(source, [EMPTY])
    if not isinstance(data, dict):
        raise ScenarioError(source, [f"a patch is a mapping of scenario keys, got {data!r}"])
    return data
