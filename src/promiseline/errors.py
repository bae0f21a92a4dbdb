"""Errors a user can act on: each names where the problem is and what was expected."""

from __future__ import annotations


class PromiselineError(Exception):
    """Base class for errors shown to the user as one clear line."""


class ScenarioError(PromiselineError):
    """A scenario file or object that does not follow SCENARIO.md.

    Carries every problem found (not just the first), so a user fixes the file once.
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        head = f"{source}: {problems[0]}" if problems else source
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(head + more)

    def details(self) -> str:
        """All problems, one per line."""
        return "\n".join(f"{self.source}: {p}" for p in self.problems)


class OrderBookError(PromiselineError):
    """An order book that cannot be read at all (missing file, missing column)."""


class UnknownOrderError(PromiselineError, KeyError):
    """An order id that is not in the plan."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown order"
