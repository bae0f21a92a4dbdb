"""docs/DESIGN.md's code map names every module of src/ and nothing else: the one map a
newcomer reads cannot drift from the tree it describes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "promiseline"
DESIGN = ROOT / "docs" / "DESIGN.md"
NAME = re.compile(r"[A-Za-z_][\w]*(\.py|/)")


def code_map(text: str) -> set[str]:
    """The paths the map names, relative to src/promiseline: the fenced block after the
    heading '## Code map' is a tree, two spaces a level; a line's names come before its
    first run of two spaces (several names joined by ', '), its description after."""
    block = text.split("## Code map", 1)[1].split("```", 2)[1]
    lines = [line for line in block.splitlines()[1:] if line.strip()]
    assert lines[0] == "src/promiseline/", "the map starts at src/promiseline/"
    folders: list[str] = []  # the folder open at each level
    named: set[str] = set()
    for line in lines[1:]:
        indent = len(line) - len(line.lstrip(" "))
        assert indent >= 2, f"outside src/promiseline/: {line!r}"
        level = indent // 2 - 1
        if indent % 2 or level > len(folders):
            continue  # a description's second line, deeper than any name
        del folders[level:]
        head = re.split(r" {2,}", line.strip(), maxsplit=1)[0]
        names = [n.strip() for n in head.split(",")]
        if not all(NAME.fullmatch(n) for n in names):
            continue  # a description's second line
        for name in names:
            named.add("/".join([*folders, name]))
        if len(names) == 1 and names[0].endswith("/"):
            folders.append(names[0].rstrip("/"))
    return named


def holds_code(path: Path) -> bool:
    """More than a docstring: an __init__.py that exports or runs something."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return any(not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant)) for b in body)


def tree() -> set[str]:
    """Every module and package of src/promiseline: packages as 'name/', and their
    __init__.py too when it holds code."""
    out: set[str] = set()
    for p in PACKAGE.rglob("*.py"):
        rel = p.relative_to(PACKAGE)
        if p.name != "__init__.py":
            out.add(rel.as_posix())
            continue
        if rel.parent != Path("."):
            out.add(f"{rel.parent.as_posix()}/")
        if holds_code(p):
            out.add(rel.as_posix())
    return out


def test_the_map_names_every_module_and_only_those() -> None:
    named, real = code_map(DESIGN.read_text(encoding="utf-8")), tree()
    assert sorted(real - named) == [], "modules missing from docs/DESIGN.md's code map"
    assert sorted(named - real) == [], "docs/DESIGN.md's code map names what does not exist"


def test_the_reader_sees_a_missing_and_a_stale_module() -> None:
    """The parser itself: a map that leaves one out or names one too many is caught."""
    text = "\n".join(
        (
            "## Code map",
            "```",
            "src/promiseline/",
            "  api.py    the API",
            "  core/     pure",
            "    a.py, b.py  two",
            "      more words of b",
            "```",
        )
    )
    assert code_map(text) == {"api.py", "core/", "core/a.py", "core/b.py"}
