"""The CLI package only parses, calls the API and prints: it imports the core for type
hints only."""

from __future__ import annotations

import ast
from pathlib import Path

import promiseline.cli

PACKAGE = Path(promiseline.cli.__file__).parent


def runtime_imports(tree: ast.Module) -> list[str]:
    """Modules a source imports when it runs: all but those under `if TYPE_CHECKING:`."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and ast.unparse(node.test) in (
            "TYPE_CHECKING",
            "typing.TYPE_CHECKING",
        ):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_the_cli_imports_the_core_for_types_only() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 6
    for path in modules:
        imported = runtime_imports(ast.parse(path.read_text()))
        core = [m for m in imported if m.startswith("promiseline.core")]
        assert core == [], f"{path.name} imports {core} at run time"


def test_runtime_imports_skip_type_checking_blocks() -> None:
    src = "import a\nif TYPE_CHECKING:\n    import b\nelse:\n    import c\n"
    src += "def f():\n    from d import e\n"
    assert runtime_imports(ast.parse(src)) == ["a", "c", "d"]
