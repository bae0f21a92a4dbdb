"""A scenario's YAML text edited in place: what `fit` learned put into its `uncertainty`
section, every other line of the file (comments included) left as it was.

The fitted entries replace what the section said of the same lines and parts: each
line's `line_uptime` entry and its `slowdowns`, each part's `outages`. The other keys of
the section (uptime for every line, ramp slips, shortfalls, inflow, cancellation), and
the entries of lines and parts not in the record, stay line for line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from promiseline.core.futures.fit import FittedYaml

SECTION = "uncertainty"
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_.-]+)\s*:(.*)$")


@dataclass
class _Entry:
    key: str | None
    lines: list[str] = field(default_factory=list)


def with_fitted(text: str, fitted: FittedYaml) -> str:
    """The scenario's YAML text with the fitted entries in its `uncertainty` section."""
    lines = text.splitlines()
    at = _find(lines)
    if at is None:
        body: list[str] = []
        head, end = f"{SECTION}:", len(lines)
        lines = [*lines, ""] if lines and lines[-1].strip() else lines
        start = len(lines)
    else:
        start, end = at
        head = lines[start]
        body = lines[start + 1 : end]
        value = _strip_comment(_KEY.match(head).group(3))  # type: ignore[union-attr]
        if value:  # a flow mapping: rewritten as a block, key by key
            data = yaml.safe_load(f"{SECTION}: {value}")[SECTION] or {}
            head = f"{SECTION}:" + head[len(f"{SECTION}:") :].replace(value, "", 1).rstrip()
            body = [f"  {k}: {_flow(v)}" for k, v in data.items()]
    indent = _child_indent(body)
    entries, tail = _entries(body, indent)
    _put(entries, "line_uptime", _mapping_entry, fitted.line_uptime, indent)
    _put(entries, "slowdowns", _list_entry, fitted.slowdowns, indent)
    _put(entries, "outages", _list_entry, fitted.outages, indent)
    section = [head, *(x for e in entries for x in e.lines), *tail]
    out = lines[:start] + section + lines[end:]
    return "\n".join(out) + "\n"


def section_of(text: str) -> str:
    """The `uncertainty` section of a scenario's YAML text (empty: none)."""
    lines = text.splitlines()
    at = _find(lines)
    return "" if at is None else "\n".join(lines[at[0] : at[1]]) + "\n"


def _find(lines: list[str]) -> tuple[int, int] | None:
    """The section's first line and the line after it (trailing comments and blank
    lines before the next top-level key belong to that key)."""
    start = next((i for i, x in enumerate(lines) if re.match(rf"^{SECTION}\s*:", x)), None)
    if start is None:
        return None
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if _KEY.match(lines[i]) and not lines[i][0].isspace()
        ),
        len(lines),
    )
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    return start, end


def _strip_comment(value: str) -> str:
    """A YAML value without its trailing comment (a '#' after a space, outside quotes)."""
    quote = None
    for i, c in enumerate(value):
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or value[i - 1].isspace()):
            return value[:i].strip()
    return value.strip()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _child_indent(body: list[str], default: int = 2) -> int:
    for x in body:
        if x.strip() and not x.lstrip().startswith("#"):
            return _indent(x)
    return default


def _entries(body: list[str], indent: int) -> tuple[list[_Entry], list[str]]:
    """A block mapping's lines split by key at `indent`: each entry with the comment and
    blank lines just above it; lines after the last entry's own come back as the tail."""
    entries: list[_Entry] = []
    pending: list[str] = []
    for x in body:
        bare = not x.strip() or (x.lstrip().startswith("#") and _indent(x) <= indent)
        if bare:
            pending.append(x)
        elif _indent(x) == indent and _KEY.match(x):
            entries.append(_Entry(_KEY.match(x).group(2), [*pending, x]))  # type: ignore[union-attr]
            pending = []
        elif entries:
            entries[-1].lines += [*pending, x]
            pending = []
        else:  # deeper than any key before the first one: keep it where it is
            entries.append(_Entry(None, [*pending, x]))
            pending = []
    return entries, pending


def _put(
    entries: list[_Entry],
    key: str,
    build: Any,
    fitted: dict[str, list[str]],
    indent: int,
) -> None:
    if not fitted:
        return
    old = next((e for e in entries if e.key == key), None)
    new = build(old.lines if old else [f"{' ' * indent}{key}:"], fitted, indent)
    if old is None:
        entries.append(_Entry(key, new))
    else:
        old.lines = new


def _mapping_entry(lines: list[str], fitted: dict[str, list[str]], indent: int) -> list[str]:
    """`line_uptime` with the fitted lines' entries in place of what it said of them."""
    above, head, body = _block(
        lines, indent, lambda data: [f"{k}: {_flow(v)}" for k, v in (data or {}).items()]
    )
    inner = _child_indent(body, indent + 2)
    kept, tail = _entries(body, inner)
    out = [*above, head]
    out += [x for e in kept if e.key not in fitted for x in e.lines]
    for lines_of in fitted.values():
        out += [" " * inner + x for x in lines_of]
    return out + [x for x in tail if x.strip()]


def _block(
    lines: list[str], indent: int, rows: Callable[[Any], list[str]]
) -> tuple[list[str], str, list[str]]:
    """A block's lines before its key, its key line and its body; a flow value on the key
    line (`key: {...}` or `key: [...]`) is written out as block `rows` below it."""
    head_at = next(i for i, x in enumerate(lines) if _indent(x) == indent and _KEY.match(x))
    above, head, body = lines[:head_at], lines[head_at], lines[head_at + 1 :]
    m = _KEY.match(head)
    assert m is not None
    value = _strip_comment(m.group(3))
    if value:
        head = head.replace(value, "", 1).rstrip()
        body = [" " * (indent + 2) + x for x in rows(yaml.safe_load(value))]
    return above, head, body


def _list_entry(lines: list[str], fitted: dict[str, list[str]], indent: int) -> list[str]:
    """`slowdowns` or `outages` with the fitted lines' (parts') items in place of what
    it said of them (items naming no line, for every line, stay)."""
    above, head, body = _block(lines, indent, lambda data: [f"- {_flow(v)}" for v in data or []])
    inner = indent + 2
    items: list[list[str]] = []
    pending: list[str] = []
    dash = next((_indent(x) for x in body if x.lstrip().startswith("- ")), inner)
    for x in body:
        if _indent(x) == dash and x.lstrip().startswith("-"):
            items.append([*pending, x])
            pending = []
        elif not x.strip() or x.lstrip().startswith("#"):
            pending.append(x)
        elif items:
            items[-1] += [*pending, x]
            pending = []
    kept = [i for i in items if _names(i, dash) not in fitted]
    new = [" " * dash + x for lines_of in fitted.values() for x in lines_of]
    if not kept and not any(x.lstrip().startswith("-") for x in new):
        head = head.replace(":", ": []", 1)  # no item left: an empty list, not null
    return [*above, head, *(x for i in kept for x in i), *new, *pending]


def _names(item: list[str], dash: int) -> str | None:
    """The line (or part) an item names (None: every one)."""
    text = "\n".join(x[dash:] if len(x) > dash else x.strip() for x in item)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        name = data[0].get("line", data[0].get("part"))
        return None if name is None else str(name)
    return None


def _flow(value: Any) -> str:
    """A value as one line of flow YAML."""
    text: str = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False)
    return text.strip().removesuffix("...").strip()
